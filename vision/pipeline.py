"""The per-unit vision pipeline the recipe configures: read the code, validate GS1, verify the print.

`inspect_unit` runs in the node's worker pool (zxing-cpp, libdmtx and cv2 release the GIL)
and returns plain findings; judging them against the job is the core's business.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import zxingcpp

from node.job import Job
from recipes.schema import Position, PrintLayout
from vision.datamatrix import CodeRead, Corners, read_datamatrix
from vision.grading import grade_symbol
from vision.gs1 import GS1Error, parse_element_string, to_bracketed
from vision.ocr import make_reader
from vision.ocr_types import LineRead, LineReader
from vision.print_check import PrintCheck, check_print
from vision.print_completeness import CharCompleteness, extra_rows, line_completeness
from vision.print_text import line_origin_mm, print_lines, render_line
from vision.result import InspectionResult
from vision.text_region import extract_lines


def inspect_unit(frame: npt.NDArray[np.uint8], job: Job) -> tuple[InspectionResult, ...]:
    """Inspect one unit's frame for the job's recipe: every position (pack in view) on its own."""
    return tuple(inspect_position(frame, job, position) for position in job.recipe.positions)


def inspect_position(frame: npt.NDArray[np.uint8], job: Job, position: Position) -> InspectionResult:
    """Read, validate, grade and verify the print of one position.

    The stages run in order of cost and each stops the position at the first finding that already
    decides it: no code, then no valid GS1. Grading runs whenever a code was read, so the trend
    also sees the prints that fail for other reasons.
    """
    recipe = job.recipe
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    settings = recipe.inspection
    reads = read_datamatrix(
        frame,
        region=position.code_region,
        any_angle=settings.any_angle,
        fallback_timeout_ms=settings.decode_timeout_ms,
    )
    t1 = time.perf_counter()
    timings["decode"] = round((t1 - t0) * 1000, 2)
    if not reads:
        return InspectionResult(
            position=position.name,
            code_found=False,
            gs1=None,
            gs1_error="no DataMatrix found",
            timings_ms=MappingProxyType(timings),
        )
    code = next((r for r in reads if r.is_gs1), reads[0])
    grading: dict[str, Any] = {}
    if settings.grading.enabled:
        grading = _grade(frame, code)
        t2 = time.perf_counter()
        timings["grade"] = round((t2 - t1) * 1000, 2)
        t1 = t2
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
            position=position.name,
            code_found=True,
            gs1=None,
            gs1_error=str(exc),
            decoder=code.decoder,
            timings_ms=MappingProxyType(timings),
            **grading,
        )
    t2 = time.perf_counter()
    timings["gs1"] = round((t2 - t1) * 1000, 2)
    ocv_ok: bool | None = None
    detail = ""
    check: PrintCheck | None = None
    if settings.ocr.enabled:
        check, detail = _read_print(frame, code, ais, job)
        ocv_ok = check.ok if check is not None else False
        timings["ocr"] = round((time.perf_counter() - t2) * 1000, 2)
    return InspectionResult(
        position=position.name,
        code_found=True,
        gs1=MappingProxyType(ais),
        ocv_ok=ocv_ok,
        ocv_detail=detail,
        decoder=code.decoder,
        print_check=check,
        timings_ms=MappingProxyType(timings),
        **grading,
    )


def _expected_lines(ais: Mapping[str, str], job: Job) -> tuple[str, ...] | str:
    """What the printed lines must say by the code's own data, or why that cannot be known."""
    missing = [ai for ai in ("01", "21", "10", "17") if ai not in ais]
    if missing:
        return f"cannot verify print: code lacks AI {', '.join(missing)}"
    return print_lines(
        job.recipe.print_layout, gtin=ais["01"], serial=ais["21"], lot=ais["10"], expiry_yymmdd=ais["17"]
    )


def _read_print(
    frame: npt.NDArray[np.uint8], code: CodeRead, ais: Mapping[str, str], job: Job
) -> tuple[PrintCheck | None, str]:
    """OCR + OCV: read each printed line with the recipe's pipeline and check it field by field."""
    recipe = job.recipe
    expected = _expected_lines(ais, job)
    if isinstance(expected, str):
        return None, expected
    reader = make_reader(recipe.inspection.ocr.pipeline)
    threshold = _threshold(recipe.inspection.ocr.min_confidence, reader)
    reads, completeness = read_print(
        frame,
        code.corners,
        recipe.print_layout,
        expected,
        px_per_mm=recipe.inspection.px_per_mm,
        reader=reader,
        completeness=recipe.inspection.ocr.completeness,
        min_confidence=threshold,
    )
    check = check_print(
        reads,
        layout=recipe.print_layout,
        expected_lines=expected,
        min_confidence=threshold,
        completeness=completeness,
    )
    faults = ", ".join(
        f"{c.field} {c.verdict} (read {c.read!r}, {c.confidence:.2f})"
        for c in check.fields
        if c.verdict != "ok"
    )
    return check, faults or "all fields read as printed in the code"


def read_print(
    frame: npt.NDArray[np.uint8],
    corners: Corners,
    layout: PrintLayout,
    expected: Sequence[str],
    *,
    px_per_mm: float,
    reader: LineReader,
    completeness: bool,
    min_confidence: float | None = None,
) -> tuple[tuple[LineRead, ...], tuple[tuple[CharCompleteness, ...], ...] | None]:
    """Cut out each printed line, read it, and (``completeness``) measure each expected character.

    The lines are cut once, taller by ``print_completeness.extra_rows`` when completeness is
    measured; the reader gets the crop of its convention out of the middle of each, and
    ``min_confidence``, the threshold the lines will be judged at (``LineReader.read_line``).
    """
    extra = extra_rows(px_per_mm) if completeness else 0
    crops = extract_lines(
        frame, corners=corners, layout=layout, expected_lines=expected, px_per_mm=px_per_mm, extra_rows=extra
    )
    reads = tuple(
        reader.read_line(
            crop[extra : crop.shape[0] - extra], px_per_mm=px_per_mm, min_confidence=min_confidence
        )
        for crop in crops
    )
    if not completeness:
        return reads, None
    measured = tuple(
        line_completeness(crop, text, layout, px_per_mm=px_per_mm, extra=extra)
        for crop, text in zip(crops, expected, strict=True)
    )
    return reads, measured


def _threshold(recipe_value: float | None, reader: LineReader) -> float:
    """The recipe's confidence threshold, or the reader's validated one."""
    return reader.min_confidence if recipe_value is None else recipe_value


def _grade(frame: npt.NDArray[np.uint8], code: CodeRead) -> dict[str, Any]:
    """The indicative ISO/IEC 15415 grade of the code, as InspectionResult's grade fields."""
    graded = grade_symbol(frame, code.corners)
    return {
        "grade": float(graded.grade),
        "grade_score": graded.score,
        "grade_parameters": MappingProxyType({str(n): float(p.grade) for n, p in graded.parameters.items()}),
        "grade_values": MappingProxyType({str(n): p.value for n, p in graded.parameters.items()}),
    }


def warm_up(job: Job) -> None:
    """Inspect a synthetic unit of the job at job load, so the first real unit pays no start-up cost.

    numba compiles (or loads from its cache) on first call, onnxruntime builds its sessions and
    cv2/zxing-cpp allocate their buffers; done here, that happens while the line is stopped for the
    batch change. The frame carries a real code and the layout's text, so every stage runs.
    """
    for position in job.recipe.positions:
        inspect_position(_warm_up_frame(job, position), job, position)


def _warm_up_frame(job: Job, position: Position) -> npt.NDArray[np.uint8]:
    """A clean frame with the job's code (serial WARMUP1) and text, in the position's code region."""
    recipe = job.recipe
    ais = {"01": recipe.gtin, "17": job.expiry, "10": job.lot, "21": "WARMUP1"}
    barcode = zxingcpp.create_barcode(to_bracketed(ais), zxingcpp.DataMatrix, gs1=True, forceSquare=True)
    module_px = 5
    symbol = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=module_px, add_quiet_zones=False))
    frame = np.full((1024, 1280), 200, np.uint8)
    x, y, width, height = position.code_region or (200, 280, 460, 460)
    top = min(y + (height - symbol.shape[0]) // 2, frame.shape[0] - symbol.shape[0])
    left = min(x + (width - symbol.shape[1]) // 2, frame.shape[1] - symbol.shape[1])
    frame[top : top + symbol.shape[0], left : left + symbol.shape[1]] = np.where(symbol == 0, 30, 200)
    px_per_mm = recipe.inspection.px_per_mm
    lines = print_lines(
        recipe.print_layout, gtin=recipe.gtin, serial="WARMUP1", lot=job.lot, expiry_yymmdd=job.expiry
    )
    for index, text in enumerate(lines):
        ink = render_line(text, recipe.print_layout, px_per_mm=px_per_mm)
        x_mm, y_mm = line_origin_mm(recipe.print_layout, index)
        tx = left + symbol.shape[1] + round(x_mm * px_per_mm) - ink.anchor[0]
        ty = top + round(y_mm * px_per_mm) - ink.anchor[1]
        h = min(ink.ink.shape[0], frame.shape[0] - ty)
        w = min(ink.ink.shape[1], frame.shape[1] - tx)
        if h > 0 and w > 0 and tx >= 0 and ty >= 0:
            region = frame[ty : ty + h, tx : tx + w]
            region[...] = (region - ink.ink[:h, :w] * 170).clip(0, 255).astype(np.uint8)
    return frame
