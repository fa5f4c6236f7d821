"""The Modbus register map and its codec: layout invariants, byte vectors and round-trip properties."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from drivers.errors import TagError
from drivers.modbus_map import (
    INPUT_BLOCK,
    MAX_READ_REGISTERS,
    MAX_WRITE_REGISTERS,
    MODBUS_MAP,
    OUTPUT_BLOCK,
    WordOrder,
    decode_inputs,
    decode_outputs,
    decode_value,
    encode_inputs,
    encode_outputs,
    encode_value,
    output_span,
)
from drivers.signals import (
    NODE_OUTPUTS,
    PLC_INPUTS,
    VERDICT_SIGNALS,
    PlcInputs,
    Signal,
    SignalType,
    SignalValue,
    default_value,
)

WORD_ORDERS: tuple[WordOrder, ...] = ("big", "little")
word_orders = st.sampled_from(WORD_ORDERS)


def values_of(signal: Signal) -> st.SearchStrategy[SignalValue]:
    """Every value the signal may carry, boundaries included."""
    spec = signal.spec
    if spec.type is SignalType.BOOL:
        return st.booleans()
    if spec.type is SignalType.UINT16:
        return st.integers(0, 0xFFFF)
    if spec.type is SignalType.UINT32:
        return st.integers(0, 0xFFFFFFFF)
    # Latin-1 without NUL: what one register byte per character can carry.
    return st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=spec.max_length)


def signal_values(signals: tuple[Signal, ...]) -> st.SearchStrategy[dict[Signal, SignalValue]]:
    """A value for each of `signals`."""
    return st.fixed_dictionaries({s: values_of(s) for s in signals})


def output_block(values: Mapping[Signal, SignalValue], word_order: WordOrder) -> list[int]:
    """The whole output block as the PLC holds it after writing `values` over a zeroed block."""
    full = {s: default_value(s) for s in NODE_OUTPUTS} | dict(values)
    start, regs = encode_outputs(full, word_order=word_order)
    assert (start, len(regs)) == (OUTPUT_BLOCK.start, OUTPUT_BLOCK.count)
    return regs


class TestModbusMap:
    """The register map as data."""

    def test_every_signal_is_mapped_in_its_block(self) -> None:
        """PLC inputs live in the input block, node outputs in the output block, nothing else."""
        assert set(MODBUS_MAP) == set(Signal)
        for signal, entry in MODBUS_MAP.items():
            block = INPUT_BLOCK if signal in PLC_INPUTS else OUTPUT_BLOCK
            assert entry.block == block
            assert block.start <= entry.address and entry.address + entry.count <= block.stop
            assert entry.type is signal.spec.type

    def test_fields_do_not_overlap(self) -> None:
        """No register belongs to two signals."""
        owners: dict[int, Signal] = {}
        for signal, entry in MODBUS_MAP.items():
            for address in range(entry.address, entry.address + entry.count):
                assert owners.setdefault(address, signal) is signal

    def test_uint32_fields_start_on_even_addresses(self) -> None:
        """A PLC can lay a naturally aligned structure over each block."""
        for entry in MODBUS_MAP.values():
            if entry.type is SignalType.UINT32:
                assert entry.address % 2 == 0

    def test_register_counts(self) -> None:
        """UInt32 takes two registers, Bool and UInt16 one, strings two characters per register."""
        counts = {s.spec.name: e.count for s, e in MODBUS_MAP.items()}
        assert counts["TriggerCount"] == 2 and counts["ResultAckStatus"] == 1
        assert counts["AlarmActive"] == 1 and counts["BatchLot"] == 10 and counts["BatchExpiry"] == 3

    def test_blocks_are_the_documented_ones(self) -> None:
        """Inputs at holding registers 0..27, outputs at 100..117, each within one request's limit."""
        assert (INPUT_BLOCK.start, INPUT_BLOCK.count) == (0, 28)
        assert (OUTPUT_BLOCK.start, OUTPUT_BLOCK.count) == (100, 18)
        assert INPUT_BLOCK.count <= MAX_READ_REGISTERS
        assert OUTPUT_BLOCK.count <= min(MAX_READ_REGISTERS, MAX_WRITE_REGISTERS)

    def test_strobe_is_last_of_the_output_block(self) -> None:
        """ResultCount takes the block's last registers, after the other verdict fields in contract order."""
        strobe = MODBUS_MAP[Signal.RESULT_COUNT]
        assert strobe.address + strobe.count == OUTPUT_BLOCK.stop
        addresses = [MODBUS_MAP[s].address for s in VERDICT_SIGNALS]
        assert addresses == sorted(addresses)


class TestEncodeValue:
    """One value to registers: the wire format, byte by byte."""

    def test_uint32_word_orders(self) -> None:
        """Big puts the high word first (ABCD), little the low word first (CDAB)."""
        assert encode_value(Signal.TRIGGER_ID, 0x12345678, word_order="big") == [0x1234, 0x5678]
        assert encode_value(Signal.TRIGGER_ID, 0x12345678, word_order="little") == [0x5678, 0x1234]

    def test_uint16_and_bool(self) -> None:
        """UInt16 is the register itself, Bool is 0 or 1."""
        assert encode_value(Signal.RECIPE_NUMBER, 0xFFFF) == [0xFFFF]
        assert encode_value(Signal.ALARM_ACTIVE, True) == [1]
        assert encode_value(Signal.ALARM_ACTIVE, False) == [0]

    def test_string_packing(self) -> None:
        """Two characters per register, high byte first, NUL padding to the signal's length."""
        assert encode_value(Signal.BATCH_EXPIRY, "26123") == [0x3236, 0x3132, 0x3300]
        assert encode_value(Signal.BATCH_EXPIRY, "") == [0, 0, 0]
        assert encode_value(Signal.BATCH_LOT, "Ä")[0] == 0xC400

    @pytest.mark.parametrize(
        ("signal", "value"),
        [
            (Signal.TRIGGER_ID, 1 << 32),
            (Signal.TRIGGER_ID, -1),
            (Signal.RECIPE_NUMBER, 0x10000),
            (Signal.ALARM_ACTIVE, 1),
            (Signal.BATCH_EXPIRY, "2612310"),
        ],
    )
    def test_value_out_of_range_names_signal_and_register(self, signal: Signal, value: SignalValue) -> None:
        """A value the signal cannot hold is a TagError naming it and its registers."""
        where = rf"{signal.spec.name} \(holding register {MODBUS_MAP[signal].address}"
        with pytest.raises(TagError, match=where):
            encode_value(signal, value)

    def test_character_outside_latin1(self) -> None:
        """A character a PLC STRING byte cannot hold is refused."""
        with pytest.raises(TagError, match=r"BatchLot.*Latin-1"):
            encode_value(Signal.BATCH_LOT, "LOT€")

    def test_nul_inside_text(self) -> None:
        """NUL is the padding, so it cannot be part of the text."""
        with pytest.raises(TagError, match=r"BatchLot.*NUL"):
            encode_value(Signal.BATCH_LOT, "A\0B")


class TestDecodeValue:
    """Registers to one value, and what counts as malformed."""

    @given(signal=st.sampled_from(list(Signal)), data=st.data(), word_order=word_orders)
    def test_round_trip(self, signal: Signal, data: st.DataObject, word_order: WordOrder) -> None:
        """Every value of every type comes back unchanged, in both word orders."""
        value = data.draw(values_of(signal))
        regs = encode_value(signal, value, word_order=word_order)
        assert len(regs) == MODBUS_MAP[signal].count
        assert all(0 <= r <= 0xFFFF for r in regs)
        assert decode_value(signal, regs, word_order=word_order) == value

    @pytest.mark.parametrize("word_order", WORD_ORDERS)
    @pytest.mark.parametrize(
        ("signal", "value"),
        [
            (Signal.TRIGGER_COUNT, 0),
            (Signal.TRIGGER_COUNT, 0xFFFFFFFF),
            (Signal.TRIGGER_COUNT, 0x0000FFFF),
            (Signal.TRIGGER_COUNT, 0xFFFF0000),
            (Signal.RECIPE_NUMBER, 0),
            (Signal.RECIPE_NUMBER, 0xFFFF),
            (Signal.BATCH_LOT, "A" * 20),
            (Signal.BATCH_LOT, "\xff" * 19),
            (Signal.BATCH_LOT, ""),
            (Signal.BATCH_EXPIRY, "261231"),
        ],
    )
    def test_boundaries(self, signal: Signal, value: SignalValue, word_order: WordOrder) -> None:
        """Extremes of each type survive the trip."""
        regs = encode_value(signal, value, word_order=word_order)
        assert decode_value(signal, regs, word_order=word_order) == value

    def test_word_order_matters(self) -> None:
        """The same registers read in the other word order give the swapped value."""
        regs = encode_value(Signal.TRIGGER_COUNT, 0x00010002, word_order="big")
        assert decode_value(Signal.TRIGGER_COUNT, regs, word_order="little") == 0x00020001

    def test_register_above_16_bits(self) -> None:
        """A register outside 0..65535 names the signal and the address."""
        with pytest.raises(TagError, match=r"TriggerId: holding register 3 = 65536"):
            decode_value(Signal.TRIGGER_ID, [0, 0x10000])

    def test_bool_register_not_0_or_1(self) -> None:
        """A Bool register holds 0 or 1; 2 is malformed, not true."""
        with pytest.raises(TagError, match=r"AlarmActive \(holding register 103\).*got 2"):
            decode_value(Signal.ALARM_ACTIVE, [2])

    def test_text_after_nul_padding(self) -> None:
        """A non-NUL byte after the padding starts names the register that holds it."""
        regs = encode_value(Signal.BATCH_LOT, "AB")
        regs[3] = 0x0041
        with pytest.raises(TagError, match="BatchLot: holding register 16 has a non-NUL byte"):
            decode_value(Signal.BATCH_LOT, regs)

    def test_wrong_register_count(self) -> None:
        """A slice of the wrong length is refused."""
        with pytest.raises(TagError, match="expected 2 registers, got 1"):
            decode_value(Signal.TRIGGER_ID, [1])

    @given(signal=st.sampled_from(list(Signal)), regs=st.lists(st.integers(-2, 0x1FFFF), max_size=12))
    @example(signal=Signal.BATCH_EXPIRY, regs=[0x4100, 0x0041, 0])
    def test_any_registers_decode_or_raise_tag_error(self, signal: Signal, regs: list[int]) -> None:
        """Garbage from the wire is a value or a TagError, never another exception."""
        try:
            value = decode_value(signal, regs)
        except TagError:
            return
        assert decode_value(signal, encode_value(signal, value)) == value


class TestInputs:
    """The PLC-input block, read with one FC3 request."""

    @given(values=signal_values(PLC_INPUTS), word_order=word_orders)
    def test_round_trip(self, values: dict[Signal, SignalValue], word_order: WordOrder) -> None:
        """A block encoded by the PLC decodes to the same snapshot."""
        regs = encode_inputs(values, word_order=word_order)
        assert len(regs) == INPUT_BLOCK.count
        assert decode_inputs(regs, word_order=word_order) == PlcInputs.from_values(values)

    def test_byte_vector(self) -> None:
        """Known values sit at their documented registers."""
        values = {s: default_value(s) for s in PLC_INPUTS} | {
            Signal.TRIGGER_COUNT: 0x00010002,
            Signal.RESULT_ACK_STATUS: 2,
            Signal.BATCH_LOT: "L1",
            Signal.ALARM_RESET_REQUEST: 7,
        }
        regs = encode_inputs(values)
        assert regs[0:2] == [1, 2]
        assert regs[8] == 2
        assert regs[13] == 0x4C31
        assert regs[26:28] == [0, 7]

    def test_reserved_register_is_ignored(self) -> None:
        """Whatever the PLC leaves in register 9 does not matter."""
        regs = encode_inputs({s: default_value(s) for s in PLC_INPUTS})
        regs[9] = 0xBEEF
        assert decode_inputs(regs) == PlcInputs()

    def test_short_block(self) -> None:
        """A block of the wrong size is a TagError naming the block."""
        with pytest.raises(TagError, match="PLC inputs: expected 28 registers from 0, got 27"):
            decode_inputs([0] * 27)

    def test_missing_input(self) -> None:
        """Encoding needs every PLC input."""
        with pytest.raises(TagError, match="missing TriggerCount"):
            encode_inputs({s: default_value(s) for s in PLC_INPUTS if s is not Signal.TRIGGER_COUNT})


class TestOutputs:
    """Node outputs: one FC16 write over a contiguous span, and the whole block back."""

    @given(values=signal_values(NODE_OUTPUTS), word_order=word_orders)
    def test_round_trip_whole_block(self, values: dict[Signal, SignalValue], word_order: WordOrder) -> None:
        """All outputs written at once come back unchanged."""
        assert decode_outputs(output_block(values, word_order), word_order=word_order) == values

    @given(
        chosen=st.lists(st.sampled_from(NODE_OUTPUTS), min_size=1, unique=True),
        data=st.data(),
        word_order=word_orders,
    )
    def test_span_write_lands_in_place(
        self, chosen: list[Signal], data: st.DataObject, word_order: WordOrder
    ) -> None:
        """A span written over a block changes exactly the span's signals."""
        span = output_span(chosen)
        assert set(chosen) <= set(span)
        new = data.draw(signal_values(span))
        start, regs = encode_outputs(new, word_order=word_order)
        block = output_block({}, word_order)
        offset = start - OUTPUT_BLOCK.start
        block[offset : offset + len(regs)] = regs
        expected = {s: default_value(s) for s in NODE_OUTPUTS} | new
        assert decode_outputs(block, word_order=word_order) == expected

    @given(values=signal_values(VERDICT_SIGNALS), word_order=word_orders)
    def test_verdict_write_ends_with_the_strobe(
        self, values: dict[Signal, SignalValue], word_order: WordOrder
    ) -> None:
        """In a verdict's write the last two registers are ResultCount."""
        start, regs = encode_outputs(values, word_order=word_order)
        assert start == MODBUS_MAP[Signal.RESULT_ID].address
        strobe = encode_value(Signal.RESULT_COUNT, values[Signal.RESULT_COUNT], word_order=word_order)
        assert regs[-2:] == strobe

    def test_span_includes_everything_between(self) -> None:
        """Heartbeat and strobe together span the whole block, in address order."""
        span = output_span([Signal.RESULT_COUNT, Signal.NODE_HEARTBEAT])
        assert span == tuple(sorted(NODE_OUTPUTS, key=lambda s: MODBUS_MAP[s].address))

    def test_gap_in_span_is_refused(self) -> None:
        """A write cannot leave out an output inside its span."""
        with pytest.raises(TagError, match="also covers ResultCode, ResultReasons"):
            encode_outputs({Signal.RESULT_ID: 1, Signal.RESULT_COUNT: 1})

    def test_plc_input_is_refused(self) -> None:
        """The node cannot write a signal the PLC owns."""
        with pytest.raises(TagError, match=r"TriggerCount \(holding register 0..1\) is written by the PLC"):
            encode_outputs({Signal.TRIGGER_COUNT: 1})

    def test_reserved_register_written_as_zero(self) -> None:
        """Register 113 between ResultCode and ResultReasons goes out as 0."""
        start, regs = encode_outputs({Signal.RESULT_CODE: 0xFFFF, Signal.RESULT_REASONS: 0xFFFFFFFF})
        assert (start, regs) == (112, [0xFFFF, 0, 0xFFFF, 0xFFFF])

    def test_malformed_bool_in_block(self) -> None:
        """A block with AlarmActive = 5 is a TagError naming register 103."""
        block = output_block({}, "big")
        block[103 - OUTPUT_BLOCK.start] = 5
        with pytest.raises(TagError, match="holding register 103"):
            decode_outputs(block)
