"""Indicative ISO/IEC 15415 print-quality grade of a DataMatrix (ECC 200) from one camera frame.

The grade says how well the printer is doing, symbol by symbol, with the parameters and thresholds of
ISO/IEC 15415 (symbol contrast, modulation, reflectance margin, fixed pattern damage, axial and grid
nonuniformity, unused error correction). It is not a certified verification: the reflectance is the
camera's grey level over 255 (no calibrated reflectance, no standard illumination), the aperture is
emulated on the camera image, and one frame is graded, not the average of several scans. See
docs/grading.md for what is measured, how, and what is approximated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from vision import _grading_kernels, ecc200
from vision.ecc200 import SymbolSize

__all__ = ["Grade", "Parameter", "ParameterGrade", "SymbolGrade", "grade_score", "grade_symbol"]

FloatArray = npt.NDArray[np.float64]
GreyArray = npt.NDArray[np.float32]
"""Grey levels 0..255 of a crop of the frame."""


class Grade(IntEnum):
    """An ISO/IEC 15415 grade: 4 (A) best, 0 (F) fail."""

    F = 0
    D = 1
    C = 2
    B = 3
    A = 4


class Parameter(StrEnum):
    """A graded ISO/IEC 15415 parameter of a DataMatrix."""

    DECODE = "decode"
    SYMBOL_CONTRAST = "symbol_contrast"
    MODULATION = "modulation"
    REFLECTANCE_MARGIN = "reflectance_margin"
    FIXED_PATTERN_DAMAGE = "fixed_pattern_damage"
    AXIAL_NONUNIFORMITY = "axial_nonuniformity"
    GRID_NONUNIFORMITY = "grid_nonuniformity"
    UNUSED_ERROR_CORRECTION = "unused_error_correction"


@dataclass(frozen=True, slots=True)
class ParameterGrade:
    """One parameter's measurement and grade."""

    value: float
    """What was measured (see ``SymbolGrade.parameters`` for each parameter's unit)."""
    grade: Grade
    score: float
    """The grade as a continuous value: 0.0..4.0, interpolated within the grade's band, so that a
    drift shows before the letter changes; ``int(score) == grade`` (4.0 for A)."""


@dataclass(frozen=True, slots=True)
class SymbolGrade:
    """The indicative print-quality grade of one symbol."""

    grade: Grade
    """Overall: the lowest parameter grade (F when the symbol could not be graded)."""
    score: float
    """Overall continuous grade: the lowest parameter score, 0.0..4.0."""
    parameters: Mapping[Parameter, ParameterGrade]
    """Graded parameters, with their ``value``:

    - DECODE: 1.0 if the sampled grid decodes with Reed–Solomon, else 0.0 (grade A or F);
    - SYMBOL_CONTRAST: Rmax - Rmin over the symbol and its first quiet-zone ring, reflectance 0..1;
    - MODULATION, REFLECTANCE_MARGIN: the codeword modulation at which the grade was decided
      (2|R - GT| / SC of a codeword's weakest module; a module of the wrong colour counts 0 for RM);
    - FIXED_PATTERN_DAMAGE: fraction of finder, clock and adjacent quiet-zone modules of the wrong colour;
    - AXIAL_NONUNIFORMITY: |X - Y| / mean(X, Y) of the fitted module pitches;
    - GRID_NONUNIFORMITY: largest deviation of a module centre from the fitted grid, in modules;
    - UNUSED_ERROR_CORRECTION: 1 - 2 t / (d - p) of the worst Reed–Solomon block.

    Only DECODE is present when no module grid was found."""
    rows: int
    """Symbol rows in modules (0 when no grid was found)."""
    cols: int
    module_px: float
    """Mean module pitch in image pixels (0.0 when no grid was found)."""
    light_on_dark: bool
    print_growth: tuple[float, float]
    """How much wider than nominal a dark module prints, along (columns, rows), as a fraction of a
    module (ungraded, ISO/IEC 15415 informative): 0.08 is a dot 8 % wider than its module."""
    image_blur_px: float
    """Blur of the image at the module edges (optics, pixels and the print's own edges), as the sigma
    of a Gaussian in pixels; it counts towards the synthetic aperture (0.0 when not measured)."""
    notes: tuple[str, ...]
    """Why the symbol could not be graded, and which fixed-pattern segment or block failed."""


# --- grade scales ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scale:
    """Thresholds of grades A, B, C, D; the F band is as wide as the D band for the continuous score."""

    thresholds: tuple[float, float, float, float]
    higher_is_better: bool

    @property
    def knots(self) -> FloatArray:
        """The values at grades 0..4 (higher is better) or 4..0 (lower is better), increasing (read-only)."""
        return _knots(self.thresholds, self.higher_is_better)

    def score(self, value: float) -> float:
        """The continuous grade of ``value``, 0.0..4.0."""
        grades = _GRADES if self.higher_is_better else _FALLING_GRADES
        return float(np.interp(value, self.knots, grades))


@functools.cache
def _knots(thresholds: tuple[float, float, float, float], higher_is_better: bool) -> FloatArray:
    """_Scale.knots, built once per scale."""
    a, b, c, d = thresholds
    knots = np.array([d - (c - d), d, c, b, a]) if higher_is_better else np.array([a, b, c, d, d + (d - c)])
    knots.flags.writeable = False
    return knots


_GRADES = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
_FALLING_GRADES = _GRADES[::-1]
_SYMBOL_CONTRAST = _Scale((0.70, 0.55, 0.40, 0.20), higher_is_better=True)
_MODULATION = _Scale((0.50, 0.40, 0.30, 0.20), higher_is_better=True)
_UEC = _Scale((0.62, 0.50, 0.37, 0.25), higher_is_better=True)
_AXIAL = _Scale((0.06, 0.08, 0.10, 0.12), higher_is_better=False)
_GRID = _Scale((0.38, 0.50, 0.63, 0.75), higher_is_better=False)
# ISO/IEC 16022 fixed pattern damage: share of a segment's modules below a grade level. A needs no
# damage at all in the finder and quiet-zone segments.
_L_DAMAGE = _Scale((0.0, 0.09, 0.13, 0.17), higher_is_better=False)
_CLOCK_DAMAGE = _Scale((0.10, 0.15, 0.20, 0.25), higher_is_better=False)
_AVERAGE = _Scale((3.5, 3.0, 2.5, 2.0), higher_is_better=True)
# Modulation and reflectance margin weigh weak codewords by the unused error correction left if they
# were erased: the share of a block's capacity erased, graded as 1 - UEC.
_ERASED = _Scale(tuple(1.0 - t for t in _UEC.thresholds), higher_is_better=False)  # type: ignore[arg-type]


def grade_score(score: float) -> Grade:
    """The letter grade of a continuous score 0.0..4.0 (its integer part)."""
    return _LETTERS[min(4, max(0, math.floor(score)))]


_LETTERS = tuple(Grade)
"""Grades by value (F, D, C, B, A)."""


def _parameter(value: float, score: float, grade: Grade | None = None) -> ParameterGrade:
    """A parameter whose score is kept inside its grade's band (score 4.0 for A)."""
    if grade is None:
        grade = grade_score(score)
    banded = 4.0 if grade is Grade.A else min(max(score, float(grade)), math.nextafter(grade + 1.0, 0.0))
    return ParameterGrade(value=value, grade=grade, score=banded)


# --- geometry constants -----------------------------------------------------------------------------

# Synthetic aperture: a disc of 0.8 X, the usual aperture for X = 0.25..0.5 mm in GS1 applications
# (the image's own blur counts towards it: see _completed_aperture).
_APERTURE = 0.8
# Module pitches a camera frame can be graded at; below 2.5 px the sampling itself blurs modules.
_MIN_MODULE_PX = 2.5
_MAX_MODULE_PX = 80.0
# Candidate sizes whose module pitch along the two sides differs by more than this are not tried.
_MAX_SIDE_RATIO = 0.35
# A module grid is accepted when this share of the modules of its outer ring and of the quiet-zone
# ring around it are on the side of mid-level their fixed pattern asks for (chance is about half);
# a symbol with this many wrong is graded F on fixed pattern damage anyway. Above the confident
# share, the corners' own order is trusted and the other turns are not tried.
_MIN_AGREEMENT = 0.8
_CONFIDENT_AGREEMENT = 0.95
# Profile across an edge: 3/4 of a module to either side of where its grid line runs, so an edge
# is found up to that far off, while both ends stay inside the two modules it separates.
_EDGE_REACH = 0.75
_EDGE_SAMPLES = 13
# Edges whose two modules differ by less than this share of SC are too weak to place.
_MIN_EDGE_CONTRAST = 0.25
# An edge further than this (modules) from the fitted homography is left out of it: damage or a
# distorted grid line, which the line's own fit (up to _MAX_LINE_RESIDUAL) follows.
_MAX_EDGE_RESIDUAL = 0.3
_MAX_LINE_RESIDUAL = 0.5
_REFINEMENTS = 2
# The image's blur is measured when at least this many edges allow it (else none is assumed), and
# the aperture left to add is skipped below this sigma (px).
_MIN_BLUR_EDGES = 10
_MIN_FILTER_SIGMA = 0.2
# Samples per module along a clock track.
_CLOCK_SAMPLES = 8
# Below this symbol contrast there is nothing to grade (a blank or saturated patch).
_MIN_SYMBOL_CONTRAST = 0.02


def grade_symbol(image: npt.NDArray[np.uint8], corners: npt.ArrayLike) -> SymbolGrade:
    """Grade the print quality of a decoded DataMatrix, indicatively, per ISO/IEC 15415.

    The module grid is found from the decoder's corners (size and orientation from the finder and
    clock tracks, so any corner order of the four works), placed by the clock tracks, refined on the
    module edges, and sampled through an emulated aperture of 0.8 module, of which the blur the image
    already has counts as part. Reflectance is the grey level / 255 as the camera delivers it. The
    codewords are read with the ECC 200 placement and corrected with Reed–Solomon, which gives the
    decode, the unused error correction, and the modules of the wrong colour.

    This is an indicative grade for process control, not a verifier's: no calibrated reflectance, no
    standard illumination or aperture, one frame instead of averaged scans, and fewer pixels per
    module than a verifier would accept (see docs/grading.md).

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        The frame, dark-on-light or light-on-dark.
    corners : (4, 2) array-like of float
        The symbol's top-left, top-right, bottom-right and bottom-left corners in image pixels
        (``CodeRead.corners``), on the outer edge of the modules.

    Returns
    -------
    SymbolGrade
        A symbol that cannot be graded (no module grid at the corners, no decode, quiet zone outside
        the frame) gets grade F, with the reason in ``notes``.

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty 2-D uint8 ndarray, or ``corners`` is not four finite (x, y) points.
    """
    _check_image(image)
    quad = _check_corners(corners)
    crop, origin = _crop(image, quad)
    if crop is None:
        return _ungradeable("the symbol lies outside the frame")
    located = _locate(crop, quad - origin)
    if isinstance(located, str):
        return _ungradeable(located)
    return _grade(crop, located)


def _check_image(image: npt.NDArray[np.uint8]) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image is a {type(image).__name__}, expected a numpy ndarray")
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(
            f"image has shape {image.shape}, expected a non-empty 2-D (height, width) grayscale frame"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"image has dtype {image.dtype}, expected uint8")


def _check_corners(corners: npt.ArrayLike) -> FloatArray:
    try:
        quad = np.asarray(corners, np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"corners {corners!r} are not four (x, y) points: {exc}") from None
    if quad.shape != (4, 2) or not np.isfinite(quad).all():
        raise ValueError(f"corners {corners!r} are not four finite (x, y) points, expected shape (4, 2)")
    return quad


def _ungradeable(reason: str) -> SymbolGrade:
    return SymbolGrade(
        grade=Grade.F,
        score=0.0,
        parameters={Parameter.DECODE: ParameterGrade(value=0.0, grade=Grade.F, score=0.0)},
        rows=0,
        cols=0,
        module_px=0.0,
        light_on_dark=False,
        print_growth=(0.0, 0.0),
        image_blur_px=0.0,
        notes=(reason,),
    )


def _crop(image: npt.NDArray[np.uint8], quad: FloatArray) -> tuple[GreyArray | None, FloatArray]:
    """The symbol with room for its quiet zone, as float32 grey levels, and its origin in the frame."""
    corners = quad.tolist()
    longest = max(math.dist(corners[i], corners[i - 1]) for i in range(4))
    # A quarter of the longest side covers 1.5 modules of quiet zone for every ECC 200 size.
    margin = math.ceil(0.25 * longest) + 4
    height, width = image.shape
    x0 = max(0, math.floor(quad[:, 0].min()) - margin)
    y0 = max(0, math.floor(quad[:, 1].min()) - margin)
    x1 = min(width, math.ceil(quad[:, 0].max()) + margin + 1)
    y1 = min(height, math.ceil(quad[:, 1].max()) + margin + 1)
    origin = np.array([x0, y0], np.float64)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None, origin
    return image[y0:y1, x0:x1].astype(np.float32), origin


# --- finding the module grid ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Located:
    size: SymbolSize
    homography: FloatArray
    """(3, 3) canonical module coordinates (u across, v down, L finder left and bottom) -> crop pixels."""
    light_on_dark: bool


def _dihedral(array: npt.NDArray[np.int64], transform: int) -> npt.NDArray[np.int64]:
    """One of the 8 rotations and reflections of a 2-D array: transpose first if transform >= 4."""
    turned = array.T if transform >= 4 else array
    return np.rot90(turned, transform % 4)


def _ring_mask(rows: int, cols: int) -> npt.NDArray[np.bool_]:
    """(rows + 2, cols + 2) the outermost module ring of the symbol and the quiet-zone ring around it."""
    mask = np.zeros((rows + 2, cols + 2), np.bool_)
    mask[:2, :] = mask[-2:, :] = True
    mask[:, :2] = mask[:, -2:] = True
    return mask


@dataclass(frozen=True, slots=True)
class _SearchTable:
    """Every ring module of every candidate frame shape, and what each size and turn expects there."""

    shapes: tuple[tuple[int, int], ...]
    """Frame shapes (rows, cols as the corners see them)."""
    points: FloatArray
    """(K, 2) ring module centres in unit-square coordinates (u / cols, v / rows), shape after shape."""
    starts: npt.NDArray[np.intp]
    """(S,) where each shape's points begin."""
    counts: FloatArray
    """(S,) ring modules per shape."""
    dark_point: npt.NDArray[np.intp]
    """Indices into ``points`` of the modules each labelling expects dark, labelling after labelling."""
    dark_group: npt.NDArray[np.intp]
    """The labelling of each entry of ``dark_point``."""
    dark_counts: FloatArray
    """(P,) dark modules per labelling."""
    labelling_shape: npt.NDArray[np.intp]
    """(P,) the shape of each labelling."""
    labellings: tuple[tuple[SymbolSize, int], ...]
    """(P,) ECC 200 size and dihedral transform (see _dihedral) of each labelling."""


@functools.lru_cache(maxsize=64)
def _search_table(shapes: tuple[tuple[int, int], ...], *, any_turn: bool) -> _SearchTable | None:
    """The search over ``shapes``: as the corners are ordered (TL, TR, BR, BL of the symbol's own
    orientation), or in any of the 8 turns and reflections when ``any_turn``."""
    # One table per set of plausible shapes: a line's symbols keep their size, so this is built once.
    points: list[FloatArray] = []
    starts: list[int] = []
    counts: list[int] = []
    kept_shapes: list[tuple[int, int]] = []
    dark_point: list[npt.NDArray[np.intp]] = []
    dark_group: list[npt.NDArray[np.intp]] = []
    dark_counts: list[int] = []
    labelling_shape: list[int] = []
    labellings: list[tuple[SymbolSize, int]] = []
    offset = 0
    for rows, cols in shapes:
        ring = _ring_mask(rows, cols)
        found = len(labellings)
        for size in ecc200.SYMBOL_SIZES:
            if {size.rows, size.cols} != {rows, cols}:
                continue
            canonical = np.zeros((size.rows + 2, size.cols + 2), np.int64)
            canonical[1:-1, 1:-1] = ecc200.module_map(size).fixed == 1
            for transform in range(8 if any_turn else 1):
                seen = _dihedral(canonical, transform)
                if seen.shape != ring.shape:
                    continue
                dark = np.flatnonzero(seen[ring]) + offset
                dark_point.append(dark)
                dark_group.append(np.full(dark.size, len(labellings)))
                dark_counts.append(dark.size)
                labelling_shape.append(len(kept_shapes))
                labellings.append((size, transform))
        if len(labellings) == found:
            continue
        ring_i, ring_j = np.nonzero(ring)
        points.append(np.stack([(ring_j - 0.5) / cols, (ring_i - 0.5) / rows], axis=1))
        starts.append(offset)
        counts.append(ring_i.size)
        kept_shapes.append((rows, cols))
        offset += ring_i.size
    if not labellings:
        return None
    return _SearchTable(
        shapes=tuple(kept_shapes),
        points=np.concatenate(points),
        starts=np.array(starts, np.intp),
        counts=np.array(counts, np.float64),
        dark_point=np.concatenate(dark_point),
        dark_group=np.concatenate(dark_group),
        dark_counts=np.array(dark_counts, np.float64),
        labelling_shape=np.array(labelling_shape, np.intp),
        labellings=tuple(labellings),
    )


_SHAPE_ROWS = np.array(
    [size.rows for size in ecc200.SYMBOL_SIZES] + [size.cols for size in ecc200.SYMBOL_SIZES]
)
_SHAPE_COLS = np.array(
    [size.cols for size in ecc200.SYMBOL_SIZES] + [size.rows for size in ecc200.SYMBOL_SIZES]
)


def _shapes_for(quad: FloatArray) -> tuple[tuple[int, int], ...]:
    """Frame shapes (rows, cols) whose module pitch is plausible for the quadrilateral's sides."""
    corners = quad.tolist()
    top, right, bottom, left = (math.dist(corners[(i + 1) % 4], corners[i]) for i in range(4))
    # Whole pixels are fine enough for bounds this wide, and let a line's symbols share one answer.
    return _plausible_shapes(round((top + bottom) / 2), round((left + right) / 2))


@functools.lru_cache(maxsize=256)
def _plausible_shapes(width: int, height: int) -> tuple[tuple[int, int], ...]:
    across = width / _SHAPE_COLS
    down = height / _SHAPE_ROWS
    plausible = (
        (np.minimum(across, down) >= _MIN_MODULE_PX)
        & (np.maximum(across, down) <= _MAX_MODULE_PX)
        & (np.abs(across - down) <= _MAX_SIDE_RATIO * (across + down) / 2)
    )
    return tuple(
        sorted(set(zip(_SHAPE_ROWS[plausible].tolist(), _SHAPE_COLS[plausible].tolist(), strict=True)))
    )


def _frame_homography(rows: int, cols: int, quad: FloatArray) -> FloatArray:
    source = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], np.float32)
    matrix: FloatArray = cv2.getPerspectiveTransform(source, quad.astype(np.float32)).astype(np.float64)
    return matrix


def _project(homography: FloatArray, points: FloatArray) -> FloatArray:
    """(..., 2) points through a homography."""
    mapped = cv2.perspectiveTransform(np.ascontiguousarray(points, np.float64).reshape(1, -1, 2), homography)
    return np.asarray(mapped, np.float64).reshape(points.shape)


def _sample(crop: GreyArray, pixels: FloatArray) -> FloatArray:
    """Bilinear grey levels at (..., 2) pixel positions (x, y); positions outside repeat the border."""
    # One two-channel map (x, y): the same fixed-point sampling as two maps, without splitting them.
    flat = pixels.reshape(1, -1, 2).astype(np.float32)
    values = cv2.remap(crop, flat, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[call-overload]
    result: FloatArray = values.reshape(pixels.shape[:-1]).astype(np.float64)
    return result


@functools.cache
def _corner_modules(size: SymbolSize, transform: int) -> tuple[FloatArray, FloatArray]:
    """Centres of the symbol's four corner modules in frame module coordinates, and in canonical ones."""
    cells = np.arange((size.rows + 2) * (size.cols + 2)).reshape(size.rows + 2, size.cols + 2)
    seen = _dihedral(cells, transform)
    canonical = np.array(
        [[1, 1], [1, size.cols], [size.rows, size.cols], [size.rows, 1]]
    )  # ring grid (row, col)
    frame = []
    for row, col in canonical:
        i, j = np.argwhere(seen == cells[row, col])[0]
        frame.append((j - 0.5, i - 0.5))
    return np.array(frame, np.float64), canonical[:, ::-1].astype(np.float64) - 0.5


def _best_labelling(crop: GreyArray, quad: FloatArray, table: _SearchTable) -> tuple[int, float, bool]:
    """The labelling whose fixed pattern best fits the rings: (index, agreement, light on dark).

    Labellings are ranked by separation: the difference of the mean grey levels where the labelling
    expects light and dark, over their pooled standard deviation. The best one's agreement is the
    share of ring modules on its expected side of the level midway between those means.
    """
    grey = _sample(crop, _project(_frame_homography(1, 1, quad), table.points))
    return _grading_kernels.best_labelling(
        grey, table.starts, table.counts, table.dark_point, table.dark_group, table.dark_counts,
        table.labelling_shape,
    )  # fmt: skip


def _best_of(
    crop: GreyArray, quad: FloatArray, table: _SearchTable | None
) -> tuple[_SearchTable, int, float, bool] | None:
    """_best_labelling with its table, or None when the table is empty."""
    if table is None:
        return None
    return (table, *_best_labelling(crop, quad, table))


def _locate(crop: GreyArray, quad: FloatArray) -> _Located | str:
    """The symbol's size, orientation and polarity from its finder, clock tracks and quiet zone.

    Every plausible size is scored by how well its fixed pattern and quiet zone separate the grey
    levels of the outer module ring and the ring around it: first as the corners are ordered, then,
    if none fits, in every turn and reflection.
    """
    if cv2.contourArea(quad.astype(np.float32)) < 64 or not cv2.isContourConvex(quad.astype(np.float32)):
        return "the corners do not enclose a symbol (degenerate or crossed quadrilateral)"
    shapes = _shapes_for(quad)
    if not shapes:
        return f"the corners span no DataMatrix size at {_MIN_MODULE_PX:g}..{_MAX_MODULE_PX:g} px per module"
    located = _best_of(crop, quad, _search_table(shapes, any_turn=False))
    if located is None or located[2] < _CONFIDENT_AGREEMENT:
        located = _best_of(crop, quad, _search_table(shapes, any_turn=True))
    if located is None or located[2] < _MIN_AGREEMENT:
        fit = 0.0 if located is None else located[2]
        return (
            f"no finder pattern and clock tracks at the corners (at best {fit:.0%} of the ring modules fit)"
        )
    table, index, _, lod = located
    rows, cols = table.shapes[table.labelling_shape[index]]
    size, transform = table.labellings[index]
    frame_points, centres = _corner_modules(size, transform)
    pixels = _project(_frame_homography(rows, cols, quad), frame_points)
    homography = cv2.getPerspectiveTransform(centres.astype(np.float32), pixels.astype(np.float32))
    return _Located(size=size, homography=homography.astype(np.float64), light_on_dark=lod)


# --- grading ----------------------------------------------------------------------------------------


@functools.cache
def _aperture_kernel(diameter_tenths: int) -> npt.NDArray[np.float32]:
    """A normalised disc of the given diameter (tenths of a pixel), its edge pixels weighted by coverage."""
    radius = diameter_tenths / 20
    half = math.ceil(radius - 0.5)
    fine = 8  # sub-pixel samples per pixel and axis
    axis = (np.arange((2 * half + 1) * fine) + 0.5) / fine - (half + 0.5)
    inside = (axis[:, None] ** 2 + axis[None, :] ** 2) <= radius**2
    coverage = inside.reshape(2 * half + 1, fine, 2 * half + 1, fine).mean(axis=(1, 3))
    kernel: npt.NDArray[np.float32] = (coverage / coverage.sum()).astype(np.float32)
    return kernel


@functools.cache
def _module_centres(rows: int, cols: int) -> FloatArray:
    """(rows + 2, cols + 2, 2) centres (u, v) of the symbol's modules and of the quiet-zone ring."""
    u = np.arange(-1, cols + 1) + 0.5
    v = np.arange(-1, rows + 1) + 0.5
    grid: FloatArray = np.stack(np.meshgrid(u, v), axis=-1)
    grid.flags.writeable = False
    return grid


def _pitches(homography: FloatArray, size: SymbolSize) -> tuple[float, float]:
    """Mean module pitch across (X) and down (Y), in pixels."""
    rows, cols = size.rows, size.cols
    ends = _project(
        homography,
        np.array([[0, rows / 2], [cols, rows / 2], [cols / 2, 0], [cols / 2, rows]], np.float64),
    ).tolist()
    return math.dist(ends[1], ends[0]) / cols, math.dist(ends[3], ends[2]) / rows


@dataclass(frozen=True, slots=True)
class _Edges:
    """Module edges between neighbours of different colour, in canonical module coordinates."""

    axis: npt.NDArray[np.int8]
    """0: on a line between columns (u = line); 1: on a line between rows (v = line)."""
    line: npt.NDArray[np.int64]
    """Which grid line: 0..cols or 0..rows (0 is the symbol's outer edge against the quiet zone)."""
    along: FloatArray
    """Position along the line: the centre of the module row (axis 0) or column (axis 1)."""
    offset: FloatArray
    """Where the edge was found, across the line, relative to it (modules)."""
    polarity: FloatArray
    """+1 where the module before the line (left or above) is dark, -1 where it is light."""
    spread: FloatArray
    """Blur at the edge as a Gaussian sigma in pixels, where it could be measured (else NaN)."""


def _find_edges(
    raw: GreyArray, homography: FloatArray, dark: npt.NDArray[np.bool_], contrast: float, lines: FloatArray
) -> _Edges:
    """Place every edge between neighbours of different colour where the grey level crosses mid-level,
    searching one module across each grid line where ``lines`` (see _grading_kernels.line_fits) run."""
    rows, cols = dark.shape[0] - 2, dark.shape[1] - 2
    if (
        raw.dtype != np.float32
        or raw.ndim != 2
        or homography.shape != (3, 3)
        or lines.shape != (2, max(rows, cols) + 1, 3)
    ):
        raise AssertionError(
            f"find_edges got {raw.dtype} {raw.shape}, {dark.shape}, {homography.shape}, {lines.shape}"
        )
    axis, line, along, offset, polarity, spread = _grading_kernels.find_edges(
        raw, np.ascontiguousarray(homography, np.float64), np.ascontiguousarray(dark),
        _MIN_EDGE_CONTRAST * contrast, _EDGE_REACH, _EDGE_SAMPLES, lines,
    )  # fmt: skip
    return _Edges(axis=axis, line=line, along=along, offset=offset, polarity=polarity, spread=spread)


@dataclass(frozen=True, slots=True)
class _GridFit:
    correction: FloatArray
    """(3, 3) homography from the grid the edges were sampled on to the grid they fit."""
    residual: FloatArray
    """Per edge: distance across its line from the fitted grid line, in modules."""
    keep: npt.NDArray[np.bool_]
    """Per edge: within _MAX_EDGE_RESIDUAL of the fitted grid (the others are damage)."""


def _fit_grid(edges: _Edges, growth: tuple[float, float], size: SymbolSize) -> _GridFit | None:
    """The homography that moves the edges onto their grid lines, by least squares (DLT).

    Each edge is first moved back by the print growth: a dark module grows by ``growth`` on each side,
    which moves an edge with a dark module before it forward and one with a light module before it back.
    Edges left further than _MAX_EDGE_RESIDUAL from the grid are damage: they are dropped and the grid
    fitted again without them.
    """
    normal, denormal, scaling = _normalisation(size)
    keep = np.ones(edges.line.size, np.bool_)
    for _ in range(2):
        system, observed, kept_u, kept_v = _grading_kernels.grid_equations(
            edges.axis, edges.line, edges.along, edges.offset, edges.polarity, keep, growth, scaling
        )
        if kept_u < 4 or kept_v < 4:
            return None
        _, vectors = np.linalg.eigh(system)
        correction = denormal @ vectors[:, 0].reshape(3, 3) @ normal
        if abs(correction[2, 2]) < 1e-12:
            return None
        correction /= correction[2, 2]
        residual, within, settled = _grading_kernels.grid_residuals(
            correction, observed, edges.axis, edges.line, _MAX_EDGE_RESIDUAL, keep
        )
        if settled:  # nothing new to drop
            break
        keep = within
    return _GridFit(correction=correction, residual=residual, keep=within)


@functools.cache
def _normalisation(size: SymbolSize) -> tuple[FloatArray, FloatArray, tuple[float, float, float]]:
    """Canonical module coordinates to normalised ones and back ((3, 3), read-only), and the
    normalisation as grid_equations takes it: normalised coordinates keep the 9 x 9 system well
    conditioned."""
    scale = 2 / max(size.rows, size.cols)
    normal = np.array([[scale, 0, -size.cols / 2 * scale], [0, scale, -size.rows / 2 * scale], [0, 0, 1]])
    denormal = np.array([[1 / scale, 0, size.cols / 2], [0, 1 / scale, size.rows / 2], [0, 0, 1]])
    normal.flags.writeable = False
    denormal.flags.writeable = False
    return normal, denormal, (scale, size.cols / 2, size.rows / 2)


def _completed_aperture(crop: GreyArray, edges: _Edges, pitch: float) -> tuple[float, GreyArray]:
    """The image's own blur at the module edges, and the crop seen through the rest of the aperture.

    A verifier's reference image is the symbol seen through its aperture alone. The camera's image is
    already blurred by its optics, its pixels and the print's own edges, which at a few pixels per
    module is as much as the aperture: adding the whole aperture on top would grade the optics twice.
    So the blur already there (the median over edges with two modules of one colour on each side)
    counts towards the aperture, taken as a Gaussian of the same spread as the disc (sigma = D / 4),
    and only the rest is added. Returns the blur found (Gaussian sigma, px) and the filtered crop.

    For the modules' reflectance only: the optics blur before the sensor adds its noise, so the blur
    already there does not average the noise as the aperture would (Rmax and Rmin are taken through
    the whole aperture).
    """
    median, measured = _grading_kernels.finite_median(edges.spread)
    blur = median if measured >= _MIN_BLUR_EDGES else 0.0
    wanted = _APERTURE * pitch / 4
    rest = math.sqrt(max(wanted * wanted - blur * blur, 0.0))
    if rest < _MIN_FILTER_SIGMA:
        return blur, crop
    return blur, np.asarray(cv2.GaussianBlur(crop, (0, 0), rest, borderType=cv2.BORDER_REPLICATE), np.float32)


def _clock_lines(reference: GreyArray, homography: FloatArray, size: SymbolSize) -> FloatArray:
    """Where the grid lines cross the clock tracks, as line fits (offsets only, see line_fits).

    Each clock track alternates every module, so the k-th transition along it is grid line k, however
    far the lines have wandered from the corners' grid (as long as the track's count comes out right).
    This is how a reference decoder builds its grid, and it puts the first sampling on the symbol's
    own modules when the decoder's corners are off by half a module. Lines whose track does not show
    the right number of transitions stay where the corners put them.
    """
    rows, cols = size.rows, size.cols
    points, split = _clock_points(rows, cols)
    profile = _sample(reference, _project(homography, points))
    lines = np.zeros((2, max(rows, cols) + 1, 3))
    for axis, count, track in ((0, cols, profile[:split]), (1, rows, profile[split:])):
        found = _grading_kernels.clock_crossings(track, count - 1)
        if found.size:
            lines[axis, 1:count, 1] = 0.5 + found / _CLOCK_SAMPLES - np.arange(1, count)
    return lines


@functools.cache
def _clock_points(rows: int, cols: int) -> tuple[FloatArray, int]:
    """Sample points along the top clock track (v = 0.5), then the right one (u = cols - 0.5), from
    the first module centre to the last, _CLOCK_SAMPLES per module; and where the second begins."""
    top = np.arange((cols - 1) * _CLOCK_SAMPLES + 1) / _CLOCK_SAMPLES + 0.5
    right = np.arange((rows - 1) * _CLOCK_SAMPLES + 1) / _CLOCK_SAMPLES + 0.5
    points = np.concatenate(
        [
            np.stack([top, np.full_like(top, 0.5)], axis=1),
            np.stack([np.full_like(right, cols - 0.5), right], axis=1),
        ]
    )
    points.flags.writeable = False
    return points, top.size


def _growth_and_lines(
    edges: _Edges, fit: _GridFit, growth: tuple[float, float], size: SymbolSize
) -> tuple[tuple[float, float], FloatArray]:
    """Print growth left in the edges' residuals, added to ``growth``, and each grid line's own course
    (see _grading_kernels.growth_and_lines)."""
    step_u, step_v, lines = _grading_kernels.growth_and_lines(
        edges.axis, edges.line, edges.along, fit.residual, edges.polarity,
        np.abs(fit.residual) < _MAX_LINE_RESIDUAL, size.rows, size.cols,
    )  # fmt: skip
    return (growth[0] + step_u, growth[1] + step_v), lines


def _grid_nonuniformity(shifts: FloatArray, homography: FloatArray, size: SymbolSize, pitch: float) -> float:
    """Largest distance of a module centre from the fitted grid, in modules (of mean pitch ``pitch`` px).

    ``shifts`` (rows + 2, cols + 2, 2) are the module centres' (du, dv) from the grid, ring included.
    """
    rows, cols = size.rows, size.cols
    middle = _project(
        homography, np.array([[cols / 2, rows / 2], [cols / 2 + 1, rows / 2], [cols / 2, rows / 2 + 1]])
    )
    per_u, per_v = middle[1] - middle[0], middle[2] - middle[0]  # pixels per module along u and v
    return _grading_kernels.largest_shift(np.ascontiguousarray(shifts), per_u, per_v) / pitch


@dataclass(frozen=True, slots=True)
class _Segments:
    """The fixed-pattern segments of one symbol size, laid out for grading in one kernel call."""

    expected: npt.NDArray[np.bool_]
    """(rows + 2, cols + 2) where the ring-padded grid must be dark (quiet zone and data: False)."""
    fixed: npt.NDArray[np.bool_]
    """(rows + 2, cols + 2) every module of every segment."""
    cells: npt.NDArray[np.intp]
    """Flat indices into the ring-padded grid of each segment's modules, segment after segment."""
    starts: npt.NDArray[np.int64]
    """(segments + 1,) where each segment's modules begin in ``cells``, and the end."""
    damage_knots: FloatArray
    """(segments, 5) each segment's damage scale (see _Scale.knots)."""
    names: tuple[str, ...]


@functools.cache
def _fixed_segments(size: SymbolSize) -> _Segments:
    """ISO/IEC 16022 fixed pattern damage segments: L1, L2, their quiet zones, the clock tracks, the rest."""
    rows, cols = size.rows, size.cols
    pattern = np.zeros((rows + 2, cols + 2), np.int8)
    pattern[1:-1, 1:-1] = ecc200.module_map(size).fixed
    shape = pattern.shape

    def mask(rows_slice: slice, cols_slice: slice) -> npt.NDArray[np.bool_]:
        result = np.zeros(shape, np.bool_)
        result[rows_slice, cols_slice] = True
        return result

    l1 = mask(slice(1, rows + 1), slice(1, 2))
    l2 = mask(slice(rows, rows + 1), slice(1, cols + 1))
    qz1 = mask(slice(0, rows + 2), slice(0, 1))
    qz2 = mask(slice(rows + 1, rows + 2), slice(0, cols + 2))
    # The clock tracks, any alignment patterns, and the quiet zone along the clock tracks.
    clocks = (pattern >= 0) & ~l1 & ~l2 & ~qz1 & ~qz2
    segments = (
        ("L1 (finder, left side)", l1, _L_DAMAGE),
        ("L2 (finder, bottom side)", l2, _L_DAMAGE),
        ("QZL1 (quiet zone left of the finder)", qz1, _L_DAMAGE),
        ("QZL2 (quiet zone below the finder)", qz2, _L_DAMAGE),
        ("clock tracks, alignment patterns and the quiet zone along them", clocks, _CLOCK_DAMAGE),
    )
    cells = [np.flatnonzero(segment) for _, segment, _ in segments]
    return _Segments(
        expected=pattern == 1,
        fixed=np.any([segment for _, segment, _ in segments], axis=0),
        cells=np.concatenate(cells),
        starts=np.cumsum([0] + [c.size for c in cells]).astype(np.int64),
        damage_knots=np.array([scale.knots for _, _, scale in segments]),
        names=tuple(name for name, _, _ in segments),
    )


@dataclass(frozen=True, slots=True)
class _Grid:
    """The symbol's module grid, refined on its edges."""

    homography: FloatArray
    """(3, 3) canonical module coordinates -> crop pixels, fitted to all module edges."""
    shifts: FloatArray
    """(rows + 2, cols + 2, 2) each module centre's (du, dv) off the homography, ring included."""
    growth: tuple[float, float]
    """Print growth per edge along u and v, in modules."""
    blur: float
    """The image's own blur at the module edges (Gaussian sigma, px)."""
    averaged: GreyArray
    """The crop through the whole synthetic aperture: the sensor noise averaged, for Rmax and Rmin."""
    reference: GreyArray
    """The crop through the completed synthetic aperture (see _completed_aperture): for each module."""


def _refine(crop: GreyArray, located: _Located) -> _Grid | None:
    """Place the located grid on the clock tracks, then fit it to the module edges, twice: a
    homography for the symbol as a whole, and each grid line on its own edges relative to it, as a
    reference decoder follows the clock tracks. None when there are too few edges to fit."""
    size = located.size
    rows, cols = size.rows, size.cols
    homography = located.homography
    pitch = sum(_pitches(homography, size)) / 2
    # The first pass samples through the whole synthetic aperture; once the edges show how blurred
    # the image already is, the aperture is only completed (see _completed_aperture).
    kernel = _aperture_kernel(max(10, round(_APERTURE * pitch * 10)))
    averaged = np.asarray(cv2.filter2D(crop, -1, kernel, borderType=cv2.BORDER_REPLICATE), np.float32)
    reference = averaged
    centres = _module_centres(rows, cols)
    growth = (0.0, 0.0)
    lines = _clock_lines(reference, homography, size)
    shifts = _grading_kernels.centre_shifts(lines, rows, cols)
    blur = 0.0
    for refinement in range(_REFINEMENTS):
        grey = _sample(reference, _project(homography, centres + shifts))
        low, high = float(grey.min()), float(grey.max())
        dark = grey > (low + high) / 2 if located.light_on_dark else grey < (low + high) / 2
        edges = _find_edges(crop, homography, dark, high - low, lines)
        fit = _fit_grid(edges, growth, size)
        if fit is None:
            return None
        homography = homography @ np.linalg.inv(fit.correction)
        growth, lines = _growth_and_lines(edges, fit, growth, size)
        shifts = _grading_kernels.centre_shifts(lines, rows, cols)
        if refinement == 0:
            blur, reference = _completed_aperture(crop, edges, pitch)
    return _Grid(
        homography=homography, shifts=shifts, growth=growth, blur=blur, averaged=averaged, reference=reference
    )


def _grade(crop: GreyArray, located: _Located) -> SymbolGrade:
    """Refine the located grid, sample it, decode it and grade every parameter."""
    size = located.size
    rows, cols = size.rows, size.cols
    lod = located.light_on_dark
    grid = _refine(crop, located)
    if grid is None:
        return _ungradeable("too few module edges to fit a grid to")
    homography, shifts, growth, reference = grid.homography, grid.shifts, grid.growth, grid.reference
    centres = _module_centres(rows, cols)
    across, down = _pitches(homography, size)
    pitch = (across + down) / 2
    pixels = _project(homography, centres + shifts)
    height, width = crop.shape
    # Every sample, aperture included, must lie on the frame: the quiet zone is part of the grade.
    reach = _APERTURE * pitch / 2
    if (
        pixels.min() < reach
        or pixels[..., 0].max() > width - 1 - reach
        or pixels[..., 1].max() > height - 1 - reach
    ):
        return _ungradeable("the symbol's quiet zone reaches past the edge of the frame")
    # The extremes through the whole aperture, where the sensor noise a verifier's image does not
    # have is averaged as the aperture averages; each module through the completed aperture, which
    # does not blur the image twice. Over the finder and the quiet zone the two agree but for noise.
    averaged = _sample(grid.averaged, pixels) / 255.0
    r_max, r_min = float(averaged.max()), float(averaged.min())
    reflectance = np.clip(_sample(reference, pixels) / 255.0, r_min, r_max)
    symbol_contrast = r_max - r_min
    if symbol_contrast < _MIN_SYMBOL_CONTRAST:
        return _ungradeable(f"no contrast in the symbol (SC {symbol_contrast:.3f})")
    threshold = (r_max + r_min) / 2
    dark = reflectance > threshold if lod else reflectance < threshold
    modulation = 2 * np.abs(reflectance - threshold) / symbol_contrast
    notes: list[str] = []
    parameters: dict[Parameter, ParameterGrade] = {}

    # Decode: the codewords, corrected; the modules of the wrong colour; the unused error correction.
    layout = ecc200.module_map(size)
    corrected = ecc200.correct(ecc200.read_codewords(dark[1:-1, 1:-1], size), size)
    if corrected is None and rows == cols:
        # A square symbol's finder and clock tracks are symmetric about its diagonal from the L's
        # corner: the rings cannot tell the symbol from its mirror image (printed through a film,
        # or corners given in mirrored order), the codewords can.
        mirrored = dark[::-1, ::-1].T
        retry = ecc200.correct(ecc200.read_codewords(mirrored[1:-1, 1:-1], size), size)
        if retry is not None:
            dark, modulation, corrected = mirrored, modulation[::-1, ::-1].T, retry
            growth = (growth[1], growth[0])
    symbol_dark = dark[1:-1, 1:-1]
    capacity = size.block_ecc - size.misdecode_protection
    if corrected is None:
        notes.append("the sampled modules do not decode: more codeword errors than Reed–Solomon corrects")
        parameters[Parameter.DECODE] = _parameter(0.0, 0.0)
        parameters[Parameter.UNUSED_ERROR_CORRECTION] = _parameter(0.0, 0.0)
        wrong_data = np.ones((rows, cols), np.bool_)
    else:
        parameters[Parameter.DECODE] = _parameter(1.0, 4.0)
        unused = min(1.0 - 2 * errors / capacity for errors in corrected.errors)
        parameters[Parameter.UNUSED_ERROR_CORRECTION] = _parameter(unused, _UEC.score(unused))
        wrong_data = ecc200.place_codewords(corrected.codewords, size) != symbol_dark
        if unused < 0.62:
            worst = int(np.argmax(corrected.errors))
            notes.append(
                f"Reed–Solomon corrected {corrected.errors[worst]} of {capacity // 2} codewords "
                f"in block {worst + 1}"
            )

    parameters[Parameter.SYMBOL_CONTRAST] = _parameter(
        symbol_contrast, _SYMBOL_CONTRAST.score(symbol_contrast)
    )

    # Modulation and reflectance margin per codeword (its weakest module), graded by levels against
    # what error correction could still absorb if the weaker codewords were erased: ISO/IEC 15415's
    # grading of modulation by levels, continuous. For each level t, the codewords weaker than t are
    # damage, counted per Reed–Solomon block against its capacity; the level grades as the lower of
    # t's modulation grade and the worst block's damage grade, and the result is the best level (at
    # the letter thresholds, the standard's table; between them, interpolated).
    score, level, margin_score, margin_level = _grading_kernels.codeword_levels(
        np.ascontiguousarray(modulation, np.float64), np.ascontiguousarray(wrong_data), layout.rows,
        layout.cols, _block_of(size), np.full(size.blocks, float(capacity)), _MODULATION.knots, _ERASED.knots,
    )  # fmt: skip
    parameters[Parameter.MODULATION] = _parameter(level, score)
    parameters[Parameter.REFLECTANCE_MARGIN] = _parameter(margin_level, margin_score)

    parameters[Parameter.FIXED_PATTERN_DAMAGE] = _fixed_pattern_damage(dark, modulation, size, notes)

    axial = abs(across - down) / pitch
    parameters[Parameter.AXIAL_NONUNIFORMITY] = _parameter(axial, _AXIAL.score(axial))
    deviation = _grid_nonuniformity(shifts, homography, size, pitch)
    parameters[Parameter.GRID_NONUNIFORMITY] = _parameter(deviation, _GRID.score(deviation))

    return SymbolGrade(
        grade=Grade(min(p.grade for p in parameters.values())),
        score=min(p.score for p in parameters.values()),
        parameters=parameters,
        rows=rows,
        cols=cols,
        module_px=pitch,
        light_on_dark=lod,
        print_growth=(2 * growth[0], 2 * growth[1]),
        image_blur_px=grid.blur,
        notes=tuple(notes),
    )


@functools.cache
def _block_of(size: SymbolSize) -> npt.NDArray[np.int64]:
    """(codewords,) the Reed–Solomon block of each codeword, in placement order."""
    block_of = np.zeros(size.codewords, np.int64)
    for block in range(size.blocks):
        block_of[ecc200.block_members(size, block)] = block
    return block_of


def _fixed_pattern_damage(
    dark: npt.NDArray[np.bool_], modulation: FloatArray, size: SymbolSize, notes: list[str]
) -> ParameterGrade:
    """ISO/IEC 16022 fixed pattern damage: each segment graded by levels of modulation, then the average."""
    segments = _fixed_segments(size)
    scores, wrong, fixed = _grading_kernels.fixed_pattern_levels(
        np.ascontiguousarray(dark), np.ascontiguousarray(modulation, np.float64), segments.expected,
        segments.fixed, segments.cells, segments.starts, _MODULATION.knots, segments.damage_knots,
    )  # fmt: skip
    grades = [grade_score(score) for score in scores.tolist()]
    for name, grade in zip(segments.names, grades, strict=True):
        if grade < Grade.B:
            notes.append(f"fixed pattern damage: {name} grades {grade.name}")
    average_score = _AVERAGE.score(float(scores.mean()))
    average_grade = grade_score(_AVERAGE.score(sum(grades) / len(grades)))
    damaged = wrong / fixed
    return _parameter(damaged, min(float(scores.min()), average_score), Grade(min(*grades, average_grade)))
