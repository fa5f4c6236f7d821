"""The printer's job spec for the human-readable text: which lines, in which font, where next to the code.

``render_line`` draws a line's ideal ink: the node's OCV is taught with it, as a real line's
printer and OCV tool share one layout. ``render_printed_line`` draws it as a coder in
specification really prints it, varying from print to print; the simulator prints that.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from recipes.schema import PRINT_FIELDS, PrintLayout
from vision.fonts import (
    DOT_DIAMETER,
    DOT_FONTS,
    TIJ_CONDENSED,
    TIJ_STROKE,
    DotMatrixFont,
    dot_line,
    draw_dots,
)
from vision.ocr_types import LINE_EXTRA_CHARS, LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM

__all__ = [
    "IN_SPEC",
    "SIDES",
    "LineInk",
    "MissingInk",
    "PrintQuality",
    "Side",
    "expiry_date",
    "line_crop_box",
    "line_origin_mm",
    "print_lines",
    "render_line",
    "render_printed_line",
]

# Solid fonts drawn by cv2.putText; tij_sans is the simplex face with a heavier stroke (vision.fonts).
_SOLID_FONTS = {
    "hershey_simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "hershey_duplex": cv2.FONT_HERSHEY_DUPLEX,
    "hershey_plain": cv2.FONT_HERSHEY_PLAIN,
    "tij_sans": cv2.FONT_HERSHEY_SIMPLEX,
}


def print_lines(
    layout: PrintLayout, *, gtin: str, serial: str, lot: str, expiry_yymmdd: str
) -> tuple[str, ...]:
    """Format the layout's text lines from one unit's GS1 data.

    Parameters
    ----------
    layout : PrintLayout
        Its ``lines`` are format strings over the names in ``recipes.schema.PRINT_FIELDS``.
    gtin, serial, lot : str
        AI (01), (21) and (10) values as they are encoded.
    expiry_yymmdd : str
        AI (17) value. Printed as ``expiry_yyyy_mm`` (``2027-05``) or ``expiry_dd_mm_yyyy``
        (``31.05.2027``); DD = 00 means the last day of the month (GS1 General Specifications).

    Returns
    -------
    tuple of str
        One string per layout line.

    Raises
    ------
    ValueError
        If ``expiry_yymmdd`` is not a valid YYMMDD date.
    """
    expiry = expiry_date(expiry_yymmdd)
    values = {
        "gtin": gtin,
        "serial": serial,
        "lot": lot,
        "expiry_yymmdd": expiry_yymmdd,
        "expiry_yyyy_mm": expiry.strftime("%Y-%m"),
        "expiry_dd_mm_yyyy": expiry.strftime("%d.%m.%Y"),
    }
    # The schema validates layouts against PRINT_FIELDS; this keeps the two lists from drifting apart.
    assert values.keys() == PRINT_FIELDS
    return tuple(line.format(**values) for line in layout.lines)


def expiry_date(yymmdd: str) -> dt.date:
    """The last day a unit may be used, from its AI (17) value; DD = 00 means the month's last day.

    Raises
    ------
    ValueError
        If ``yymmdd`` is not six digits forming a date (DD = 00 allowed).
    """
    if len(yymmdd) != 6 or not yymmdd.isascii() or not yymmdd.isdigit():
        raise ValueError(f"expiry {yymmdd!r} is not a YYMMDD date (six digits)")
    # GS1's 50-year sliding century window needs today's date; pharmaceutical expiry dates in the
    # printer's lifetime all fall in 2000-2099, so the century is fixed and the function stays pure.
    year, month, day = 2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= month <= 12:
        raise ValueError(f"expiry {yymmdd!r} has month {month:02d}, expected 01..12")
    last_day = calendar.monthrange(year, month)[1]
    if day > last_day:
        raise ValueError(f"expiry {yymmdd!r} has day {day:02d}, expected 00..{last_day}")
    return dt.date(year, month, day or last_day)


def line_origin_mm(layout: PrintLayout, index: int) -> tuple[float, float]:
    """Top-left of text line ``index``'s capital letters, in mm from the code's top-right corner.

    The frame is the code's own: x along its top edge, y down its left edge.
    """
    return layout.offset_mm[0], layout.offset_mm[1] + index * layout.line_pitch_mm


@dataclass(frozen=True, slots=True)
class LineInk:
    """One text line as the printer's font draws it, upright, at the image's scale."""

    ink: npt.NDArray[np.float32]
    """(h, w) ink coverage, 0 = bare carton, 1 = full ink; read-only when cached (``render_line``)."""
    anchor: tuple[int, int]
    """(x, y) pixel of ``ink`` that sits on the line's origin (see ``line_origin_mm``): the top-left
    pixel of the capitals' box."""
    cells: tuple[tuple[int, int], ...]
    """Column span [start, stop) in ``ink`` of each character of the text, spaces included; the
    cells of a line abut (dot-matrix fonts split the gap between glyphs evenly)."""
    skew_deg: float = 0.0
    """Rotation of the printed line about ``anchor``, counter-clockwise on screen; ``anchor`` and
    ``cells`` are before it (``render_printed_line``; 0 for the ideal line)."""


def line_crop_box(line: LineInk, *, cap_px: float, px_per_mm: float) -> tuple[int, int, int, int]:
    """The line crop of ``vision.ocr_types``'s convention, in ``line.ink`` pixels (it may reach past the ink).

    From ``LINE_MARGIN_X_MM`` left of the anchor to ``LINE_EXTRA_CHARS`` character advances right of
    the last cell, the advance being the line's mean cell width; from ``LINE_MARGIN_Y_MM`` above the
    capitals to as far below them.

    Parameters
    ----------
    line : LineInk
        The expected text's line (``render_line``), or a print of it (its skew is ignored).
    cap_px : float
        Capital height in px (``layout.text_height_mm * px_per_mm``).
    px_per_mm : float
        Image scale.

    Returns
    -------
    (x, y, width, height)
        The crop's top-left and size in px of ``line.ink``.

    Raises
    ------
    ValueError
        If the line has no characters.
    """
    if not line.cells:
        raise ValueError("an empty line has no crop")
    advance = (line.cells[-1][1] - line.cells[0][0]) / len(line.cells)
    margin_x = round(LINE_MARGIN_X_MM * px_per_mm)
    margin_y = round(LINE_MARGIN_Y_MM * px_per_mm)
    x, y = line.anchor[0] - margin_x, line.anchor[1] - margin_y
    right = line.cells[-1][1] + round(LINE_EXTRA_CHARS * advance)
    return x, y, right - x, round(cap_px) + 2 * margin_y


@dataclass(frozen=True, slots=True)
class PrintQuality:
    """How far a coder's print may vary from one print to the next and still be in specification.

    Each print draws its own values uniformly within these limits (``render_printed_line``). The
    defaults, ``IN_SPEC``, are a healthy coder on a running line; OCR and OCV must accept all of it,
    while a missing part of a character (``MissingInk``), a smear or a wrong character must fail.
    """

    dropout: float = 0.03
    """CIJ: probability that a drop is missing. Missing drops are scattered: of two neighbouring
    drops (8-connected in the dot grid) at most one is missing, so no stroke loses two in a row."""
    dot_jitter_mm: float = 0.04
    """CIJ: largest placement error of a drop along each axis (0.4 px at 10 px/mm)."""
    dot_size: float = 0.15
    """CIJ: largest relative change of a drop's diameter (nominal ``DOT_DIAMETER`` x pitch)."""
    stroke_mm: float = 0.04
    """Solid fonts: largest growth or shrink of the stroke on each edge (ink spread, head energy)."""
    skew_deg: float = 1.0
    """Largest rotation of a line about its origin relative to the code (head alignment, carton run)."""
    density: tuple[float, float] = (0.65, 1.0)
    """Range of a line's ink density (1 = full ink): the printed contrast is the look's times this."""
    mottle: float = 0.12
    """Largest local loss of density within a line, as a fraction of its density."""

    def __post_init__(self) -> None:
        """Refuse limits that are not a print.

        Raises
        ------
        ValueError
            If a limit is negative, dropout or dot_size is 0.5 or more, skew is 10 degrees or more,
            or the density range is not within 0..1 and ordered.
        """
        checks = {
            "dropout": 0.0 <= self.dropout < 0.5,
            "dot_jitter_mm": self.dot_jitter_mm >= 0,
            "dot_size": 0.0 <= self.dot_size < 0.5,
            "stroke_mm": self.stroke_mm >= 0,
            "skew_deg": 0.0 <= self.skew_deg < 10,
            "density": 0.0 < self.density[0] <= self.density[1] <= 1.0,
            "mottle": 0.0 <= self.mottle < 1.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"PrintQuality.{name} is {getattr(self, name)}, outside its range")


IN_SPEC = PrintQuality()
"""A coder in specification: up to 3 % of drops missing (never two neighbours), drops placed within
±0.04 mm and sized ±15 %, strokes ±0.04 mm, lines skewed up to ±1 degree, ink density 0.65..1 with
up to 12 % mottle."""


Side = Literal["top", "bottom", "left", "right"]
SIDES: tuple[Side, ...] = ("top", "bottom", "left", "right")
"""The edges of a character a ``MissingInk`` can start from."""


@dataclass(frozen=True, slots=True)
class MissingInk:
    """Part of one character not printed: a blocked nozzle, or the head lifting off the carton."""

    char: int
    """Index in the text of the character."""
    fraction: float
    """Share of the character's ink that is missing, 0 < fraction < 1."""
    side: Side
    """The edge of the character where the missing part starts."""


# Lines repeat from unit to unit (GTIN, lot, expiry), so drawing each once per process pays off in
# both the simulator and the OCV; the result is immutable, so sharing it is safe.
@functools.lru_cache(maxsize=256)
def render_line(text: str, layout: PrintLayout, *, px_per_mm: float) -> LineInk:
    """Draw one text line's ideal ink with the layout's font, capital height ``layout.text_height_mm``.

    Dot-matrix fonts are round drops ``DOT_DIAMETER`` of the pitch wide, every drop printed, at
    its place; solid fonts are drawn by ``cv2.putText`` with the layout's stroke (``tij_sans``: a
    stroke of ``TIJ_STROKE`` of the cap height, at least 2 px, condensed to ``TIJ_CONDENSED``).

    Parameters
    ----------
    text : str
        The line, printable ASCII (dot-matrix fonts: ``vision.ocr_types.CHARSET`` and space).
    layout : PrintLayout
        Font, text height and stroke.
    px_per_mm : float
        Image scale.

    Returns
    -------
    LineInk
        The anti-aliased ink with a margin of a few pixels on every side; read-only.

    Raises
    ------
    ValueError
        If a dot-matrix font has no glyph for a character of ``text``.
    """
    cap_px = layout.text_height_mm * px_per_mm
    font = DOT_FONTS.get(layout.font)
    if font is not None:
        line = _dot_ink(text, font, cap_px, px_per_mm=px_per_mm, rng=None, quality=IN_SPEC, missing=None)
    else:
        line = _solid_ink(text, layout, px_per_mm)
    line.ink.setflags(write=False)
    return line


def render_printed_line(
    text: str,
    layout: PrintLayout,
    *,
    px_per_mm: float,
    rng: np.random.Generator,
    quality: PrintQuality = IN_SPEC,
    missing: MissingInk | None = None,
) -> LineInk:
    """Draw one text line as a coder prints it, with this print's own variation within ``quality``.

    Dot-matrix fonts: each drop is placed, sized and inked on its own, and some are missing
    (``PrintQuality.dropout``). Solid fonts: the stroke grows or shrinks and the ink mottles. Both:
    the line's density and its skew about the origin (counter-clockwise on screen for a positive
    angle) are drawn per line. ``missing`` removes part of one character on top of that; it draws
    nothing from ``rng``, so the same ``rng`` state prints the same line with and without it.

    Parameters
    ----------
    text : str
        The line, as for ``render_line``.
    layout : PrintLayout
        Font, text height and stroke.
    px_per_mm : float
        Image scale.
    rng : numpy.random.Generator
        Source of this print's variation.
    quality : PrintQuality
        Limits of the variation (default: in specification).
    missing : MissingInk, optional
        Part of one character not printed (a defect).

    Returns
    -------
    LineInk
        The ink, writable; ``anchor`` is the unskewed origin, ``cells`` the unskewed columns (a skew
        of 1 degree moves a cell's ink up to 1.7 % of the line's length up or down, not sideways).

    Raises
    ------
    ValueError
        If a dot-matrix font has no glyph for a character of ``text``, or ``missing`` names no
        character of it or a fraction outside 0..1.
    """
    if missing is not None and not (0 <= missing.char < len(text) and 0.0 < missing.fraction < 1.0):
        raise ValueError(f"{missing} does not fit the {len(text)} characters of {text!r}")
    cap_px = layout.text_height_mm * px_per_mm
    font = DOT_FONTS.get(layout.font)
    if font is not None:
        return _dot_ink(text, font, cap_px, rng=rng, quality=quality, missing=missing, px_per_mm=px_per_mm)
    return _printed_solid(text, layout, px_per_mm, rng=rng, quality=quality, missing=missing)


def _dot_ink(
    text: str,
    font: DotMatrixFont,
    cap_px: float,
    *,
    px_per_mm: float,
    rng: np.random.Generator | None,
    quality: PrintQuality,
    missing: MissingInk | None,
) -> LineInk:
    """The drops of a line: nominal without ``rng``, else varied within ``quality``."""
    line = dot_line(text, font, cap_px)
    n: int = line.centres.shape[0]
    centres = line.centres.copy()
    diameters = np.full(n, DOT_DIAMETER * line.pitch)
    density = np.ones(n)
    printed = np.ones(n, np.bool_)
    skew = 0.0
    if rng is not None:
        # Draw order is fixed (and independent of ``missing``) so a print repeats for one rng state.
        chance = rng.random(n)
        jitter = rng.uniform(-1.0, 1.0, (n, 2)) * quality.dot_jitter_mm * px_per_mm
        size = rng.uniform(1.0 - quality.dot_size, 1.0 + quality.dot_size, n)
        line_density = rng.uniform(*quality.density)
        mottle = rng.uniform(1.0 - quality.mottle, 1.0, n)
        skew = float(rng.uniform(-quality.skew_deg, quality.skew_deg))
        printed = ~_scattered(chance < quality.dropout, chance, line.grid)
        centres += jitter
        diameters *= size
        density = line_density * mottle
    if missing is not None:
        printed &= ~_missing_drops(line.centres, line.chars, missing)
    if skew:
        angle = np.radians(skew)
        cos, sin = np.cos(angle), np.sin(angle)
        # Counter-clockwise on screen (y down) about the capitals' top-left corner.
        centres = centres @ np.array([[cos, -sin], [sin, cos]])
    gap = line.advance - (font.columns - 1) * line.pitch - DOT_DIAMETER * line.pitch
    radius = float(diameters.max(initial=0.0)) / 2
    margin = 3 + math.ceil(max(radius, gap / 2))
    low = centres.min(axis=0, initial=0.0)
    anchor = (margin + math.ceil(-low[0]), margin + math.ceil(-low[1]))
    span_x = max(float(centres[:, 0].max(initial=0.0)), len(text) * line.advance)
    span_y = max(float(centres[:, 1].max(initial=0.0)), cap_px)
    shape = (anchor[1] + math.ceil(span_y) + margin, anchor[0] + math.ceil(span_x) + margin)
    # Pixel centres sit at integers, so the capitals' box starts half a pixel before the anchor's centre.
    offset = np.array(anchor, np.float64) - 0.5
    ink = draw_dots(shape, centres[printed] + offset, diameters[printed], density[printed])
    edges = [round(anchor[0] - 0.5 - gap / 2 + i * line.advance) for i in range(len(text) + 1)]
    return LineInk(ink=ink, anchor=anchor, cells=tuple(itertools.pairwise(edges)), skew_deg=skew)


def _scattered(
    candidates: npt.NDArray[np.bool_], order: npt.NDArray[np.float64], grid: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Of the candidate drops, those first in ``order`` among their candidate neighbours in the grid.

    Two neighbouring candidates cannot both come first, so no two kept drops touch.
    """
    if not candidates.any():
        return candidates
    rows, columns = grid.max(axis=0) + 3
    values = np.full((rows, columns), np.inf)
    values[grid[:, 0] + 1, grid[:, 1] + 1] = np.where(candidates, order, np.inf)
    neighbours = np.full((rows - 2, columns - 2), np.inf)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if (dy, dx) != (1, 1):
                np.minimum(neighbours, values[dy : dy + rows - 2, dx : dx + columns - 2], out=neighbours)
    kept: npt.NDArray[np.bool_] = candidates & (order < neighbours[grid[:, 0], grid[:, 1]])
    return kept


def _missing_drops(
    centres: npt.NDArray[np.float64], chars: npt.NDArray[np.int64], missing: MissingInk
) -> npt.NDArray[np.bool_]:
    """The drops of ``missing.char`` that are not printed: its ``fraction`` nearest ``missing.side``."""
    own = np.flatnonzero(chars == missing.char)
    lost = np.zeros(chars.size, np.bool_)
    if own.size == 0:
        return lost
    x, y = centres[own, 0], centres[own, 1]
    # Band by band from the side inwards; within a band in print order (the head's sweep).
    key = {"top": (x, y), "bottom": (x, -y), "left": (y, x), "right": (y, -x)}[missing.side]
    order = np.lexsort(key)
    count = max(1, round(missing.fraction * own.size))
    lost[own[order[:count]]] = True
    return lost


@dataclass(frozen=True, slots=True)
class _SolidLayout:
    """Where ``cv2.putText`` puts a solid font's line: its canvas and each character's cell."""

    font: int
    scale: float
    thickness: int
    pad: int
    cap_rows: int
    canvas: tuple[int, int]
    """(h, w) of the canvas the line is drawn on, before a TIJ face is condensed."""
    width: int
    """Columns of the line's ink as ``render_line`` returns it (condensed for ``tij_sans``)."""
    edges: tuple[int, ...]
    """Cell edges in those columns: character ``i`` spans ``edges[i]:edges[i + 1]``."""


def _solid_layout(text: str, layout: PrintLayout, px_per_mm: float) -> _SolidLayout:
    font = _SOLID_FONTS[layout.font]
    cap_px = layout.text_height_mm * px_per_mm
    if layout.font == "tij_sans":
        thickness = max(2, round(TIJ_STROKE * cap_px))
    else:
        thickness = max(1, round(layout.stroke_mm * px_per_mm))
    scale = cap_px / _cap_height_at_unit_scale(font, thickness)
    (width, _), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = thickness + 2
    cap_rows = round(cap_px)
    canvas = (pad + cap_rows + baseline + pad, pad + width + pad)
    edges = [pad + cv2.getTextSize(text[:i], font, scale, thickness)[0][0] for i in range(len(text) + 1)]
    narrow = canvas[1]
    if layout.font == "tij_sans":
        # TIJ coders print condensed faces to fit more characters on their 12.7 mm head.
        narrow = max(1, round(canvas[1] * TIJ_CONDENSED))
        edges = [round(edge * narrow / canvas[1]) for edge in edges]
    return _SolidLayout(font, scale, thickness, pad, cap_rows, canvas, narrow, tuple(edges))


def solid_cells(
    text: str, layout: PrintLayout, *, px_per_mm: float
) -> tuple[tuple[int, int], tuple[tuple[int, int], ...]]:
    """``render_line``'s ``anchor`` and ``cells`` for a solid font, without drawing the line."""
    placed = _solid_layout(text, layout, px_per_mm)
    anchor = (placed.edges[0] if layout.font == "tij_sans" else placed.pad, placed.pad)
    return anchor, tuple(itertools.pairwise(placed.edges))


def _solid_ink(text: str, layout: PrintLayout, px_per_mm: float) -> LineInk:
    """A solid font's line drawn by cv2.putText (the hershey fonts exactly as before tij_sans came)."""
    placed = _solid_layout(text, layout, px_per_mm)
    pad = placed.pad
    canvas = np.zeros(placed.canvas, np.uint8)
    cv2.putText(
        canvas,
        text,
        (pad, pad + placed.cap_rows),
        placed.font,
        placed.scale,
        255,
        placed.thickness,
        cv2.LINE_AA,
    )
    ink = canvas.astype(np.float32) / np.float32(255.0)
    cells = tuple(itertools.pairwise(placed.edges))
    if layout.font != "tij_sans":
        return LineInk(ink=ink, anchor=(pad, pad), cells=cells)
    ink = cv2.resize(ink, (placed.width, ink.shape[0]), interpolation=cv2.INTER_AREA).astype(
        np.float32, copy=False
    )
    return LineInk(ink=ink, anchor=(placed.edges[0], pad), cells=cells)


def _printed_solid(
    text: str,
    layout: PrintLayout,
    px_per_mm: float,
    *,
    rng: np.random.Generator,
    quality: PrintQuality,
    missing: MissingInk | None,
) -> LineInk:
    """A solid font's line with this print's stroke, density, mottle and skew."""
    ideal = render_line(text, layout, px_per_mm=px_per_mm)
    height, width = ideal.ink.shape
    grow = float(rng.uniform(-1.0, 1.0)) * quality.stroke_mm * px_per_mm
    line_density = float(rng.uniform(*quality.density))
    # Mottle over blobs about a cap height across: ink load varies along the line, not per pixel.
    blob = max(4.0, layout.text_height_mm * px_per_mm)
    coarse = rng.random((math.ceil(height / blob) + 2, math.ceil(width / blob) + 2)).astype(np.float32)
    skew = float(rng.uniform(-quality.skew_deg, quality.skew_deg))
    ink = ideal.ink.copy()
    if grow:
        # Sub-pixel growth: blend towards the ink dilated (or eroded) by one pixel on every edge.
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        moved = cv2.dilate(ink, kernel) if grow > 0 else cv2.erode(ink, kernel)
        ink += np.float32(min(abs(grow), 1.0)) * (moved - ink)
    mottle = cv2.resize(coarse, (coarse.shape[1] * round(blob), coarse.shape[0] * round(blob)))
    ink *= np.float32(line_density) * (1.0 - np.float32(quality.mottle) * mottle[:height, :width])
    if missing is not None:
        _remove_part(ink, ideal.cells[missing.char], missing)
    if not skew:
        return LineInk(ink=ink, anchor=ideal.anchor, cells=ideal.cells)
    # Grow the canvas so the skewed line fits, keeping the anchor on a whole pixel.
    reach = math.ceil(abs(math.sin(math.radians(skew))) * width) + 1
    ax, ay = ideal.anchor
    padded = cv2.copyMakeBorder(ink, reach, reach, 0, 0, cv2.BORDER_CONSTANT, value=0.0)
    matrix = cv2.getRotationMatrix2D((float(ax), float(ay + reach)), skew, 1.0)
    rotated = cv2.warpAffine(padded, matrix, (width, height + 2 * reach), flags=cv2.INTER_LINEAR).astype(
        np.float32, copy=False
    )
    return LineInk(ink=rotated, anchor=(ax, ay + reach), cells=ideal.cells, skew_deg=skew)


def _remove_part(ink: npt.NDArray[np.float32], cell: tuple[int, int], missing: MissingInk) -> None:
    """Clear ``missing.fraction`` of the ink in ``cell``'s columns from ``missing.side`` inwards, in place."""
    region = ink[:, cell[0] : cell[1]]
    along = region.sum(axis=1) if missing.side in ("top", "bottom") else region.sum(axis=0)
    if missing.side in ("bottom", "right"):
        along = along[::-1]
    total = float(along.sum())
    if total <= 0:
        return
    # The cut sits where the cumulative ink reaches the fraction, split within its row or column.
    cumulative = np.cumsum(along) / total
    index = int(np.searchsorted(cumulative, missing.fraction))
    before = cumulative[index - 1] if index else 0.0
    keep = np.ones(along.size, np.float32)
    keep[:index] = 0.0
    share = (missing.fraction - before) / max(cumulative[index] - before, 1e-9)
    keep[index] = np.float32(1.0 - min(max(share, 0.0), 1.0))
    if missing.side in ("bottom", "right"):
        keep = keep[::-1]
    region *= keep[:, None] if missing.side in ("top", "bottom") else keep[None, :]


@functools.cache
def _cap_height_at_unit_scale(font: int, thickness: int) -> float:
    # getTextSize's height includes room above the capitals (and differs between OpenCV 4's Hershey
    # strokes and OpenCV 5's built-in face), so measure the ink of a capital instead; at a large
    # scale the pixel rounding is negligible.
    scale = 8.0
    canvas = np.zeros((400, 400), np.uint8)
    cv2.putText(canvas, "H", (50, 300), font, scale, 255, thickness, cv2.LINE_AA)
    rows = np.flatnonzero(canvas.max(axis=1) >= 128)
    return float(rows[-1] - rows[0] + 1) / scale
