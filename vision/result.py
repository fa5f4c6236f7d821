"""What the vision pipeline found on one unit's image: plain data the pure core judges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vision.print_check import PrintCheck


@dataclass(frozen=True, slots=True)
class InspectionResult:
    """The findings for one position of one unit.

    `gs1` holds the validated AIs of the code, or None with `gs1_error` saying why
    (no code found, not GS1, a GS1 rule broken). `ocv_ok` is None when OCV did not run;
    with an OCR pipeline it is `print_check.ok` and `print_check` says field by field.
    `grade` is the overall indicative ISO/IEC 15415 grade 0 (F) .. 4 (A) of this one image, None
    when the code was not graded; `grade_score` the same as a continuous 0.0..4.0 (interpolated
    within the bands, for the trend); `grade_parameters` each parameter's grade and
    `grade_values` what was measured for it (vision.grading.SymbolGrade says in which unit).
    """

    position: str
    code_found: bool
    gs1: Mapping[str, str] | None
    gs1_error: str | None = None
    ocv_ok: bool | None = None
    ocv_detail: str = ""
    decoder: str = ""
    print_check: PrintCheck | None = None
    grade: float | None = None
    grade_score: float | None = None
    grade_parameters: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    grade_values: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    timings_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
