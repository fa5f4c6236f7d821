"""Optical character verification: does the printed text say, legibly, what the job says it must?

Classical OCV as on a real line: the text region is found from the decoded DataMatrix (the printer
puts the text at a fixed place in the code's frame) and warped upright; every character is compared
with the taught font by normalised cross-correlation, and its residual against the taught glyph is
searched for a patch of missing or extra ink. A line scores as its worst character, so one missing,
smeared or wrong character fails the line; a blank cell after each line catches print running on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numba
import numpy as np
import numpy.typing as npt

from recipes.schema import PrintLayout
from vision.datamatrix import Corners
from vision.print_text import LineInk, line_origin_mm, render_line

__all__ = ["OcvResult", "verify_print"]

# Search radius for a whole line, in pixels (even: it is searched at half resolution first):
# absorbs the decoder's corner error (up to about half a module) and the printer's placement.
_LINE_SEARCH_PX = 6
# The half-resolution fit lands on an even offset, within a pixel of the best one; the
# full-resolution fit looks this far around it.
_REFINE_PX = 1
# Search radius for each character after its line is placed: absorbs the residual skew along a long
# line (0.3 degree over 50 mm is 2.6 px at 10 px/mm) and the font's sub-pixel advance.
_CELL_SEARCH_PX = 2
# Each character window reaches this far into its neighbours, so a character shifted or widened by
# a wrong glyph beside it still shows.
_CELL_OVERLAP_PX = 1
# Side of the square over which the residual is averaged: about a stroke's width at 10 px/mm, so a
# missing or extra stroke fills it while noise and the soft edges of good print average out.
_RESIDUAL_WINDOW_PX = 3
# The taught templates are softened like the optics soften the print (the middle of the blur
# range the simulator and a focused line camera show), which lifts the score of good print.
_TEMPLATE_BLUR_SIGMA = 0.8


@dataclass(frozen=True, slots=True)
class OcvResult:
    """The verdict of OCV on one unit's printed text."""

    ok: bool
    """Every line scored at least ``min_score``."""
    line_scores: tuple[float, ...]
    """Per layout line, the score of its worst character (1 = as taught; below 0 = nothing like it).

    A character scores the lower of its normalised correlation with the taught glyph and one minus
    its largest patch of missing or extra ink, in ink units (see ``verify_print``)."""
    failed_lines: tuple[int, ...]
    """Indices of the lines that scored below ``min_score``."""


def verify_print(
    image: npt.NDArray[np.uint8],
    *,
    corners: Corners,
    expected_lines: Sequence[str],
    layout: PrintLayout,
    px_per_mm: float,
    min_score: float,
) -> OcvResult:
    """Verify the printed text lines next to a decoded DataMatrix.

    Each line is found near where the layout puts it (±6 px), then each character near its place
    in the line (±2 px, refined to sub-pixel). A character scores the lower of two measures: its
    normalised correlation with the taught glyph, and 1 minus the largest 3 x 3 px mean of the
    residual (print minus glyph, in ink units after fitting contrast and level), which falls for a
    dropped or added stroke that correlation alone forgives (O for Q, 8 for B). After each line a
    character's width of bare carton is checked the same way.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        The frame; dark-on-light or light-on-dark print (the polarity is measured).
    corners : Corners
        The code's top-left, top-right, bottom-right, bottom-left in its own orientation, image px,
        as ``vision.datamatrix.CodeRead.corners``.
    expected_lines : sequence of str
        What each layout line must say (``vision.print_text.print_lines`` of the expected data).
    layout : PrintLayout
        Where the lines are relative to the code and which font they are in.
    px_per_mm : float
        Image scale of the print plane.
    min_score : float
        Lowest score a character may have for its line to pass (recipe ``Inspection.ocv_min_score``).

    Returns
    -------
    OcvResult

    Raises
    ------
    ValueError
        If the image is not 2-D uint8, ``expected_lines`` does not have one entry per layout line,
        or the corners do not span a symbol.
    """
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image has shape {image.shape} and dtype {image.dtype}, expected 2-D uint8")
    if len(expected_lines) != len(layout.lines):
        raise ValueError(f"{len(expected_lines)} expected lines given, the layout prints {len(layout.lines)}")
    inks = [render_line(text, layout, px_per_mm=px_per_mm) for text in expected_lines]
    templates = [_taught(text, layout, px_per_mm) for text in expected_lines]
    # Expected top-left of each line's template, in pixels of the code frame from its top-right corner.
    places = []
    for index, ink in enumerate(inks):
        x_mm, y_mm = line_origin_mm(layout, index)
        places.append((round(x_mm * px_per_mm) - ink.anchor[0], round(y_mm * px_per_mm) - ink.anchor[1]))
    # Room for every search stage, plus one pixel lost to halving an odd coordinate.
    margin = _LINE_SEARCH_PX + 1 + _REFINE_PX + _CELL_SEARCH_PX + 1
    left = min(x for x, _ in places) - margin
    top = min(y for _, y in places) - margin
    right = max(x + t.shape[1] for (x, _), t in zip(places, templates, strict=True)) + margin
    bottom = max(y + t.shape[0] for (_, y), t in zip(places, templates, strict=True)) + margin
    crop = _upright_crop(image, corners, origin=(left, top), size=(right - left, bottom - top))
    starts = [(x - left, y - top) for x, y in places]

    # Coarse fit of each whole line at half resolution. Correlations are signed: dark ink
    # anti-correlates with the taught (bright) ink, so the same fits tell the polarity, decided once
    # for the whole print so that one smeared or wrong line cannot flip it.
    half = _halve(crop)
    coarse = []
    for (x, y), template in zip(starts, templates, strict=True):
        small = _halve(template)
        coarse.append(_correlations(half, x // 2, y // 2, _whole(small), small, _LINE_SEARCH_PX // 2)[0])
    dark_ink = sum(-float(fit.min()) for fit in coarse) > sum(float(fit.max()) for fit in coarse)
    if dark_ink:
        crop = np.float32(255.0) - crop
        coarse = [-fit for fit in coarse]

    scores = []
    for (x, y), fit, template, ink, text in zip(starts, coarse, templates, inks, expected_lines, strict=True):
        x, y = _shifted(fit, x // 2 * 2, y // 2 * 2, step=2)
        fine = _correlations(crop, x, y, _whole(template), template, _REFINE_PX)[0]
        x, y = _shifted(fine, x, y, step=1)
        scores.append(_line_score(crop, (x, y), template, ink, text))
    failed = tuple(i for i, score in enumerate(scores) if not score >= min_score)
    return OcvResult(ok=not failed, line_scores=tuple(scores), failed_lines=failed)


# GTIN, lot and expiry lines repeat from unit to unit, so each is taught once; the template is
# immutable, so sharing it is safe.
@functools.lru_cache(maxsize=256)
def _taught(text: str, layout: PrintLayout, px_per_mm: float) -> npt.NDArray[np.float32]:
    """The OCV template of a line: its ink softened like the optics do, then a blank tail.

    The tail, a character's width of bare carton, makes print that runs on past the expected
    text (a longer lot, a stray digit) show, not just the expected characters.
    """
    ink = render_line(text, layout, px_per_mm=px_per_mm).ink
    tail = round(layout.text_height_mm * px_per_mm)
    template = np.zeros((ink.shape[0], ink.shape[1] + tail), np.float32)
    template[:, : ink.shape[1]] = cv2.GaussianBlur(ink, (0, 0), _TEMPLATE_BLUR_SIGMA)
    template.setflags(write=False)
    return template


def _halve(image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mean of each 2x2 block (a trailing odd row or column is dropped)."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    # INTER_AREA at exactly half size is the 2x2 block mean, so half-resolution pixel k covers
    # full-resolution pixels 2k and 2k + 1 in both the crop and the template.
    return cv2.resize(image[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA).astype(
        np.float32, copy=False
    )


def _whole(template: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The column span of a whole template, as the one cell of ``_correlations``."""
    return np.zeros(1, np.int64), np.full(1, template.shape[1], np.int64)


def _shifted(fit: npt.NDArray[np.float32], x: int, y: int, *, step: int) -> tuple[int, int]:
    """Move (x, y) by the best shift of a correlation map searched ±radius around it, in ``step`` px."""
    radius = fit.shape[0] // 2
    row, column = np.unravel_index(int(np.argmax(fit)), fit.shape)
    return x + step * (int(column) - radius), y + step * (int(row) - radius)


def _upright_crop(
    image: npt.NDArray[np.uint8], corners: Corners, *, origin: tuple[int, int], size: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """The region ``origin`` + ``size`` of the code frame (px from its top-right corner), warped upright."""
    points = np.asarray(corners, dtype=np.float64)
    tl, tr, br, bl = points
    # Both pairs of edges vote for the code's axes and all four corners for its top-right, so one
    # corner placed off by the decoder moves the text region by a quarter as much.
    along = (tr - tl) + (br - bl)
    down = (bl - tl) + (br - tr)
    if min(np.linalg.norm(along), np.linalg.norm(down)) < 1.0:
        raise ValueError(f"corners {corners} do not span a symbol")
    x_axis = along / np.linalg.norm(along) + np.array([down[1], -down[0]]) / np.linalg.norm(down)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    side = (np.linalg.norm(along) + np.linalg.norm(down)) / 4
    top_right = points.mean(axis=0) + (x_axis - y_axis) * side / 2
    start = top_right + x_axis * origin[0] + y_axis * origin[1]
    # Crop pixel (u, v) samples image point start + u * x_axis + v * y_axis.
    matrix = np.array([[x_axis[0], y_axis[0], start[0]], [x_axis[1], y_axis[1], start[1]]])
    crop = cv2.warpAffine(
        image, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return crop.astype(np.float32)


def _line_score(
    crop: npt.NDArray[np.float32],
    at: tuple[int, int],
    template: npt.NDArray[np.float32],
    ink: LineInk,
    text: str,
) -> float:
    """The worst character of a line whose template fits best with its top-left at ``at`` in ``crop``.

    The blank tail after the text (``template`` columns beyond ``ink``) is scored as one more cell.
    """
    cells = [
        (max(start - _CELL_OVERLAP_PX, 0), stop + _CELL_OVERLAP_PX)
        for char, (start, stop) in zip(text, ink.cells, strict=True)
        if char != " "
    ]
    cells.append((ink.ink.shape[1], template.shape[1]))
    starts = np.array([start for start, _ in cells], np.int64)
    stops = np.array([stop for _, stop in cells], np.int64)
    fits = _correlations(crop, at[0], at[1], (starts, stops), template, _CELL_SEARCH_PX)
    # The kernel reads one pixel beyond each shifted window for its bilinear samples; the crop's
    # margin has room for it (see verify_print).
    scores = _character_scores_kernel(
        crop, at[0], at[1], template, starts, stops, fits, _CELL_SEARCH_PX, _RESIDUAL_WINDOW_PX
    )
    return float(scores.min())


def _correlations(
    crop: npt.NDArray[np.float32],
    at_x: int,
    at_y: int,
    cells: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    template: npt.NDArray[np.float32],
    radius: int,
) -> npt.NDArray[np.float32]:
    """Normalised correlation of column spans of ``template`` placed at (at_x, at_y) ± radius in ``crop``.

    Returns (cells, 2 radius + 1, 2 radius + 1): element [c, i, j] is cell c shifted by
    (dy, dx) = (i, j) - radius. Flat windows or flat templates score 0 (nothing to compare).
    """
    starts, stops = cells
    height, width = template.shape
    # The kernel reads without bounds checks; this is the check.
    if not (
        at_x - radius >= 0
        and at_y - radius >= 0
        and at_x + width + radius <= crop.shape[1]
        and at_y + height + radius <= crop.shape[0]
    ):
        raise AssertionError(f"search window at ({at_x}, {at_y}) ±{radius} leaves the {crop.shape} crop")
    return _correlations_kernel(
        np.ascontiguousarray(crop), at_x, at_y, np.ascontiguousarray(template), starts, stops, radius
    )


# cv2.matchTemplate costs about 0.1 ms per call whatever the size (it sets up a DFT), which is
# 5 ms for the ~50 characters of a print. This kernel scores all characters of a line together:
# per shift it correlates the whole line row by row (long loops that vectorise) and then splits the
# column sums into characters, so one line takes a few hundred microseconds.
@numba.njit(cache=True, nogil=True, fastmath=True)
def _correlations_kernel(
    crop: npt.NDArray[np.float32],
    at_x: int,
    at_y: int,
    template: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    radius: int,
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    height, width = template.shape
    span = width + 2 * radius
    # Per-column sums of the template, as prefix sums, give each cell's mean and variance.
    t_prefix = np.zeros(width + 1)
    t_sq_prefix = np.zeros(width + 1)
    for x in range(width):
        total = 0.0
        squares = 0.0
        for y in range(height):
            total += template[y, x]
            squares += template[y, x] * template[y, x]
        t_prefix[x + 1] = t_prefix[x] + total
        t_sq_prefix[x + 1] = t_sq_prefix[x] + squares
    shifts = 2 * radius + 1
    fits = np.zeros((starts.size, shifts, shifts), np.float32)
    i_columns = np.zeros(span, np.float32)
    i_sq_columns = np.zeros(span, np.float32)
    i_prefix = np.zeros(span + 1)
    i_sq_prefix = np.zeros(span + 1)
    cross = np.zeros(width, np.float32)
    c_prefix = np.zeros(width + 1)
    for i in range(shifts):
        top = at_y + i - radius
        left = at_x - radius
        # Column sums of the image over this band of rows serve every horizontal shift.
        i_columns[:] = 0.0
        i_sq_columns[:] = 0.0
        for y in range(height):
            # Row slices keep the inner index provably non-negative, so the loops vectorise.
            row = crop[top + y, left : left + span]
            for x in range(span):
                i_columns[x] += row[x]
                i_sq_columns[x] += row[x] * row[x]
        for x in range(span):
            i_prefix[x + 1] = i_prefix[x] + i_columns[x]
            i_sq_prefix[x + 1] = i_sq_prefix[x] + i_sq_columns[x]
        for j in range(shifts):
            cross[:] = 0.0
            for y in range(height):
                row = crop[top + y, left + j : left + j + width]
                taught = template[y]
                for x in range(width):
                    cross[x] += row[x] * taught[x]
            for x in range(width):
                c_prefix[x + 1] = c_prefix[x] + cross[x]
            for cell in range(starts.size):
                a, b = starts[cell], stops[cell]
                count = height * (b - a)
                t_sum = t_prefix[b] - t_prefix[a]
                t_var = t_sq_prefix[b] - t_sq_prefix[a] - t_sum * t_sum / count
                i_sum = i_prefix[b + j] - i_prefix[a + j]
                i_var = i_sq_prefix[b + j] - i_sq_prefix[a + j] - i_sum * i_sum / count
                spread = i_var * t_var
                if spread > 1e-6:
                    fits[cell, i, j] = (c_prefix[b] - c_prefix[a] - i_sum * t_sum / count) / math.sqrt(spread)
    return fits


@numba.njit(cache=True, nogil=True, fastmath=True)
def _character_scores_kernel(
    crop: npt.NDArray[np.float32],
    at_x: int,
    at_y: int,
    template: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    fits: npt.NDArray[np.float32],
    radius: int,
    window: int,
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    """Each character's score: the lower of its best correlation and 1 - its worst ink residual.

    The residual is the print minus the taught glyph, both in ink units after a least-squares
    fit of contrast and level, averaged over ``window`` x ``window`` px; its largest magnitude is the
    biggest patch of missing or extra ink (a smear, a dropped stroke, Q's tail on an O). A blank cell
    (flat template) has no glyph to correlate or fit: it takes the whole line's contrast and level
    and scores 1 - its worst residual, so any ink on it fails.
    """
    height, full_width = template.shape
    last = 2 * radius
    # Contrast and level of the whole line where it fits best, for the blank cells.
    i_sum = 0.0
    t_sum = 0.0
    cross = 0.0
    t_sq = 0.0
    for y in range(height):
        row = crop[at_y + y, at_x : at_x + full_width]
        taught = template[y]
        for x in range(full_width):
            i_sum += row[x]
            t_sum += taught[x]
            cross += row[x] * taught[x]
            t_sq += taught[x] * taught[x]
    count = height * full_width
    line_t_var = t_sq - t_sum * t_sum / count
    line_gain = (cross - i_sum * t_sum / count) / line_t_var if line_t_var > 1e-6 else 0.0
    line_level = (i_sum - line_gain * t_sum) / count

    scores = np.empty(starts.size, np.float32)
    seen = np.empty((height, full_width), np.float32)
    for cell in range(starts.size):
        a, b = starts[cell], stops[cell]
        width = b - a
        count = height * width
        t_sum = 0.0
        t_sq = 0.0
        for y in range(height):
            for x in range(a, b):
                t_sum += template[y, x]
                t_sq += template[y, x] * template[y, x]
        blank = t_sq - t_sum * t_sum / count <= 1e-6 * count
        # Best shift, refined to sub-pixel by a parabola through the peak and its neighbours:
        # without it, the edges of a half-pixel offset would read as missing ink. A blank cell
        # stays where the line put it.
        best_i, best_j = radius, radius
        if not blank:
            for i in range(last + 1):
                for j in range(last + 1):
                    if fits[cell, i, j] > fits[cell, best_i, best_j]:
                        best_i, best_j = i, j
        peak = fits[cell, best_i, best_j] if not blank else 1.0
        top = float(at_y + best_i - radius)
        left = float(at_x + best_j - radius + a)
        if not blank and 0 < best_i < last:
            top += _vertex(fits[cell, best_i - 1, best_j], peak, fits[cell, best_i + 1, best_j])
        if not blank and 0 < best_j < last:
            left += _vertex(fits[cell, best_i, best_j - 1], peak, fits[cell, best_i, best_j + 1])
        y0 = math.floor(top)
        x0 = math.floor(left)
        fy = np.float32(top - y0)
        fx = np.float32(left - x0)
        # The print resampled (bilinear) at that position, with its sums for the fit.
        i_sum = 0.0
        t_sum = 0.0
        for y in range(height):
            upper = crop[y0 + y, x0 : x0 + width + 1]
            lower = crop[y0 + y + 1, x0 : x0 + width + 1]
            taught = template[y, a:b]
            for x in range(width):
                value = (1 - fy) * ((1 - fx) * upper[x] + fx * upper[x + 1]) + fy * (
                    (1 - fx) * lower[x] + fx * lower[x + 1]
                )
                seen[y, x] = value
                i_sum += value
                t_sum += taught[x]
        i_mean = i_sum / count
        t_mean = t_sum / count
        cov = 0.0
        t_var = 0.0
        for y in range(height):
            taught = template[y, a:b]
            for x in range(width):
                t = taught[x] - t_mean
                cov += (seen[y, x] - i_mean) * t
                t_var += t * t
        if blank:
            gain, i_mean, t_mean = line_gain, line_level, 0.0
        else:
            gain = cov / t_var
        if gain <= 1e-3:
            # Nothing like the glyph there, or inverted: a missing character.
            scores[cell] = -1.0
            continue
        # Residual in ink units, summed over window x window boxes: rows first, then columns.
        boxes = np.zeros((height, width - window + 1), np.float32)
        for y in range(height):
            taught = template[y, a:b]
            running = 0.0
            for x in range(width):
                running += (seen[y, x] - i_mean) / gain - (taught[x] - t_mean)
                if x >= window:
                    running -= (seen[y, x - window] - i_mean) / gain - (taught[x - window] - t_mean)
                if x >= window - 1:
                    boxes[y, x - window + 1] = running
        largest = 0.0
        for y in range(height - window + 1):
            for x in range(width - window + 1):
                total = 0.0
                for k in range(window):
                    total += boxes[y + k, x]
                largest = max(largest, abs(total))
        scores[cell] = min(peak, 1.0 - largest / (window * window))
    return scores


@numba.njit(cache=True, nogil=True)
def _vertex(before: float, peak: float, after: float) -> float:  # pragma: no cover - compiled
    """Offset (-0.5..0.5) of the vertex of the parabola through three samples around a peak."""
    curve = before - 2 * peak + after
    if curve >= 0:
        return 0.0
    return min(max((before - after) / (2 * curve), -0.5), 0.5)
