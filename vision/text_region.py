"""Cut the printed text lines out of a frame as upright line crops, anchored on the decoded code.

The printer puts each line at a fixed place in the code's own frame (``vision.print_text``), so the
code's corners give every line's place, rotation and (with the recipe's scale) size. Each line is
one ``cv2.warpAffine`` of just its region, and the crops follow ``vision.ocr_types``'s convention:
upright, dark ink on light, the cap box plus margins, reaching a few advances past the expected
text. The expected text sets only the width of the crop, never what is read in it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from recipes.schema import PrintLayout
from vision.datamatrix import Corners
from vision.ocr_types import LINE_EXTRA_CHARS, LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM
from vision.print_text import line_origin_mm, render_line

__all__ = ["CodeFrame", "code_frame", "extract_lines", "line_region"]

# Every character a layout line prints in practice (GS1 data in capitals, labels, dates); the
# advance table is drawn from one line of them.
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-./: "


@dataclass(frozen=True, slots=True)
class CodeFrame:
    """The code's own frame in image pixels: its top-right corner and unit axes."""

    top_right: tuple[float, float]
    """Image point of the code's top-right corner (its own orientation)."""
    x_axis: tuple[float, float]
    """Unit vector along the code's top edge, left to right."""
    y_axis: tuple[float, float]
    """Unit vector down the code's left edge (x_axis turned a quarter clockwise on screen)."""


def code_frame(corners: Corners) -> CodeFrame:
    """The code's frame from its four corners (top-left, top-right, bottom-right, bottom-left).

    Both pairs of edges vote for the axes and all four corners for the top-right corner, so one
    corner placed off by the decoder moves the frame by a quarter as much.

    Raises
    ------
    ValueError
        If ``corners`` is not four finite (x, y) points spanning at least a pixel each way.
    """
    points = np.asarray(corners, dtype=np.float64)
    if points.shape != (4, 2) or not np.isfinite(points).all():
        raise ValueError(f"corners is {corners!r}, expected four finite (x, y) points")
    tl, tr, br, bl = points
    along = (tr - tl) + (br - bl)
    down = (bl - tl) + (br - tr)
    if min(np.linalg.norm(along), np.linalg.norm(down)) < 1.0:
        raise ValueError(f"corners {corners} do not span a symbol")
    x_axis = along / np.linalg.norm(along) + np.array([down[1], -down[0]]) / np.linalg.norm(down)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    side = (np.linalg.norm(along) + np.linalg.norm(down)) / 4
    top_right = points.mean(axis=0) + (x_axis - y_axis) * side / 2
    return CodeFrame(
        top_right=(float(top_right[0]), float(top_right[1])),
        x_axis=(float(x_axis[0]), float(x_axis[1])),
        y_axis=(float(y_axis[0]), float(y_axis[1])),
    )


def line_region(text: str, layout: PrintLayout, index: int, *, px_per_mm: float) -> tuple[int, int, int, int]:
    """The line crop of layout line ``index`` saying ``text``, in px of the code frame.

    The region is ``vision.print_text.line_crop_box`` of the line placed at its origin, with the
    line's width summed from a per-character advance table (drawing the line itself costs
    milliseconds for a dot-matrix font; the table is drawn once per layout and scale).

    Returns
    -------
    (x, y, width, height)
        Top-left and size in px, x along the code's top edge from its top-right corner, y down.
    """
    lead, advances = _advances(layout, px_per_mm)
    if all(char in advances for char in text):
        width = sum(advances[char] for char in text)
    else:  # a character outside the table (a solid font prints any ASCII): draw the line
        line = render_line(text, layout, px_per_mm=px_per_mm)
        width = line.cells[-1][1] - line.cells[0][0]
    x_mm, y_mm = line_origin_mm(layout, index)
    margin_x = round(LINE_MARGIN_X_MM * px_per_mm)
    margin_y = round(LINE_MARGIN_Y_MM * px_per_mm)
    left = round(x_mm * px_per_mm) - margin_x
    top = round(y_mm * px_per_mm) - margin_y
    right = round(x_mm * px_per_mm) + lead + width + round(LINE_EXTRA_CHARS * width / max(len(text), 1))
    return left, top, right - left, round(layout.text_height_mm * px_per_mm) + 2 * margin_y


def extract_lines(
    image: npt.NDArray[np.uint8],
    *,
    corners: Corners,
    layout: PrintLayout,
    expected_lines: Sequence[str],
    px_per_mm: float,
    extra_rows: int = 0,
) -> tuple[npt.NDArray[np.uint8], ...]:
    """Cut one upright, dark-on-light line crop per layout line out of a frame.

    Each crop is one bilinear ``cv2.warpAffine`` of the line's region (``line_region``) in the code's
    frame (``code_frame``); pixels beyond the frame repeat its edge. The polarity is decided once for
    the whole print: a line crop is mostly bare carton, so the side of Otsu's threshold that holds
    most pixels of all crops together is the ground, and the crops are inverted when it is the dark
    side (a laser mark on a dark coating). One smeared line cannot flip it for the others.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        The frame.
    corners : Corners
        The code's top-left, top-right, bottom-right, bottom-left in its own orientation, image
        px, as ``vision.datamatrix.CodeRead.corners``.
    layout : PrintLayout
        Where the lines are relative to the code, and their font and size.
    expected_lines : sequence of str
        What each layout line should say (``vision.print_text.print_lines``): sets each crop's width.
    px_per_mm : float
        Image scale of the print plane (``Inspection.px_per_mm``).
    extra_rows : int, optional
        Rows added above and below each crop (the print's completeness is checked on a taller
        crop, so that a skewed line's end is not cut). ``crop[extra_rows:-extra_rows]`` is then
        exactly the crop of the convention, polarity included.

    Returns
    -------
    tuple of (h + 2 * extra_rows, w_i) uint8 ndarray
        One crop per layout line, in layout order (``vision.ocr_types`` convention).

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty 2-D uint8 array, ``corners`` are not four finite points
        spanning a symbol, ``expected_lines`` does not hold one non-empty string per layout line,
        ``px_per_mm`` is not positive and finite, or ``extra_rows`` is negative.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image has shape {shape} and dtype {dtype}, expected non-empty 2-D uint8")
    if not (isinstance(px_per_mm, int | float) and math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm is {px_per_mm!r}, expected a positive finite number")
    if isinstance(expected_lines, str) or len(expected_lines) != len(layout.lines):
        raise ValueError(
            f"expected_lines has {len(expected_lines)} entries, the layout prints {len(layout.lines)} lines"
        )
    for index, text in enumerate(expected_lines):
        if not isinstance(text, str) or not text:
            raise ValueError(f"expected_lines[{index}] is {text!r}, expected a non-empty string")
    if not isinstance(extra_rows, int) or extra_rows < 0:
        raise ValueError(f"extra_rows is {extra_rows!r}, expected an int of 0 or more")
    frame = code_frame(corners)
    x_axis, y_axis = np.array(frame.x_axis), np.array(frame.y_axis)
    crops = []
    for index, text in enumerate(expected_lines):
        left, top, width, height = line_region(text, layout, index, px_per_mm=px_per_mm)
        top, height = top - extra_rows, height + 2 * extra_rows
        start = np.array(frame.top_right) + x_axis * left + y_axis * top
        # Crop pixel (u, v) samples image point start + u * x_axis + v * y_axis.
        matrix = np.array([[x_axis[0], y_axis[0], start[0]], [x_axis[1], y_axis[1], start[1]]])
        crops.append(
            cv2.warpAffine(
                image,
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    light = 0
    total = 0
    for crop in crops:
        core = crop[extra_rows : crop.shape[0] - extra_rows]
        threshold, _ = cv2.threshold(core, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        light += int(np.count_nonzero(core > threshold))
        total += core.size
    if 2 * light < total:
        crops = [cv2.bitwise_not(crop) for crop in crops]
    return tuple(np.asarray(crop, np.uint8) for crop in crops)


@functools.lru_cache(maxsize=64)
def _advances(layout: PrintLayout, px_per_mm: float) -> tuple[int, dict[str, int]]:
    """(lead, advances): where the first cell starts relative to the line's origin, and each
    character's cell width, from one drawn line of ``_ALPHABET`` (read-only use: it is cached)."""
    line = render_line(_ALPHABET, layout, px_per_mm=px_per_mm)
    advances = {char: stop - start for char, (start, stop) in zip(_ALPHABET, line.cells, strict=True)}
    return line.cells[0][0] - line.anchor[0], advances
