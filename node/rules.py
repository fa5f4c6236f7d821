"""Verdict rules: what the read must match to be good. Pure functions of the findings and the job."""

from __future__ import annotations

from collections.abc import Set

from node.job import Job
from node.reasons import Reason
from vision.result import InspectionResult


def judge(result: InspectionResult, job: Job, seen: Set[str]) -> frozenset[Reason]:
    """All reasons to reject this unit; empty means good.

    `seen` is every serial already read for this GTIN (the job's history plus this run).
    A unit that was not fully inspected never comes out good: no code, no valid GS1, an
    OCR/OCV or a grading that did not run when the recipe asks for it each give a reason.
    """
    if not result.code_found:
        return frozenset({Reason.NO_READ})
    if result.gs1 is None:
        return frozenset({Reason.INVALID_GS1})
    ais = result.gs1
    reasons: set[Reason] = set()
    if any(ai not in ais for ai in ("01", "21", "10", "17")):
        reasons.add(Reason.INVALID_GS1)
    if ais.get("01") != job.recipe.gtin:
        reasons.add(Reason.WRONG_GTIN)
    if ais.get("10") != job.lot:
        reasons.add(Reason.WRONG_LOT)
    if ais.get("17") != job.expiry:
        reasons.add(Reason.WRONG_EXPIRY)
    serial = ais.get("21")
    if serial is not None:
        if serial in seen:
            reasons.add(Reason.DUPLICATE_SERIAL)
        if serial not in job.issued:
            reasons.add(Reason.SERIAL_NOT_ISSUED)
    inspection = job.recipe.inspection
    if inspection.ocr.enabled:
        reasons |= _print_reasons(result)
    if inspection.grading.enabled and (result.grade is None or result.grade < inspection.grading.min_grade):
        reasons.add(Reason.GRADE_BELOW_LIMIT)
    return frozenset(reasons)


_FIELD_REASONS = {
    "gtin": Reason.OCV_GTIN,
    "serial": Reason.OCV_SERIAL,
    "lot": Reason.OCV_LOT,
    "expiry": Reason.OCV_EXPIRY,
}


def _print_reasons(result: InspectionResult) -> set[Reason]:
    """The printed text against the code: one reason per mismatched field, one for illegible print,
    one for a character printed with part of it missing."""
    check = result.print_check
    if check is None:
        # OCR could not run (e.g. the code lacks a field to compare the print with).
        return {Reason.OCV_MISMATCH}
    reasons = {_FIELD_REASONS.get(field, Reason.OCV_MISMATCH) for field in check.mismatched}
    if check.illegible:
        reasons.add(Reason.PRINT_ILLEGIBLE)
    if check.incomplete:
        reasons.add(Reason.PRINT_INCOMPLETE)
    return reasons
