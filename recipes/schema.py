"""The recipe: everything product-specific, as frozen pydantic models parsed once at the edge."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vision.gs1 import gs1_check_digit


class Frozen(BaseModel):
    """Base for configuration models: immutable, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


PRINT_FIELDS = frozenset({"gtin", "serial", "lot", "expiry_yymmdd", "expiry_yyyy_mm", "expiry_dd_mm_yyyy"})
"""Names a PrintLayout line may use in braces; ``vision.print_text.print_lines`` fills them in."""


class PrintLayout(Frozen):
    """Where and how the printer puts the human-readable text, relative to the DataMatrix.

    Offsets are in the code's own frame (x along the code's top edge, y down its left edge),
    so the text region follows the code when the carton is shifted or rotated.
    """

    lines: Annotated[tuple[str, ...], Field(min_length=1)] = (
        "GTIN {gtin}",
        "SN {serial}",
        "LOT {lot}",
        "EXP {expiry_yyyy_mm}",
    )
    # dot5x7 / dot7x9: continuous-inkjet dot-matrix fonts; tij_sans: the solid sans of a thermal
    # inkjet or thermal-transfer printer; hershey_*: OpenCV's stroke fonts (earlier recipes).
    font: Literal["dot5x7", "dot7x9", "tij_sans", "hershey_simplex", "hershey_duplex", "hershey_plain"] = (
        "hershey_simplex"
    )
    text_height_mm: Annotated[float, Field(gt=0.5, le=10)] = 2.6
    line_pitch_mm: Annotated[float, Field(gt=0.5, le=20)] = 4.0
    offset_mm: tuple[float, float] = (4.0, 0.0)
    stroke_mm: Annotated[float, Field(gt=0.05, le=2)] = 0.3

    @field_validator("lines")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, line in enumerate(value):
            if not line.strip():
                raise ValueError(f"line {index} is blank; every printed line needs text for OCV to check")
            try:
                fields = [name for _, name, _, _ in string.Formatter().parse(line) if name is not None]
            except ValueError as error:
                raise ValueError(f"line {index} {line!r} is not a valid format string: {error}") from None
            for name in fields:
                if name not in PRINT_FIELDS:
                    raise ValueError(
                        f"line {index} {line!r} uses {{{name}}}, expected one of {sorted(PRINT_FIELDS)}"
                    )
        return value


class Inspection(Frozen):
    """What the vision pipeline checks and with which limits."""

    px_per_mm: Annotated[float, Field(gt=1, le=100)] = 10.0
    # Where the code is searched: x, y, width, height in frame pixels; None = the whole frame.
    # A region sized to the line's placement tolerance makes a read several times cheaper,
    # and makes a missing code a fast reject instead of a full-frame search.
    code_region: tuple[int, int, int, int] | None = None
    any_angle: bool = False  # cartons are guided: the code is within a few degrees of upright
    # libdmtx second opinion budget: 30 ms read 1000/1000 good frames in the code region (20 ms: 999).
    decode_timeout_ms: Annotated[int, Field(ge=5, le=1000)] = 30
    ocv_enabled: bool = True
    ocv_min_score: Annotated[float, Field(gt=0, lt=1)] = 0.6

    @field_validator("code_region")
    @classmethod
    def _region_has_area(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None:
            x, y, width, height = value
            if x < 0 or y < 0 or width < 32 or height < 32:
                raise ValueError(f"x, y must be >= 0 and width, height >= 32 px, got {value}")
        return value


class Recipe(Frozen):
    """One product: selected by the PLC by number at batch change."""

    number: Annotated[int, Field(ge=1, le=65535)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1)] = 1
    gtin: Annotated[str, Field(pattern=r"^\d{14}$")]
    positions: tuple[str, ...] = ("P1",)
    consecutive_reject_limit: Annotated[int, Field(ge=1, le=1000)] = 5
    print_layout: PrintLayout = PrintLayout()
    inspection: Inspection = Inspection()

    @field_validator("gtin")
    @classmethod
    def _gtin_check_digit(cls, value: str) -> str:
        expected = gs1_check_digit(value[:-1])
        if value[-1] != str(expected):
            raise ValueError(f"GTIN {value} has a wrong check digit (expected {expected})")
        return value
