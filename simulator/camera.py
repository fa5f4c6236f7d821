"""The simulated inspection camera: renders the frame a line camera would take of one printed unit.

A frame shows a carton surface with a GS1 DataMatrix and the human-readable lines beside it, with the
look variation of a real line, the print variation of a coder in specification
(``vision.print_text.IN_SPEC``) and the camera-visible defects (no code, damaged code, poorly printed
code, smudged text, part of a character missing, text that says other than the code).
"""

from __future__ import annotations

import dataclasses
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
from vision.print_text import (
    IN_SPEC,
    SIDES,
    LineInk,
    MissingInk,
    line_origin_mm,
    print_lines,
    render_line,
    render_printed_line,
)

__all__ = [
    "FRAME_SHAPE",
    "MAX_ROTATION_DEG",
    "POOR_CODE_CONTRAST",
    "carton_levels",
    "carton_texture",
    "render_unit",
    "sample_appearance",
    "smear_text",
]

FRAME_SHAPE = (1024, 1280)
"""(height, width) of every frame: a 1.3 MP mono area-scan camera, the common choice on carton lines."""

MAX_ROTATION_DEG = 10.0
"""Largest print skew sampled: cartons run against a guide rail, so a few degrees is normal and
10 degrees is a badly seated carton that must still be read."""

# Dot gain: each dark module grows by this fraction of a module on every edge (8 % wider), a
# TIJ or laser print that is in specification.
_DOT_GAIN = 0.04

POOR_CODE_CONTRAST = (28.0, 40.0)
"""Grey levels between a POOR_CODE_PRINT symbol's dark and light modules (of 255): a symbol contrast
of 11 to 16 % of full scale at nominal light, at most 19 % with the carton's shading and texture
(measured through a 0.8-module aperture, 1st to 99th percentile), ISO/IEC 15415 grade F (below
20 %). The node's zxing-cpp chain (``vision.datamatrix.read_datamatrix``, any angle) reads about
98.5 % of them; fainter ink, or heavy ink spread on top of this contrast, left one in ten
unreadable on a noisy, textured carton, so the poor print is faint ink alone."""
_QUIET_MODULES = 2
# Lines of one print differ in density by at most this factor.
_LINE_DENSITY_SPREAD = 0.93
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
    the image, blur sigma 0.3 px up to a quarter module (at most 1.2 px), sensor noise sigma 1..6
    grey levels, contrast 0.7..1.0, and one unit in ten laser-marked (light on a dark coated carton).

    "In specification" includes the code's print quality: the indicative ISO/IEC 15415 grade
    (vision/grading.py) of these codes is C or better, which EU FMD presumes (1.5). A fainter code
    (contrast 0.55 gives symbol contrast below 0.40, grade D) or a blur of a third of a module
    (modulation D) is a print the line must reject, so it is drawn only as POOR_CODE_PRINT.
    """
    module_px = float(rng.uniform(3.5, 6.0))
    return Appearance(
        module_px=module_px,
        rotation_deg=float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG)),
        offset_px=(float(rng.uniform(-80.0, 80.0)), float(rng.uniform(-60.0, 60.0))),
        blur_sigma=float(rng.uniform(0.3, min(1.2, 0.25 * module_px))),
        noise_sigma=float(rng.uniform(1.0, 6.0)),
        contrast=float(rng.uniform(0.7, 1.0)),
        light_on_dark=bool(rng.random() < 0.1),
    )


def render_unit(
    unit: Unit, layout: PrintLayout, *, px_per_mm: float, rng: np.random.Generator
) -> npt.NDArray[np.uint8]:
    """Render the camera frame of one unit.

    The print (code and text) is drawn in the code's own frame, blurred, then rotated by
    ``unit.appearance.rotation_deg`` (counter-clockwise on screen) about its centre and placed at the
    frame centre plus ``offset_px``. The text is printed by ``render_printed_line`` with the variation
    of a coder in specification (``vision.print_text.IN_SPEC``: drop dropout and jitter, stroke
    weight, each line skewed up to 1 degree against the code, one ink density of 0.65..1 per print
    and up to 7 % less on some of its lines, so the text's contrast is 0.34..1 of full while the
    code's stays ``appearance.contrast``). The random draws for the surface come first, then one
    seed for the defect's own draws, then the print's variation, so the same ``rng`` state renders
    the same frame with and without the defect wherever the defect does not reach; where the print
    lands depends only on the code's data, not on a misprint or the lines' skew.

    Parameters
    ----------
    unit : Unit
        Data, appearance and defect. WRONG_LOT, WRONG_EXPIRY, DUPLICATE_SERIAL and
        SERIAL_NOT_ISSUED are already in the unit's data and render as a normal print;
        PRINT_MISMATCH prints ``unit.printed_fields`` in the text while the code holds the data.
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
    defect_rng = np.random.default_rng(int(rng.integers(2**63)))
    lines = print_lines(layout, **unit.printed_fields)
    missing = _missing_ink(lines, defect_rng) if unit.defect is Defect.PARTIAL_CHARACTER else None
    # One print's ink load is much the same on all its lines: its density is drawn once, and
    # each line varies by a few percent below it.
    density = float(rng.uniform(*IN_SPEC.density))
    quality = dataclasses.replace(IN_SPEC, density=(density * _LINE_DENSITY_SPREAD, density))
    printed = [
        render_printed_line(
            text,
            layout,
            px_per_mm=px_per_mm,
            rng=rng,
            quality=quality,
            missing=missing[1] if missing is not None and missing[0] == index else None,
        )
        for index, text in enumerate(lines)
    ]
    modules = _module_matrix(unit)
    code = None
    if unit.defect is not Defect.NO_CODE:
        code = _code_ink(
            modules, look.module_px, damage_rng=defect_rng if unit.defect is Defect.DAMAGED_CODE else None
        )
        if unit.defect is Defect.POOR_CODE_PRINT:
            # Faint ink: the symbol's dark modules only this many grey levels below the carton.
            faint = float(defect_rng.uniform(*POOR_CODE_CONTRAST)) / abs(surface.ink_level - surface.level)
            code *= np.float32(min(faint, 1.0))
    module = _module_px(modules.shape[0], look.module_px)
    true_lines = print_lines(
        layout, gtin=unit.gtin, serial=unit.serial, lot=unit.lot, expiry_yymmdd=unit.expiry_yymmdd
    )
    nominal = [render_line(text, layout, px_per_mm=px_per_mm) for text in true_lines]
    ink, placed = _print_ink(
        code, modules.shape[0] * module, _QUIET_MODULES * module, printed, nominal, layout, px_per_mm
    )
    if unit.defect is Defect.SMUDGED_PRINT:
        index = int(defect_rng.integers(len(lines)))
        x0, y0, line = placed[index]
        smear_text(ink, (x0, y0), line, lines[index], defect_rng)
    if look.blur_sigma > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), look.blur_sigma).astype(np.float32, copy=False)
    return _compose(ink, look, surface)


def _missing_ink(lines: tuple[str, ...], rng: np.random.Generator) -> tuple[int, MissingInk]:
    """PARTIAL_CHARACTER: which line loses 30 to 60 % of which printed character, from which side."""
    index = int(rng.integers(len(lines)))
    inked = [i for i, char in enumerate(lines[index]) if char != " "]
    char = inked[int(rng.integers(len(inked)))]
    side = SIDES[int(rng.integers(len(SIDES)))]
    return index, MissingInk(char=char, fraction=float(rng.uniform(0.3, 0.6)), side=side)


def _draw_surface(look: Appearance, rng: np.random.Generator) -> _Surface:
    """The carton's grey level, the ink's, and where this frame's texture and noise come from."""
    level, ink_level = carton_levels(look, rng)
    return _Surface(
        level=level,
        ink_level=ink_level,
        texture_gain=float(rng.uniform(1.5, 4.0)),
        texture_window=(int(rng.integers(_POOL_MARGIN)), int(rng.integers(_POOL_MARGIN))),
        noise_window=(int(rng.integers(_POOL_MARGIN)), int(rng.integers(_POOL_MARGIN))),
        illumination=rng.uniform(0.9, 1.06, size=(3, 3)).astype(np.float32),
    )


def carton_levels(look: Appearance, rng: np.random.Generator) -> tuple[float, float]:
    """Draw the grey level of the bare carton and of full ink at nominal illumination, for ``look``.

    A printed carton is 175..215 with ink ``look.contrast`` of the way down to 22; a laser-marked
    dark coated one (``look.light_on_dark``) is 35..60 with marks that far up to 235.
    """
    if look.light_on_dark:
        level = float(rng.uniform(35.0, 60.0))
        return level, level + look.contrast * (235.0 - level)
    level = float(rng.uniform(175.0, 215.0))
    return level, level - look.contrast * (level - 22.0)


def carton_texture(rng: np.random.Generator, shape: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Board fibres (fine grain) over coating mottle (blotches of a few mm), about unit deviation.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the texture.
    shape : (h, w)
        Size in px, at least 1 x 1.

    Returns
    -------
    (h, w) float32 ndarray
        Grain of unit deviation plus mottle of 0.7.
    """
    grain = cv2.GaussianBlur(rng.standard_normal(shape, dtype=np.float32), (0, 0), 0.8)
    coarse = rng.standard_normal((max(2, shape[0] // 24), max(2, shape[1] // 24)), dtype=np.float32)
    mottle = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    texture = grain / np.float32(max(float(grain.std()), 1e-6)) + np.float32(0.7) * mottle / np.float32(
        max(float(mottle.std()), 1e-6)
    )
    return texture.astype(np.float32, copy=False)


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
    lines: list[LineInk],
    nominal: list[LineInk],
    layout: PrintLayout,
    px_per_mm: float,
) -> tuple[npt.NDArray[np.float32], list[tuple[int, int, LineInk]]]:
    """All ink of the print on one upright canvas, and where each text line's ink sits on it (x, y, ink).

    ``code`` is the symbol's ink with its quiet zone (None for no code); ``code_px`` the symbol's side
    and ``quiet_px`` the quiet zone's width; ``lines`` the printed layout lines, ``nominal`` the
    ideal lines of the code's data, which alone size the canvas.
    """
    # Positions in pixels of the code frame (origin at the code's top-left corner).
    quiet = round(quiet_px)

    def place(index: int, line: LineInk) -> tuple[int, int]:
        x_mm, y_mm = line_origin_mm(layout, index)
        return round(code_px + x_mm * px_per_mm) - line.anchor[0], round(y_mm * px_per_mm) - line.anchor[1]

    # The canvas, and with it where the print lands in the frame, depends neither on the code being
    # there nor on how this print varies (skew, a misprint), so that a defect moves nothing else.
    boxes = [(*place(i, line), line.ink.shape) for i, line in enumerate(nominal)]
    # The margin leaves room for the blur, a skewed line and the smudge's tails.
    margin = 24
    symbol = round(code_px) + quiet
    left = min(-quiet, *(x for x, _, _ in boxes)) - margin
    top = min(-quiet, *(y for _, y, _ in boxes)) - margin
    right = max(symbol, *(x + shape[1] for x, _, shape in boxes)) + margin
    bottom = max(symbol, *(y + shape[0] for _, y, shape in boxes)) + margin
    canvas = np.zeros((bottom - top, right - left), np.float32)
    origins = [place(i, line) for i, line in enumerate(lines)]
    pieces = [(x, y, line.ink) for (x, y), line in zip(origins, lines, strict=True)]
    if code is not None:
        pieces.append((-quiet, -quiet, code))
    for x, y, ink in pieces:
        # A print's ink may reach past its nominal box; the canvas keeps what falls on it.
        x0, y0 = max(x - left, 0), max(y - top, 0)
        x1, y1 = min(x - left + ink.shape[1], canvas.shape[1]), min(y - top + ink.shape[0], canvas.shape[0])
        target = canvas[y0:y1, x0:x1]
        np.maximum(
            target, ink[y0 - (y - top) : y1 - (y - top), x0 - (x - left) : x1 - (x - left)], out=target
        )
    return canvas, [(x - left, y - top, line) for (x, y), line in zip(origins, lines, strict=True)]


def smear_text(
    ink: npt.NDArray[np.float32],
    origin: tuple[int, int],
    line: LineInk,
    text: str,
    rng: np.random.Generator,
) -> None:
    """Smear wet ink over three to five characters of one line, in place, as a carton rubbing a guide does.

    The ink is dragged along the conveyor (one-sided motion blur) and spread (gain), so the covered
    characters become a streaky band with a tail; the rim fades into the untouched print.

    Parameters
    ----------
    ink : (H, W) float32 ndarray
        The canvas the line is printed on, changed in place.
    origin : (x, y)
        Where ``line.ink``'s top-left pixel sits on ``ink``.
    line : LineInk
        The printed line.
    text : str
        Its text, with at least one character that is not a space.
    rng : numpy.random.Generator
        Source of the smear.
    """
    x0, y0 = origin
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
    texture = carton_texture(rng, shape)
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
