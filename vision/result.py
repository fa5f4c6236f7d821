"""What the vision pipeline found on one unit's image: plain data the pure core judges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class InspectionResult:
    """The findings for one position of one unit.

    `gs1` holds the validated AIs of the code, or None with `gs1_error` saying why
    (no code found, not GS1, a GS1 rule broken). `ocv_ok` is None when OCV did not run.
    """

    position: str
    code_found: bool
    gs1: Mapping[str, str] | None
    gs1_error: str | None = None
    ocv_ok: bool | None = None
    ocv_detail: str = ""
    decoder: str = ""
    timings_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
