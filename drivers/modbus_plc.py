"""PLC link over Modbus TCP (pymodbus client): the signal contract as modbus_map.py's holding registers.

Each cycle reads the whole PLC-input block with one FC3 request, and each write of node outputs
is one FC16 request over a contiguous span, strobe last. pymodbus's error objects and exceptions
become drivers.errors here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator, Mapping

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from drivers.errors import Disconnected, DriverError, DriverTimeout, TagError
from drivers.modbus_map import (
    INPUT_BLOCK,
    OUTPUT_BLOCK,
    RegisterBlock,
    WordOrder,
    decode_inputs,
    decode_outputs,
    encode_outputs,
    output_span,
)
from drivers.signals import PlcInputs, Signal, SignalValue

# Modbus exception codes (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
_REQUEST_REFUSED = (1, 2, 3)  # the request does not fit the PLC's map: a configuration error
_NO_SUCH_UNIT = (10, 11)  # a gateway has no device at this unit id


class ModbusDriver:
    """SignalDriver over a Modbus TCP server on the PLC (Beckhoff, Schneider, a Modbus gateway).

    pymodbus's automatic reconnect and retries are off (`reconnect_delay=0`, `retries=0`): a lost
    link raises Disconnected at once and the node's runner reconnects with its own backoff.
    """

    def __init__(
        self,
        host: str,
        *,
        port: int = 502,
        unit_id: int = 1,
        word_order: WordOrder = "big",
        timeout_s: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.word_order: WordOrder = word_order
        self.timeout_s = timeout_s
        self.url = f"modbus://{host}:{port}?unit={unit_id}"  # names the link in every error
        self._client: AsyncModbusTcpClient | None = None
        self._lost: asyncio.Future[None] | None = None  # done once the connection dropped
        # The node's outputs as last written (seeded from the PLC at connect): one FC16 write
        # must cover a contiguous span, so outputs inside it that did not change go out again.
        self._outputs: dict[Signal, SignalValue] = {}

    async def connect(self) -> None:
        """Open the TCP connection and read both blocks once, so a wrong unit id or short map fails now."""
        await self.close()
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_link(up: bool) -> None:
            # pymodbus leaves a request whose connection dropped waiting for its timeout;
            # this future lets _check fail it at once instead.
            if not up and not lost.done():
                lost.set_result(None)

        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=2 * self.timeout_s,  # a backstop only: our own timer (timeout_s) decides first
            retries=0,
            reconnect_delay=0,
            trace_connect=on_link,
        )
        try:
            connected = await asyncio.wait_for(client.connect(), self.timeout_s)
        except (TimeoutError, OSError) as exc:
            connected = False
            reason = repr(exc)
        else:
            reason = f"refused or no answer within {self.timeout_s} s"
        if not connected:
            client.close()
            raise Disconnected(f"{self.url}: cannot connect: {reason}")
        self._client, self._lost = client, lost
        try:
            await self.read_inputs()
            regs = await self._read(OUTPUT_BLOCK)
            with self._named():
                self._outputs = decode_outputs(regs, word_order=self.word_order)
        except DriverError:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection; never raises."""
        client, self._client, self._lost = self._client, None, None
        if client is not None:
            client.close()

    async def read_inputs(self) -> PlcInputs:
        """One FC3 read of the PLC-input block."""
        regs = await self._read(INPUT_BLOCK)
        with self._named():
            return decode_inputs(regs, word_order=self.word_order)

    async def write_outputs(self, values: Mapping[Signal, SignalValue]) -> None:
        """One FC16 write over the span of the given outputs, in address order: the strobe goes last."""
        if not values:
            return
        client, lost = self._require()
        with self._named():
            merged = {s: values[s] if s in values else self._outputs[s] for s in output_span(values)}
            start, regs = encode_outputs(merged, word_order=self.word_order)
        names = ", ".join(s.spec.name for s in values)
        what = f"writing {names} to holding registers {_span(start, len(regs))}"
        await self._check(client.write_registers(start, regs, device_id=self.unit_id), lost, what)
        self._outputs.update(merged)

    async def _read(self, block: RegisterBlock) -> list[int]:
        client, lost = self._require()
        what = f"reading the {block.name} block, holding registers {_span(block.start, block.count)}"
        response = await self._check(
            client.read_holding_registers(block.start, count=block.count, device_id=self.unit_id), lost, what
        )
        return list(response.registers)

    def _require(self) -> tuple[AsyncModbusTcpClient, asyncio.Future[None]]:
        # Checked before every request, so a dropped link is Disconnected at once and the
        # runner, not pymodbus, decides when to connect again.
        if self._client is None or self._lost is None or self._lost.done() or not self._client.connected:
            raise Disconnected(f"{self.url}: not connected")
        return self._client, self._lost

    async def _check(self, request: Awaitable[ModbusPDU], lost: asyncio.Future[None], what: str) -> ModbusPDU:
        """Await one request or the connection's loss; raise an error response or failure as a DriverError."""
        task = asyncio.ensure_future(request)
        done, _ = await asyncio.wait(
            (task, lost), timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        try:
            if task not in done:
                task.cancel()
                raise TimeoutError(f"no answer within {self.timeout_s} s")
            response = task.result()
        except (TimeoutError, ModbusIOException) as exc:  # ModbusIOException: no (valid) answer
            # Drop the connection either way: a late answer must never be taken for the next request's.
            await self.close()
            if lost.done():
                raise Disconnected(f"{self.url}: {what}: connection lost") from exc
            raise DriverTimeout(f"{self.url}: {what}: {exc}") from exc
        except (ConnectionException, OSError) as exc:
            await self.close()
            raise Disconnected(f"{self.url}: {what}: {exc}") from exc
        if isinstance(response, ExceptionResponse) or response.isError():
            code = int(getattr(response, "exception_code", 0))
            reason = f"Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"
            if code in _REQUEST_REFUSED:
                raise TagError(f"{self.url}: {what}: {reason}; check the PLC's register map")
            if code in _NO_SUCH_UNIT:
                raise TagError(f"{self.url}: {what}: {reason}; no device answers at unit id {self.unit_id}")
            raise DriverError(f"{self.url}: {what}: {reason}")
        return response

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """Name this link in the codec's TagErrors."""
        try:
            yield
        except TagError as exc:
            raise TagError(f"{self.url}: {exc}") from exc


def _span(start: int, count: int) -> str:
    return f"{start}..{start + count - 1}"
