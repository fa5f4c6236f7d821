"""The per-unit vision pipeline the recipe configures: read the code, validate GS1, verify the print.

`inspect_unit` runs in the node's worker pool (zxing-cpp, libdmtx and cv2 release the GIL)
and returns plain findings; judging them against the job is the core's business.
"""

from __future__ import annotations

import time
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from node.job import Job
from vision.datamatrix import CodeRead, read_datamatrix
from vision.gs1 import GS1Error, parse_element_string
from vision.ocv import verify_print
from vision.print_text import print_lines
from vision.result import InspectionResult


def inspect_unit(frame: npt.NDArray[np.uint8], job: Job) -> InspectionResult:
    """Inspect one unit's frame for the job's recipe (its first position)."""
    recipe = job.recipe
    position = recipe.positions[0]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    settings = recipe.inspection
    reads = read_datamatrix(
        frame,
        region=settings.code_region,
        any_angle=settings.any_angle,
        fallback_timeout_ms=settings.decode_timeout_ms,
    )
    t1 = time.perf_counter()
    timings["decode"] = round((t1 - t0) * 1000, 2)
    if not reads:
        return InspectionResult(
            position=position,
            code_found=False,
            gs1=None,
            gs1_error="no DataMatrix found",
            timings_ms=MappingProxyType(timings),
        )
    code = next((r for r in reads if r.is_gs1), reads[0])
    try:
        if not code.is_gs1:
            raise GS1Error(
                f"symbology identifier {code.symbology_identifier}: not GS1 (no FNC1 in first position)",
                ai=None,
                rule="fnc1",
            )
        ais = dict(parse_element_string(code.text).ais)
    except GS1Error as exc:
        timings["gs1"] = round((time.perf_counter() - t1) * 1000, 2)
        return InspectionResult(
            position=position,
            code_found=True,
            gs1=None,
            gs1_error=str(exc),
            decoder=code.decoder,
            timings_ms=MappingProxyType(timings),
        )
    t2 = time.perf_counter()
    timings["gs1"] = round((t2 - t1) * 1000, 2)
    ocv_ok, detail = _verify(frame, code, ais, job) if recipe.inspection.ocv_enabled else (None, "")
    timings["ocv"] = round((time.perf_counter() - t2) * 1000, 2)
    return InspectionResult(
        position=position,
        code_found=True,
        gs1=MappingProxyType(ais),
        ocv_ok=ocv_ok,
        ocv_detail=detail,
        decoder=code.decoder,
        timings_ms=MappingProxyType(timings),
    )


def _verify(frame: npt.NDArray[np.uint8], code: CodeRead, ais: dict[str, str], job: Job) -> tuple[bool, str]:
    """OCV: the printed text must say what the code says (the rules compare the code with the job)."""
    recipe = job.recipe
    missing = [ai for ai in ("01", "21", "10", "17") if ai not in ais]
    if missing:
        return False, f"cannot verify print: code lacks AI {', '.join(missing)}"
    expected = print_lines(
        recipe.print_layout, gtin=ais["01"], serial=ais["21"], lot=ais["10"], expiry_yymmdd=ais["17"]
    )
    result = verify_print(
        frame,
        corners=code.corners,
        expected_lines=expected,
        layout=recipe.print_layout,
        px_per_mm=recipe.inspection.px_per_mm,
        min_score=recipe.inspection.ocv_min_score,
    )
    scores = ", ".join(f"{s:.2f}" for s in result.line_scores)
    if result.ok:
        return True, f"scores {scores}"
    failed = ", ".join(repr(expected[i]) for i in result.failed_lines)
    return False, f"line(s) {failed} below {recipe.inspection.ocv_min_score} (scores {scores})"


def warm_up(job: Job) -> None:
    """Run every stage once on a synthetic frame, at job load, so the first unit pays no start-up cost.

    numba compiles (or loads from its cache) on first call and cv2/zxing-cpp allocate their
    buffers; done here, that happens while the line is stopped for the batch change.
    """
    recipe = job.recipe
    frame = np.full((1024, 1280), 200, np.uint8)
    settings = recipe.inspection
    read_datamatrix(
        frame,
        region=settings.code_region,
        any_angle=settings.any_angle,
        fallback_timeout_ms=settings.decode_timeout_ms,
    )
    if recipe.inspection.ocv_enabled:
        lines = print_lines(
            recipe.print_layout, gtin=recipe.gtin, serial="WARMUP", lot=job.lot, expiry_yymmdd=job.expiry
        )
        verify_print(
            frame,
            corners=((500.0, 400.0), (600.0, 400.0), (600.0, 500.0), (500.0, 500.0)),
            expected_lines=lines,
            layout=recipe.print_layout,
            px_per_mm=recipe.inspection.px_per_mm,
            min_score=recipe.inspection.ocv_min_score,
        )
