"""The lot and expiry the PLC sends at batch change, checked against the GS1 rules for AI (10) and (17)."""

from __future__ import annotations

from dataclasses import dataclass

from recipes.loader import RecipeError, RecipeErrorCode
from vision.gs1 import CSET82, GS1Error, check_ai_value

# GS1 General Specifications, figure 7.11-1: the 82 characters allowed in AI (10), (21) and other "X" fields.
GS1_CSET82 = CSET82
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
    _check("lot", "10", lot, value)
    return lot


def parse_expiry(value: str) -> str:
    """An expiry as GS1 AI (17) allows it: YYMMDD, a real date, or DD=00 for the end of the month."""
    expiry = value.rstrip(_PLC_PADDING)
    _check("expiry", "17", expiry, value)
    return expiry


def _check(field: str, ai: str, stripped: str, value: str) -> None:
    # GS1's syntax dictionary (vision.gs1) is the one place that knows the AI's rules.
    try:
        check_ai_value(ai, stripped)
    except GS1Error as exc:
        raise BatchError(field, value, str(exc)) from exc
