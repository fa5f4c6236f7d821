"""The simulated printer: serial consumption, defect injection and its truth, determinism."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.printer import Printer, SerialsExhausted
from simulator.units import MISPRINTABLE_FIELDS, Defect, Unit
from vision.gs1 import GS1Error, parse_element_string, to_bracketed
from vision.print_text import expiry_date

GTIN = "09501101020917"
LOT = "B24-0815"
EXPIRY = "270531"
SERIALS = tuple(f"SN{i:08d}" for i in range(3000))
FRESH = frozenset(set(Defect) - {Defect.DUPLICATE_SERIAL, Defect.SERIAL_NOT_ISSUED})
UNREADABLE = frozenset({Defect.NO_CODE, Defect.DAMAGED_CODE})


def printer(
    *,
    seed: int = 1,
    rate: float = 0.0,
    defects: tuple[Defect, ...] = tuple(Defect),
    serials: tuple[str, ...] = SERIALS,
    expiry: str = EXPIRY,
) -> Printer:
    """A printer for the test batch."""
    return Printer(
        seed=seed,
        gtin=GTIN,
        lot=LOT,
        expiry_yymmdd=expiry,
        serials=serials,
        defect_rate=rate,
        defects=defects,
    )


def run(p: Printer, count: int) -> list[Unit]:
    """Print ``count`` units with tracking ids from 1."""
    return [p.next_unit(i + 1) for i in range(count)]


class TestGoodUnits:
    """A printer without defects."""

    def test_consumes_issued_serials_in_order(self) -> None:
        """Good units carry the issued serials in their order, with the batch's data."""
        units = run(printer(), 50)
        assert [u.serial for u in units] == list(SERIALS[:50])
        assert {(u.gtin, u.lot, u.expiry) for u in units} == {(GTIN, LOT, dt.date(2027, 5, 31))}
        assert all(u.defect is None for u in units)

    def test_numbers_units_and_keeps_tracking_ids(self) -> None:
        """Each unit has its 0-based index in the run and the tracking id it was printed for."""
        p = printer()
        units = [p.next_unit(tracking_id) for tracking_id in (7, 8, 42)]
        assert [(u.index, u.tracking_id) for u in units] == [(0, 7), (1, 8), (2, 42)]

    def test_month_only_expiry_stays_yymmdd(self) -> None:
        """An expiry with DD = 00 is kept as its YYMMDD string, as printed."""
        unit = printer(expiry="270500").next_unit(1)
        assert unit.expiry == "270500"
        assert unit.expiry_yymmdd == "270500"

    def test_counts_serials_left(self) -> None:
        """serials_left falls by one per good unit."""
        p = printer(serials=SERIALS[:5])
        run(p, 3)
        assert p.serials_left == 2

    def test_raises_when_serials_run_out(self) -> None:
        """The unit after the last issued serial raises SerialsExhausted, naming the lot."""
        p = printer(serials=SERIALS[:2])
        run(p, 2)
        with pytest.raises(SerialsExhausted, match=f"all 2 serials issued for lot {LOT}"):
            p.next_unit(3)

    def test_samples_an_appearance_per_unit(self) -> None:
        """Units do not all look the same."""
        units = run(printer(), 20)
        assert len({u.appearance for u in units}) == 20


class TestDeterminism:
    """Reproducibility for a seed."""

    def test_same_seed_same_units(self) -> None:
        """Two printers with one seed print identical units."""
        assert run(printer(seed=3, rate=0.5), 200) == run(printer(seed=3, rate=0.5), 200)

    def test_other_seed_other_units(self) -> None:
        """Another seed draws other defects and looks."""
        assert run(printer(seed=3, rate=0.5), 200) != run(printer(seed=4, rate=0.5), 200)


class TestDefectInjection:
    """Which units are defective, and of which kind."""

    def test_rate_and_kinds(self) -> None:
        """About defect_rate of the units are defective, spread over every kind."""
        units = run(printer(rate=0.2), 2500)
        kinds = collections.Counter(u.defect for u in units if u.defect is not None)
        defective = sum(kinds.values())
        # Binomial(2500, 0.2): mean 500, sd 20; 4 sd either way.
        assert 420 <= defective <= 580
        assert set(kinds) == set(Defect)
        # 500 over 10 kinds is about 50 each, sd 7 (duplicates come a little short: none before a
        # readable unit); 3.5 sd either way.
        assert all(25 <= count <= 75 for count in kinds.values()), kinds

    def test_only_listed_kinds(self) -> None:
        """Only the kinds passed in ``defects`` are drawn."""
        units = run(printer(rate=0.5, defects=(Defect.WRONG_LOT, Defect.NO_CODE)), 300)
        assert {u.defect for u in units} == {None, Defect.WRONG_LOT, Defect.NO_CODE}

    def test_zero_rate_prints_no_defect(self) -> None:
        """Rate 0 means every unit is good."""
        assert all(u.defect is None for u in run(printer(rate=0.0), 300))

    def test_full_rate_marks_every_unit(self) -> None:
        """Rate 1 means every unit is defective."""
        assert all(u.defect is not None for u in run(printer(rate=1.0), 300))

    def test_truth_says_reject(self) -> None:
        """A defective unit's truth is a reject, a good one's a pass."""
        units = run(printer(rate=0.5), 100)
        assert all(u.should_reject == (u.defect is not None) for u in units)


class TestDataDefects:
    """Defects that live in the unit's data."""

    def units(self, kind: Defect) -> list[Unit]:
        """Defective units of one kind among good ones."""
        units = run(printer(rate=0.3, defects=(kind,)), 400)
        return [u for u in units if u.defect is kind]

    def test_wrong_lot_is_another_valid_lot(self) -> None:
        """WRONG_LOT prints a different lot of the same format that is valid GS1 data."""
        for unit in self.units(Defect.WRONG_LOT):
            assert unit.lot != LOT
            assert len(unit.lot) == len(LOT)
            assert [c.isdigit() for c in unit.lot] == [c.isdigit() for c in LOT]
            parse_element_string(to_bracketed({"01": GTIN, "10": unit.lot, "21": unit.serial}))

    def test_wrong_expiry_is_another_valid_date(self) -> None:
        """WRONG_EXPIRY prints another real date, one to 24 months away, in another month."""
        for unit in self.units(Defect.WRONG_EXPIRY):
            assert isinstance(unit.expiry, dt.date)
            months = (unit.expiry.year - 2027) * 12 + unit.expiry.month - 5
            assert 1 <= abs(months) <= 24

    def test_wrong_expiry_keeps_month_only_dates(self) -> None:
        """A DD = 00 batch expiry gives a wrong expiry with DD = 00 too."""
        p = printer(rate=1.0, defects=(Defect.WRONG_EXPIRY,), expiry="270500")
        expiries = {u.expiry for u in run(p, 30)}
        assert all(isinstance(e, str) and e.endswith("00") and e != "270500" for e in expiries)

    def test_serial_not_issued(self) -> None:
        """SERIAL_NOT_ISSUED prints a valid serial of the issued format that Level 4 never issued."""
        units = self.units(Defect.SERIAL_NOT_ISSUED)
        for unit in units:
            assert unit.serial not in SERIALS
            assert len(unit.serial) == len(SERIALS[0])
        assert len({u.serial for u in units}) == len(units)

    def test_duplicate_reuses_a_readable_earlier_serial(self) -> None:
        """DUPLICATE_SERIAL carries the serial of an earlier unit whose code the node could read."""
        units = run(printer(rate=0.5), 600)
        seen: set[str] = set()
        duplicates = 0
        for unit in units:
            if unit.defect is Defect.DUPLICATE_SERIAL:
                assert unit.serial in seen
                duplicates += 1
            elif unit.defect not in UNREADABLE | {Defect.SERIAL_NOT_ISSUED}:
                seen.add(unit.serial)
        assert duplicates > 20

    def test_first_unit_is_never_a_duplicate(self) -> None:
        """With nothing printed before, a drawn duplicate becomes another kind."""
        p = printer(rate=1.0, defects=(Defect.DUPLICATE_SERIAL, Defect.WRONG_LOT))
        assert p.next_unit(1).defect is Defect.WRONG_LOT

    def test_duplicate_only_starts_with_a_good_unit(self) -> None:
        """If duplicates are the only kind, units are good until a readable serial exists."""
        first, second = run(printer(rate=1.0, defects=(Defect.DUPLICATE_SERIAL,)), 2)
        assert first.defect is None
        assert (second.defect, second.serial) == (Defect.DUPLICATE_SERIAL, first.serial)

    def test_no_duplicate_of_unreadable_units(self) -> None:
        """Serials of NO_CODE and DAMAGED_CODE units are never duplicated: the node never saw them."""
        p = printer(rate=1.0, defects=(Defect.NO_CODE, Defect.DAMAGED_CODE, Defect.DUPLICATE_SERIAL))
        units = run(p, 100)
        unreadable = {u.serial for u in units if u.defect in UNREADABLE}
        assert not {u.serial for u in units if u.defect is Defect.DUPLICATE_SERIAL} & unreadable


class TestPrintMismatch:
    """PRINT_MISMATCH: the code is right, the text of one field is one character off."""

    def units(self) -> list[Unit]:
        """Misprinted units among good ones."""
        units = run(printer(rate=0.5, defects=(Defect.PRINT_MISMATCH,)), 300)
        return [u for u in units if u.defect is Defect.PRINT_MISMATCH]

    def test_code_data_is_the_batchs(self) -> None:
        """The code carries the batch's GTIN, lot and expiry and the next issued serial."""
        units = run(printer(rate=1.0, defects=(Defect.PRINT_MISMATCH,)), 50)
        assert [u.serial for u in units] == list(SERIALS[:50])
        assert {(u.gtin, u.lot, u.expiry_yymmdd) for u in units} == {(GTIN, LOT, EXPIRY)}

    def test_one_field_one_character_off(self) -> None:
        """Each misprint changes one character of one field's text; every field is hit."""
        units = self.units()
        assert {u.misprinted_field for u in units} == set(MISPRINTABLE_FIELDS)
        for unit in units:
            printed = unit.printed_fields
            true = {
                "gtin": unit.gtin,
                "serial": unit.serial,
                "lot": unit.lot,
                "expiry_yymmdd": unit.expiry_yymmdd,
            }
            changed = [name for name in true if printed[name] != true[name]]
            assert len(changed) == 1
            name = changed[0]
            assert name.startswith(unit.misprinted_field or "?")
            if name == "expiry_yymmdd":
                # Both printed forms of the date differ in exactly one character.
                for form in ("%Y-%m", "%d.%m.%Y"):
                    a, b = (expiry_date(v).strftime(form) for v in (true[name], printed[name]))
                    assert sum(x != y for x, y in zip(a, b, strict=True)) == 1, (a, b)
            else:
                assert len(printed[name]) == len(true[name])
                assert sum(x != y for x, y in zip(printed[name], true[name], strict=True)) == 1

    def test_good_units_print_their_data(self) -> None:
        """Without a misprint the text shows the code's data."""
        unit = printer().next_unit(1)
        assert (unit.misprinted_field, unit.printed_value) == (None, None)
        assert unit.printed_fields == {
            "gtin": GTIN,
            "serial": SERIALS[0],
            "lot": LOT,
            "expiry_yymmdd": EXPIRY,
        }

    def test_misprint_needs_field_and_value(self) -> None:
        """A unit with a misprinted field but no value, or an unknown field, is refused."""
        unit = printer().next_unit(1)
        with pytest.raises(ValueError, match="go together"):
            dataclasses.replace(unit, misprinted_field="lot")
        with pytest.raises(ValueError, match="expected one of"):
            dataclasses.replace(unit, misprinted_field="price", printed_value="1")


class TestSerialUse:
    """Which units take a fresh issued serial."""

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.0, 1.0))
    def test_fresh_serials_in_issue_order(self, seed: int, rate: float) -> None:
        """Every unit but duplicates and not-issued ones takes the next issued serial, none twice."""
        units = run(printer(seed=seed, rate=rate, serials=SERIALS[:200]), 120)
        fresh = [u.serial for u in units if u.defect in FRESH or u.defect is None]
        assert fresh == list(SERIALS[: len(fresh)])


class TestValidation:
    """Batch data that cannot be printed is refused up front."""

    def test_bad_gtin(self) -> None:
        """A GTIN with a wrong check digit is a GS1 error naming AI (01)."""
        with pytest.raises(GS1Error, match=r"\(01\)"):
            Printer(
                seed=1, gtin="09501101020918", lot=LOT, expiry_yymmdd=EXPIRY, serials=SERIALS, defect_rate=0
            )

    def test_bad_lot(self) -> None:
        """A lot outside GS1 character set 82 is a GS1 error naming AI (10)."""
        with pytest.raises(GS1Error, match=r"\(10\)"):
            Printer(seed=1, gtin=GTIN, lot="LOT 1", expiry_yymmdd=EXPIRY, serials=SERIALS, defect_rate=0)

    def test_bad_expiry(self) -> None:
        """A month 13 is a GS1 error naming AI (17)."""
        with pytest.raises(GS1Error, match=r"\(17\)"):
            Printer(seed=1, gtin=GTIN, lot=LOT, expiry_yymmdd="271301", serials=SERIALS, defect_rate=0)

    def test_bad_serial_when_printed(self) -> None:
        """An issued serial that breaks GS1 rules is refused when its unit is printed."""
        p = printer(serials=("OK1", "NOT OK"))
        p.next_unit(1)
        with pytest.raises(GS1Error, match=r"\(21\)"):
            p.next_unit(2)

    def test_repeated_serials(self) -> None:
        """An issued pool with a repeated serial is refused."""
        with pytest.raises(ValueError, match="repeat"):
            printer(serials=("A1", "A2", "A1"))

    @pytest.mark.parametrize("rate", [-0.1, 1.5])
    def test_rate_out_of_range(self, rate: float) -> None:
        """A defect rate outside 0..1 is refused."""
        with pytest.raises(ValueError, match="defect_rate"):
            printer(rate=rate)

    def test_rate_without_kinds(self) -> None:
        """A positive rate needs at least one defect kind."""
        with pytest.raises(ValueError, match="no defect kinds"):
            printer(rate=0.1, defects=())
