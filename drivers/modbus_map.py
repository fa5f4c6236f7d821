"""The signal contract as a Modbus holding-register map, and its pure register codec (no I/O).

docs/plc-modbus.md is the human-readable form of this table; drivers/modbus_plc.py (the node's
client) and simulator/plc_modbus.py (the simulated PLC's server) both encode and decode here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from drivers.errors import TagError
from drivers.signals import (
    NODE_OUTPUTS,
    PLC_INPUTS,
    Direction,
    PlcInputs,
    Signal,
    SignalType,
    SignalValue,
    check_value,
)

WordOrder = Literal["big", "little"]
"""Register order of a UInt32: "big" = high word first (ABCD), "little" = low word first (CDAB)."""

STRING_ENCODING = "latin-1"  # one byte per character, as in an IEC 61131-3 STRING
REGISTER_MAX = 0xFFFF

# Modbus caps one request's payload: 125 registers per FC3 read, 123 per FC16 write.
MAX_READ_REGISTERS = 125
MAX_WRITE_REGISTERS = 123


@dataclass(frozen=True, slots=True)
class RegisterBlock:
    """A contiguous run of holding registers, read or written with one request."""

    name: str
    start: int
    count: int

    @property
    def stop(self) -> int:
        """The address just past the block's last register."""
        return self.start + self.count


@dataclass(frozen=True, slots=True)
class MapEntry:
    """Where one signal lives: its block, first holding-register address, register count and type."""

    block: RegisterBlock
    address: int
    count: int
    type: SignalType


def register_count(signal: Signal) -> int:
    """Registers a signal takes: 1 for Bool and UInt16, 2 for UInt32, one per two characters for String."""
    spec = signal.spec
    if spec.type is SignalType.UINT32:
        return 2
    if spec.type is SignalType.STRING:
        return (spec.max_length + 1) // 2
    return 1


# The map, as data. Both directions are holding registers: the one area every Modbus TCP server
# serves for reading and writing, and one the PLC program owns (input registers, FC4, are missing
# on many gateways and often mirror physical inputs the program cannot write). A Bool is a register
# holding 0/1, not a coil, so the whole output span, AlarmActive included, goes out in one FC16
# write with the strobe last; a coil would need a second request (FC5/FC15) with its own timing.
#
# Addresses are 0-based protocol (PDU) addresses; UInt32 fields start on even addresses so a PLC
# can lay a naturally aligned structure over each block. A gap between fields is a reserved
# register: the node writes it as 0 and ignores it on read.
_INPUT_LAYOUT: tuple[tuple[Signal, int], ...] = (
    (Signal.TRIGGER_COUNT, 0),
    (Signal.TRIGGER_ID, 2),
    (Signal.PLC_HEARTBEAT, 4),
    (Signal.RESULT_ACK, 6),
    (Signal.RESULT_ACK_STATUS, 8),  # 9 reserved
    (Signal.RECIPE_REQUEST, 10),
    (Signal.RECIPE_NUMBER, 12),
    (Signal.BATCH_LOT, 13),
    (Signal.BATCH_EXPIRY, 23),
    (Signal.ALARM_RESET_REQUEST, 26),
)
# The verdict closes the output block, in VERDICT_SIGNALS order: one FC16 write puts its registers
# in ascending address order, so the strobe ResultCount always sits in the last registers written.
_OUTPUT_LAYOUT: tuple[tuple[Signal, int], ...] = (
    (Signal.NODE_HEARTBEAT, 100),
    (Signal.NODE_STATE, 102),
    (Signal.ALARM_ACTIVE, 103),
    (Signal.ALARM_RESET_ACK, 104),
    (Signal.RECIPE_ACK, 106),
    (Signal.RECIPE_ERROR, 108),
    (Signal.ACTIVE_RECIPE, 109),
    (Signal.RESULT_ID, 110),
    (Signal.RESULT_CODE, 112),  # 113 reserved
    (Signal.RESULT_REASONS, 114),
    (Signal.RESULT_COUNT, 116),
)


def _block(name: str, layout: tuple[tuple[Signal, int], ...]) -> RegisterBlock:
    start = layout[0][1]
    last, address = layout[-1]
    return RegisterBlock(name, start, address + register_count(last) - start)


INPUT_BLOCK = _block("PLC inputs", _INPUT_LAYOUT)
"""PLC-to-node signals: holding registers 0..27, read by the node with one FC3 request."""
OUTPUT_BLOCK = _block("node outputs", _OUTPUT_LAYOUT)
"""Node-to-PLC signals: holding registers 100..117, written by the node with one FC16 request."""

MODBUS_MAP: dict[Signal, MapEntry] = {
    signal: MapEntry(block, address, register_count(signal), signal.spec.type)
    for block, layout in ((INPUT_BLOCK, _INPUT_LAYOUT), (OUTPUT_BLOCK, _OUTPUT_LAYOUT))
    for signal, address in layout
}
"""Every contract signal's place in the register map."""

_OUTPUTS_BY_ADDRESS: tuple[Signal, ...] = tuple(signal for signal, _ in _OUTPUT_LAYOUT)


def _where(signal: Signal) -> str:
    entry = MODBUS_MAP[signal]
    last = entry.address + entry.count - 1
    span = str(entry.address) if entry.count == 1 else f"{entry.address}..{last}"
    return f"{signal.spec.name} (holding register {span})"


# ----------------------------------------------------------------------- one value


def encode_value(signal: Signal, value: SignalValue, *, word_order: WordOrder = "big") -> list[int]:
    """A signal's value as its registers; a value the signal cannot hold is a TagError."""
    try:
        value = check_value(signal, value)
    except ValueError as exc:
        raise TagError(f"{_where(signal)}: {exc}") from exc
    t = signal.spec.type
    if t is SignalType.STRING:
        return _encode_string(signal, str(value))
    number = int(value)  # bool is 0/1 here
    if t is SignalType.UINT32:
        high, low = number >> 16, number & REGISTER_MAX
        return [high, low] if word_order == "big" else [low, high]
    return [number]


def decode_value(signal: Signal, regs: Sequence[int], *, word_order: WordOrder = "big") -> SignalValue:
    """A signal's value from exactly its registers; malformed registers are a TagError naming the address."""
    entry = MODBUS_MAP[signal]
    if len(regs) != entry.count:
        raise TagError(f"{_where(signal)}: expected {entry.count} registers, got {len(regs)}")
    for offset, reg in enumerate(regs):
        if isinstance(reg, bool) or not isinstance(reg, int) or not 0 <= reg <= REGISTER_MAX:
            raise TagError(
                f"{signal.spec.name}: holding register {entry.address + offset} = {reg!r} is not 0..65535"
            )
    t = signal.spec.type
    if t is SignalType.STRING:
        return _decode_string(signal, regs)
    if t is SignalType.UINT32:
        high, low = (regs[0], regs[1]) if word_order == "big" else (regs[1], regs[0])
        return high << 16 | low
    if t is SignalType.BOOL:
        if regs[0] not in (0, 1):
            raise TagError(f"{_where(signal)}: a Bool register holds 0 or 1, got {regs[0]}")
        return regs[0] == 1
    return regs[0]


def _encode_string(signal: Signal, text: str) -> list[int]:
    try:
        raw = text.encode(STRING_ENCODING)
    except UnicodeEncodeError as exc:
        raise TagError(f"{_where(signal)}: {text!r} has a character outside Latin-1") from exc
    if 0 in raw:
        # NUL is the padding; one inside the text would cut it short on the way back.
        raise TagError(f"{_where(signal)}: {text!r} contains NUL")
    raw = raw.ljust(2 * register_count(signal), b"\0")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]


def _decode_string(signal: Signal, regs: Sequence[int]) -> str:
    raw = b"".join(reg.to_bytes(2, "big") for reg in regs)
    text, _, padding = raw.partition(b"\0")
    if padding.strip(b"\0"):
        bad = len(text) + 1 + next(i for i, byte in enumerate(padding) if byte)
        address = MODBUS_MAP[signal].address + bad // 2
        raise TagError(
            f"{signal.spec.name}: holding register {address} has a non-NUL byte after the NUL padding"
        )
    return text.decode(STRING_ENCODING)


# ----------------------------------------------------------------------- whole blocks


def encode_inputs(values: Mapping[Signal, SignalValue], *, word_order: WordOrder = "big") -> list[int]:
    """The whole PLC-input block (INPUT_BLOCK.count registers) for every PLC input; reserved registers 0."""
    missing = [s.spec.name for s in PLC_INPUTS if s not in values]
    if missing:
        raise TagError(f"{INPUT_BLOCK.name}: missing {', '.join(missing)}")
    regs = [0] * INPUT_BLOCK.count
    for signal in PLC_INPUTS:
        _put(regs, INPUT_BLOCK.start, signal, encode_value(signal, values[signal], word_order=word_order))
    return regs


def decode_inputs(regs: Sequence[int], *, word_order: WordOrder = "big") -> PlcInputs:
    """One snapshot from the whole PLC-input block, as read with one FC3 request."""
    values = _decode_block(INPUT_BLOCK, PLC_INPUTS, regs, word_order)
    return PlcInputs.from_values(values)  # every value is already checked: this cannot fail


def output_span(signals: Iterable[Signal]) -> tuple[Signal, ...]:
    """Every node output whose registers lie between the lowest and highest register of `signals`.

    In address order; this is what one FC16 write covering `signals` must carry.
    """
    wanted = set(signals)
    for signal in wanted:
        if signal.spec.direction is not Direction.NODE_TO_PLC:
            raise TagError(f"{_where(signal)} is written by the PLC, not the node")
    if not wanted:
        return ()
    indexes = [_OUTPUTS_BY_ADDRESS.index(s) for s in wanted]
    return _OUTPUTS_BY_ADDRESS[min(indexes) : max(indexes) + 1]


def encode_outputs(
    values: Mapping[Signal, SignalValue], *, word_order: WordOrder = "big"
) -> tuple[int, list[int]]:
    """The start address and registers of one FC16 write carrying `values`.

    The write covers the contiguous span from the lowest to the highest register of the given
    signals (see output_span), so every node output inside that span must be given too.
    """
    span = output_span(values)
    if not span:
        raise TagError(f"{OUTPUT_BLOCK.name}: nothing to write")
    missing = [s.spec.name for s in span if s not in values]
    if missing:
        raise TagError(f"{OUTPUT_BLOCK.name}: the write also covers {', '.join(missing)}: give their values")
    start = MODBUS_MAP[span[0]].address
    last = MODBUS_MAP[span[-1]]
    regs = [0] * (last.address + last.count - start)
    for signal in span:
        _put(regs, start, signal, encode_value(signal, values[signal], word_order=word_order))
    return start, regs


def decode_outputs(regs: Sequence[int], *, word_order: WordOrder = "big") -> dict[Signal, SignalValue]:
    """Every node output from the whole node-output block."""
    return _decode_block(OUTPUT_BLOCK, NODE_OUTPUTS, regs, word_order)


def _put(regs: list[int], start: int, signal: Signal, words: list[int]) -> None:
    offset = MODBUS_MAP[signal].address - start
    regs[offset : offset + len(words)] = words


def _decode_block(
    block: RegisterBlock, signals: tuple[Signal, ...], regs: Sequence[int], word_order: WordOrder
) -> dict[Signal, SignalValue]:
    if len(regs) != block.count:
        raise TagError(f"{block.name}: expected {block.count} registers from {block.start}, got {len(regs)}")
    values: dict[Signal, SignalValue] = {}
    for signal in signals:
        entry = MODBUS_MAP[signal]
        offset = entry.address - block.start
        values[signal] = decode_value(signal, regs[offset : offset + entry.count], word_order=word_order)
    return values
