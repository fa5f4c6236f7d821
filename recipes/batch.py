"""The lot and expiry the PLC sends at batch change, checked against the GS1 rules for AI (10) and (17)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from recipes.loader import RecipeError, RecipeErrorCode

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AI (10), (21) and other "X" fields.
GS1_CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
LOT_MAX_LENGTH = 20  # AI (10) is X..20

# A PLC STRING arrives padded to its declared length with NULs (S7) or spaces (some HMIs).
_PLC_PADDING = "\x00 "


class BatchError(RecipeError):
    """The PLC sent a lot or expiry that GS1 does not allow; `field` is "lot" or "expiry"."""

    def __init__(self, field: str, value: str, rule: str) -> None:
        super().__init__(RecipeErrorCode.INVALID_BATCH, f"{field}: {rule} (got {value!r})", field=field)
        self.value = value
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch: the lot (AI 10) and the expiry (AI 17, YYMMDD, DD=00 meaning end of month)."""

    lot: str
    expiry: str


def parse_batch(lot: str, expiry: str) -> Batch:
    """Validate the PLC's lot and expiry, trailing PLC padding stripped; raise `BatchError` on a bad one."""
    return Batch(lot=parse_lot(lot), expiry=parse_expiry(expiry))


def parse_lot(value: str) -> str:
    """A lot as AI (10) allows it: 1 to 20 characters of GS1 character set 82, trailing padding stripped."""
    lot = value.rstrip(_PLC_PADDING)
    if not lot:
        raise BatchError("lot", value, "must not be empty")
    if len(lot) > LOT_MAX_LENGTH:
        raise BatchError("lot", value, f"must be at most {LOT_MAX_LENGTH} characters, has {len(lot)}")
    for index, char in enumerate(lot):
        if char not in GS1_CSET82:
            raise BatchError(
                "lot", value, f"character {char!r} at position {index + 1} is not in GS1 character set 82"
            )
    return lot


def parse_expiry(value: str) -> str:
    """An expiry as GS1 AI (17) allows it: YYMMDD, a real date, or DD=00 for the end of the month."""
    expiry = value.rstrip(_PLC_PADDING)
    if len(expiry) != 6 or not expiry.isascii() or not expiry.isdigit():
        raise BatchError("expiry", value, "must be 6 digits YYMMDD")
    year, month, day = 2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:])
    if not 1 <= month <= 12:
        raise BatchError("expiry", value, f"month {month:02d} is not 01..12")
    # 19YY and 20YY have the same leap years except YY=00, so reading 20YY needs no clock (GS1's sliding
    # century window does) and gives the same answer as the window until 2050.
    last_day = calendar.monthrange(year, month)[1]
    if day > last_day:
        raise BatchError(
            "expiry", value, f"day {day:02d} does not exist in {year}-{month:02d} (00 = end of month)"
        )
    return expiry
