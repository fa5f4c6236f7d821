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


OCR_PIPELINES = ("classical", "dl", "combination1", "combination2")
"""The reading pipelines a recipe may select (vision/ocr.py make_reader):

- classical: binarization, connected components, features, a feature classifier (numba);
- dl: a CRNN reading the whole line end to end (onnxruntime);
- combination1: binarization and connected components, a CNN classifying each component;
- combination2: a segmentation network cutting the characters, the feature classifier reading them.
"""


class Ocr(Frozen):
    """How the printed text is read and checked against the code (OCR + OCV).

    The pipeline reads each printed line; every field (GTIN, serial, lot, expiry) is then checked
    against the code's data, each mismatch a reject reason of its own (vision/print_check.py).
    """

    enabled: bool = True
    pipeline: Literal["classical", "dl", "combination1", "combination2"] = "classical"
    # A character read with less confidence than this makes its field illegible: a reject, never a
    # guess. None takes the pipeline's own threshold, from its model card (vision/models/*.json): the
    # lowest at which no character of its validation set was read wrong. Confidences of different
    # pipelines are not comparable, so a value set here belongs to the pipeline named here.
    min_confidence: Annotated[float, Field(gt=0, lt=1)] | None = None
    # Measure every expected character against the layout's font where it is printed, whatever was
    # read (vision/print_completeness.py): a character with part of it missing (a blocked nozzle,
    # a lifted head) is `print_incomplete` even where a reader still names it right.
    completeness: bool = True


class Grading(Frozen):
    """Indicative ISO/IEC 15415 grading of the DataMatrix (vision/grading.py) and its trend."""

    enabled: bool = True
    # Overall grade 4.0 (A) .. 0.0 (F); EU FMD presumes at least 1.5 (C) at the point of printing.
    min_grade: Annotated[float, Field(ge=0, le=4)] = 1.5
    # Trend per position (node/print_trend.py): warn when the smoothed grade comes within this
    # margin of the limit, or when its slope would cross the limit within `horizon_units`.
    warn_margin: Annotated[float, Field(ge=0, le=4)] = 0.5
    horizon_units: Annotated[int, Field(ge=10, le=1_000_000)] = 2000


class Position(Frozen):
    """One inspection position (Arbeitsbereich): a pack in view, found in its own code region."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")]
    # Where the code is searched: x, y, width, height in frame pixels; None = the whole frame.
    # A region sized to the line's placement tolerance makes a read several times cheaper,
    # and makes a missing code a fast reject instead of a full-frame search.
    code_region: tuple[int, int, int, int] | None = None

    @field_validator("code_region")
    @classmethod
    def _region_has_area(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None:
            x, y, width, height = value
            if x < 0 or y < 0 or width < 32 or height < 32:
                raise ValueError(f"x, y must be >= 0 and width, height >= 32 px, got {value}")
        return value


class Inspection(Frozen):
    """What the vision pipeline checks and with which limits."""

    px_per_mm: Annotated[float, Field(gt=1, le=100)] = 10.0
    any_angle: bool = False  # cartons are guided: the code is within a few degrees of upright
    # libdmtx second opinion budget: 30 ms read 1000/1000 good frames in the code region (20 ms: 999).
    decode_timeout_ms: Annotated[int, Field(ge=5, le=1000)] = 30
    ocr: Ocr = Ocr()
    grading: Grading = Grading()


class Recipe(Frozen):
    """One product: selected by the PLC by number at batch change."""

    number: Annotated[int, Field(ge=1, le=65535)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1)] = 1
    gtin: Annotated[str, Field(pattern=r"^\d{14}$")]
    # Several packs in one image (lanes): each is inspected and counted on its own; the trigger's
    # verdict is a reject when any position fails (the PLC rejects what is under the camera).
    positions: Annotated[tuple[Position, ...], Field(min_length=1, max_length=16)] = (Position(name="P1"),)
    consecutive_reject_limit: Annotated[int, Field(ge=1, le=1000)] = 5
    print_layout: PrintLayout = PrintLayout()
    inspection: Inspection = Inspection()

    @field_validator("positions", mode="before")
    @classmethod
    def _position_names(cls, value: object) -> object:
        # A bare name is a position without its own code region.
        if isinstance(value, list | tuple):
            return tuple({"name": item} if isinstance(item, str) else item for item in value)
        return value

    @field_validator("positions")
    @classmethod
    def _unique_positions(cls, value: tuple[Position, ...]) -> tuple[Position, ...]:
        names = [p.name for p in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"position names must be unique, {', '.join(duplicates)} repeat")
        return value

    @property
    def position_names(self) -> tuple[str, ...]:
        """The positions' names in recipe order."""
        return tuple(p.name for p in self.positions)

    @field_validator("gtin")
    @classmethod
    def _gtin_check_digit(cls, value: str) -> str:
        expected = gs1_check_digit(value[:-1])
        if value[-1] != str(expected):
            raise ValueError(f"GTIN {value} has a wrong check digit (expected {expected})")
        return value
