"""The S7 PLC link against the simulator's real snap7 server on loopback, and that server's own guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from snap7.server import Server
from snap7.type import SrvArea, SrvEvent

from drivers.errors import Disconnected, DriverTimeout, TagError
from drivers.memory import SignalImage
from drivers.s7_layout import DB_SIZE, encode_inputs, encode_outputs
from drivers.s7_plc import S7Driver
from drivers.signals import Signal
from simulator.net import LOOPBACK, free_port
from simulator.plc_s7 import PlcS7Server


@pytest_asyncio.fixture
async def served() -> AsyncIterator[PlcS7Server]:
    """A simulated PLC's S7 server (DB100) on a free loopback port."""
    server = PlcS7Server(SignalImage(), port=free_port())
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def driver(served: PlcS7Server) -> AsyncIterator[S7Driver]:
    """A connected node-side driver for `served`."""
    link = S7Driver(LOOPBACK, port=served.port, db=served.db, timeout_s=0.5)
    await link.connect()
    yield link
    await link.close()


@contextlib.contextmanager
def raw_server(block: bytearray, *, db: int = 100) -> Iterator[tuple[Server, int]]:
    """A bare snap7 server with `block` as DB `db`, for PLCs the simulator does not play."""
    server = Server(log=False)
    server.register_area(SrvArea.DB, db, block)
    port = free_port()
    server.start_to(LOOPBACK, port)
    try:
        yield server, port
    finally:
        server.stop()


def contract_block() -> bytearray:
    """A whole DB laid out as the contract says, every signal at its power-on value."""
    return bytearray(encode_inputs(SignalImage().values) + encode_outputs({}))


class TestS7Driver:
    """Reads, writes and faults of the S7 link."""

    async def test_reads_what_the_plc_pushed(self, served: PlcS7Server, driver: S7Driver) -> None:
        """PLC inputs pushed by the PLC arrive as one typed snapshot, boundary values included."""
        image = served.image
        image.set(Signal.TRIGGER_COUNT, 7)
        image.set(Signal.TRIGGER_ID, 0xFFFFFFFF)
        image.set(Signal.RESULT_ACK_STATUS, 0xFFFF)
        image.set(Signal.BATCH_LOT, "LOT-0123456789ABCDEF")
        image.set(Signal.BATCH_EXPIRY, "281200")
        await served.push()
        inputs = await driver.read_inputs()
        assert (inputs.trigger_count, inputs.trigger_id, inputs.result_ack_status) == (7, 0xFFFFFFFF, 0xFFFF)
        assert (inputs.batch_lot, inputs.batch_expiry) == ("LOT-0123456789ABCDEF", "281200")
        image.set(Signal.TRIGGER_COUNT, 8)
        await served.push()
        assert (await driver.read_inputs()).trigger_count == 8

    async def test_writes_reach_the_plc_image(self, served: PlcS7Server, driver: S7Driver) -> None:
        """Node outputs written in one request land in the PLC's image at its next pull."""
        await driver.write_outputs({Signal.RESULT_ID: 12, Signal.RESULT_CODE: 3, Signal.RESULT_COUNT: 1})
        await driver.write_outputs({Signal.ALARM_ACTIVE: True, Signal.NODE_STATE: 3})
        served.pull()
        image = served.image
        assert (
            image.get(Signal.RESULT_ID),
            image.get(Signal.RESULT_CODE),
            image.get(Signal.RESULT_COUNT),
        ) == (
            12,
            3,
            1,
        )
        assert image.get(Signal.ALARM_ACTIVE) is True
        assert image.get(Signal.NODE_STATE) == 3

    async def test_a_span_keeps_the_outputs_it_does_not_carry(self, served: PlcS7Server) -> None:
        """Outputs inside a write's span but not in the call keep their value, also across a reconnect."""
        first = S7Driver(LOOPBACK, port=served.port, timeout_s=0.5)
        await first.connect()
        await first.write_outputs({Signal.ACTIVE_RECIPE: 3, Signal.ALARM_RESET_ACK: 9})
        await first.close()
        second = S7Driver(LOOPBACK, port=served.port, timeout_s=0.5)
        await second.connect()
        await second.write_outputs({Signal.NODE_HEARTBEAT: 1, Signal.RESULT_ID: 5, Signal.RESULT_COUNT: 1})
        await second.close()
        served.pull()
        assert (served.image.get(Signal.ACTIVE_RECIPE), served.image.get(Signal.ALARM_RESET_ACK)) == (3, 9)
        assert (served.image.get(Signal.NODE_HEARTBEAT), served.image.get(Signal.RESULT_COUNT)) == (1, 1)

    async def test_plc_inputs_are_not_writable(self, driver: S7Driver) -> None:
        """The node cannot write a signal the PLC owns."""
        with pytest.raises(TagError, match="TriggerCount"):
            await driver.write_outputs({Signal.TRIGGER_COUNT: 1})

    async def test_wrong_db_is_a_tag_error(self, served: PlcS7Server) -> None:
        """A DB number the PLC does not have is a TagError at connect, naming the DB and the bytes."""
        with pytest.raises(TagError, match=r"DB101: read of bytes 0\.\.91: .*Object does not exist"):
            await S7Driver(LOOPBACK, port=served.port, db=101, timeout_s=0.5).connect()

    async def test_too_small_db_is_a_tag_error(self) -> None:
        """A DB shorter than the layout is a TagError at connect that says how large it must be."""
        too_small = rf"DB100: read of bytes 0\.\.91: .*hold {DB_SIZE} bytes"
        with raw_server(bytearray(DB_SIZE - 1)) as (_, port), pytest.raises(TagError, match=too_small):
            await S7Driver(LOOPBACK, port=port, timeout_s=0.5).connect()

    async def test_db_not_laid_out_as_the_contract_is_a_tag_error(self) -> None:
        """A DB of the right size whose Strings are not declared as String[20]/[6] fails at connect."""
        not_a_string = r"BatchLot \(String\[20\] at DB byte 24\)"
        with raw_server(bytearray(DB_SIZE)) as (_, port), pytest.raises(TagError, match=not_a_string):
            await S7Driver(LOOPBACK, port=port, timeout_s=0.5).connect()

    async def test_server_down_is_disconnected_within_the_timeout(self) -> None:
        """No server on the port means Disconnected, well within the timeout."""
        t0 = time.perf_counter()
        with pytest.raises(Disconnected, match="cannot connect"):
            await S7Driver(LOOPBACK, port=free_port(), timeout_s=0.5).connect()
        assert time.perf_counter() - t0 < 0.5

    async def test_late_answer_is_a_timeout(self) -> None:
        """A PLC that answers after the timeout is DriverTimeout; the link is then closed."""
        slow = threading.Event()

        def stall(event: SrvEvent) -> None:
            if slow.is_set():
                time.sleep(0.5)

        with raw_server(contract_block()) as (server, port):
            server.set_read_events_callback(stall)
            link = S7Driver(LOOPBACK, port=port, timeout_s=0.2)
            await link.connect()
            slow.set()
            t0 = time.perf_counter()
            with pytest.raises(DriverTimeout, match=r"no answer within 0\.2 s"):
                await link.read_inputs()
            assert time.perf_counter() - t0 < 0.4
            with pytest.raises(Disconnected, match="not connected"):
                await link.read_inputs()

    async def test_server_stopping_mid_session_then_restarting(self) -> None:
        """A server that stops turns the next read into Disconnected; after a restart on the same
        port the driver reconnects and reads again."""
        server = PlcS7Server(SignalImage(), port=free_port())
        await server.start()
        link = S7Driver(LOOPBACK, port=server.port, timeout_s=0.5)
        try:
            await link.connect()
            await link.read_inputs()
            await server.stop()
            t0 = time.perf_counter()
            with pytest.raises(Disconnected):
                await link.read_inputs()
            assert time.perf_counter() - t0 < 0.5
            with pytest.raises(Disconnected):
                await link.connect()
            server.image.set(Signal.PLC_HEARTBEAT, 41)
            await server.start()
            await link.connect()
            assert (await link.read_inputs()).plc_heartbeat == 41
        finally:
            await link.close()
            await server.stop()


class TestPlcS7Server:
    """The simulated PLC's S7 server."""

    def test_serves_loopback_only(self) -> None:
        """Any host outside 127.0.0.0/8 is refused."""
        with pytest.raises(ValueError, match="loopback only"):
            PlcS7Server(SignalImage(), host="0.0.0.0")

    def test_url_names_host_port_db_rack_and_slot(self) -> None:
        """The url carries what the node's S7 settings need."""
        assert PlcS7Server(SignalImage(), port=1102, db=7).url == "s7://127.0.0.1:1102?db=7&rack=0&slot=1"

    async def test_stop_drops_sessions_at_once(self, served: PlcS7Server, driver: S7Driver) -> None:
        """Stopping with a node connected takes well under a second (snap7 alone waits on it)."""
        t0 = time.perf_counter()
        await served.stop()
        assert time.perf_counter() - t0 < 0.5

    async def test_pull_never_sees_a_half_written_verdict(
        self, served: PlcS7Server, driver: S7Driver
    ) -> None:
        """While the node writes verdicts, every pull finds id, code, reasons and strobe of one verdict."""
        done = False

        async def write() -> None:
            nonlocal done
            for n in range(1, 301):
                verdict = {Signal.RESULT_ID: n, Signal.RESULT_CODE: n, Signal.RESULT_REASONS: n}
                await driver.write_outputs(verdict | {Signal.RESULT_COUNT: n})
            done = True

        writer = asyncio.create_task(write())
        seen = set()
        while not done:
            served.pull()
            image = served.image
            verdict = {image.get(s) for s in (Signal.RESULT_ID, Signal.RESULT_CODE, Signal.RESULT_REASONS)}
            assert verdict == {image.get(Signal.RESULT_COUNT)}
            seen.add(image.get(Signal.RESULT_COUNT))
            # A real sleep, not sleep(0): a loop that never blocks holds the GIL for snap7's server
            # thread's whole switch interval (5 ms) and starves it.
            await asyncio.sleep(0.0001)
        await writer
        assert len(seen) > 50

    async def test_reads_never_see_a_half_pushed_trigger(self, served: PlcS7Server, driver: S7Driver) -> None:
        """While the PLC pushes triggers, every node read finds TriggerId and TriggerCount of one scan."""
        done = False
        seen = set()

        async def read() -> None:
            while not done:
                inputs = await driver.read_inputs()
                assert inputs.trigger_id == inputs.trigger_count * 3
                seen.add(inputs.trigger_count)

        reader = asyncio.create_task(read())
        for n in range(1, 501):
            served.image.set(Signal.TRIGGER_COUNT, n)
            served.image.set(Signal.TRIGGER_ID, n * 3)
            await served.push()
            await asyncio.sleep(0.0001)
        done = True
        await reader
        assert len(seen) > 50
