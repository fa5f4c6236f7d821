"""The signal contract as an S7 data block: each signal's byte offset and S7 type, and the pure codec
between signal values and the DB's bytes (no I/O; drivers/s7_plc.py and simulator/plc_s7.py move them).

The DB holds two contiguous areas, so each direction is one request: the PLC-to-node area (the node
reads it in one read) and the node-to-PLC area right after it (the node writes one contiguous span of
it), with the verdict fields at its end and the strobe `ResultCount` last. Offsets are the ones TIA
Portal gives a non-optimized DB whose variables are declared in this order (docs/plc-s7.md).
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

_INT_FORMATS: dict[S7Type, struct.Struct] = {S7Type.UDINT: struct.Struct(">I"), S7Type.UINT: struct.Struct(">H")}


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


def _declare(area: Direction, order: Iterable[Signal], start: int) -> dict[Signal, S7Field]:
    """Lay signals out as TIA does in a non-optimized DB: anything wider than a byte (and any
    STRING) starts at an even address. The one Bool is followed by a UDInt, so TIA too gives it a
    byte of its own; two Bools in a row would share a byte there, which this layout does not do.
    """
    fields: dict[Signal, S7Field] = {}
    offset = start
    for signal in order:
        s7_type = S7_TYPES[signal.spec.type]
        size = {S7Type.UDINT: 4, S7Type.UINT: 2, S7Type.BOOL: 1}.get(s7_type, signal.spec.max_length + 2)
        offset += (offset % 2) * (s7_type is not S7Type.BOOL)
        fields[signal] = S7Field(area, offset, s7_type, size)
        offset += size
    return fields


# Verdict fields last and the strobe last of all (VERDICT_SIGNALS ends with ResultCount): any
# contiguous write that carries the strobe ends with it, so a CPU that copies a write in address
# order updates ResultCount after ResultId, ResultCode and ResultReasons.
_OUTPUT_ORDER = tuple(s for s in NODE_OUTPUTS if s not in VERDICT_SIGNALS) + VERDICT_SIGNALS

_INPUT_FIELDS = _declare(Direction.PLC_TO_NODE, PLC_INPUTS, 0)
_INPUTS_END = max(f.end for f in _INPUT_FIELDS.values())
_OUTPUT_FIELDS = _declare(Direction.NODE_TO_PLC, _OUTPUT_ORDER, _INPUTS_END + _INPUTS_END % 2)

S7_LAYOUT: dict[Signal, S7Field] = {**_INPUT_FIELDS, **_OUTPUT_FIELDS}
"""Every signal's place in the DB: area, byte offset, S7 type, size (the table of docs/plc-s7.md)."""

INPUT_AREA = S7Area(0, _INPUTS_END)
"""PLC → node signals: read by the node in one request."""
OUTPUT_AREA = S7Area(
    min(f.offset for f in _OUTPUT_FIELDS.values()),
    max(f.end for f in _OUTPUT_FIELDS.values()) - min(f.offset for f in _OUTPUT_FIELDS.values()),
)
"""Node → PLC signals: written by the node, one contiguous span per request, strobe last."""
DB_SIZE = OUTPUT_AREA.end
"""The least size of the PLC's DB, in bytes."""


def encode_inputs(values: Mapping[Signal, SignalValue]) -> bytes:
    """The PLC → node area holding `values`, which must give every PLC input.

    Raises ValueError naming the signal for a missing or ill-typed value, or a non-ASCII string.
    """
    missing = [s.spec.name for s in PLC_INPUTS if s not in values]
    if missing:
        raise ValueError(f"PLC inputs missing: {', '.join(missing)}")
    return _encode(INPUT_AREA, {s: values[s] for s in PLC_INPUTS}, base=None)


def decode_inputs(data: bytes) -> PlcInputs:
    """The snapshot held by the PLC → node area's bytes; a malformed STRING raises TagError."""
    return PlcInputs.from_values(_decode(INPUT_AREA, _INPUT_FIELDS, data))


def encode_outputs(values: Mapping[Signal, SignalValue], *, base: bytes | None = None) -> bytes:
    """The node → PLC area with `values` written over `base` (the area as it was; default: every
    output at its power-on value). Raises ValueError naming the signal for a PLC input or a bad value.
    """
    return _encode(OUTPUT_AREA, values, base=base)


def decode_outputs(data: bytes) -> dict[Signal, SignalValue]:
    """Every node output held by the node → PLC area's bytes."""
    return _decode(OUTPUT_AREA, _OUTPUT_FIELDS, data)


def output_span(area: bytes, signals: Iterable[Signal]) -> tuple[int, bytes]:
    """The smallest contiguous write of the node → PLC area `area` that carries `signals`:
    (DB byte offset, bytes). Bytes of other outputs inside the span are taken from `area`, so
    `area` must be the area as last written with the new values on top (see encode_outputs).
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


def _encode(area: S7Area, values: Mapping[Signal, SignalValue], *, base: bytes | None) -> bytes:
    if base is None:
        # Power-on values; only the STRINGs' capacity bytes are not zero.
        fields = _INPUT_FIELDS if area is INPUT_AREA else _OUTPUT_FIELDS
        base = _encode_fields(area, {s: default_value(s) for s in fields}, bytearray(area.size))
    _check_size(area, base)
    return _encode_fields(area, values, bytearray(base))


def _encode_fields(area: S7Area, values: Mapping[Signal, SignalValue], out: bytearray) -> bytes:
    direction = Direction.PLC_TO_NODE if area is INPUT_AREA else Direction.NODE_TO_PLC
    for signal, raw in values.items():
        field = S7_LAYOUT[signal]
        if field.area is not direction:
            writer = "PLC" if field.area is Direction.PLC_TO_NODE else "node"
            raise ValueError(f"{signal.spec.name} is written by the {writer}, not in this area")
        value = check_value(signal, raw)
        at = field.offset - area.start
        if field.type is S7Type.STRING:
            text = str(value)
            if not text.isascii():
                raise ValueError(f"{signal.spec.name}: S7 STRING carries ASCII only, got {text!r}")
            capacity = signal.spec.max_length
            out[at : at + field.size] = bytes((capacity, len(text))) + text.encode("ascii").ljust(capacity, b"\0")
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
    capacity, length = raw[0], raw[1]
    where = f"{signal.spec.name} (STRING[{signal.spec.max_length}] at DB byte {field.offset})"
    if capacity != signal.spec.max_length:
        # The capacity byte comes from the DB's declaration: another value means the variable is
        # not declared as the contract's STRING[n] here, so every offset after it is off too.
        raise TagError(f"{where}: capacity byte is {capacity}, the DB must declare String[{signal.spec.max_length}]")
    if length > capacity:
        raise TagError(f"{where}: length byte {length} exceeds the capacity {capacity}")
    text = raw[2 : 2 + length]
    if not text.isascii():
        raise TagError(f"{where}: non-ASCII bytes {text!r}")
    return text.decode("ascii")


def _check_size(area: S7Area, data: bytes) -> None:
    if len(data) != area.size:
        raise ValueError(f"S7 area at DB byte {area.start}: expected {area.size} bytes, got {len(data)}")
