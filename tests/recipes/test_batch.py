"""The PLC's lot and expiry, checked against GS1's rules for AI (10) and AI (17)."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recipes.batch import GS1_CSET82, Batch, BatchError, parse_batch
from recipes.loader import RecipeError, RecipeErrorCode

CSET82_LOTS = st.text(alphabet=sorted(GS1_CSET82), min_size=1, max_size=20)
PLC_PADDING = st.text(alphabet="\x00 ", max_size=10)


class TestParseBatch:
    """parse_batch accepts what GS1 allows and names the field, value and rule of anything else."""

    def test_valid_batch(self) -> None:
        """A plain lot and a real date come back unchanged."""
        assert parse_batch("L2406-A", "270131") == Batch(lot="L2406-A", expiry="270131")

    def test_plc_padding_is_stripped(self) -> None:
        """Trailing NULs and spaces from a fixed-length PLC STRING are not part of the lot or expiry."""
        assert parse_batch("L1\x00\x00 \x00", "270131  ") == Batch(lot="L1", expiry="270131")

    def test_day_zero_means_end_of_month(self) -> None:
        """DD=00 is allowed in AI (17)."""
        assert parse_batch("L1", "270200").expiry == "270200"

    def test_leap_day(self) -> None:
        """29 February exists in leap years only."""
        assert parse_batch("L1", "280229").expiry == "280229"
        with pytest.raises(BatchError, match="day 29 is not a valid date, 2027-02 has 28 days"):
            parse_batch("L1", "270229")

    @pytest.mark.parametrize(
        ("expiry", "rule"),
        [
            ("271331", "AI (17): month 13 is not a valid date, expected 01 to 12"),
            ("270001", "AI (17): month 00 is not a valid date, expected 01 to 12"),
            ("270431", "AI (17): day 31 is not a valid date, 2027-04 has 30 days"),
            ("2701", "AI (17): value '2701' is 4 characters, expected 6"),
            ("27-1-31", "AI (17): value '27-1-31' is 7 characters, expected 6"),
            ("27013１", "AI (17): character '１' is not a digit"),  # a full-width digit is not ASCII
        ],
    )
    def test_bad_expiry_names_field_value_and_rule(self, expiry: str, rule: str) -> None:
        """A bad expiry is refused with the field, the rule and the value as sent."""
        with pytest.raises(BatchError) as caught:
            parse_batch("L1", expiry)
        assert caught.value.field == "expiry"
        assert caught.value.value == expiry
        assert str(caught.value) == f"expiry: {rule} (got {expiry!r})"

    @pytest.mark.parametrize(
        ("lot", "rule"),
        [
            ("", "must not be empty"),
            ("\x00\x00\x00", "must not be empty"),
            ("L" * 21, f"AI (10): value {'L' * 21!r} is 21 characters, expected 1 to 20"),
            (" L1", "AI (10): character ' ' is not in GS1 character set 82"),
            ("L#1", "AI (10): character '#' is not in GS1 character set 82"),
            ("LÄ1", "AI (10): character 'Ä' is not in GS1 character set 82"),
        ],
    )
    def test_bad_lot_names_field_value_and_rule(self, lot: str, rule: str) -> None:
        """A bad lot is refused with the field, the rule and the value as sent."""
        with pytest.raises(BatchError) as caught:
            parse_batch(lot, "270131")
        assert caught.value.field == "lot"
        assert str(caught.value) == f"lot: {rule} (got {lot!r})"

    def test_batch_error_is_a_recipe_error_for_the_plc(self) -> None:
        """A bad batch reaches the PLC as RecipeError INVALID_BATCH (3)."""
        with pytest.raises(RecipeError) as caught:
            parse_batch("L1", "999999")
        assert caught.value.code is RecipeErrorCode.INVALID_BATCH

    @given(lot=CSET82_LOTS, padding=PLC_PADDING)
    def test_any_cset82_lot_round_trips(self, lot: str, padding: str) -> None:
        """Any 1..20 characters of CSET 82, padded by the PLC, come back as sent without the padding."""
        assert parse_batch(lot + padding, "270131").lot == lot

    @given(
        day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
        end_of_month=st.booleans(),
    )
    def test_any_real_date_is_accepted(self, day: dt.date, end_of_month: bool) -> None:
        """Every calendar date of 2000..2099, and its month's DD=00 form, is a valid expiry."""
        expiry = day.strftime("%y%m") + "00" if end_of_month else day.strftime("%y%m%d")
        assert parse_batch("L1", expiry).expiry == expiry

    @given(lot=st.text(max_size=30), expiry=st.text(max_size=10))
    def test_anything_parses_or_raises_batch_error(self, lot: str, expiry: str) -> None:
        """Whatever the PLC sends, the result is a valid Batch or a BatchError, never another exception."""
        try:
            batch = parse_batch(lot, expiry)
        except BatchError as error:
            assert error.field in {"lot", "expiry"}
            return
        assert 1 <= len(batch.lot) <= 20 and set(batch.lot) <= GS1_CSET82
        year, month, day = 2000 + int(batch.expiry[:2]), int(batch.expiry[2:4]), int(batch.expiry[4:])
        assert day <= calendar.monthrange(year, month)[1]
