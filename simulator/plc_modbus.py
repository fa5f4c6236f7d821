"""The simulated PLC's Modbus TCP server: the signal image as holding registers, as a PLC serves its memory.

The register map is drivers/modbus_map.py's (big-endian words). The node may write only the
output block; the input block is read-only to clients, as PLC inputs are over OPC UA.
"""

from __future__ import annotations

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.errors import TagError
from drivers.memory import SignalImage
from drivers.modbus_map import (
    INPUT_BLOCK,
    OUTPUT_BLOCK,
    decode_outputs,
    encode_inputs,
    encode_outputs,
)
from drivers.signals import NODE_OUTPUTS

READ_HOLDING_REGISTERS = 3
WRITE_REGISTER = 6
WRITE_REGISTERS = 16


class PlcModbusServer:
    """Serves a SignalImage over Modbus TCP on a loopback port, as one unit id.

    `url` is `modbus://<host>:<port>?unit=<unit_id>`: the node's PLC settings in one string.
    """

    def __init__(
        self, image: SignalImage, *, host: str = "127.0.0.1", port: int = 502, unit_id: int = 1
    ) -> None:
        if not host.startswith("127."):
            raise ValueError(f"host: the simulator serves loopback only, got {host!r}")
        if not 1 <= unit_id <= 255:
            raise ValueError(f"unit_id: the simulated PLC answers as one unit id 1..255, got {unit_id}")
        self.image = image
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.url = f"modbus://{host}:{port}?unit={unit_id}"
        # The PLC's memory: holding registers 0..OUTPUT_BLOCK.stop - 1. Requests reach it only
        # through _serve, so this list, not pymodbus's own copy, is what the node reads and writes.
        self._memory = [0] * OUTPUT_BLOCK.stop
        self._memory[OUTPUT_BLOCK.start : OUTPUT_BLOCK.stop] = encode_outputs(
            {s: image.get(s) for s in NODE_OUTPUTS}
        )[1]
        self._pushed: list[int] = []
        self._server: ModbusTcpServer | None = None

    async def start(self) -> None:
        """Publish the image's PLC inputs and start listening."""
        self._publish(encode_inputs(self.image.values))
        devices = [
            SimDevice(self.unit_id, simdata=_register_map(), action=self._serve),
            # Unit id 0 stands for every other id in pymodbus: answer those as a Modbus gateway
            # does for a device it does not have, so a wrong unit id is an error, not a silent read.
            SimDevice(0, simdata=_register_map(), action=_no_such_unit),
        ]
        server = ModbusTcpServer(devices, address=(self.host, self.port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:  # pymodbus reports a failed bind this way
            raise OSError(f"{self.url}: cannot listen") from exc
        self._server = server

    async def stop(self) -> None:
        """Stop listening; connections are dropped."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated

    def pull(self) -> None:
        """Copy what the node wrote into the image (a local read, no I/O)."""
        # _serve only lets well-formed writes in, so this decode cannot fail.
        self.image.values.update(decode_outputs(self._memory[OUTPUT_BLOCK.start : OUTPUT_BLOCK.stop]))

    async def push(self) -> None:
        """Publish the PLC's changed signals to the input registers."""
        regs = encode_inputs(self.image.values)
        if regs != self._pushed:
            self._publish(regs)

    def _publish(self, regs: list[int]) -> None:
        # One slice assignment with no await around it: a read served by _serve sees either
        # the previous scan's inputs or this one's, never a mix (one loop, one thread).
        self._memory[INPUT_BLOCK.start : INPUT_BLOCK.stop] = regs
        self._pushed = regs

    async def _serve(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus's hook, called for every request to our unit after its address check passed."""
        if set_values is None:
            if function_code != READ_HOLDING_REGISTERS:
                return ExcCodes.ILLEGAL_FUNCTION
            # pymodbus answers from `registers` after this hook: fill the requested slice.
            offset = address - start_address
            registers[offset : offset + count] = self._memory[address : address + count]
            return None
        if function_code not in (WRITE_REGISTER, WRITE_REGISTERS):
            return ExcCodes.ILLEGAL_FUNCTION
        block = self._memory[OUTPUT_BLOCK.start : OUTPUT_BLOCK.stop]
        offset = address - OUTPUT_BLOCK.start
        block[offset : offset + count] = [int(v) for v in set_values]
        try:
            decode_outputs(block)
        except TagError:
            return ExcCodes.ILLEGAL_VALUE  # as a PLC refuses a value its variable cannot hold
        # The whole write lands in one statement: the scan's pull(), which runs between awaits
        # on this same loop, sees all of an FC16 write or none of it.
        self._memory[OUTPUT_BLOCK.start : OUTPUT_BLOCK.stop] = block
        return None


def _register_map() -> list[SimData]:
    """pymodbus's view of the map: the input block read-only, the output block writable, the rest unmapped."""
    return [
        SimData(INPUT_BLOCK.start, count=INPUT_BLOCK.count, datatype=DataType.REGISTERS, readonly=True),
        SimData(OUTPUT_BLOCK.start, count=OUTPUT_BLOCK.count, datatype=DataType.REGISTERS),
    ]


async def _no_such_unit(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """Refuse every request to a unit id the PLC is not."""
    return ExcCodes.GATEWAY_NO_RESPONSE
