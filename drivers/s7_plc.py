"""PLC link over S7 communication (ISO-on-TCP, port 102, python-snap7's asyncio client): the signal
contract as one non-optimized data block, read in one request and written in one request per cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from snap7.async_client import AsyncClient
from snap7.error import S7Error, S7ProtocolError, S7TimeoutError

from drivers.errors import Disconnected, DriverTimeout, TagError
from drivers.s7_layout import (
    DB_SIZE,
    INPUT_AREA,
    OUTPUT_AREA,
    decode_inputs,
    encode_outputs,
    output_span,
)
from drivers.signals import PlcInputs, Signal, SignalValue

T = TypeVar("T")


class S7Driver:
    """SignalDriver over S7 PUT/GET to one DB of an S7-1200/1500 (or S7-300/400) CPU.

    The node is an S7 client (like an HMI), not a Profinet IO device; the DB layout is
    drivers/s7_layout.py, the PLC's side is docs/plc-s7.md.
    """

    def __init__(
        self,
        host: str,
        *,
        port: int = 102,
        rack: int = 0,
        slot: int = 1,
        db: int = 100,
        timeout_s: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.rack = rack
        self.slot = slot
        self.db = db
        self.timeout_s = timeout_s
        self.where = f"S7 {host}:{port} DB{db}"
        self._client: AsyncClient | None = None
        # The node -> PLC area as last written. A write covers a contiguous span, so outputs inside
        # the span that are not in the call go out again with these bytes; the node is the only
        # writer of the area, and connect() reads it back, so they are the PLC's current values.
        self._outputs = bytes(OUTPUT_AREA.size)
        # Serialises write_outputs: the shadow above is read, sent and updated across an await.
        self._writing = asyncio.Lock()

    async def connect(self) -> None:
        """Open the ISO-on-TCP connection and read the whole DB once, so that a wrong DB number, or
        a DB too short or not laid out as the contract says, is a clear TagError now.
        """
        client = AsyncClient()
        try:
            await asyncio.wait_for(client.connect(self.host, self.rack, self.slot, self.port), self.timeout_s)
        except (TimeoutError, S7Error, OSError) as exc:
            await _quiet_disconnect(client, self.timeout_s)
            raise Disconnected(
                f"{self.where}: cannot connect (rack {self.rack}, slot {self.slot}): {exc}"
            ) from exc
        self._client = client
        block = await self._call(client.db_read(self.db, 0, DB_SIZE), "read", 0, DB_SIZE)
        try:
            decode_inputs(bytes(block[INPUT_AREA.start : INPUT_AREA.end]))
        except TagError as exc:
            await self.close()
            raise TagError(f"{self.where}: {exc}") from exc
        self._outputs = bytes(block[OUTPUT_AREA.start : OUTPUT_AREA.end])

    async def close(self) -> None:
        """Close the connection; never raises."""
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client, self.timeout_s)

    async def read_inputs(self) -> PlcInputs:
        """One db_read of the PLC -> node area."""
        start, size = INPUT_AREA.start, INPUT_AREA.size
        data = await self._call(self._require().db_read(self.db, start, size), "read", start, size)
        try:
            return decode_inputs(bytes(data))
        except TagError as exc:
            raise TagError(f"{self.where}: {exc}") from exc

    async def write_outputs(self, values: Mapping[Signal, SignalValue]) -> None:
        """One db_write of the contiguous span of the node -> PLC area that covers `values`.

        The span goes out in address order, so ResultCount (the strobe, the area's last field) is
        always its last bytes, whatever the order of `values`.
        """
        client = self._require()
        if not values:
            return
        async with self._writing:
            try:
                area = encode_outputs(values, base=self._outputs)
                offset, data = output_span(area, values)
            except ValueError as exc:
                raise TagError(f"{self.where}: {exc}") from exc
            await self._call(client.db_write(self.db, offset, bytearray(data)), "write", offset, len(data))
            self._outputs = area

    def _require(self) -> AsyncClient:
        if self._client is None:
            raise Disconnected(f"{self.where}: not connected")
        return self._client

    async def _call(self, request: Awaitable[T], what: str, offset: int, size: int) -> T:
        """Await one request with the timeout. Any failure closes the connection (its stream may
        still carry a late answer) and comes out as a DriverError naming the DB bytes concerned.
        """
        where = f"{self.where}: {what} of bytes {offset}..{offset + size - 1}"
        try:
            return await asyncio.wait_for(request, self.timeout_s)
        except (TimeoutError, S7TimeoutError) as exc:
            await self.close()
            raise DriverTimeout(f"{where}: no answer within {self.timeout_s} s") from exc
        except S7ProtocolError as exc:
            await self.close()
            # The PLC answered with an error for the address: DB missing (0x0A), bytes outside the
            # DB (0x05), access denied (PUT/GET not allowed in the CPU, optimized block access).
            hint = f"the DB must exist, be non-optimized and hold {DB_SIZE} bytes"
            raise TagError(f"{where}: {exc}; {hint}") from exc
        except (S7Error, OSError) as exc:
            await self.close()
            raise Disconnected(f"{where}: {exc}") from exc


async def _quiet_disconnect(client: AsyncClient, timeout_s: float) -> None:
    # Closing a broken connection must never raise, nor hang on a peer that does not answer.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), timeout_s)
