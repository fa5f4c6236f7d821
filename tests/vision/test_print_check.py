"""OCV by fields: every difference between the read and the code is charged to its own field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recipes.schema import PrintLayout
from vision.ocr_types import CHARSET, CharRead, LineRead
from vision.print_check import LABEL, check_print, line_owners
from vision.print_completeness import CharCompleteness
from vision.print_text import print_lines

LAYOUT = PrintLayout()
SERIALS = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=1, max_size=20)
LOTS = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20)


def _expected(serial: str, lot: str) -> tuple[str, ...]:
    return print_lines(LAYOUT, gtin="09506000134352", serial=serial, lot=lot, expiry_yymmdd="270531")


def _read(text: str, confidence: float = 0.99) -> LineRead:
    return LineRead(tuple(CharRead(c, confidence, (i, 0, 1, 1)) for i, c in enumerate(text)))


class TestLineOwners:
    """Which field each printed character belongs to."""

    def test_labels_and_fields(self) -> None:
        """The label's characters and the value's are told apart."""
        assert line_owners("LOT {lot}", "LOT AB1") == (LABEL,) * 4 + ("lot",) * 3

    def test_two_fields_on_one_line(self) -> None:
        """A literal between two fields ends the first."""
        owners = line_owners("{lot}/{expiry_yyyy_mm}", "AB/2027-05")
        assert owners == ("lot", "lot", LABEL) + ("expiry",) * 7

    def test_line_not_from_template(self) -> None:
        """A line the template cannot format is an error, not a guess."""
        with pytest.raises(ValueError, match="does not follow"):
            line_owners("LOT {lot}", "LT AB1")


class TestCheckPrint:
    """The verdict per field."""

    @given(SERIALS, LOTS)
    def test_exact_confident_read_is_ok(self, serial: str, lot: str) -> None:
        """What the code says, read with confidence, passes."""
        expected = _expected(serial, lot)
        check = check_print(
            [_read(t) for t in expected], layout=LAYOUT, expected_lines=expected, min_confidence=0.8
        )
        assert check.ok, check

    @given(SERIALS, LOTS, st.data())
    def test_one_confident_wrong_character_is_its_fields_mismatch(
        self, serial: str, lot: str, data: st.DataObject
    ) -> None:
        """A single wrong character, read with confidence, fails the print and is charged to its line."""
        expected = _expected(serial, lot)
        line = data.draw(st.integers(0, len(expected) - 1))
        text = expected[line]
        places = [i for i, c in enumerate(text) if c != " "]
        at = data.draw(st.sampled_from(places))
        wrong = data.draw(st.sampled_from([c for c in CHARSET if c != text[at]]))
        owner = line_owners(LAYOUT.lines[line], text)[at]
        reads = [_read(t) for t in expected]
        reads[line] = _read(text[:at] + wrong + text[at + 1 :])
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert not check.ok and not check.illegible
        # Charged to its own line; to its own field unless the read is ambiguous to align (N read
        # as 3 in "SN 3" is as much an extra 3 in the serial as a wrong label).
        assert check.mismatched <= set(line_owners(LAYOUT.lines[line], text)) - {" "}
        assert owner in check.mismatched or len(set(text) - {" "}) < len(text.replace(" ", ""))

    @given(SERIALS, LOTS, st.data())
    def test_an_unsure_character_makes_its_field_illegible_even_when_right(
        self, serial: str, lot: str, data: st.DataObject
    ) -> None:
        """The reader's best guess is never used: low confidence is a reject."""
        expected = _expected(serial, lot)
        line = data.draw(st.integers(0, len(expected) - 1))
        text = expected[line]
        at = data.draw(st.sampled_from([i for i, c in enumerate(text) if c != " "]))
        owner = line_owners(LAYOUT.lines[line], text)[at]
        reads = [_read(t) for t in expected]
        chars = list(reads[line].chars)
        chars[at] = CharRead(text[at], 0.5, chars[at].box)
        reads[line] = LineRead(tuple(chars))
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert check.illegible == {owner}
        assert not check.ok

    def test_text_running_on_is_a_mismatch_of_the_last_field(self) -> None:
        """An extra character after the lot is the lot printed wrong, not ignored."""
        expected = _expected("ABC", "SIM26A01")
        reads = [_read(t) for t in expected]
        reads[2] = _read(expected[2] + "7")
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert check.mismatched == {"lot"}

    def test_missing_character_is_a_mismatch(self) -> None:
        """A character not printed (or not found) is charged to its field."""
        expected = _expected("ABC123", "SIM26A01")
        reads = [_read(t) for t in expected]
        reads[1] = _read("SN ABC12")
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert check.mismatched == {"serial"}

    def test_blank_line_fails_its_label_and_field(self) -> None:
        """Nothing read where a line must be fails everything on it."""
        expected = _expected("ABC123", "SIM26A01")
        reads = [_read(t) for t in expected]
        reads[3] = _read("")
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert check.mismatched == {"expiry", LABEL}

    def test_spaces_are_not_data(self) -> None:
        """A word gap read or missed does not change the verdict."""
        expected = _expected("ABC123", "SIM26A01")
        reads = [_read(t.replace(" ", "")) for t in expected]
        check = check_print(reads, layout=LAYOUT, expected_lines=expected, min_confidence=0.8)
        assert check.ok

    def test_counts_must_match(self) -> None:
        """One read per layout line."""
        expected = _expected("ABC123", "SIM26A01")
        with pytest.raises(ValueError, match="3 reads"):
            check_print(
                [_read(t) for t in expected[:3]], layout=LAYOUT, expected_lines=expected, min_confidence=0.8
            )


def _measured(expected: tuple[str, ...], broken: set[tuple[int, int]]) -> list[list[CharCompleteness]]:
    """Completeness of every printed character: whole except the (line, index) pairs in ``broken``."""
    return [
        [
            CharCompleteness(
                index=i, char=c, score=0.3 if (n, i) in broken else 1.0, complete=(n, i) not in broken
            )
            for i, c in enumerate(line)
            if c != " "
        ]
        for n, line in enumerate(expected)
    ]


class TestCompleteness:
    """A character printed with part of it missing fails its field, whatever was read."""

    @given(SERIALS, LOTS, st.data())
    def test_an_incomplete_character_is_charged_to_its_field(
        self, serial: str, lot: str, data: st.DataObject
    ) -> None:
        expected = _expected(serial, lot)
        line = data.draw(st.integers(0, len(expected) - 1))
        index = data.draw(st.sampled_from([i for i, c in enumerate(expected[line]) if c != " "]))
        owner = line_owners(LAYOUT.lines[line], expected[line])[index]
        check = check_print(
            [_read(t) for t in expected],
            layout=LAYOUT,
            expected_lines=expected,
            min_confidence=0.8,
            completeness=_measured(expected, {(line, index)}),
        )
        assert not check.ok
        assert check.incomplete == {owner}
        assert not check.mismatched and not check.illegible
        field = next(f for f in check.fields if f.field == owner and f.line == line)
        assert field.verdict == "incomplete"
        assert field.incomplete == (expected[line][index],)

    def test_whole_print_read_right_is_ok(self) -> None:
        expected = _expected("ABC123", "L01")
        check = check_print(
            [_read(t) for t in expected],
            layout=LAYOUT,
            expected_lines=expected,
            min_confidence=0.8,
            completeness=_measured(expected, set()),
        )
        assert check.ok and not check.incomplete

    def test_a_misread_field_stays_a_mismatch_and_is_also_incomplete(self) -> None:
        expected = _expected("ABC123", "L01")
        lot_line = next(n for n, t in enumerate(LAYOUT.lines) if "{lot}" in t)
        reads = [_read(t) for t in expected]
        reads[lot_line] = _read(expected[lot_line].replace("L01", "L07"))
        check = check_print(
            reads,
            layout=LAYOUT,
            expected_lines=expected,
            min_confidence=0.8,
            completeness=_measured(expected, {(lot_line, len(expected[lot_line]) - 1)}),
        )
        assert check.mismatched == {"lot"} and check.incomplete == {"lot"}
        assert next(f for f in check.fields if f.field == "lot").verdict == "mismatch"

    def test_completeness_of_another_line_count_is_refused(self) -> None:
        expected = _expected("ABC123", "L01")
        with pytest.raises(ValueError, match="completeness"):
            check_print(
                [_read(t) for t in expected],
                layout=LAYOUT,
                expected_lines=expected,
                min_confidence=0.8,
                completeness=_measured(expected, set())[:-1],
            )
