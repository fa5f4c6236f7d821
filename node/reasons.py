"""Reject reasons: the vocabulary of a verdict, with the stable numeric codes the PLC sees.

Codes are part of the PLC signal contract (docs/plc-interface.md): never renumber one.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a unit was rejected. A good unit has no reason."""

    NO_READ = "no_read"
    INVALID_GS1 = "invalid_gs1"
    WRONG_GTIN = "wrong_gtin"
    WRONG_LOT = "wrong_lot"
    WRONG_EXPIRY = "wrong_expiry"
    DUPLICATE_SERIAL = "duplicate_serial"
    SERIAL_NOT_ISSUED = "serial_not_issued"
    OCV_MISMATCH = "ocv_mismatch"
    GRADE_BELOW_LIMIT = "grade_below_limit"
    LATE = "late"
    MISSED_TRIGGER = "missed_trigger"
    NO_RECIPE = "no_recipe"
    INTERNAL_ERROR = "internal_error"
    OCV_GTIN = "ocv_gtin"
    OCV_SERIAL = "ocv_serial"
    OCV_LOT = "ocv_lot"
    OCV_EXPIRY = "ocv_expiry"
    PRINT_ILLEGIBLE = "print_illegible"
    PRINT_INCOMPLETE = "print_incomplete"

    @property
    def code(self) -> int:
        """The reason's number on the PLC (ResultCode); 0 means good."""
        return REASON_CODES[self]

    @property
    def bit(self) -> int:
        """The reason's bit in ResultReasons (bit = code - 1)."""
        return 1 << (REASON_CODES[self] - 1)


REASON_CODES: dict[Reason, int] = {
    Reason.NO_READ: 1,
    Reason.INVALID_GS1: 2,
    Reason.WRONG_GTIN: 3,
    Reason.WRONG_LOT: 4,
    Reason.WRONG_EXPIRY: 5,
    Reason.DUPLICATE_SERIAL: 6,
    Reason.SERIAL_NOT_ISSUED: 7,
    Reason.OCV_MISMATCH: 8,
    Reason.GRADE_BELOW_LIMIT: 9,
    Reason.LATE: 10,
    Reason.MISSED_TRIGGER: 11,
    Reason.NO_RECIPE: 12,
    Reason.INTERNAL_ERROR: 13,
    # The printed text read by OCR, field by field, against the code (added in contract v1.1):
    # ocv_mismatch (8) remains for printed text outside the four fields (labels, extra or missing
    # lines) and for the template OCV; print_illegible when a character was read without confidence.
    Reason.OCV_GTIN: 14,
    Reason.OCV_SERIAL: 15,
    Reason.OCV_LOT: 16,
    Reason.OCV_EXPIRY: 17,
    Reason.PRINT_ILLEGIBLE: 18,
    # A printed character with part of it missing, measured against the layout's font (v1.2).
    Reason.PRINT_INCOMPLETE: 19,
}
REASON_BY_CODE: dict[int, Reason] = {code: reason for reason, code in REASON_CODES.items()}


def reasons_mask(reasons: frozenset[Reason] | set[Reason]) -> int:
    """All reasons as one bit mask (ResultReasons on the PLC)."""
    mask = 0
    for reason in reasons:
        mask |= reason.bit
    return mask


def primary_reason(reasons: frozenset[Reason] | set[Reason]) -> Reason | None:
    """The reason reported as ResultCode: the lowest code, so a no-read outranks what follows from it."""
    return min(reasons, key=lambda r: REASON_CODES[r], default=None)
