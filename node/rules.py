"""Verdict rules: what the read must match to be good. Pure functions of the findings and the job."""

from __future__ import annotations

from collections.abc import Set

from node.job import Job
from node.reasons import Reason
from vision.result import InspectionResult


def judge(result: InspectionResult, job: Job, seen: Set[str]) -> frozenset[Reason]:
    """All reasons to reject this unit; empty means good.

    `seen` is every serial already read for this GTIN (the job's history plus this run).
    A unit that was not fully inspected never comes out good: no code, no valid GS1 or an
    OCV that did not run when the recipe asks for it each give a reason.
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
    if job.recipe.inspection.ocv_enabled and result.ocv_ok is not True:
        reasons.add(Reason.OCV_MISMATCH)
    return frozenset(reasons)
