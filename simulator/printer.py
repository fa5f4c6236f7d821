"""The simulated line printer: decides what goes on each unit, injecting defects at a given rate.

It consumes the serials Level 4 issued for the batch, in order, and records the truth of every
unit (data, look, defect) for scoring the node.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from simulator.camera import sample_appearance
from simulator.units import MISPRINTABLE_FIELDS, Defect, Unit
from vision.gs1 import parse_element_string, to_bracketed
from vision.print_text import expiry_date

__all__ = ["Printer", "SerialsExhausted"]

# Units whose code the node cannot read: it never learns their serials, so a later unit cannot
# be a duplicate of them in the node's eyes.
_UNREADABLE = frozenset({Defect.NO_CODE, Defect.DAMAGED_CODE})
# A variant changes at most this many characters of a lot or serial: a plausible other value of
# the same format, as a wrong batch's lot or a serial from another pool would be.
_MAX_CHANGED_CHARACTERS = 3


class SerialsExhausted(RuntimeError):
    """The printer has used every serial Level 4 issued for the batch."""


class Printer:
    """Prints one unit per call: the batch's data with the next issued serial, or an injected defect.

    Deterministic for a seed. Each unit is defective with probability ``defect_rate``, the kind
    drawn uniformly from ``defects``:

    - NO_CODE, DAMAGED_CODE, POOR_CODE_PRINT, SMUDGED_PRINT, PARTIAL_CHARACTER: good data, the
      camera draws the fault;
    - PRINT_MISMATCH: good data in the code, while the text of one field (GTIN, serial, lot or
      expiry, drawn uniformly) shows a value one character off (``Unit.misprinted_field``,
      ``Unit.printed_value``), as a coder fed the wrong variable text prints it;
    - WRONG_LOT, WRONG_EXPIRY: another valid lot or date of the same format;
    - SERIAL_NOT_ISSUED: a valid serial of the issued format that Level 4 did not issue;
    - DUPLICATE_SERIAL: the serial of an earlier unit whose code was readable and whose serial was
      issued (another kind is drawn while there is none, e.g. for the first unit).

    Every kind but the last two consumes the next issued serial, as a real printer does.
    """

    def __init__(
        self,
        *,
        seed: int,
        gtin: str,
        lot: str,
        expiry_yymmdd: str,
        serials: Sequence[str],
        defect_rate: float,
        defects: Sequence[Defect] = tuple(Defect),
    ) -> None:
        """Set up the batch.

        Raises
        ------
        ValueError
            If GTIN, lot or expiry break a GS1 rule (vision.gs1.GS1Error, naming the AI), the serials
            repeat, ``defect_rate`` is outside 0..1, or ``defects`` is empty while the rate is not 0.
        """
        if not 0.0 <= defect_rate <= 1.0:
            raise ValueError(f"defect_rate is {defect_rate}, expected 0..1")
        if defect_rate > 0 and not defects:
            raise ValueError(f"defect_rate is {defect_rate} but no defect kinds are given")
        if len(set(serials)) != len(serials):
            raise ValueError("the issued serials repeat; Level 4 issues each serial once")
        # The batch's own data is checked now; each serial when it is printed (see next_unit), so a
        # pool of a hundred thousand serials costs nothing up front.
        _check_gs1(gtin, expiry_yymmdd, lot, serials[0] if serials else "1")
        self._rng = np.random.default_rng(seed)
        self._gtin = gtin
        self._lot = lot
        self._expiry_yymmdd = expiry_yymmdd
        self._serials = tuple(serials)
        self._issued = frozenset(serials)
        self._defect_rate = defect_rate
        self._defects = tuple(defects)
        self._used = 0
        self._index = 0
        self._readable: list[str] = []  # issued serials the node has seen in a code, in print order
        self._unissued: set[str] = set()  # serials printed that Level 4 never issued

    @property
    def serials_left(self) -> int:
        """Issued serials not printed yet."""
        return len(self._serials) - self._used

    def next_unit(self, tracking_id: int) -> Unit:
        """Print the next unit, which the PLC tracks as ``tracking_id``.

        Raises
        ------
        SerialsExhausted
            If the unit needs a fresh serial and every issued one is used.
        ValueError
            If the issued serial to print breaks a GS1 rule (vision.gs1.GS1Error).
        """
        defect = self._draw_defect()
        if defect is Defect.DUPLICATE_SERIAL:
            serial = self._readable[int(self._rng.integers(len(self._readable)))]
        elif defect is Defect.SERIAL_NOT_ISSUED:
            template = self._serials[int(self._rng.integers(len(self._serials)))] if self._serials else "1"
            serial = _variant(template, self._rng, avoid=self._issued | self._unissued)
            self._unissued.add(serial)
        else:
            if self._used == len(self._serials):
                raise SerialsExhausted(
                    f"all {len(self._serials)} serials issued for lot {self._lot} are printed; "
                    "request more from Level 4 before unit "
                    f"{self._index} (tracking id {tracking_id})"
                )
            serial = self._serials[self._used]
            self._used += 1
            if defect not in _UNREADABLE:
                self._readable.append(serial)
        lot = _variant(self._lot, self._rng, avoid={self._lot}) if defect is Defect.WRONG_LOT else self._lot
        expiry = self._expiry_yymmdd
        if defect is Defect.WRONG_EXPIRY:
            expiry = _other_expiry(expiry, self._rng)
        _check_gs1(self._gtin, expiry, lot, serial)
        misprint = None
        if defect is Defect.PRINT_MISMATCH:
            data = {"gtin": self._gtin, "serial": serial, "lot": lot, "expiry": expiry}
            name = MISPRINTABLE_FIELDS[int(self._rng.integers(len(MISPRINTABLE_FIELDS)))]
            misprint = (name, _misprint(name, data[name], self._rng))
        unit = Unit(
            index=self._index,
            tracking_id=tracking_id,
            gtin=self._gtin,
            serial=serial,
            lot=lot,
            # The truth keeps the printed form: a date, or the YYMMDD string when DD is 00.
            expiry=expiry if expiry.endswith("00") else expiry_date(expiry),
            defect=defect,
            appearance=sample_appearance(self._rng),
            misprinted_field=misprint[0] if misprint else None,
            printed_value=misprint[1] if misprint else None,
        )
        self._index += 1
        return unit

    def _draw_defect(self) -> Defect | None:
        if not self._rng.random() < self._defect_rate:
            return None
        kinds = self._defects
        if not self._readable:
            # Nothing readable was printed yet, so nothing to duplicate.
            kinds = tuple(kind for kind in kinds if kind is not Defect.DUPLICATE_SERIAL)
            if not kinds:
                return None
        return kinds[int(self._rng.integers(len(kinds)))]


def _check_gs1(gtin: str, expiry_yymmdd: str, lot: str, serial: str) -> None:
    """Raise vision.gs1.GS1Error if the data cannot be a GS1 DataMatrix of a pharmaceutical unit."""
    parse_element_string(to_bracketed({"01": gtin, "17": expiry_yymmdd, "10": lot, "21": serial}))


def _variant(
    value: str, rng: np.random.Generator, *, avoid: AbstractSet[str], most: int = _MAX_CHANGED_CHARACTERS
) -> str:
    """``value`` with 1 to ``most`` letters or digits replaced by others of their kind, not in ``avoid``."""
    alphabets = ("0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    positions = [i for i, char in enumerate(value) if any(char in alphabet for alphabet in alphabets)]
    if not positions:
        # Nothing to change in kind (e.g. "-/-"): a digit appended is still valid GS1 data.
        return _variant(value[:19] + "0", rng, avoid=avoid, most=most)
    for _ in range(100):
        chars = list(value)
        count = int(rng.integers(1, min(most, len(positions)) + 1))
        for position in rng.choice(positions, size=count, replace=False):
            alphabet = next(a for a in alphabets if chars[position] in a)
            chars[position] = alphabet[int(rng.integers(len(alphabet)))]
        candidate = "".join(chars)
        if candidate not in avoid:
            return candidate
    raise RuntimeError(f"found no variant of {value!r} outside the {len(avoid)} values to avoid")


def _other_expiry(yymmdd: str, rng: np.random.Generator) -> str:
    """A valid YYMMDD one to 24 months away (same day, clamped to the month; DD = 00 stays 00)."""
    current = expiry_date(yymmdd)
    months = current.year * 12 + current.month - 1
    # Keep within 2000-2099, the century print_text assumes.
    shifts = [s for s in range(-24, 25) if s and 2000 * 12 <= months + s < 2100 * 12]
    target = months + shifts[int(rng.integers(len(shifts)))]
    year, month = divmod(target, 12)
    month += 1
    day = 0 if yymmdd.endswith("00") else min(current.day, calendar.monthrange(year, month)[1])
    return f"{year % 100:02d}{month:02d}{day:02d}"


def _misprint(name: str, value: str, rng: np.random.Generator) -> str:
    """What a coder fed the wrong variable text prints for field ``name``: one character off.

    Expiry (YYMMDD) changes in one digit of its year or month such that both printed forms,
    ``2027-05`` and ``31.05.2027``, differ in exactly one character (so DD = 00 keeps its day).
    """
    if name != "expiry":
        return _variant(value, rng, avoid={value}, most=1)
    current = expiry_date(value)
    candidates = []
    for position in (1, 3):  # the year's last digit, the month's last digit
        for digit in "0123456789":
            other = value[:position] + digit + value[position + 1 :]
            try:
                date = expiry_date(other)
            except ValueError:
                continue
            forms = [(d.strftime("%Y-%m"), d.strftime("%d.%m.%Y")) for d in (current, date)]
            if all(sum(a != b for a, b in zip(x, y, strict=True)) == 1 for x, y in zip(*forms, strict=True)):
                candidates.append(other)
    return candidates[int(rng.integers(len(candidates)))]
