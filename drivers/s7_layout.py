"""The signal contract as an S7 data block (byte offset and S7 type of every signal, docs/plc-s7.md)
and the pure codec between signal values and the block's bytes; no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from drivers.errors import TagError
from drivers.signals import (
    NODE_OUTPUTS,
    PLC_INPUTS,
    VERDICT_SIGNALS,
    Direction,
    PlcInputs,
    Signal,
    SignalType,
    SignalValue,
    check_value,
    default_value,
)


class S7Type(StrEnum):
    """The S7 data types the contract uses, by their TIA Portal names."""

    UDINT = "UDInt"  # UInt32, big-endian; DWord on an S7-300/400 (same 4 bytes)
    UINT = "UInt"  # UInt16, big-endian; Word on an S7-300/400 (same 2 bytes)
    BOOL = "Bool"  # bit 0 of a byte of its own: the node writes the whole byte (0 or 1)
    STRING = "String"  # S7 STRING[n]: capacity byte n, length byte, n single-byte characters


S7_TYPES: dict[SignalType, S7Type] = {
    SignalType.UINT32: S7Type.UDINT,
    SignalType.UINT16: S7Type.UINT,
    SignalType.BOOL: S7Type.BOOL,
    SignalType.STRING: S7Type.STRING,
}

_INT_FORMATS = {S7Type.UDINT: struct.Struct(">I"), S7Type.UINT: struct.Struct(">H")}
_SIZES = {S7Type.UDINT: 4, S7Type.UINT: 2, S7Type.BOOL: 1}  # a STRING[n] takes n + 2


@dataclass(frozen=True, slots=True)
class S7Area:
    """One contiguous block of the DB, moved in one request; offsets are DB byte addresses."""

    start: int
    size: int

    @property
    def end(self) -> int:
        """The first byte after the area."""
        return self.start + self.size


@dataclass(frozen=True, slots=True)
class S7Field:
    """Where one signal lives in the DB."""

    area: Direction
    offset: int  # DB byte address (DBB/DBW/DBD offset; a Bool is DBX offset.0)
    type: S7Type
    size: int  # bytes, a STRING's two header bytes included

    @property
    def end(self) -> int:
        """The first byte after the field."""
        return self.offset + self.size


def _declare(area: Direction, order: Iterable[Signal], start: int) -> tuple[S7Area, dict[Signal, S7Field]]:
    """Lay signals out from `start` as TIA does in a non-optimized DB: anything wider than a byte
    (and any STRING) starts at an even address. The contract's one Bool is followed by a UDInt,
    so TIA too gives it a byte of its own (two Bools in a row would share a byte there).
    """
    fields: dict[Signal, S7Field] = {}
    offset = start
    for signal in order:
        s7_type = S7_TYPES[signal.spec.type]
        size = _SIZES.get(s7_type, signal.spec.max_length + 2)
        if s7_type is not S7Type.BOOL:
            offset += offset % 2
        fields[signal] = S7Field(area, offset, s7_type, size)
        offset += size
    first = min(f.offset for f in fields.values())
    return S7Area(first, offset - first), fields


# The DB holds two contiguous areas so that each direction is one request: the PLC -> node area
# (read in one request) and, right after it, the node -> PLC area (one contiguous span per write).
# Offsets are the ones TIA Portal gives a non-optimized DB whose variables are declared in this order.
# Verdict fields go last and the strobe last of all (VERDICT_SIGNALS ends with ResultCount): any
# contiguous write that carries the strobe ends with it, so a CPU that copies a write in address
# order updates ResultCount after ResultId, ResultCode and ResultReasons.
_OUTPUT_ORDER = tuple(s for s in NODE_OUTPUTS if s not in VERDICT_SIGNALS) + VERDICT_SIGNALS

# The documented DB order (docs/plc-s7.md), fixed here rather than taken from the contract's
# iteration order: a PLC program's DB must not move when the contract's code is reordered.
_INPUT_ORDER = (
    Signal.TRIGGER_COUNT,
    Signal.TRIGGER_ID,
    Signal.PLC_HEARTBEAT,
    Signal.RESULT_ACK,
    Signal.RESULT_ACK_STATUS,
    Signal.RECIPE_REQUEST,
    Signal.RECIPE_NUMBER,
    Signal.BATCH_LOT,
    Signal.BATCH_EXPIRY,
    Signal.ALARM_RESET_REQUEST,
)
assert set(_INPUT_ORDER) == set(PLC_INPUTS)
INPUT_AREA, _INPUT_FIELDS = _declare(Direction.PLC_TO_NODE, _INPUT_ORDER, 0)
OUTPUT_AREA, _OUTPUT_FIELDS = _declare(Direction.NODE_TO_PLC, _OUTPUT_ORDER, INPUT_AREA.end)
DB_SIZE = OUTPUT_AREA.end
"""The least size of the PLC's DB, in bytes."""

S7_LAYOUT: dict[Signal, S7Field] = {**_INPUT_FIELDS, **_OUTPUT_FIELDS}
"""Every signal's place in the DB: area, byte offset, S7 type, size (the table in docs/plc-s7.md).
INPUT_AREA (PLC → node) is read in one request; OUTPUT_AREA (node → PLC) follows it and is written
one contiguous span per request, strobe last."""


def encode_inputs(values: Mapping[Signal, SignalValue]) -> bytes:
    """The PLC → node area holding `values`, which must give every PLC input (others are ignored).

    Raises ValueError naming the signal for a missing or ill-typed value, or a non-ASCII string.
    """
    missing = [s.spec.name for s in PLC_INPUTS if s not in values]
    if missing:
        raise ValueError(f"PLC inputs missing: {', '.join(missing)}")
    return _encode(INPUT_AREA, {s: values[s] for s in PLC_INPUTS}, _INPUTS_POWER_ON)


def decode_inputs(data: bytes) -> PlcInputs:
    """The snapshot held by the PLC → node area's bytes; a malformed STRING raises TagError."""
    return PlcInputs.from_values(_decode(INPUT_AREA, _INPUT_FIELDS, data))


def encode_outputs(values: Mapping[Signal, SignalValue], *, base: bytes | None = None) -> bytes:
    """The node → PLC area with `values` written over `base` (the area as it was; default: every
    output at its power-on value). Raises ValueError naming the signal for a PLC input or a bad value.
    """
    for signal in values:
        _output_field(signal)
    return _encode(OUTPUT_AREA, values, _OUTPUTS_POWER_ON if base is None else base)


def decode_outputs(data: bytes) -> dict[Signal, SignalValue]:
    """Every node output held by the node → PLC area's bytes."""
    return _decode(OUTPUT_AREA, _OUTPUT_FIELDS, data)


def output_span(area: bytes, signals: Iterable[Signal]) -> tuple[int, bytes]:
    """The smallest contiguous write of the node → PLC area `area` that carries `signals`:
    (DB byte offset, bytes). Other outputs inside the span are written with their bytes in `area`,
    so `area` must be the area as last written with the new values on top (encode_outputs' `base`).
    """
    fields = [_output_field(s) for s in signals]
    if not fields:
        raise ValueError("output_span: no signals to write")
    _check_size(OUTPUT_AREA, area)
    start, end = min(f.offset for f in fields), max(f.end for f in fields)
    return start, bytes(area[start - OUTPUT_AREA.start : end - OUTPUT_AREA.start])


def _output_field(signal: Signal) -> S7Field:
    field = S7_LAYOUT[signal]
    if field.area is not Direction.NODE_TO_PLC:
        raise ValueError(f"{signal.spec.name} is written by the PLC, not the node")
    return field


def _encode(area: S7Area, values: Mapping[Signal, SignalValue], base: bytes) -> bytes:
    _check_size(area, base)
    out = bytearray(base)
    for signal, raw in values.items():
        field = S7_LAYOUT[signal]
        value = check_value(signal, raw)
        at = field.offset - area.start
        if field.type is S7Type.STRING:
            text = str(value)
            # ASCII, not latin-1: an S7 STRING's code page is whatever the engineering tool shows
            # (Windows-1252 in TIA, the language setting on an S7-300), so a byte above 0x7F has no
            # one meaning; lot and expiry are GS1 character set 82, which is ASCII anyway.
            if not text.isascii():
                raise ValueError(f"{signal.spec.name}: an S7 STRING carries ASCII only, got {text!r}")
            chars = text.encode("ascii").ljust(signal.spec.max_length, b"\0")
            out[at : at + field.size] = bytes((signal.spec.max_length, len(text))) + chars
        elif field.type is S7Type.BOOL:
            out[at] = int(bool(value))
        else:
            _INT_FORMATS[field.type].pack_into(out, at, int(value))
    return bytes(out)


def _decode(area: S7Area, fields: Mapping[Signal, S7Field], data: bytes) -> dict[Signal, SignalValue]:
    _check_size(area, data)
    values: dict[Signal, SignalValue] = {}
    for signal, field in fields.items():
        at = field.offset - area.start
        if field.type is S7Type.STRING:
            values[signal] = _decode_string(signal, field, data[at : at + field.size])
        elif field.type is S7Type.BOOL:
            values[signal] = bool(data[at] & 1)
        else:
            values[signal] = _INT_FORMATS[field.type].unpack_from(data, at)[0]
    return values


def _decode_string(signal: Signal, field: S7Field, raw: bytes) -> str:
    capacity, length, declared = raw[0], raw[1], signal.spec.max_length
    where = f"{signal.spec.name} (String[{declared}] at DB byte {field.offset})"
    if capacity != declared:
        # The capacity byte comes from the DB's declaration: another value means the variable is
        # not the contract's String[n], and every offset after it is off too.
        raise TagError(f"{where}: capacity byte is {capacity}, the DB must declare String[{declared}]")
    if length > capacity:
        raise TagError(f"{where}: length byte {length} exceeds the capacity {capacity}")
    text = raw[2 : 2 + length]
    if not text.isascii():
        raise TagError(f"{where}: non-ASCII bytes {text!r}")
    return text.decode("ascii")


def _check_size(area: S7Area, data: bytes) -> None:
    if len(data) != area.size:
        raise ValueError(f"S7 area at DB byte {area.start}: expected {area.size} bytes, got {len(data)}")


# Every signal at its power-on value; only the STRINGs' capacity bytes are not zero.
_INPUTS_POWER_ON = _encode(INPUT_AREA, {s: default_value(s) for s in PLC_INPUTS}, bytes(INPUT_AREA.size))
_OUTPUTS_POWER_ON = bytes(OUTPUT_AREA.size)
