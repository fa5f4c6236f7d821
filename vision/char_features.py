"""Features of segmented characters: each glyph's ink resampled into a fixed grid, plus its geometry.

The ink is normalised to 0..1 between the ground and the ink's core, so contrast, ink density and
polarity do not matter; it is blurred by about a third of a drop pitch first, so a dot-matrix
stroke and a solid one give similar cells. Each glyph is framed vertically by the line's cap band
(fitted to the tall characters, so it follows a skewed line) and horizontally by its own box,
widened to half a cap height for narrow glyphs: a full stop stays a small blob at the bottom, a
hyphen a bar in the middle, an I a thin stem. Its width, height and offsets from the band in cap
heights are appended, which keeps what the frame normalises away.

Grid sampling is one numba call for all glyphs (``vision._ocr_kernels.glyph_grid_kernel``,
INTER_AREA in effect). It takes as long as a ``cv2.resize`` per glyph (``python -m bench.kernels``)
and also takes the fractional windows, reaching past the crop, that framing narrow glyphs and
glyphs at the crop's edge needs, which OpenCV would need a padded copy for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from vision._ocr_kernels import glyph_grid_kernel
from vision.segment import Box, ink_levels

__all__ = ["GRID_COLUMNS", "GRID_ROWS", "N_FEATURES", "char_features"]

GRID_ROWS = 12
GRID_COLUMNS = 9
N_FEATURES = GRID_ROWS * GRID_COLUMNS + 4
"""Grid cells, then width, height, top and bottom offset from the cap band, in cap heights."""

# Narrow glyphs are framed by a window this many cap heights wide, centred on them.
_MIN_WINDOW = 0.5
# Blur of the ink before sampling, in cap heights: a third of a 5 x 7 drop pitch.
_BLUR = 0.05
# Boxes at least this share of the tallest quarter's height are capitals or digits: they set the band.
_TALL = 0.8
# The line's skew is at most a few degrees; a steeper band fit is noise from too few characters.
_MAX_SLOPE = math.tan(math.radians(4.0))


def char_features(
    crop: npt.NDArray[np.uint8],
    boxes: Sequence[Box],
    *,
    levels: tuple[float, float] | None = None,
) -> npt.NDArray[np.float32]:
    """Feature vectors of the characters in ``boxes``.

    Parameters
    ----------
    crop : (H, W) uint8 ndarray
        A line crop in the ``vision.ocr_types`` convention (dark ink on a light ground).
    boxes : sequence of (x, y, width, height)
        Character boxes in crop pixels, as ``vision.segment.segment_characters`` returns them.
    levels : (ground, ink), optional
        The crop's grey levels (``vision.segment.ink_levels``), when already measured.

    Returns
    -------
    (n, N_FEATURES) float32 ndarray
        Per box: ``GRID_ROWS`` x ``GRID_COLUMNS`` mean ink (0..1, row-major), then width, height,
        top offset and bottom offset from the fitted cap band, in cap heights.

    Raises
    ------
    ValueError
        If ``crop`` is not a non-empty 2-D uint8 array, a box is not four integers with positive
        size inside the crop, or ``levels`` does not have the ground lighter than the ink.
    """
    if not isinstance(crop, np.ndarray) or crop.ndim != 2 or crop.dtype != np.uint8 or crop.size == 0:
        shape = getattr(crop, "shape", None)
        dtype = getattr(crop, "dtype", type(crop).__name__)
        raise ValueError(f"crop has shape {shape} and dtype {dtype}, expected non-empty 2-D uint8")
    table = _boxes(boxes, crop.shape)
    if table.shape[0] == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    if levels is None:
        levels = ink_levels(crop) or (float(crop.max()), float(crop.min()))
    ground, ink = levels
    if not ground > ink:
        raise ValueError(f"levels {levels} must have the ground lighter than the ink")
    x, y, w, h = (table[:, i].astype(np.float64) for i in range(4))
    top, bottom = _band(table, crop.shape[0])
    cap = np.maximum(bottom - top, 1.0)
    window_top = np.minimum(top, y)
    window_bottom = np.maximum(bottom, y + h)
    centre = x + w / 2
    half = np.maximum(w, _MIN_WINDOW * cap) / 2
    windows = np.column_stack([centre - half, window_top, centre + half, window_bottom])
    scale = np.float32(1.0 / (ground - ink))
    normalised = np.clip((np.float32(ground) - crop.astype(np.float32)) * scale, 0.0, 1.0)
    blurred = cv2.GaussianBlur(normalised, (0, 0), max(_BLUR * float(cap[0]), 0.3))
    grid = glyph_grid_kernel(np.ascontiguousarray(blurred, np.float32), windows, GRID_ROWS, GRID_COLUMNS)
    geometry = np.column_stack([w / cap, h / cap, (y - top) / cap, (y + h - bottom) / cap])
    return np.concatenate([grid.reshape(table.shape[0], -1), geometry.astype(np.float32)], axis=1)


def _boxes(boxes: Sequence[Box], shape: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """The boxes as an (n, 4) int array, checked to be inside an image of ``shape``."""
    table = np.asarray(boxes)
    if table.size == 0:
        return np.zeros((0, 4), np.int64)
    if table.ndim != 2 or table.shape[1] != 4 or not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"boxes has shape {table.shape} and dtype {table.dtype}, expected (n, 4) integers")
    table = table.astype(np.int64)
    x, y, w, h = table.T
    bad = (w <= 0) | (h <= 0) | (x < 0) | (y < 0) | (x + w > shape[1]) | (y + h > shape[0])
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(
            f"boxes[{index}] is {tuple(table[index])}, expected a positive size inside the {shape} crop"
        )
    return table


def _band(
    table: npt.NDArray[np.int64], height: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Top and bottom of the cap band at each box's centre: lines fitted to the tall boxes.

    Both lines share one slope (the line's skew), fitted to the tall boxes' middles; each line's
    offset is the median of the tall boxes' edges. Without tall boxes (a line of hyphens and stops)
    the band is the crop's middle, as tall as the tallest box or half the crop.
    """
    x = table[:, 0] + table[:, 2] / 2.0
    tops = table[:, 1].astype(np.float64)
    heights = table[:, 3]
    ordered = np.sort(heights)
    tall = heights >= _TALL * ordered[(3 * (ordered.size - 1)) // 4]
    if ordered[-1] < 0.5 * height:
        cap = max(float(ordered[-1]), 0.5 * height)
        return np.full(x.size, (height - cap) / 2), np.full(x.size, (height + cap) / 2)
    centred = x[tall] - x[tall].mean()
    slope = 0.0
    if centred.size >= 3 and centred.any():
        middles = tops[tall] + heights[tall] / 2
        slope = float(np.clip((centred @ middles) / (centred @ centred), -_MAX_SLOPE, _MAX_SLOPE))
    level = np.sort(tops[tall] - slope * centred)
    depth = np.sort(tops[tall] + heights[tall] - slope * centred)
    middle = (level.size - 1) / 2
    top = (level[math.floor(middle)] + level[math.ceil(middle)]) / 2
    bottom = (depth[math.floor(middle)] + depth[math.ceil(middle)]) / 2
    offset = slope * (x - x[tall].mean())
    return top + offset, bottom + offset
