"""Is every character printed whole? The print measured against its own font, whatever the reader read.

A reader names a character; it does not say whether all of it is there. A character with a third of
its drops missing often still reads as itself, and confidently, yet a coder that leaves out part of
a character has a blocked nozzle or a lifted head and its print is a defect. The recipe names the
coder's font, so each expected character's ink is known: this module places it on the line crop
and measures what is there.

- **Placing.** Each expected glyph is matched to the crop near its nominal place (the crop's
  convention puts the capitals' top-left at the margins) on a three-pixel grid; a straight line
  is fitted through the shifts of all glyphs, so a glyph that is mostly missing is measured where
  its line puts it and not where its remains fit best. The line takes up the print's skew and the
  crop's residual offset; a last search of one pixel takes up what is left (drop placement,
  rounding). A solid glyph large enough for all four halves is searched only across the line:
  up or down it stays at its line's height, so a glyph missing its top cannot slide onto its
  remains.
- **Dot-matrix fonts** are counted drop by drop: a drop is present when the ink at its place
  reaches ``DROP_PRESENT`` of the line's median drop. A coder in specification misses single
  drops, never two neighbours; two neighbouring drops missing is a broken stroke
  (``incomplete``).
- **Solid fonts** are weighed: the ink under the glyph's (dilated) shape, and under each half of
  it (top, bottom, left, right, split at the glyph's ink median), above the carton around the
  glyph (its ring: the glyph's box off every glyph's shape), against the font's, each as a share
  of the line's median. Any share under ``SOLID_MIN_SHARE`` is a missing part. Halves are
  weighed only where the glyph is wide (or tall) enough for a half to hold a stroke.

A solid font's glyphs are drawn once each and placed in a line's cells; a line's model is kept
(most lines repeat from unit to unit) as flat arrays, and one compiled kernel places and measures
all of a line's glyphs and a second turns the sums into verdicts: 0.35 to 0.6 ms a line, and 0.6
to 1.5 ms more for a line never seen (a serial).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from recipes.schema import PrintLayout
from vision._completeness_kernels import dot_verdicts_kernel, measure_line_kernel, solid_verdicts_kernel
from vision.fonts import DOT_FONTS, DotMatrixFont, dot_line
from vision.ocr_types import LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM
from vision.print_text import render_line, solid_cells

__all__ = [
    "DROP_PRESENT",
    "EXTRA_MM",
    "MIN_INK",
    "SOLID_MIN_SHARE",
    "CharCompleteness",
    "extra_rows",
    "line_completeness",
]

MIN_INK = 15.0
"""Grey levels: a line whose median drop (or solid glyph, per unit of the font's ink) is fainter
than this is not printed there at all, and every character is incomplete. The faintest print in
specification shows about 55 grey levels; sensor noise, gathered over a drop, about 2."""
EXTRA_MM = 0.5
"""The line crop grows by this much above and below for the check: the reader's crop holds the
capitals with 0.6 mm to spare, which the far end of a line skewed by a degree can use up."""
DROP_PRESENT = 0.4
"""A drop is printed when the (smoothed) ink at its place reaches this share of the line's median drop."""
SOLID_MIN_SHARE = 0.55
"""A solid glyph (or half of one) holding less than this share of its expected ink is incomplete.
Measured on 140 in-spec units per font (seeds 300 and 310, frames as ``bench.ocr`` draws them):
the least complete good character of a unit scores 0.61 at worst (Hershey; TIJ sans 0.62); of 140
units with 30-60 % of one character missing, 137 (Hershey) and 137 (TIJ) score below."""

# Glyphs are searched this far (cap heights) from their nominal place across, and along, the line:
# the crop's residual offset and angle (a few px, 1.5 degrees over a long line) plus the print's skew.
_SEARCH_X = 0.25
_SEARCH_Y = 0.4
# The glyph's shape is widened by this much (cap heights) to hold blur and stroke spread.
_DILATE = 0.08
# A half of a glyph is weighed only when the glyph spans this much (cap heights) across the split.
_MIN_HALF_SPAN = 0.4
# Drops: the ink is gathered onto each drop's centre over this share of the pitch (a Gaussian's
# sigma): it takes up the drop's placement error, while a missing drop's neighbours, a pitch away,
# add little to its place.
_GATHER = 0.3
# Grey closing wider than any stroke or drop (cap heights): what is left is the carton.
_GROUND = 0.35
# The font's ink above this (0..1) is part of the glyph's shape.
_INKED = 0.05
# Template pixels of at least this ink place a solid glyph (its anti-aliased fringe adds little).
_PLACED = 0.3
# The first search steps this many px (the fit through all glyphs and the last one-pixel search
# make up for the grid).
_COARSE_STEP = 3
# A glyph whose shift lies this far (px) from the fitted line does not vote in the next fit.
_OUTLIER_PX = 1.5


@dataclass(frozen=True, slots=True)
class CharCompleteness:
    """How much of one expected character is printed."""

    index: int
    """Index of the character in the expected line (spaces count; they are never measured)."""
    char: str
    score: float
    """Dot-matrix: share of the glyph's drops present. Solid: the least of the glyph's and its halves'
    ink, each as a share of the line's median."""
    complete: bool
    """False when part of the character is missing: two neighbouring drops, or a solid part under
    ``SOLID_MIN_SHARE``."""


@dataclass(frozen=True, slots=True)
class _LineModel:
    """A line's expected glyphs as flat arrays, in crop pixels at their nominal places."""

    indices: tuple[int, ...]
    """Index in the text of each glyph (spaces have none)."""
    chars: str
    """The glyphs' characters."""
    rows: npt.NDArray[np.int64]
    """Crop row of each template pixel, all glyphs one after the other."""
    cols: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float32]
    """Template value of each pixel: the font's ink (solid) or 1 per drop centre (dot-matrix)."""
    starts: npt.NDArray[np.int64]
    """Glyph ``g``'s template pixels are ``starts[g]:starts[g + 1]``."""
    coarse: tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64]
    ]
    """rows, cols, weights, starts of the templates thinned for the first, coarse search: a solid
    glyph's pixels of at least half ink on even rows and columns; every drop."""
    centres: npt.NDArray[np.float64]
    """Crop column of each glyph's centre (where its shift is fitted)."""
    pitch: float
    """Dot-matrix: the drop pitch in px. Solid: 0."""
    reach: int
    """How far (px) the templates and parts reach beyond a crop of the line's height (0 if not)."""
    rightmost: int
    """The rightmost crop column any template or part reads."""
    part_rows: npt.NDArray[np.int64]
    """Solid: crop pixels of every measured part (the dilated glyph, its halves); dot-matrix: the
    drop centres (the template's own pixels)."""
    part_cols: npt.NDArray[np.int64]
    part_glyph: npt.NDArray[np.int64]
    """The glyph each part pixel belongs to."""
    part_label: npt.NDArray[np.int64]
    """Solid: (m, 3) the parts each pixel counts in, ``glyph * 5 + part`` (0 whole; 1, 2 top, bottom;
    3, 4 left, right), ``5 * glyphs`` for a half not weighed. Dot-matrix: (m, 1) the drop's number."""
    bins: int
    """Sums ``part_label`` fills: ``5 * glyphs + 1`` (solid) or the drops (dot-matrix)."""
    expected: npt.NDArray[np.float64]
    """Solid: (glyphs, 5) the font's ink under each part, NaN where a half is not weighed."""
    part_area: npt.NDArray[np.float64]
    """Solid: (glyphs, 5) pixels in each part."""
    ring_rows: npt.NDArray[np.int64]
    """Solid: crop pixels of each glyph's box that lie off every glyph's shape (its local carton)."""
    ring_cols: npt.NDArray[np.int64]
    ring_glyph: npt.NDArray[np.int64]
    ring_count: npt.NDArray[np.int64]
    """Solid: pixels in each glyph's ring."""
    neighbours: npt.NDArray[np.int64]
    """Dot-matrix: (k, 2) drop numbers (over the line) of grid-neighbour pairs within a glyph."""
    refine_y: npt.NDArray[np.int64]
    """How far (px, 0 or 1) the last search may move each glyph up or down: 0 for a solid glyph whose
    four halves are weighed (see ``_solid_model``), 1 otherwise."""


def extra_rows(px_per_mm: float) -> int:
    """Rows to add above and below a line crop for ``line_completeness`` (``EXTRA_MM``)."""
    return max(1, round(EXTRA_MM * px_per_mm))


def line_completeness(
    crop: npt.NDArray[np.uint8], expected: str, layout: PrintLayout, *, px_per_mm: float, extra: int = 0
) -> tuple[CharCompleteness, ...]:
    """Measure how much of each character of ``expected`` is printed on ``crop``.

    Parameters
    ----------
    crop : (h, w) uint8 ndarray
        The line crop (``vision.ocr_types`` convention: upright, dark on light, at the recipe scale),
        grown by ``extra`` rows above and below (``text_region.extract_lines(extra_rows=...)``).
    expected : str
        What the line must say.
    layout : PrintLayout
        The coder's font and text height.
    px_per_mm : float
        Image scale.
    extra : int, optional
        The rows the crop was grown by; ``extra_rows(px_per_mm)`` keeps a skewed line's ends in it.

    Returns
    -------
    tuple of CharCompleteness
        One per character of ``expected`` that is not a space, left to right.

    Raises
    ------
    ValueError
        If ``crop`` is not a 2-D uint8 image, ``px_per_mm`` is not a positive number or ``extra``
        is negative.
    """
    if not isinstance(crop, np.ndarray) or crop.ndim != 2 or crop.dtype != np.uint8:
        kind = f"{crop.dtype} array of shape {crop.shape}" if isinstance(crop, np.ndarray) else type(crop)
        raise ValueError(f"crop must be a 2-D uint8 image, got {kind}")
    if not (isinstance(px_per_mm, int | float) and math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm must be a positive number, got {px_per_mm!r}")
    if not isinstance(extra, int) or extra < 0:
        raise ValueError(f"extra is {extra!r}, expected an int of 0 or more")
    model = _line_model(expected, layout, float(px_per_mm), extra)
    if not model.indices:
        return ()
    cap = layout.text_height_mm * px_per_mm
    dot = layout.font in DOT_FONTS
    reach_y, reach_x = max(2, round(_SEARCH_Y * cap)), max(2, round(_SEARCH_X * cap))
    # Room for the search, the last pixel and templates reaching past the crop (a glyph at its edge).
    pad = max(reach_y, reach_x) + 2 + max(model.reach, model.rightmost - crop.shape[1] + 1)
    ink = _padded_ink(crop, cap, model.pitch, pad)
    c_rows, c_cols, c_weights, c_starts = model.coarse
    sums, ring = measure_line_kernel(
        ink,
        pad,
        c_rows,
        c_cols,
        c_weights,
        c_starts,
        model.rows,
        model.cols,
        model.weights,
        model.starts,
        model.centres,
        reach_y,
        reach_x,
        _COARSE_STEP,
        _OUTLIER_PX,
        model.refine_y,
        model.part_rows,
        model.part_cols,
        model.part_glyph,
        model.part_label,
        model.bins,
        model.ring_rows,
        model.ring_cols,
        model.ring_glyph,
    )
    if dot:
        scores, complete = dot_verdicts_kernel(
            sums, model.part_glyph, model.neighbours, len(model.indices), DROP_PRESENT, MIN_INK
        )
    else:
        scores, complete = solid_verdicts_kernel(
            sums, ring, model.ring_count, model.part_area, model.expected, MIN_INK, SOLID_MIN_SHARE
        )
    return tuple(map(CharCompleteness, model.indices, model.chars, scores.tolist(), complete.tolist()))


def _padded_ink(crop: npt.NDArray[np.uint8], cap: float, pitch: float, pad: int) -> npt.NDArray[np.float32]:
    """Ink darkness in grey levels above the carton, with ``pad`` px of none on every side.

    Solid glyphs: above the crop's median (a line crop is mostly bare carton); each glyph's ring
    then takes off what its own patch of carton adds (mottle, uneven light). The crop is padded with
    its median first, so one subtraction gives the ink and its empty border. Drops are judged one
    by one, so their ground is the carton around them (the crop with its ink closed away, a grey
    closing wider than a drop), and their ink is gathered onto their centres, whatever their
    placement error.
    """
    if not pitch:
        counts = np.cumsum(np.bincount(crop.ravel(), minlength=256))
        ground = int(np.searchsorted(counts, crop.size / 2))
        padded = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=ground)
        return np.subtract(np.float32(ground), padded, dtype=np.float32)
    size = max(3, round(_GROUND * cap) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    ink = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, kernel).astype(np.float32) - crop.astype(np.float32)
    gathered = cv2.GaussianBlur(ink, (0, 0), max(0.5, _GATHER * pitch))
    return np.asarray(
        cv2.copyMakeBorder(gathered, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0), np.float32
    )


@functools.lru_cache(maxsize=256)
def _line_model(expected: str, layout: PrintLayout, px_per_mm: float, extra: int) -> _LineModel:
    """The line's glyphs, drawn once per text (most lines repeat from unit to unit)."""
    cap = layout.text_height_mm * px_per_mm
    margin = (round(LINE_MARGIN_X_MM * px_per_mm), round(LINE_MARGIN_Y_MM * px_per_mm) + extra)
    font = DOT_FONTS.get(layout.font)
    if font is not None:
        return _dot_model(expected, layout.font, font, cap, margin)
    return _solid_model(expected, layout, px_per_mm, cap, margin)


@functools.lru_cache(maxsize=128)
def _glyph_neighbours(font: str, char: str) -> npt.NDArray[np.int64]:
    """(k, 2) pairs of drop numbers (in ``np.nonzero`` order) of ``char`` that are grid neighbours."""
    cells = np.stack(np.nonzero(DOT_FONTS[font].glyph(char)), axis=1)
    apart = np.abs(cells[:, None, :] - cells[None, :, :]).max(axis=2)
    a, b = np.nonzero(np.triu(apart == 1))
    return np.stack([a, b], axis=1).astype(np.int64)


def _dot_model(
    expected: str, font_name: str, font: DotMatrixFont, cap: float, margin: tuple[int, int]
) -> _LineModel:
    line = dot_line(expected, font, cap)
    height = round(cap) + 2 * margin[1]
    # Pixel centres sit at integers and the capitals' box starts half a pixel before its first one.
    points = np.rint(line.centres + np.array(margin, np.float64) - 0.5).astype(np.int64)
    indices = [i for i, char in enumerate(expected) if char != " " and np.any(line.chars == i)]
    glyph_of_index = {index: g for g, index in enumerate(indices)}
    keep = np.isin(line.chars, indices)
    # dot_line lists each glyph's drops together, in np.nonzero order, glyph after glyph.
    drop_glyph = np.array([glyph_of_index[int(i)] for i in line.chars[keep]], np.int64)
    rows, cols = points[keep, 1], points[keep, 0]
    starts = np.searchsorted(drop_glyph, np.arange(len(indices) + 1)).astype(np.int64)
    pairs = [_glyph_neighbours(font_name, expected[index]) + starts[g] for g, index in enumerate(indices)]
    centres = np.array([cols[starts[g] : starts[g + 1]].mean() for g in range(len(indices))], np.float64)
    return _LineModel(
        indices=tuple(indices),
        chars="".join(expected[i] for i in indices),
        rows=rows,
        cols=cols,
        weights=np.ones(rows.size, np.float32),
        starts=starts,
        coarse=(rows, cols, np.ones(rows.size, np.float32), starts),
        pitch=line.pitch,
        centres=centres,
        reach=_reach(rows, cols, height),
        rightmost=int(cols.max(initial=0)),
        part_rows=rows,
        part_cols=cols,
        part_glyph=drop_glyph,
        part_label=np.arange(rows.size, dtype=np.int64)[:, None],
        bins=int(rows.size),
        expected=np.zeros((len(indices), 5)),
        part_area=np.zeros((len(indices), 5)),
        ring_rows=np.zeros(0, np.int64),
        ring_cols=np.zeros(0, np.int64),
        ring_glyph=np.zeros(0, np.int64),
        ring_count=np.zeros(len(indices), np.int64),
        neighbours=np.concatenate([np.zeros((0, 2), np.int64), *pairs]),
        refine_y=np.ones(len(indices), np.int64),
    )


@dataclass(frozen=True, slots=True)
class _SolidGlyph:
    """One character of a solid font as the font draws it alone, ready to be placed in a line."""

    box: tuple[int, int]
    """(x, y) of the template's top-left from its cell's left edge and the capitals' top."""
    template: npt.NDArray[np.float32]
    placed: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]
    """rows, cols (in the template) and weights of the pixels that place the glyph."""
    coarse: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]
    """The same, thinned for the first, coarse search: pixels of at least half ink on even rows and
    columns (all of at least half ink where that leaves none)."""
    parts: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
    """rows, cols of the dilated shape's pixels and their (m, 3) part labels (-1: not weighed)."""
    expected: tuple[float, ...]
    """The font's ink under the whole shape and each half (NaN: not weighed)."""
    area: tuple[float, ...]
    """Pixels of the whole shape and of each half."""
    keep_off: npt.NDArray[np.bool_]
    """The shape widened by a pixel more: no glyph's ring may lie on it."""
    ring: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
    """rows, cols of the box's pixels off its own widened shape: its ring, before the neighbours'
    shapes are taken off it."""


@functools.lru_cache(maxsize=16)
def _solid_font(layout: PrintLayout, px_per_mm: float) -> dict[str, _SolidGlyph | None]:
    """The glyphs of one layout and scale drawn so far (filled by ``_solid_model``; a layout is
    hashed once per line, not once per character)."""
    return {}


def _solid_glyph(char: str, layout: PrintLayout, px_per_mm: float) -> _SolidGlyph | None:
    """``char`` drawn alone and measured; None for a character without ink.

    A line's glyphs are placed from these at the line's own cells, so a line that was never seen
    (every serial) costs a placement, not a drawing; the glyph drawn alone may sit up to half a
    pixel from where the line would draw it, which the placement search takes up.
    """
    alone = render_line(char, layout, px_per_mm=px_per_mm)
    cap = layout.text_height_mm * px_per_mm
    grow = max(1, round(_DILATE * cap))
    c0, c1 = alone.cells[0]
    y_ink, x_ink = np.nonzero(alone.ink[:, c0:c1] > _INKED)
    if y_ink.size == 0:
        return None
    # The glyph's box, widened by the dilation, in ``alone.ink`` pixels (it may reach past it).
    y0, x0 = int(y_ink.min()) - grow, c0 + int(x_ink.min()) - grow
    y1, x1 = int(y_ink.max()) + 1 + grow, c0 + int(x_ink.max()) + 1 + grow
    template = _cut(alone.ink, y0, y1, x0, x1)
    inked = (template > _INKED).astype(np.uint8)
    mask = cv2.dilate(inked, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)) > 0
    keep_off = cv2.dilate(inked, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 3,) * 2)) > 0
    ty, tx = np.nonzero(template > _PLACED)
    py, px = np.nonzero(mask)
    labels, inks = _part_labels(template, mask, py, px, _MIN_HALF_SPAN * cap + 2 * grow)
    area = [float(py.size)] + [float((labels == k).sum()) for k in (1, 2, 3, 4)]
    ry, rx = np.nonzero(~keep_off)
    solid = template[ty, tx] >= 0.5
    thin = solid & (ty % 2 == 0) & (tx % 2 == 0)
    thin = thin if thin.any() else solid
    for array in (template, keep_off):
        array.setflags(write=False)
    return _SolidGlyph(
        box=(x0 - c0, y0 - alone.anchor[1]),
        template=template,
        placed=(ty.astype(np.int64), tx.astype(np.int64), template[ty, tx]),
        coarse=(ty[thin].astype(np.int64), tx[thin].astype(np.int64), template[ty[thin], tx[thin]]),
        parts=(py.astype(np.int64), px.astype(np.int64), labels),
        expected=tuple(inks),
        area=tuple(area),
        keep_off=keep_off,
        ring=(ry.astype(np.int64), rx.astype(np.int64)),
    )


def _solid_model(
    expected: str, layout: PrintLayout, px_per_mm: float, cap: float, margin: tuple[int, int]
) -> _LineModel:
    # The line's cells as the font lays it out; each glyph is placed in its cell.
    anchor, cells = solid_cells(expected, layout, px_per_mm=px_per_mm)
    placed: list[tuple[int, int, int, _SolidGlyph]] = []
    font = _solid_font(layout, px_per_mm)
    for index, (char, (c0, _)) in enumerate(zip(expected, cells, strict=True)):
        if char == " ":
            continue
        if char not in font:
            # Two vision workers may both draw a new character; either result is the same.
            font[char] = _solid_glyph(char, layout, px_per_mm)
        glyph = font[char]
        if glyph is not None:
            # The capitals' top-left of the line sits at the crop's margins.
            x = c0 - anchor[0] + margin[0] + glyph.box[0]
            y = margin[1] + glyph.box[1]
            placed.append((index, x, y, glyph))
    n = len(placed)
    glyphs = [g for _, _, _, g in placed]
    xs = np.array([x for _, x, _, _ in placed], np.int64)
    ys = np.array([y for _, _, y, _ in placed], np.int64)

    def spread(
        arrays: list[npt.NDArray[Any]], dtype: type[np.generic] = np.int64
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """The glyphs' arrays one after the other, and the glyph of each entry."""
        sizes = np.array([a.shape[0] for a in arrays], np.int64)
        return _joined(arrays, dtype), np.repeat(np.arange(n, dtype=np.int64), sizes)

    ty, of_placed = spread([g.placed[0] for g in glyphs])
    tx, _ = spread([g.placed[1] for g in glyphs])
    weights, _ = spread([g.placed[2] for g in glyphs], np.float32)
    cy, of_coarse = spread([g.coarse[0] for g in glyphs])
    cx, _ = spread([g.coarse[1] for g in glyphs])
    coarse_weights, _ = spread([g.coarse[2] for g in glyphs], np.float32)
    py, of_part = spread([g.parts[0] for g in glyphs])
    px, _ = spread([g.parts[1] for g in glyphs])
    labels = np.concatenate([np.zeros((0, 3), np.int64), *(g.parts[2] for g in glyphs)])
    # Each glyph's parts in its own five bins; a half not weighed in one spare bin past them all.
    labels = np.where(labels >= 0, labels + 5 * of_part[:, None], 5 * n)
    # A ring pixel on any glyph's widened shape is not carton: every shape on one canvas.
    low_x, low_y = int(xs.min(initial=0)), int(ys.min(initial=0))
    high_x = max((x + g.template.shape[1] for _, x, _, g in placed), default=1)
    high_y = max((y + g.template.shape[0] for _, _, y, g in placed), default=1)
    shapes = np.zeros((high_y - low_y, high_x - low_x), np.bool_)
    for _, x, y, glyph in placed:
        h, w = glyph.template.shape
        shapes[y - low_y : y - low_y + h, x - low_x : x - low_x + w] |= glyph.keep_off
    ry, of_ring = spread([g.ring[0] for g in glyphs])
    rx, _ = spread([g.ring[1] for g in glyphs])
    ry, rx = ry + ys[of_ring], rx + xs[of_ring]
    carton = ~shapes[ry - low_y, rx - low_x]
    ry, rx, of_ring = ry[carton], rx[carton], of_ring[carton]
    all_rows, all_cols = ty + ys[of_placed], tx + xs[of_placed]
    all_part_rows, all_part_cols = py + ys[of_part], px + xs[of_part]
    starts = np.searchsorted(of_placed, np.arange(n + 1)).astype(np.int64)
    return _LineModel(
        indices=tuple(index for index, _, _, _ in placed),
        chars="".join(expected[index] for index, _, _, _ in placed),
        rows=all_rows,
        cols=all_cols,
        weights=weights,
        starts=starts,
        coarse=(
            cy + ys[of_coarse],
            cx + xs[of_coarse],
            coarse_weights,
            np.searchsorted(of_coarse, np.arange(n + 1)).astype(np.int64),
        ),
        pitch=0.0,
        centres=(xs + np.array([g.template.shape[1] for g in glyphs], np.int64) / 2).astype(np.float64),
        reach=_reach(
            np.concatenate([all_rows, all_part_rows]),
            np.concatenate([all_cols, all_part_cols]),
            round(cap) + 2 * margin[1],
        ),
        rightmost=int(max(all_cols.max(initial=0), all_part_cols.max(initial=0))),
        part_rows=all_part_rows,
        part_cols=all_part_cols,
        part_glyph=of_part,
        part_label=labels,
        bins=5 * n + 1,
        expected=np.array([g.expected for g in glyphs], np.float64).reshape(n, 5),
        part_area=np.array([g.area for g in glyphs], np.float64).reshape(n, 5),
        ring_rows=ry,
        ring_cols=rx,
        ring_glyph=of_ring,
        ring_count=np.bincount(of_ring, minlength=n),
        neighbours=np.zeros((0, 2), np.int64),
        # A glyph tall and wide enough for all four halves is kept at its line's height: the print
        # shares one line (its skew is fitted), and a last search of a pixel up or down slid a
        # glyph missing its top onto its remains (a Hershey T missing 32 % from the top: top half
        # 0.55 slid, 0.50 on its line). Across the line a glyph keeps its pixel: drawn alone, it
        # may sit half a pixel off its cell. Measured as SOLID_MIN_SHARE below: no more good
        # units flagged, 275 of 280 partials caught (274 before).
        refine_y=np.array(
            [int(math.isnan(g.expected[1]) or math.isnan(g.expected[3])) for g in glyphs], np.int64
        ),
    )


def _joined(parts: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
    """The arrays one after the other (an empty array of ``dtype`` when there are none)."""
    return np.concatenate([np.zeros(0, dtype), *parts]).astype(dtype, copy=False)


def _reach(rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], height: int) -> int:
    """How far (px) pixels at ``rows``, ``cols`` lie above, left of or below a crop ``height`` tall."""
    if rows.size == 0:
        return 0
    return max(0, -int(rows.min()), -int(cols.min()), int(rows.max()) - height + 1)


def _cut(ink: npt.NDArray[np.float32], y0: int, y1: int, x0: int, x1: int) -> npt.NDArray[np.float32]:
    """``ink[y0:y1, x0:x1]`` with zeros where the box reaches past ``ink``."""
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y1, ink.shape[0]), min(x1, ink.shape[1])
    out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = ink[sy0:sy1, sx0:sx1]
    return out


def _part_labels(
    template: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    min_span: float,
) -> tuple[npt.NDArray[np.int64], list[float]]:
    """The parts each mask pixel (``rows``, ``cols``) counts in, and the font's ink under each part.

    Returns (m, 3) labels: 0 (the whole glyph); 1 or 2 (top or bottom half); 3 or 4 (left or right
    half), split at the template's ink median; a half across a span under ``min_span`` is not
    weighed (label -1, ink NaN). Labels are per glyph; the caller adds ``5 * glyph``.
    """
    h, w = template.shape
    total = float(template.sum())
    row = int(np.searchsorted(np.cumsum(template.sum(axis=1)) / total, 0.5)) + 1
    col = int(np.searchsorted(np.cumsum(template.sum(axis=0)) / total, 0.5)) + 1
    labels = np.zeros((rows.size, 3), np.int64)
    labels[:, 1] = np.where(rows < row, 1, 2) if h >= min_span else -1
    labels[:, 2] = np.where(cols < col, 3, 4) if w >= min_span else -1
    inked = np.where(mask, template, np.float32(0.0))
    vertical = (float(inked[:row].sum()), float(inked[row:].sum())) if h >= min_span else (math.nan,) * 2
    horizontal = (
        (float(inked[:, :col].sum()), float(inked[:, col:].sum())) if w >= min_span else (math.nan,) * 2
    )
    return labels, [float(inked.sum()), *vertical, *horizontal]
