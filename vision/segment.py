"""Character segmentation of a line crop: where each printed character is, left to right.

Two kinds of print need two ways of grouping ink. Dot-matrix (CIJ) characters are clusters of
drops on a fixed advance, and each leaves its cell's last column bare: the line's ink falls on a
regular grid of cells, found by searching for the advance and offset whose boundary bands hold
the least ink, and each cell's ink is one character, so a stroke broken by a missing drop or a
diagonal of single drops stays whole. Solid fonts are proportional, one blob per character: the
crop is thresholded near the ink's core so that blur does not bridge the narrow gaps between
heavy strokes, blobs stacked in x (a colon, a stroke broken by faint ink) are joined, and a blob
too wide for one character is cut at its thinnest columns.

Faint, small dot-matrix print and a proportional line that happens to fall on a grid cannot always
be told apart from geometry alone, so ``segmentations`` returns both readings when a grid is
plausible, the likelier first; a reader with a classifier keeps the one it reads with more
confidence, and ``segment_characters`` takes the likelier one. ``segmentation_readings`` gives the
same readings made on demand, so a reader that is sure of the first never pays for the second.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision._ocr_kernels import (
    dot_matrix_kernel,
    drop_rows_kernel,
    grid_band_kernel,
    ink_levels_kernel,
    kept_blobs_kernel,
    kept_profiles_kernel,
    solid_groups_kernel,
)
from vision.binarize import binarize_otsu, otsu_threshold
from vision.components import label_components

__all__ = [
    "Box",
    "Segmentation",
    "ink_levels",
    "segment_characters",
    "segment_line",
    "segmentation_readings",
    "segmentations",
]

Box = tuple[int, int, int, int]
"""x, y, width, height in line-crop pixels."""

# Blobs smaller than this share of the squared cap height are specks, not drops (a drop of a 7 x 9
# font is 0.7 % of it).
_SPECK = 0.003
# A crop is flat (no print) when its ink core lies within this many standard deviations of the
# ground: noise alone reaches about 2, carton texture 5.7 over a short stretch, the faintest print
# in specification 5.5. Texture that passes yields blobs far from every glyph, read with low
# confidence, so this is only a shortcut for a flat crop.
_MIN_SEPARATION = 4.0
# The ink's core is the darkest fifth of Otsu's dark class.
_CORE_SHARE = 0.2
# Core ink: this share of the way from the ground to the ink's core. Blur fills a one-pixel gap
# between heavy strokes to about half the ink, which Otsu's threshold keeps and this one does not.
_CORE_LEVEL = 0.7
# A drop's darkest pixel reaches this share of the way from ground to ink core; pale blobs of
# carton texture near a faint print's threshold do not.
_DROP_LEVEL = 0.5
# Character advances searched for a dot-matrix grid, in cap heights (5 x 7: 0.876; 7 x 9: 0.904).
_GRID_ADVANCES = np.linspace(0.8, 1.0, 51)
# The bare band at each cell boundary, in cap heights: two drop pitches less a drop (5 x 7: 0.17,
# 7 x 9: 0.13), less what drop placement and blur take from it.
_GRID_BAND = 0.08
_GRID_STEP = 0.25  # px: resolution of the band's offset
# Weight of the ink at Otsu's threshold against the core ink when placing the bands: it breaks the
# ties of faint print, which keeps little core ink.
_GRID_TIE = 0.01
# Core ink in the bands as a share of the line's. In 1500 sampled lines of six characters or
# more, dot-matrix print holds at most 0.9 % (99 % of lines under 0.35 %); proportional print
# falls under 0.2 % in about 2 % of lines, when its gaps happen to be regular.
_GRID_LIKELY = 0.002
_GRID_PLAUSIBLE = 0.015
# Fewer cells than this could sit on a grid by chance.
_GRID_MIN_CELLS = 3
# Glyphs at least this wide (cap heights) are centred in their cell: they place the grid.
_WIDE = 0.45
# A cell's ink narrower than this (cap heights) is a sliver of its neighbour's, not a glyph (the
# narrowest glyph, a full stop, is 0.19).
_SLIVER = 0.1
# Blobs overlapping in x by this share of the narrower one belong to one solid character.
_SOLID_OVERLAP = 0.5
# A solid blob wider than this (cap heights) holds two characters or more: the widest glyph (W)
# is 1.12 cap heights.
_SOLID_MAX_WIDTH = 1.2
# A too-wide blob is cut into pieces of about this many cap heights (a typical solid advance),
# each cut at the thinnest column within this share of a piece around the even split.
_SOLID_ADVANCE = 0.75
_CUT_WINDOW = 0.3


@dataclass(frozen=True, slots=True)
class Segmentation:
    """The characters of one line crop, and how the print was spaced."""

    boxes: tuple[Box, ...]
    """x, y, width, height of each character, left to right; word gaps have no box."""
    advance: float | None
    """The character advance in px when the print sits on a fixed grid (dot-matrix), else None."""
    cells: tuple[int, ...] | None
    """With a grid, each box's cell index counted from the first box's (a skipped index is a word
    gap); None without."""
    levels: tuple[float, float] | None
    """The crop's ground and ink-core grey levels (``ink_levels``); None for a flat crop."""


def ink_levels(crop: npt.NDArray[np.uint8], *, threshold: int | None = None) -> tuple[float, float] | None:
    """The ground's and the ink's grey level of a dark-on-light crop, or None when it is flat.

    The ground is the mean of the light Otsu class; the ink is the core of the dark class (its
    darkest fifth), which blur and thin drops do not lighten the way they do the class mean.

    Parameters
    ----------
    crop : (H, W) uint8 ndarray
        Dark ink on a light ground.
    threshold : int, optional
        Its Otsu threshold (``vision.binarize.otsu_threshold``), when already known.

    Returns
    -------
    (ground, ink) or None
        None when the ink core is within four standard deviations of the ground's grey levels.

    Raises
    ------
    ValueError
        If ``crop`` is not a non-empty 2-D uint8 array.
    """
    _check_crop(crop)
    if threshold is None:
        threshold = otsu_threshold(crop)
    ground, ink, spread = ink_levels_kernel(np.ascontiguousarray(crop), int(threshold), _CORE_SHARE)
    if spread < 0 or ground - ink <= _MIN_SEPARATION * max(spread, 0.5):
        return None
    return ground, ink


def segment_characters(
    crop: npt.NDArray[np.uint8], *, px_per_mm: float, text_height_mm: float
) -> tuple[Box, ...]:
    """Boxes of the printed characters of a line crop, left to right (see ``segmentations``).

    Parameters
    ----------
    crop : (H, W) uint8 ndarray
        A line crop in the ``vision.ocr_types`` convention (upright, dark on light).
    px_per_mm : float
        Image scale.
    text_height_mm : float
        Cap height of the print.

    Returns
    -------
    tuple of (x, y, width, height)
        One box per character; word gaps have none, a flat crop gives none.

    Raises
    ------
    ValueError
        If ``crop`` is not a non-empty 2-D uint8 array, ``px_per_mm`` or ``text_height_mm`` is not
        positive, or the cap height is under 8 px or taller than the crop.
    """
    return segment_line(crop, px_per_mm=px_per_mm, text_height_mm=text_height_mm).boxes


def segment_line(crop: npt.NDArray[np.uint8], *, px_per_mm: float, text_height_mm: float) -> Segmentation:
    """The likelier segmentation of a line crop (the first of ``segmentations``).

    Raises
    ------
    ValueError
        As ``segment_characters``.
    """
    return segmentations(crop, px_per_mm=px_per_mm, text_height_mm=text_height_mm)[0]


def segmentations(
    crop: npt.NDArray[np.uint8], *, px_per_mm: float, text_height_mm: float
) -> tuple[Segmentation, ...]:
    """The plausible segmentations of a line crop, the likelier first.

    Otsu's threshold and the ink levels are measured; blobs under 0.3 % of the squared cap height
    are specks. The core ink (70 % of the way from ground to ink core) is searched for a grid of
    cells (advances 0.8 to 1.0 cap heights) whose boundary bands, 0.08 cap heights wide, hold
    the least of it. With at most 1.5 % of the core ink in the bands, the grid reading is
    plausible: each cell's ink at Otsu's threshold (blobs reaching half the ink's contrast) is a
    character. The solid reading is always made: core-ink blobs overlapping in x by half the
    narrower one are joined, and a blob wider than 1.2 cap heights is cut at its thinnest columns.
    The grid reading comes first when its bands hold at most 0.2 %.

    Parameters
    ----------
    crop : (H, W) uint8 ndarray
        A line crop in the ``vision.ocr_types`` convention (upright, dark on light).
    px_per_mm : float
        Image scale.
    text_height_mm : float
        Cap height of the print.

    Returns
    -------
    tuple of Segmentation
        One or two; a flat crop gives one with no boxes.

    Raises
    ------
    ValueError
        As ``segment_characters``.
    """
    return tuple(
        reading()
        for reading in segmentation_readings(crop, px_per_mm=px_per_mm, text_height_mm=text_height_mm)
    )


def segmentation_readings(
    crop: npt.NDArray[np.uint8], *, px_per_mm: float, text_height_mm: float
) -> tuple[Callable[[], Segmentation], ...]:
    """``segmentations``, each made only when called: a reader that keeps the first need not pay for
    the second.

    The crop is measured, its core ink labelled and the grid searched at once (they order the
    readings); the dot-matrix reading (a second labelling at Otsu's threshold and the cells) is
    made when called. Each callable returns the same ``Segmentation`` on every call.

    Raises
    ------
    ValueError
        As ``segment_characters``, at once.
    """
    _check_crop(crop)
    if not (isinstance(px_per_mm, int | float) and math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm is {px_per_mm!r}, expected a positive finite number")
    if not (isinstance(text_height_mm, int | float) and math.isfinite(text_height_mm) and text_height_mm > 0):
        raise ValueError(f"text_height_mm is {text_height_mm!r}, expected a positive finite number")
    cap = text_height_mm * px_per_mm
    if not 8 <= cap <= crop.shape[0]:
        raise ValueError(
            f"text_height_mm {text_height_mm} at px_per_mm {px_per_mm} is a cap height of {cap:.1f} px, "
            f"expected 8 px up to the crop's height {crop.shape[0]}"
        )
    threshold = otsu_threshold(crop)
    levels = ink_levels(crop, threshold=threshold)
    if levels is None:
        flat = Segmentation(boxes=(), advance=None, cells=None, levels=None)
        return (lambda: flat,)
    ground, ink = levels
    core_threshold = min(max(round(ground - _CORE_LEVEL * (ground - ink)), 0), threshold)
    labels, stats = label_components(binarize_otsu(crop, threshold=core_threshold))
    blobs, keep = kept_blobs_kernel(stats, _speck_area(cap))
    solid = Segmentation(boxes=_solid(blobs, labels, cap), advance=None, cells=None, levels=levels)
    otsu = binarize_otsu(crop, threshold=threshold)
    grid = _grid(*kept_profiles_kernel(labels, keep, otsu), cap)
    if grid is None:
        return (lambda: solid,)
    advance, phase, share = grid

    @functools.cache
    def dotted() -> Segmentation:
        otsu_labels, otsu_stats = label_components(otsu)
        # The blobs that are not specks and reach half the ink's contrast somewhere.
        first_row, last_row = drop_rows_kernel(
            otsu_labels,
            otsu_stats,
            np.ascontiguousarray(crop),
            _speck_area(cap),
            round(ground - _DROP_LEVEL * (ground - ink)),
        )
        return _dot_matrix(first_row, last_row, advance, phase, cap, levels)

    return (dotted, lambda: solid) if share <= _GRID_LIKELY else (lambda: solid, dotted)


def _check_crop(crop: npt.NDArray[np.uint8]) -> None:
    """Raise ValueError unless ``crop`` is a non-empty 2-D uint8 array."""
    if not isinstance(crop, np.ndarray) or crop.ndim != 2 or crop.dtype != np.uint8 or crop.size == 0:
        shape = getattr(crop, "shape", None)
        dtype = getattr(crop, "dtype", type(crop).__name__)
        raise ValueError(f"crop has shape {shape} and dtype {dtype}, expected non-empty 2-D uint8")


def _speck_area(cap: float) -> float:
    """The least area in px of a blob that is not a speck."""
    return max(2.0, _SPECK * cap * cap)


def _grid(
    profile: npt.NDArray[np.float64], otsu_profile: npt.NDArray[np.float64], cap: float
) -> tuple[float, float, float] | None:
    """(advance, phase, share) of the likeliest grid of cells, or None when none is plausible.

    ``profile`` is the core ink per column, ``otsu_profile`` the ink at Otsu's threshold;
    ``phase`` is the x of a cell centre modulo the advance, ``share`` the core ink in the
    boundary bands as a share of the line's.
    """
    columns = np.flatnonzero(profile)
    if columns.size == 0 or (columns[-1] - columns[0] + 1) < _GRID_MIN_CELLS * _GRID_ADVANCES[0] * cap:
        return None
    advances = _GRID_ADVANCES * cap
    ink, centres = grid_band_kernel(
        profile + _GRID_TIE * otsu_profile, advances, _GRID_BAND * cap, _GRID_STEP
    )
    best = int(np.argmin(ink))
    share = float(ink[best]) / float(profile.sum())
    if share > _GRID_PLAUSIBLE:
        return None
    advance = float(advances[best])
    return advance, (float(centres[best]) + advance / 2) % advance, share


def _dot_matrix(
    first_row: npt.NDArray[np.int64],
    last_row: npt.NDArray[np.int64],
    advance: float,
    phase: float,
    cap: float,
    levels: tuple[float, float],
) -> Segmentation:
    """One box per inked grid cell: the ink between the cell's boundaries.

    ``first_row`` and ``last_row`` are each column's first and last row of drop ink (the height
    and -1 where none). The band search places the grid to a tenth of a pixel per cell, which
    drifts by pixels over a long line; the middles of the wide glyphs' ink (a narrow one, a full
    stop or a colon, may sit off its cell's centre) refine advance and phase by least squares
    first. Ink reaching over a boundary (a drop bridged to its neighbour by blur) is cut there; a
    cell whose ink is only such a sliver, narrower than a drop, is not a character
    (``vision._ocr_kernels.dot_matrix_kernel``).
    """
    table, cells, advance = dot_matrix_kernel(first_row, last_row, advance, phase, _WIDE * cap, _SLIVER * cap)
    if cells.size == 0:
        return Segmentation(boxes=(), advance=advance, cells=(), levels=levels)
    boxes: tuple[Box, ...] = tuple(map(tuple, table.tolist()))
    return Segmentation(boxes=boxes, advance=advance, cells=tuple((cells - cells[0]).tolist()), levels=levels)


def _solid(blobs: npt.NDArray[np.int64], labels: npt.NDArray[np.int32], cap: float) -> tuple[Box, ...]:
    """Boxes of solid characters: blobs stacked in x joined, blobs too wide cut.

    A blob joins the group before it when they overlap in x by half the narrower
    (``vision._ocr_kernels.solid_groups_kernel``; a dot-matrix line's core ink is hundreds of drops).
    """
    groups, member_of = solid_groups_kernel(np.ascontiguousarray(blobs), _SOLID_OVERLAP)
    boxes: list[Box] = []
    for index, (left, top, right, bottom) in enumerate(groups.tolist()):
        box = (left, top, right - left, bottom - top)
        if right - left <= _SOLID_MAX_WIDTH * cap:
            boxes.append(box)
        else:
            boxes += _cut(box, labels, blobs[member_of == index, 5], cap)
    return tuple(boxes)


def _cut(box: Box, labels: npt.NDArray[np.int32], members: npt.NDArray[np.int64], cap: float) -> list[Box]:
    """Cut a blob too wide for one character at its thinnest columns near even splits."""
    x, y, w, h = box
    ink = np.isin(labels[y : y + h, x : x + w], members)
    profile = ink.sum(axis=0)
    pieces = max(2, round(w / (_SOLID_ADVANCE * cap)))
    step = w / pieces
    window = max(1, round(_CUT_WINDOW * step))
    cuts = [0]
    for k in range(1, pieces):
        low, high = max(cuts[-1] + 1, round(k * step) - window), min(w - 1, round(k * step) + window)
        if low < high:
            cuts.append(low + int(np.argmin(profile[low : high + 1])))
    cuts.append(w)
    boxes: list[Box] = []
    for start, stop in itertools.pairwise(cuts):
        rows = np.flatnonzero(ink[:, start:stop].any(axis=1))
        columns = np.flatnonzero(ink[:, start:stop].any(axis=0))
        if rows.size and columns.size:
            left = x + start + int(columns[0])
            boxes.append(
                (left, y + int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))
            )
    return boxes
