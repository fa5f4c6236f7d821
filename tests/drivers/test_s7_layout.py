"""The S7 data block layout and its codec: the table, byte vectors, and round trips of every signal type."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from drivers.errors import TagError
from drivers.memory import SignalImage
from drivers.s7_layout import (
    DB_SIZE,
    INPUT_AREA,
    OUTPUT_AREA,
    S7_LAYOUT,
    S7Type,
    decode_inputs,
    decode_outputs,
    encode_inputs,
    encode_outputs,
    output_span,
)
from drivers.signals import NODE_OUTPUTS, PLC_INPUTS, Direction, PlcInputs, Signal, SignalType, SignalValue

# The table of docs/plc-s7.md: a PLC program is written against these numbers, so any change
# to them is a change of the contract and must show here.
DOCUMENTED = {
    "TriggerCount": (0, "UDInt"),
    "TriggerId": (4, "UDInt"),
    "PlcHeartbeat": (8, "UDInt"),
    "ResultAck": (12, "UDInt"),
    "ResultAckStatus": (16, "UInt"),
    "RecipeRequest": (18, "UDInt"),
    "RecipeNumber": (22, "UInt"),
    "BatchLot": (24, "String"),
    "BatchExpiry": (46, "String"),
    "AlarmResetRequest": (54, "UDInt"),
    "NodeHeartbeat": (58, "UDInt"),
    "NodeState": (62, "UInt"),
    "RecipeAck": (64, "UDInt"),
    "RecipeError": (68, "UInt"),
    "ActiveRecipe": (70, "UInt"),
    "AlarmActive": (72, "Bool"),
    "AlarmResetAck": (74, "UDInt"),
    "ResultId": (78, "UDInt"),
    "ResultCode": (82, "UInt"),
    "ResultReasons": (84, "UDInt"),
    "ResultCount": (88, "UDInt"),
}

STRINGS = [s for s in PLC_INPUTS if s.spec.type is SignalType.STRING]
ASCII = st.characters(max_codepoint=0x7F)


def values_of(signal: Signal) -> st.SearchStrategy[SignalValue]:
    """Every value the contract allows for the signal (strings: ASCII, up to the capacity)."""
    t = signal.spec.type
    if t is SignalType.UINT32:
        return st.integers(0, 0xFFFFFFFF)
    if t is SignalType.UINT16:
        return st.integers(0, 0xFFFF)
    if t is SignalType.BOOL:
        return st.booleans()
    return st.text(ASCII, max_size=signal.spec.max_length)


def full(signal: Signal) -> SignalValue:
    """The signal's largest value (a string filled to its capacity)."""
    t = signal.spec.type
    if t is SignalType.STRING:
        return "9" * signal.spec.max_length
    return {SignalType.UINT32: 0xFFFFFFFF, SignalType.UINT16: 0xFFFF, SignalType.BOOL: True}[t]


INPUTS = st.fixed_dictionaries({s: values_of(s) for s in PLC_INPUTS})
OUTPUTS = st.fixed_dictionaries({s: values_of(s) for s in NODE_OUTPUTS})
OUTPUT_SUBSETS = st.lists(st.sampled_from(NODE_OUTPUTS), min_size=1, unique=True)


def power_on() -> dict[Signal, SignalValue]:
    """Every signal at its power-on value."""
    return dict(SignalImage().values)


class TestLayout:
    """The S7_LAYOUT table and its two areas."""

    def test_table_is_the_documented_one(self) -> None:
        """Every signal sits at the byte offset and with the S7 type docs/plc-s7.md gives."""
        table = {s.spec.name: (f.offset, f.type.value) for s, f in S7_LAYOUT.items()}
        assert table == DOCUMENTED
        assert (INPUT_AREA.start, INPUT_AREA.size, OUTPUT_AREA.start, OUTPUT_AREA.size, DB_SIZE) == (
            0,
            58,
            58,
            34,
            92,
        )

    def test_each_direction_is_one_contiguous_area(self) -> None:
        """PLC inputs fill the input area, node outputs the output area right after it, no overlap."""
        for area, direction in ((INPUT_AREA, Direction.PLC_TO_NODE), (OUTPUT_AREA, Direction.NODE_TO_PLC)):
            fields = sorted((f for f in S7_LAYOUT.values() if f.area is direction), key=lambda f: f.offset)
            assert fields[0].offset == area.start
            assert fields[-1].end == area.end
            assert all(a.end <= b.offset for a, b in itertools.pairwise(fields))
        assert INPUT_AREA.end == OUTPUT_AREA.start

    def test_wide_fields_start_at_even_addresses(self) -> None:
        """UDInt, UInt and String start on even bytes, as TIA places them in a non-optimized DB."""
        assert all(f.offset % 2 == 0 for f in S7_LAYOUT.values() if f.type is not S7Type.BOOL)

    def test_strobe_is_the_last_field_of_the_output_area(self) -> None:
        """ResultCount ends the output area, right after the other verdict fields."""
        verdict = [S7_LAYOUT[s] for s in (Signal.RESULT_ID, Signal.RESULT_CODE, Signal.RESULT_REASONS)]
        strobe = S7_LAYOUT[Signal.RESULT_COUNT]
        assert strobe.end == OUTPUT_AREA.end
        assert all(f.end <= strobe.offset for f in verdict)


class TestInputsCodec:
    """encode_inputs / decode_inputs: the PLC -> node area."""

    @given(INPUTS)
    @example({s: full(s) for s in PLC_INPUTS})
    @example({s: power_on()[s] for s in PLC_INPUTS})
    def test_round_trip(self, values: dict[Signal, SignalValue]) -> None:
        """Any allowed values, 0, 0xFFFF, 0xFFFFFFFF and full strings included, come back unchanged."""
        data = encode_inputs(values)
        assert len(data) == INPUT_AREA.size
        assert decode_inputs(data) == PlcInputs.from_values(values)

    def test_byte_vector(self) -> None:
        """Integers are big-endian and a String is capacity byte, length byte, characters, NUL padding."""
        values = power_on()
        values |= {
            Signal.TRIGGER_COUNT: 0x01020304,
            Signal.RESULT_ACK_STATUS: 0xFFFF,
            Signal.ALARM_RESET_REQUEST: 0xFFFFFFFF,
            Signal.BATCH_LOT: "AB1",
            Signal.BATCH_EXPIRY: "281200",
        }
        data = encode_inputs(values)
        assert data[0:4] == b"\x01\x02\x03\x04"
        assert data[16:18] == b"\xff\xff"
        assert data[54:58] == b"\xff\xff\xff\xff"
        assert data[24:46] == b"\x14\x03AB1" + bytes(17)
        assert data[46:54] == b"\x06\x06281200"

    @given(st.sampled_from(STRINGS), st.data())
    def test_non_ascii_is_refused_on_encode(self, signal: Signal, data: st.DataObject) -> None:
        """A string with any non-ASCII character is a ValueError naming the signal, not mojibake."""
        text = data.draw(
            st.text(min_size=1, max_size=signal.spec.max_length).filter(lambda t: not t.isascii())
        )
        with pytest.raises(ValueError, match=signal.spec.name):
            encode_inputs(power_on() | {signal: text})

    @given(st.sampled_from(STRINGS), st.integers(0x80, 0xFF))
    def test_non_ascii_is_refused_on_decode(self, signal: Signal, byte: int) -> None:
        """A byte above 0x7F in a PLC String is a TagError naming the signal and its offset."""
        at = S7_LAYOUT[signal].offset
        data = bytearray(encode_inputs(power_on()))
        data[at + 1 : at + 3] = bytes((1, byte))
        with pytest.raises(TagError, match=f"{signal.spec.name}.*DB byte {at}"):
            decode_inputs(bytes(data))

    @given(st.sampled_from(STRINGS), st.integers(0, 0xFF))
    def test_length_byte_above_the_capacity_is_a_tag_error(self, signal: Signal, excess: int) -> None:
        """A String whose length byte exceeds its capacity is a TagError naming the signal and offset."""
        at = S7_LAYOUT[signal].offset
        length = signal.spec.max_length + 1 + excess % (0xFF - signal.spec.max_length)
        data = bytearray(encode_inputs(power_on()))
        data[at + 1] = length
        with pytest.raises(TagError, match=f"{signal.spec.name}.*DB byte {at}.*length byte {length}"):
            decode_inputs(bytes(data))

    @given(st.sampled_from(STRINGS), st.integers(0, 0xFF))
    def test_wrong_capacity_byte_is_a_tag_error(self, signal: Signal, capacity: int) -> None:
        """A String declared with another capacity (or not as a String) is a TagError naming it."""
        if capacity == signal.spec.max_length:
            capacity = 0
        at = S7_LAYOUT[signal].offset
        data = bytearray(encode_inputs(power_on()))
        data[at] = capacity
        with pytest.raises(TagError, match=f"{signal.spec.name}.*String\\[{signal.spec.max_length}\\]"):
            decode_inputs(bytes(data))

    def test_missing_or_bad_values_are_refused(self) -> None:
        """A missing input, an out-of-range integer or an over-long string is a ValueError naming it."""
        with pytest.raises(ValueError, match="TriggerCount"):
            encode_inputs({s: v for s, v in power_on().items() if s is not Signal.TRIGGER_COUNT})
        with pytest.raises(ValueError, match="RecipeNumber"):
            encode_inputs(power_on() | {Signal.RECIPE_NUMBER: 0x10000})
        with pytest.raises(ValueError, match="BatchExpiry"):
            encode_inputs(power_on() | {Signal.BATCH_EXPIRY: "2812001"})

    def test_wrong_size_is_refused(self) -> None:
        """Bytes that are not exactly the area are a ValueError naming the expected size."""
        with pytest.raises(ValueError, match="58 bytes"):
            decode_inputs(bytes(57))


class TestOutputsCodec:
    """encode_outputs / decode_outputs: the node -> PLC area."""

    @given(OUTPUTS)
    @example({s: full(s) for s in NODE_OUTPUTS})
    @example({s: power_on()[s] for s in NODE_OUTPUTS})
    def test_round_trip(self, values: dict[Signal, SignalValue]) -> None:
        """Any allowed values, boundaries and Bool included, come back unchanged."""
        data = encode_outputs(values)
        assert len(data) == OUTPUT_AREA.size
        assert decode_outputs(data) == values

    @given(OUTPUTS, OUTPUTS, OUTPUT_SUBSETS)
    def test_writes_over_the_base(
        self, old: dict[Signal, SignalValue], new: dict[Signal, SignalValue], chosen: list[Signal]
    ) -> None:
        """Outputs not given keep their value in `base`; the given ones take the new value."""
        area = encode_outputs({s: new[s] for s in chosen}, base=encode_outputs(old))
        assert decode_outputs(area) == old | {s: new[s] for s in chosen}

    def test_bool_is_bit_zero_of_its_own_byte(self) -> None:
        """AlarmActive is written as the byte 0 or 1 at DBX72.0."""
        at = S7_LAYOUT[Signal.ALARM_ACTIVE].offset - OUTPUT_AREA.start
        assert encode_outputs({Signal.ALARM_ACTIVE: True})[at] == 1
        assert encode_outputs({Signal.ALARM_ACTIVE: False}, base=b"\xff" * OUTPUT_AREA.size)[at] == 0

    def test_plc_input_is_refused(self) -> None:
        """A signal the PLC writes cannot be encoded as a node output."""
        with pytest.raises(ValueError, match="TriggerCount is written by the PLC"):
            encode_outputs({Signal.TRIGGER_COUNT: 1})


class TestOutputSpan:
    """output_span: the one contiguous write that carries some outputs."""

    @given(OUTPUTS, OUTPUT_SUBSETS)
    def test_span_covers_exactly_the_signals(
        self, values: dict[Signal, SignalValue], chosen: list[Signal]
    ) -> None:
        """The span runs from the first to the last byte of the chosen outputs, with the area's bytes."""
        area = encode_outputs(values)
        offset, data = output_span(area, chosen)
        fields = [S7_LAYOUT[s] for s in chosen]
        assert offset == min(f.offset for f in fields)
        assert offset + len(data) == max(f.end for f in fields)
        assert data == area[offset - OUTPUT_AREA.start : offset - OUTPUT_AREA.start + len(data)]

    @given(OUTPUT_SUBSETS, st.integers(0, 0xFFFFFFFF))
    def test_strobe_is_last_in_any_span_that_carries_it(self, chosen: list[Signal], count: int) -> None:
        """Whatever else goes with it, ResultCount is the last four bytes of the write, big-endian."""
        signals = [*chosen, Signal.RESULT_COUNT] if Signal.RESULT_COUNT not in chosen else chosen
        _, data = output_span(encode_outputs({Signal.RESULT_COUNT: count}), reversed(signals))
        assert data[-4:] == struct.pack(">I", count)

    def test_no_signal_or_a_plc_input_is_refused(self) -> None:
        """An empty write or a PLC input has no span."""
        area = encode_outputs({})
        with pytest.raises(ValueError, match="no signals"):
            output_span(area, [])
        with pytest.raises(ValueError, match="BatchLot is written by the PLC"):
            output_span(area, [Signal.BATCH_LOT])
