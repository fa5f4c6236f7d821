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

from vision._ocr_kernels import glyph_frames_kernel, glyph_grid_kernel
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
    windows, geometry, cap = glyph_frames_kernel(table, crop.shape[0], _TALL, _MAX_SLOPE, _MIN_WINDOW)
    blurred = cv2.GaussianBlur(_normalised(crop, ground, ink), (0, 0), max(_BLUR * cap, 0.3))
    grid = glyph_grid_kernel(np.ascontiguousarray(blurred, np.float32), windows, GRID_ROWS, GRID_COLUMNS)
    features = np.empty((table.shape[0], N_FEATURES), np.float32)
    features[:, : GRID_ROWS * GRID_COLUMNS] = grid.reshape(table.shape[0], -1)
    features[:, GRID_ROWS * GRID_COLUMNS :] = geometry
    return features


def _normalised(crop: npt.NDArray[np.uint8], ground: float, ink: float) -> npt.NDArray[np.float32]:
    """The crop's ink, 0 at the ground's grey to 1 at the ink's and clipped there, by a table of
    the 256 grey levels."""
    scale = np.float32(1.0 / (ground - ink))
    table = np.clip((np.float32(ground) - np.arange(256, dtype=np.float32)) * scale, 0.0, 1.0)
    return np.asarray(cv2.LUT(crop, table), np.float32)


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
