"""The simulated inspection camera: renders the frame a line camera would take of one printed unit.

A frame shows a carton surface with a GS1 DataMatrix and the human-readable lines beside it, with the
look variation of a real line and the camera-visible defects (no code, damaged code, smudged text).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from recipes.schema import PrintLayout
from simulator.units import Appearance, Defect, Unit
from vision.gs1 import to_bracketed
from vision.print_text import LineInk, line_origin_mm, print_lines, render_line

__all__ = ["FRAME_SHAPE", "MAX_ROTATION_DEG", "render_unit", "sample_appearance"]

FRAME_SHAPE = (1024, 1280)
"""(height, width) of every frame: a 1.3 MP mono area-scan camera, the common choice on carton lines."""

MAX_ROTATION_DEG = 10.0
"""Largest print skew sampled: cartons run against a guide rail, so a few degrees is normal and
10 degrees is a badly seated carton that must still be read."""

# Dot gain: each dark module grows by this fraction of a module on every edge (8 % wider), a
# TIJ or laser print that is in specification.
_DOT_GAIN = 0.04
_QUIET_MODULES = 2
# Pools of pre-drawn texture and sensor noise; each frame views a random window into them, which
# costs nothing, instead of drawing 1.3 million normals per frame (about 25 ms alone).
_POOL_MARGIN = 192
_POOL_SEED = 20240501


@dataclass(frozen=True, slots=True)
class _Surface:
    """Per-frame carton and illumination draws, made before any defect draw (see render_unit)."""

    level: float  # carton grey level at nominal illumination
    ink_level: float  # grey level of full ink
    texture_gain: float  # grey levels per unit of the texture pool
    texture_window: tuple[int, int]
    noise_window: tuple[int, int]
    illumination: npt.NDArray[np.float32]  # 3x3 relative gain grid, bilinearly spread over the frame


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Draw how the camera sees one unit on a line that runs in specification.

    Ranges: module 3.5..6 px, rotation ±MAX_ROTATION_DEG, offset ±80 px across and ±60 px along
    the image, blur sigma 0.3..1.2 px, sensor noise sigma 1..6 grey levels, contrast 0.55..1.0,
    and one unit in ten laser-marked (light on a dark coated carton).
    """
    return Appearance(
        module_px=float(rng.uniform(3.5, 6.0)),
        rotation_deg=float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)),
        offset_px=(float(rng.uniform(-80.0, 80.0)), float(rng.uniform(-60.0, 60.0))),
        blur_sigma=float(rng.uniform(0.3, 1.2)),
        noise_sigma=float(rng.uniform(1.0, 6.0)),
        contrast=float(rng.uniform(0.55, 1.0)),
        light_on_dark=bool(rng.random() < 0.1),
    )


def render_unit(
    unit: Unit, layout: PrintLayout, *, px_per_mm: float, rng: np.random.Generator
) -> npt.NDArray[np.uint8]:
    """Render the camera frame of one unit.

    The print (code and text) is drawn in the code's own frame, blurred, then rotated by
    ``unit.appearance.rotation_deg`` (counter-clockwise on screen) about its centre and placed at the
    frame centre plus ``offset_px``. All random draws for the surface come before those for a defect,
    so the same ``rng`` state renders the same frame with and without the defect.

    Parameters
    ----------
    unit : Unit
        Data, appearance and defect. WRONG_LOT, WRONG_EXPIRY, DUPLICATE_SERIAL and
        SERIAL_NOT_ISSUED are already in the unit's data and render as a normal print.
    layout : PrintLayout
        The printer's text layout.
    px_per_mm : float
        Image scale of the print plane (the recipe's ``Inspection.px_per_mm``).
    rng : numpy.random.Generator
        Source of the frame's randomness.

    Returns
    -------
    (1024, 1280) uint8 ndarray
        The mono frame.
    """
    look = unit.appearance
    surface = _draw_surface(look, rng)
    modules = _module_matrix(unit)
    lines = print_lines(
        layout, gtin=unit.gtin, serial=unit.serial, lot=unit.lot, expiry_yymmdd=unit.expiry_yymmdd
    )
    code = None
    if unit.defect is not Defect.NO_CODE:
        code = _code_ink(
            modules, look.module_px, damage_rng=rng if unit.defect is Defect.DAMAGED_CODE else None
        )
    module = _module_px(modules.shape[0], look.module_px)
    ink, placed = _print_ink(
        code, modules.shape[0] * module, _QUIET_MODULES * module, lines, layout, px_per_mm
    )
    if unit.defect is Defect.SMUDGED_PRINT:
        _smudge(ink, placed, lines, rng)
    if look.blur_sigma > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), look.blur_sigma).astype(np.float32, copy=False)
    return _compose(ink, look, surface)


def _draw_surface(look: Appearance, rng: np.random.Generator) -> _Surface:
    """The carton's grey level, the ink's, and where this frame's texture and noise come from."""
    if look.light_on_dark:
        # A dark coated carton with a laser mark that bleaches the coating.
        level = float(rng.uniform(35.0, 60.0))
        ink_level = level + look.contrast * (235.0 - level)
    else:
        level = float(rng.uniform(175.0, 215.0))
        ink_level = level - look.contrast * (level - 22.0)
    return _Surface(
        level=level,
        ink_level=ink_level,
        texture_gain=float(rng.uniform(1.5, 4.0)),
        texture_window=(int(rng.integers(_POOL_MARGIN)), int(rng.integers(_POOL_MARGIN))),
        noise_window=(int(rng.integers(_POOL_MARGIN)), int(rng.integers(_POOL_MARGIN))),
        illumination=rng.uniform(0.9, 1.06, size=(3, 3)).astype(np.float32),
    )


def _module_matrix(unit: Unit) -> npt.NDArray[np.uint8]:
    """The symbol's modules, 1 = dark, without quiet zone."""
    content = to_bracketed({"01": unit.gtin, "17": unit.expiry_yymmdd, "10": unit.lot, "21": unit.serial})
    barcode = zxingcpp.create_barcode(content, zxingcpp.DataMatrix, gs1=True, forceSquare=True)
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False))
    modules: npt.NDArray[np.uint8] = (image == 0).astype(np.uint8)
    return modules


def _module_px(modules: int, module_px: float) -> float:
    """The module size actually drawn: the symbol with quiet zone spans a whole number of pixels."""
    span = modules + 2 * _QUIET_MODULES
    return round(span * module_px) / span


def _code_ink(
    modules: npt.NDArray[np.uint8], module_px: float, *, damage_rng: np.random.Generator | None
) -> npt.NDArray[np.float32]:
    """Ink of the symbol with its quiet zone, area-sampled at ``module_px``; damaged when a rng is given."""
    n = modules.shape[0]
    span = n + 2 * _QUIET_MODULES
    side = round(span * module_px)
    module = side / span
    # The module grid is separable: coverage[pixel, module] along one axis, times the same along the
    # other, summed over dark modules, is the exact area of each pixel under ink. Grown modules
    # overlap their dark neighbours, where the sum passes 1 and is clipped: the union of the dots.
    low = (np.arange(n) + _QUIET_MODULES - _DOT_GAIN) * module
    high = low + (1 + 2 * _DOT_GAIN) * module
    pixels = np.arange(side, dtype=np.float64)[:, None]
    coverage = np.clip(np.minimum(pixels + 1, high) - np.maximum(pixels, low), 0.0, 1.0).astype(np.float32)
    ink: npt.NDArray[np.float32] = np.minimum(
        coverage @ modules.astype(np.float32) @ coverage.T, np.float32(1.0)
    )
    if damage_rng is not None:
        _damage(ink, n, module, damage_rng)
    return ink


def _damage(ink: npt.NDArray[np.float32], n: int, module: float, rng: np.random.Generator) -> None:
    """An ink blot or an abrasion over at least 55 % of the symbol, always including the L corner.

    ECC 200 corrects at most a quarter of the codewords of any symbol big enough for a pharmaceutical
    GS1 string (16 x 16 modules and up), and the finder's corner is where decoders start, so no
    reader can recover from this.
    """
    q = _QUIET_MODULES
    # Outline in module units of the symbol with its quiet zone: a lumpy disc near the L corner.
    centre = np.array([q + n * rng.uniform(0.15, 0.35), q + n * rng.uniform(0.65, 0.85)])
    angles = np.linspace(0.0, 2 * math.pi, 15, endpoint=False) + rng.uniform(0, 2 * math.pi)
    directions = rng.uniform(0.85, 1.15, size=angles.size)[:, None] * np.stack(
        [np.cos(angles), np.sin(angles)], axis=1
    )
    radius = n * rng.uniform(0.62, 0.8)
    blot = rng.random() < 0.5
    residual = rng.uniform(0.0, 0.25, size=(ink.shape[0], 1)).astype(np.float32)
    # Grow the outline until it covers enough module centres, judged on a 4x module grid.
    grid = 4
    centres = (q + np.arange(n)) * grid + grid // 2
    while True:
        outline = centre + radius * directions
        cells = np.zeros(((n + 2 * q) * grid,) * 2, np.uint8)
        cv2.fillPoly(cells, [np.round(outline * grid).astype(np.int32)], 1)
        covered = cells[np.ix_(centres, centres)]
        if covered.mean() >= 0.55 and covered[-1, 0]:
            break
        radius *= 1.1
    mask = np.zeros(ink.shape, np.uint8)
    fixed_point = 4  # fillPoly's sub-pixel bits
    cv2.fillPoly(
        mask, [np.round(outline * module * 2**fixed_point).astype(np.int32)], 255, cv2.LINE_AA, fixed_point
    )
    # Soft rim: a blot thins out at its edge, an abrasion is partly scraped there.
    weight = cv2.GaussianBlur(mask, (0, 0), module / 2).astype(np.float32) * np.float32(1 / 255)
    if blot:
        ink += (1.0 - ink) * weight
    else:
        # Scraped along the conveyor: streaks of leftover ink run across the symbol.
        ink *= 1.0 - weight * (1.0 - residual)


def _print_ink(
    code: npt.NDArray[np.float32] | None,
    code_px: float,
    quiet_px: float,
    lines: tuple[str, ...],
    layout: PrintLayout,
    px_per_mm: float,
) -> tuple[npt.NDArray[np.float32], list[tuple[int, int, LineInk]]]:
    """All ink of the print on one upright canvas, and where each text line sits on it (x, y, ink).

    ``code`` is the symbol's ink with its quiet zone (None for no code); ``code_px`` the symbol's side
    and ``quiet_px`` the quiet zone's width.
    """
    # Positions in pixels of the code frame (origin at the code's top-left corner).
    quiet = round(quiet_px)
    pieces: list[tuple[int, int, npt.NDArray[np.float32]]] = []
    if code is not None:
        pieces.append((-quiet, -quiet, code))
    placed = []
    for index, text in enumerate(lines):
        line = render_line(text, layout, px_per_mm=px_per_mm)
        x_mm, y_mm = line_origin_mm(layout, index)
        x = round(code_px + x_mm * px_per_mm) - line.anchor[0]
        y = round(y_mm * px_per_mm) - line.anchor[1]
        pieces.append((x, y, line.ink))
        placed.append((x, y, line))
    # The margin leaves room for the blur and the smudge's tails.
    margin = 24
    # The code's place counts even when no code is printed, so the canvas, and with it where the
    # text lands in the frame, does not depend on the code being there.
    symbol = round(code_px) + quiet
    left = min(-quiet, *(x for x, _, _ in pieces)) - margin
    top = min(-quiet, *(y for _, y, _ in pieces)) - margin
    right = max(symbol, *(x + ink.shape[1] for x, _, ink in pieces)) + margin
    bottom = max(symbol, *(y + ink.shape[0] for _, y, ink in pieces)) + margin
    canvas = np.zeros((bottom - top, right - left), np.float32)
    for x, y, ink in pieces:
        target = canvas[y - top : y - top + ink.shape[0], x - left : x - left + ink.shape[1]]
        np.maximum(target, ink, out=target)
    return canvas, [(x - left, y - top, line) for x, y, line in placed]


def _smudge(
    ink: npt.NDArray[np.float32],
    placed: list[tuple[int, int, LineInk]],
    lines: tuple[str, ...],
    rng: np.random.Generator,
) -> None:
    """Smear wet ink over three to five characters of one line, in place, as a carton rubbing a guide does.

    The ink is dragged along the conveyor (one-sided motion blur) and spread (gain), so the covered
    characters become a streaky band with a tail; the rim fades into the untouched print.
    """
    index = int(rng.integers(len(lines)))
    text = lines[index]
    x0, y0, line = placed[index]
    count = min(len(text), int(rng.integers(3, 6)))
    # Start where the smear covers at least two inked characters (or all a short line has), so the
    # line is illegible, not just a space smeared.
    inked = min(2, sum(c != " " for c in text))
    starts = [i for i in range(len(text) - count + 1) if sum(c != " " for c in text[i : i + count]) >= inked]
    start = starts[int(rng.integers(len(starts)))]
    left, right = x0 + line.cells[start][0], x0 + line.cells[start + count - 1][1]
    advance = (right - left) / count
    tail = round(advance * rng.uniform(0.6, 1.2))
    drag = round(advance * rng.uniform(1.0, 1.8))
    top, bottom = y0 - 2, y0 + line.ink.shape[0] + 2
    rows = slice(max(top, 0), min(bottom, ink.shape[0]))
    columns = slice(max(left - tail, 0), min(right + tail, ink.shape[1]))
    region = ink[rows, columns]
    # One-sided box: the ink is pulled either way along the conveyor, never both.
    anchor = (0 if rng.random() < 0.5 else drag - 1, 2)
    smeared = cv2.blur(region, (drag, 5), anchor=anchor, borderType=cv2.BORDER_CONSTANT)
    smeared = np.minimum(smeared * np.float32(rng.uniform(1.8, 2.6)), np.float32(1.0))
    # Weight: full over the chosen characters, fading over the tails and the top and bottom rows.
    xs = np.arange(columns.start, columns.stop, dtype=np.float32)
    across = np.clip(np.minimum(xs - (left - tail), (right + tail) - xs) / max(tail, 1), 0.0, 1.0)
    ys = np.arange(rows.start, rows.stop, dtype=np.float32)
    down = np.clip(np.minimum(ys - top, bottom - ys) / 4.0, 0.0, 1.0)
    streaks = rng.uniform(0.9, 1.0, size=(1, xs.size)).astype(np.float32)
    region += down[:, None] * across[None, :] * streaks * (smeared - region)


@functools.cache
def _pools() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Carton texture and unit sensor noise, one frame plus a margin each, drawn once per process."""
    rng = np.random.default_rng(_POOL_SEED)
    shape = (FRAME_SHAPE[0] + _POOL_MARGIN, FRAME_SHAPE[1] + _POOL_MARGIN)
    # Board fibres (fine grain) over coating mottle (blotches of a few mm).
    grain = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.8)
    coarse = rng.standard_normal((shape[0] // 24, shape[1] // 24), dtype=np.float32)
    mottle = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    texture = grain / grain.std() + 0.7 * mottle / mottle.std()
    noise = rng.standard_normal(shape, dtype=np.float32)
    return texture, noise


def _compose(ink: npt.NDArray[np.float32], look: Appearance, surface: _Surface) -> npt.NDArray[np.uint8]:
    """Place the print ink on the carton: rotate, shift, shade by illumination, add sensor noise."""
    height, width = FRAME_SHAPE
    angle = math.radians(look.rotation_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    # Canvas pixel -> frame pixel, rotating counter-clockwise on screen (y points down) about the
    # canvas centre, which lands on the frame centre plus the carton's offset.
    pivot = ((ink.shape[1] - 1) / 2, (ink.shape[0] - 1) / 2)
    centre = ((width - 1) / 2 + look.offset_px[0], (height - 1) / 2 + look.offset_px[1])
    matrix = np.array(
        [
            [cos, sin, centre[0] - cos * pivot[0] - sin * pivot[1]],
            [-sin, cos, centre[1] + sin * pivot[0] - cos * pivot[1]],
        ]
    )
    corners = np.array(
        [[0, 0, 1], [ink.shape[1], 0, 1], [0, ink.shape[0], 1], [ink.shape[1], ink.shape[0], 1]]
    )
    placed = corners @ matrix.T
    x0, y0 = (max(0, math.floor(v)) for v in placed.min(axis=0))
    x1 = min(width, math.ceil(placed[:, 0].max()))
    y1 = min(height, math.ceil(placed[:, 1].max()))
    texture, noise = _pools()
    ty, tx = surface.texture_window
    ny, nx = surface.noise_window
    lit = cv2.resize(surface.illumination * np.float32(surface.level), (width, height)).astype(
        np.float32, copy=False
    )
    frame = cv2.scaleAdd(texture[ty : ty + height, tx : tx + width], surface.texture_gain, lit).astype(
        np.float32, copy=False
    )
    if x1 > x0 and y1 > y0:  # an offset can push the print out of view
        # Warp only the print's bounding box: a tenth of the frame.
        matrix[:, 2] -= (x0, y0)
        print_ink = cv2.warpAffine(ink, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        # Ink changes reflectance, so its contrast follows the local illumination.
        roi = frame[y0:y1, x0:x1]
        roi += print_ink * lit[y0:y1, x0:x1] * np.float32((surface.ink_level - surface.level) / surface.level)
    return cv2.addWeighted(
        frame, 1.0, noise[ny : ny + height, nx : nx + width], look.noise_sigma, 0.0, dtype=cv2.CV_8U
    ).astype(np.uint8, copy=False)
