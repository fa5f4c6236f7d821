"""The node's Level 4 client against the simulator's real OPC UA server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from drivers.errors import Disconnected, DriverTimeout, TagError
from drivers.level4 import Level4Client, OpcUaLevel4Client
from simulator.level4 import SERIAL_ALPHABET, SERIAL_LENGTH, Level4Server
from simulator.net import LOOPBACK, free_port

GTIN = "09506000134352"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def level4() -> AsyncIterator[Level4Server]:
    """One simulated Level 4 for the module (starting one takes seconds)."""
    async with Level4Server(seed=3) as server:
        yield server


@pytest.mark.asyncio(loop_scope="module")
class TestOpcUaLevel4Client:
    """Serial requests, refusals and link faults, each translated into drivers.errors."""

    async def test_is_a_level4_client(self, level4: Level4Server) -> None:
        """The OPC UA client satisfies the protocol the node uses."""
        client: Level4Client = OpcUaLevel4Client(level4.url)
        assert len(await client.request_serials(GTIN, "L1", 1)) == 1

    async def test_requests_a_thousand_unique_serials(self, level4: Level4Server) -> None:
        """1000 serials arrive, distinct, of the fixed length and alphabet, as Level 4 recorded them."""
        gtin = "09506000134369"
        serials = await OpcUaLevel4Client(level4.url).request_serials(gtin, "L2406", 1000)
        assert len(serials) == len(set(serials)) == 1000
        assert all(len(serial) == SERIAL_LENGTH and set(serial) <= set(SERIAL_ALPHABET) for serial in serials)
        assert level4.issued(gtin) == frozenset(serials)

    async def test_second_request_is_disjoint(self, level4: Level4Server) -> None:
        """A GTIN's serials are never issued twice, also across lots."""
        client = OpcUaLevel4Client(level4.url)
        first = await client.request_serials(GTIN, "L1", 500)
        second = await client.request_serials(GTIN, "L2", 500)
        assert not set(first) & set(second)

    async def test_lists_the_serials_issued_for_a_batch(self, level4: Level4Server) -> None:
        """The node reads back every serial of a batch, however it was issued."""
        gtin = "09506000134376"
        client = OpcUaLevel4Client(level4.url)
        pool = level4.issue(gtin, "L9", 100)
        requested = await client.request_serials(gtin, "L9", 10)
        assert await client.issued_serials(gtin, "L9") == pool + requested

    async def test_lists_nothing_for_an_unknown_batch(self, level4: Level4Server) -> None:
        """No serials issued yet is an empty list."""
        assert await OpcUaLevel4Client(level4.url).issued_serials(GTIN, "NEVER-ISSUED") == []

    async def test_listing_with_a_bad_lot_names_the_lot(self, level4: Level4Server) -> None:
        """A lot GS1 does not allow is refused, naming Lot and its value."""
        with pytest.raises(TagError, match=r"GetIssuedSerialNumbers: BadInvalidArgument: refused Lot='L 9'"):
            await OpcUaLevel4Client(level4.url).issued_serials(GTIN, "L 9")

    async def test_bad_gtin_is_a_tag_error_naming_the_argument(self, level4: Level4Server) -> None:
        """A GTIN with a wrong check digit is refused, and the error names the argument and its value."""
        with pytest.raises(TagError) as caught:
            await OpcUaLevel4Client(level4.url).request_serials("09506000134353", "L1", 10)
        message = str(caught.value)
        assert "Gtin='09506000134353'" in message
        assert "BadInvalidArgument" in message and level4.url in message and "RequestSerialNumbers" in message
        assert "Lot" not in message and "Count" not in message

    async def test_count_zero_is_a_tag_error_naming_count(self, level4: Level4Server) -> None:
        """Asking for no serials is refused by Level 4, naming Count."""
        with pytest.raises(TagError, match="Count=0"):
            await OpcUaLevel4Client(level4.url).request_serials(GTIN, "L1", 0)

    async def test_count_beyond_uint32_never_leaves_the_node(self, level4: Level4Server) -> None:
        """A count the wire type cannot carry is refused before connecting."""
        with pytest.raises(TagError, match="does not fit UInt32"):
            await OpcUaLevel4Client(level4.url).request_serials(GTIN, "L1", 2**32)

    async def test_server_down_is_disconnected(self) -> None:
        """Nothing listening on the port is Disconnected, naming the url."""
        url = f"opc.tcp://{LOOPBACK}:{free_port()}"
        with pytest.raises(Disconnected) as caught:
            await OpcUaLevel4Client(url, timeout_s=2.0).request_serials(GTIN, "L1", 10)
        assert url in str(caught.value) and "RequestSerialNumbers" in str(caught.value)

    async def test_silent_server_is_a_timeout(self) -> None:
        """A peer that accepts the connection but never answers gives DriverTimeout within timeout_s."""

        async def accept_and_stay_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # until the client gives up
            writer.close()

        silent = await asyncio.start_server(accept_and_stay_silent, LOOPBACK, 0)
        port = silent.sockets[0].getsockname()[1]
        try:
            with pytest.raises(DriverTimeout, match=r"no answer within 0\.5 s"):
                await OpcUaLevel4Client(f"opc.tcp://{LOOPBACK}:{port}", timeout_s=0.5).request_serials(
                    GTIN, "L1", 10
                )
        finally:
            silent.close()
            await silent.wait_closed()
