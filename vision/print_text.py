"""The printer's job spec for the human-readable text: which lines, in which font, where next to the code.

The simulated printer draws exactly this and the node's OCV is taught with it, as a real line's
printer and OCV tool share one layout.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from recipes.schema import PRINT_FIELDS, PrintLayout

__all__ = ["LineInk", "expiry_date", "line_origin_mm", "print_lines", "render_line"]

_FONTS = {
    "hershey_simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "hershey_duplex": cv2.FONT_HERSHEY_DUPLEX,
    "hershey_plain": cv2.FONT_HERSHEY_PLAIN,
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
    """(h, w) ink coverage, 0 = bare carton, 1 = full ink; read-only (it is cached)."""
    anchor: tuple[int, int]
    """(x, y) pixel of ``ink`` that sits on the line's origin (see ``line_origin_mm``)."""
    cells: tuple[tuple[int, int], ...]
    """Column span [start, stop) in ``ink`` of each character of the text, spaces included."""


# Lines repeat from unit to unit (GTIN, lot, expiry), so drawing each once per process pays off in
# both the simulator and the OCV; the result is immutable, so sharing it is safe.
@functools.lru_cache(maxsize=256)
def render_line(text: str, layout: PrintLayout, *, px_per_mm: float) -> LineInk:
    """Draw one text line with the layout's font, capital height ``layout.text_height_mm``.

    Parameters
    ----------
    text : str
        The line, printable ASCII.
    layout : PrintLayout
        Font, text height and stroke.
    px_per_mm : float
        Image scale.

    Returns
    -------
    LineInk
        The anti-aliased ink with a margin of a few pixels on every side.
    """
    font = _FONTS[layout.font]
    thickness = max(1, round(layout.stroke_mm * px_per_mm))
    cap_px = layout.text_height_mm * px_per_mm
    scale = cap_px / _cap_height_at_unit_scale(font, thickness)
    (width, _), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = thickness + 2
    cap_rows = round(cap_px)
    canvas = np.zeros((pad + cap_rows + baseline + pad, pad + width + pad), np.uint8)
    cv2.putText(canvas, text, (pad, pad + cap_rows), font, scale, 255, thickness, cv2.LINE_AA)
    ink = canvas.astype(np.float32) / np.float32(255.0)
    ink.setflags(write=False)
    edges = [pad + cv2.getTextSize(text[:i], font, scale, thickness)[0][0] for i in range(len(text) + 1)]
    return LineInk(ink=ink, anchor=(pad, pad), cells=tuple(itertools.pairwise(edges)))


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
