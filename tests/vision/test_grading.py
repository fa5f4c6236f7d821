"""Indicative ISO/IEC 15415 grading: simulated production frames, and symbols degraded one way at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipes.schema import PrintLayout
from simulator.camera import render_unit, sample_appearance
from simulator.units import Appearance, Unit
from vision import _grading_kernels, ecc200
from vision.datamatrix import read_datamatrix
from vision.grading import (
    Grade,
    Parameter,
    SymbolGrade,
    _crop,
    _frame_homography,
    _project,
    _sample,
    _search_table,
    _SearchTable,
    _shapes_for,
    grade_score,
    grade_symbol,
)

Frame = npt.NDArray[np.uint8]
Corners = list[tuple[float, float]]

GS1_CONTENT = "(01)09501101020917(17)271231(10)LOT42(21)ABC123XYZ"


# --- frames ------------------------------------------------------------------------------------------


def simulated(seed: int, appearance: Appearance | None = None) -> Frame:
    """A production frame from the simulator: a sampled look (from ``seed``) unless one is given."""
    look = appearance or sample_appearance(np.random.default_rng([seed, 1]))
    unit = Unit(
        index=seed,
        tracking_id=seed + 1,
        gtin="09501101020917",
        serial=f"SN{seed:010d}",
        lot="ABCD1234",
        expiry=dt.date(2027, 5, 31),
        appearance=look,
    )
    return render_unit(unit, PrintLayout(), px_per_mm=10.0, rng=np.random.default_rng(seed))


def decoded_corners(image: Frame) -> Corners:
    """The corners zxing-cpp reports for the frame's symbol, as the node gets them."""
    (read,) = read_datamatrix(image)
    return [(float(x), float(y)) for x, y in read.corners]


@functools.cache
def modules(content: str = GS1_CONTENT) -> npt.NDArray[np.bool_]:
    """A GS1 DataMatrix's modules, True where dark, no quiet zone."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.DataMatrix, gs1=True, forceSquare=True)
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False))
    dark: npt.NDArray[np.bool_] = image == 0
    dark.flags.writeable = False
    return dark


def draw(
    dark: npt.NDArray[np.bool_],
    *,
    module_px: float = 4.5,
    angle: float = 0.0,
    stretch: tuple[float, float] = (1.0, 1.0),
    wobble: float = 0.0,
    light: float = 200.0,
    ink: float = 30.0,
    blur: float = 0.7,
    noise: float = 3.0,
    seed: int = 0,
) -> tuple[Frame, Corners]:
    """A camera-like frame of ``dark`` (area-sampled, blurred, noisy) and the symbol's true corners.

    The symbol sits at the centre of a 400 x 400 frame, turned by ``angle`` degrees counter-clockwise,
    its modules ``module_px`` * ``stretch`` (across, down) pixels. ``wobble`` moves the column lines
    along the symbol by up to that many modules (a sine over 7 columns), as an uneven print speed would.
    """
    rows, cols = dark.shape
    size, fine = 400, 4
    centre = (199.7, 200.2)
    ys, xs = np.mgrid[0 : size * fine, 0 : size * fine]
    dx = (xs + 0.5) / fine - 0.5 - centre[0]
    dy = (ys + 0.5) / fine - 0.5 - centre[1]
    turn = math.radians(angle)
    u = (math.cos(turn) * dx - math.sin(turn) * dy) / (module_px * stretch[0]) + cols / 2
    v = (math.sin(turn) * dx + math.cos(turn) * dy) / (module_px * stretch[1]) + rows / 2
    if wobble:
        u = u - wobble * np.sin(2 * math.pi * u / 7)
    col, row = np.floor(u).astype(int), np.floor(v).astype(int)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    covered = np.zeros(u.shape, np.float32)
    covered[inside] = dark[row[inside], col[inside]]
    coverage = covered.reshape(size, fine, size, fine).mean(axis=(1, 3))
    image = light + (ink - light) * coverage
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image = image + np.random.default_rng(seed).normal(0.0, noise, image.shape)
    corners = []
    for cu, cv in ((0, 0), (cols, 0), (cols, rows), (0, rows)):
        px, py = (cu - cols / 2) * module_px * stretch[0], (cv - rows / 2) * module_px * stretch[1]
        corners.append(
            (
                centre[0] + math.cos(turn) * px + math.sin(turn) * py,
                centre[1] - math.sin(turn) * px + math.cos(turn) * py,
            )
        )
    return np.clip(np.round(image), 0, 255).astype(np.uint8), corners


def at(corners: Corners, u: float, v: float, side: int) -> tuple[float, float]:
    """The image point of module coordinates (u across, v down) of a ``side`` x ``side`` symbol."""
    tl, tr, _, bl = (np.array(c) for c in corners)
    point = tl + u / side * (tr - tl) + v / side * (bl - tl)
    return float(point[0]), float(point[1])


def assert_same_grade(grade: SymbolGrade, reference: SymbolGrade) -> None:
    """The same grade for every parameter, and the same measurements to within 0.01."""
    assert grade.parameters.keys() == reference.parameters.keys()
    for parameter, expected in reference.parameters.items():
        assert grade.parameters[parameter].grade is expected.grade, parameter
        assert grade.parameters[parameter].value == pytest.approx(expected.value, abs=0.01), parameter


def grade_drawn(dark: npt.NDArray[np.bool_], **kw: float | tuple[float, float]) -> SymbolGrade:
    """Draw ``dark`` and grade it at the corners the decoder reports."""
    image, _ = draw(dark, **kw)  # type: ignore[arg-type]
    return grade_symbol(image, decoded_corners(image))


def value(grade: SymbolGrade, parameter: Parameter) -> float:
    """A parameter's measured value."""
    return grade.parameters[parameter].value


def letter(grade: SymbolGrade, parameter: Parameter) -> Grade:
    """A parameter's grade."""
    return grade.parameters[parameter].grade


PRINT_PARAMETERS = (
    Parameter.DECODE,
    Parameter.UNUSED_ERROR_CORRECTION,
    Parameter.AXIAL_NONUNIFORMITY,
    Parameter.GRID_NONUNIFORMITY,
)
"""What the simulated printer always gets right (contrast and modulation follow the camera's look)."""


# --- tests -------------------------------------------------------------------------------------------


class TestSimulatedFrames:
    """Frames of good units from the simulated printer and camera."""

    @pytest.mark.parametrize("seed", range(6))
    def test_nominal_look_grades_b_or_better(self, seed: int) -> None:
        """The simulator's nominal look (full contrast, 4 px modules, light blur) grades B or better."""
        image = simulated(seed, Appearance())
        grade = grade_symbol(image, decoded_corners(image))
        assert grade.grade >= Grade.B, grade
        assert grade.rows == grade.cols and grade.rows in (22, 24)
        assert grade.module_px == pytest.approx(4.0, abs=0.15)
        assert not grade.light_on_dark

    @pytest.mark.parametrize("seed", range(12))
    def test_sampled_looks(self, seed: int) -> None:
        """Over the sampled looks, the printer's own parameters grade A; contrast and modulation vary."""
        look = sample_appearance(np.random.default_rng([seed, 1]))
        image = simulated(seed)
        grade = grade_symbol(image, decoded_corners(image))
        for parameter in PRINT_PARAMETERS:
            assert letter(grade, parameter) is Grade.A, (parameter, grade)
        assert letter(grade, Parameter.FIXED_PATTERN_DAMAGE) >= Grade.C
        assert grade.light_on_dark is look.light_on_dark
        # Symbol contrast follows the look's ink contrast (carton 175..215 or 35..60 grey levels).
        assert value(grade, Parameter.SYMBOL_CONTRAST) == pytest.approx(0.7 * look.contrast, abs=0.15)

    def test_contrast_decides_most_grades(self) -> None:
        """At the low end of the sampled contrast (0.55) SC grades C or D; at full contrast B or A."""
        base = Appearance(module_px=4.5, blur_sigma=0.6, noise_sigma=3.0)
        faint = simulated(1, dataclasses.replace(base, contrast=0.55))
        strong = simulated(1, dataclasses.replace(base, contrast=1.0))
        assert letter(grade_symbol(faint, decoded_corners(faint)), Parameter.SYMBOL_CONTRAST) in (
            Grade.C,
            Grade.D,
        )
        assert letter(grade_symbol(strong, decoded_corners(strong)), Parameter.SYMBOL_CONTRAST) >= Grade.B

    def test_print_growth(self) -> None:
        """The simulator prints every dark module 8 % wide (4 % a side); the grader measures that."""
        image = simulated(2, Appearance(module_px=5.0, blur_sigma=0.5))
        grade = grade_symbol(image, decoded_corners(image))
        assert grade.print_growth == pytest.approx((0.08, 0.08), abs=0.02)

    def test_light_on_dark(self) -> None:
        """A laser-marked (light on dark) unit grades like its dark-on-light twin."""
        look = Appearance(module_px=4.5, blur_sigma=0.6, contrast=0.9)
        dark_on_light = simulated(4, look)
        light_on_dark = simulated(4, dataclasses.replace(look, light_on_dark=True))
        normal = grade_symbol(dark_on_light, decoded_corners(dark_on_light))
        laser = grade_symbol(light_on_dark, decoded_corners(light_on_dark))
        assert laser.light_on_dark and not normal.light_on_dark
        assert laser.grade >= Grade.B
        for parameter in (
            Parameter.DECODE,
            Parameter.UNUSED_ERROR_CORRECTION,
            Parameter.FIXED_PATTERN_DAMAGE,
        ):
            assert letter(laser, parameter) is letter(normal, parameter)

    @pytest.mark.parametrize("angle", [-10.0, -4.0, 3.0, 10.0])
    def test_rotation(self, angle: float) -> None:
        """A turned carton grades as an upright one: the grid follows the corners."""
        look = Appearance(module_px=4.5, blur_sigma=0.6, contrast=0.95)
        upright = simulated(5, look)
        turned = simulated(5, dataclasses.replace(look, rotation_deg=angle))
        reference = grade_symbol(upright, decoded_corners(upright))
        grade = grade_symbol(turned, decoded_corners(turned))
        assert grade.grade >= Grade.B
        assert value(grade, Parameter.AXIAL_NONUNIFORMITY) < 0.02
        assert value(grade, Parameter.GRID_NONUNIFORMITY) < 0.15
        assert grade.module_px == pytest.approx(reference.module_px, rel=0.02)
        assert grade.score == pytest.approx(reference.score, abs=0.35)


class TestAperture:
    """The synthetic aperture, completed from the blur the image already has."""

    @pytest.mark.parametrize("blur", [0.5, 1.0, 1.5])
    def test_image_blur_is_measured(self, blur: float) -> None:
        """The blur at the module edges comes out as the drawn Gaussian's sigma (with the pixel's own)."""
        image, corners = draw(modules(), module_px=5.0, blur=blur)
        measured = grade_symbol(image, corners).image_blur_px
        assert measured == pytest.approx(math.hypot(blur, math.sqrt(1 / 12)), abs=0.15)

    def test_blur_counts_towards_the_aperture(self) -> None:
        """A good print seen blurrier than the aperture (sigma 1.5 px, 5 px modules) keeps MOD B or A."""
        image, corners = draw(modules(), module_px=5.0, blur=1.5)
        grade = grade_symbol(image, corners)
        assert letter(grade, Parameter.MODULATION) >= Grade.B
        assert letter(grade, Parameter.UNUSED_ERROR_CORRECTION) is Grade.A


class TestSymbolContrast:
    """SC: the span of reflectance over the symbol and its quiet zone."""

    def test_faded_print_fails(self) -> None:
        """Squeezing a frame's grey levels to a quarter around their mean drops SC below 20 % (F)."""
        image = simulated(6, Appearance(module_px=4.5, blur_sigma=0.5, contrast=0.9))
        corners = decoded_corners(image)
        faded = image.astype(np.float32)
        faded = np.clip(faded.mean() + 0.22 * (faded - faded.mean()), 0, 255).astype(np.uint8)
        before = grade_symbol(image, corners)
        after = grade_symbol(faded, decoded_corners(faded))
        assert value(before, Parameter.SYMBOL_CONTRAST) > 0.5
        assert value(after, Parameter.SYMBOL_CONTRAST) < 0.2
        assert letter(after, Parameter.SYMBOL_CONTRAST) is Grade.F
        assert after.grade is Grade.F
        # Still decodable: contrast alone fails it, as a verifier would.
        assert letter(after, Parameter.DECODE) is Grade.A

    def test_value(self) -> None:
        """SC of a drawn symbol is its ink-to-paper span over 255 (noise widens it a little)."""
        grade = grade_drawn(modules(), light=200.0, ink=30.0, noise=1.0)
        assert value(grade, Parameter.SYMBOL_CONTRAST) == pytest.approx(170 / 255, abs=0.02)


class TestAxialNonuniformity:
    """AN: modules longer one way than the other."""

    @pytest.mark.parametrize(
        ("stretch", "expected"), [(1.0, Grade.A), (1.07, Grade.B), (1.1, Grade.C), (1.16, Grade.F)]
    )
    def test_stretched_symbol(self, stretch: float, expected: Grade) -> None:
        """Modules stretched by s across measure AN = (s - 1) / ((s + 1) / 2), graded on 6/8/10/12 %."""
        grade = grade_drawn(modules(), stretch=(stretch, 1.0), angle=4.0)
        assert value(grade, Parameter.AXIAL_NONUNIFORMITY) == pytest.approx(
            (stretch - 1) / ((stretch + 1) / 2), abs=0.006
        )
        assert letter(grade, Parameter.AXIAL_NONUNIFORMITY) is expected

    def test_stretched_frame(self) -> None:
        """Resizing a simulated frame's width by 12 % raises AN to about 0.11 (D)."""
        image = simulated(7, Appearance(module_px=4.5, blur_sigma=0.5))
        wide = np.asarray(cv2.resize(image, None, fx=1.12, fy=1.0, interpolation=cv2.INTER_LINEAR), np.uint8)
        grade = grade_symbol(wide, decoded_corners(wide))
        assert value(grade, Parameter.AXIAL_NONUNIFORMITY) == pytest.approx(0.113, abs=0.01)
        assert letter(grade, Parameter.AXIAL_NONUNIFORMITY) is Grade.D


class TestGridNonuniformity:
    """GN: module centres off the best-fitting grid."""

    def test_regular_grid(self) -> None:
        """A regular print sits on its grid to a few hundredths of a module."""
        assert value(grade_drawn(modules(), angle=-6.0), Parameter.GRID_NONUNIFORMITY) < 0.08

    @pytest.mark.parametrize("wobble", [0.25, 0.45])
    def test_wobbling_columns(self, wobble: float) -> None:
        """Columns wandering by up to w modules are followed (the symbol still decodes) and measured."""
        grade = grade_drawn(modules(), wobble=wobble)
        assert letter(grade, Parameter.DECODE) is Grade.A
        assert value(grade, Parameter.GRID_NONUNIFORMITY) == pytest.approx(wobble, abs=0.1)
        if wobble > 0.38:
            assert letter(grade, Parameter.GRID_NONUNIFORMITY) <= Grade.B


class TestFixedPatternDamage:
    """FPD: the L finder, the clock tracks and the quiet zone next to them."""

    @pytest.mark.parametrize(
        ("missing", "expected"), [(0, Grade.A), (1, Grade.B), (2, Grade.C), (3, Grade.D), (5, Grade.F)]
    )
    def test_finder_gaps(self, missing: int, expected: Grade) -> None:
        """Modules missing from the 22 of the L's left side: 1 (4.5 %) B, 2 (9.1 %) C, 3 (13.6 %) D."""
        dark = modules().copy()
        dark[8 : 8 + missing, 0] = False
        grade = grade_drawn(dark)
        assert letter(grade, Parameter.FIXED_PATTERN_DAMAGE) is expected
        assert grade.grade <= expected
        if missing > 1:
            assert any("L1" in note for note in grade.notes)

    def test_damaged_finder_in_a_frame(self) -> None:
        """Ink wiped off the corner of a simulated frame's L finder lowers FPD below B."""
        image = simulated(8, Appearance(module_px=5.0, blur_sigma=0.5))
        corners = decoded_corners(image)
        # Carton grey over the 3 x 3 modules at the L's corner (the symbol is 24 x 24).
        patch = [at(corners, u, v, 24) for u, v in ((-0.2, 21.0), (3.0, 21.0), (3.0, 24.2), (-0.2, 24.2))]
        wiped = image.copy()
        cv2.fillConvexPoly(wiped, np.round(patch).astype(np.int32), int(np.median(image)))
        before = grade_symbol(image, corners)
        after = grade_symbol(wiped, corners)
        assert letter(before, Parameter.FIXED_PATTERN_DAMAGE) is Grade.A
        assert letter(after, Parameter.FIXED_PATTERN_DAMAGE) < Grade.B
        assert after.grade < Grade.B


class TestUnusedErrorCorrection:
    """UEC and decode: the codewords Reed–Solomon had to correct."""

    @pytest.mark.parametrize("flipped", [0, 2, 4, 6, 9])
    def test_damaged_codewords(self, flipped: int) -> None:
        """k codewords printed wrong leave UEC = 1 - 2k / d (d = 20 for 22 x 22), graded on 62/50/37/25 %."""
        dark = modules().copy()
        size = ecc200.symbol_size(*dark.shape)
        assert size is not None and size.block_ecc == 20
        layout = ecc200.module_map(size)
        for codeword in np.random.default_rng(flipped).choice(size.codewords, flipped, replace=False):
            dark[layout.rows[codeword], layout.cols[codeword]] ^= True
        grade = grade_drawn(dark)
        unused = 1 - 2 * flipped / 20
        assert value(grade, Parameter.UNUSED_ERROR_CORRECTION) == pytest.approx(unused)
        assert letter(grade, Parameter.UNUSED_ERROR_CORRECTION) is grade_score(
            float(np.interp(unused, (0.13, 0.25, 0.37, 0.50, 0.62), (0, 1, 2, 3, 4)))
        )
        # The wrong modules count as zero reflectance margin, not as modulation.
        assert letter(grade, Parameter.MODULATION) is Grade.A
        if flipped:
            assert letter(grade, Parameter.REFLECTANCE_MARGIN) <= letter(grade, Parameter.MODULATION)

    def test_beyond_correction(self) -> None:
        """More wrong codewords than Reed–Solomon corrects: no decode, overall F, and a note why."""
        dark = modules().copy()
        size = ecc200.symbol_size(*dark.shape)
        assert size is not None
        layout = ecc200.module_map(size)
        for codeword in range(0, 24, 2):
            dark[layout.rows[codeword], layout.cols[codeword]] ^= True
        image, corners = draw(dark)
        grade = grade_symbol(image, corners)
        assert letter(grade, Parameter.DECODE) is Grade.F
        assert grade.grade is Grade.F and grade.score == 0.0
        assert any("do not decode" in note for note in grade.notes)


class TestGeometry:
    """Finding the grid from the corners, whatever their order and the symbol's size."""

    def test_any_corner_order(self) -> None:
        """Corners starting at any of the four, or mirrored, give the same grade."""
        image, corners = draw(modules(), angle=7.0)
        reference = grade_symbol(image, corners)
        for order in ([1, 2, 3, 0], [2, 3, 0, 1], [3, 2, 1, 0], [0, 3, 2, 1]):
            assert_same_grade(grade_symbol(image, [corners[i] for i in order]), reference)

    def test_multi_region_symbol(self) -> None:
        """A 36 x 36 symbol (four data regions, alignment patterns inside) grades B or better."""
        dark = modules(GS1_CONTENT + "(240)" + "A1B2C3D4E5F6G7H8I9J0" + "(241)" + "K1L2M3N4O5P6Q7R8S9T0")
        assert dark.shape[0] >= 32
        grade = grade_drawn(dark, module_px=4.0)
        assert (grade.rows, grade.cols) == dark.shape
        assert grade.grade >= Grade.B
        assert letter(grade, Parameter.FIXED_PATTERN_DAMAGE) is Grade.A

    def test_corners_off(self) -> None:
        """Corners a third of a module off still find the grid: the edges put it in place."""
        image, corners = draw(modules())
        shifted = [(x + 1.5, y - 1.2) for x, y in corners]
        assert_same_grade(grade_symbol(image, shifted), grade_symbol(image, corners))


class TestUngradeable:
    """Whatever the frame, a grade comes back; only wrong arguments raise."""

    def test_blank_frame(self) -> None:
        """No symbol at the corners: grade F, with the reason."""
        blank = np.full((300, 300), 180, np.uint8)
        grade = grade_symbol(blank, [(100, 100), (200, 100), (200, 200), (100, 200)])
        assert grade.grade is Grade.F and grade.score == 0.0
        assert grade.parameters.keys() == {Parameter.DECODE}
        assert grade.notes

    def test_outside_the_frame(self) -> None:
        """Corners beyond the frame, or a quiet zone past its edge: grade F, with the reason."""
        image, corners = draw(modules())
        far = [(x + 1000, y) for x, y in corners]
        assert grade_symbol(image, far).grade is Grade.F
        cut = np.ascontiguousarray(image[:, 148:])  # the symbol starts at x = 150
        grade = grade_symbol(cut, [(x - 148, y) for x, y in corners])
        assert grade.grade is Grade.F and grade.notes

    def test_crossed_corners(self) -> None:
        """Corners that cross (a bowtie) are not a symbol."""
        image, corners = draw(modules())
        grade = grade_symbol(image, [corners[0], corners[2], corners[1], corners[3]])
        assert grade.grade is Grade.F and "degenerate" in grade.notes[0]

    @pytest.mark.parametrize(
        ("image", "corners", "named"),
        [
            (np.zeros((100, 100), np.float32), [(0, 0), (10, 0), (10, 10), (0, 10)], "image"),
            (np.zeros((100, 100, 3), np.uint8), [(0, 0), (10, 0), (10, 10), (0, 10)], "image"),
            (np.zeros((0, 100), np.uint8), [(0, 0), (10, 0), (10, 10), (0, 10)], "image"),
            ([[0, 1], [2, 3]], [(0, 0), (10, 0), (10, 10), (0, 10)], "image"),
            (np.zeros((100, 100), np.uint8), [(0, 0), (10, 0), (10, 10)], "corners"),
            (np.zeros((100, 100), np.uint8), [(0, 0), (10, 0), (10, math.nan), (0, 10)], "corners"),
            (np.zeros((100, 100), np.uint8), "abcd", "corners"),
        ],
    )
    def test_wrong_arguments(self, image: object, corners: object, named: str) -> None:
        """A wrong dtype, shape or corner list raises ValueError naming the argument."""
        with pytest.raises(ValueError, match=named):
            grade_symbol(image, corners)  # type: ignore[arg-type]


@functools.cache
def _base() -> tuple[Frame, Corners]:
    return draw(modules(), angle=3.0)


class TestInvariants:
    """Properties of every grade, on frames and corners anywhere from good to garbage."""

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        jitter=st.floats(0.0, 12.0),
        seed=st.integers(0, 2**32 - 1),
        speckle=st.floats(0.0, 0.6),
        contrast=st.floats(0.0, 1.0),
    )
    def test_overall_is_the_lowest_parameter(
        self, jitter: float, seed: int, speckle: float, contrast: float
    ) -> None:
        """Overall grade = the lowest parameter grade, in 0..4; every score lies in its grade's band."""
        image, corners = _base()
        rng = np.random.default_rng(seed)
        frame = image.astype(np.float32)
        frame = frame.mean() + contrast * (frame - frame.mean())
        frame[rng.random(frame.shape) < speckle] = rng.uniform(0, 255)
        moved = [(x + rng.normal(0, jitter), y + rng.normal(0, jitter)) for x, y in corners]
        grade = grade_symbol(np.clip(frame, 0, 255).astype(np.uint8), moved)
        assert grade.grade == min(p.grade for p in grade.parameters.values())
        assert 0 <= grade.grade <= 4
        assert grade.score == min(p.score for p in grade.parameters.values())
        for parameter in grade.parameters.values():
            assert parameter.grade == grade_score(parameter.score)
            assert 0.0 <= parameter.score <= 4.0
        assert Parameter.DECODE in grade.parameters

    @settings(max_examples=40, deadline=None)
    @given(
        height=st.integers(1, 120),
        width=st.integers(1, 120),
        seed=st.integers(0, 2**32 - 1),
        corners=st.lists(st.tuples(st.floats(-200, 300), st.floats(-200, 300)), min_size=4, max_size=4),
    )
    def test_never_raises_on_a_bad_image(
        self, height: int, width: int, seed: int, corners: list[tuple[float, float]]
    ) -> None:
        """Noise, tiny frames and corners anywhere give a grade, never an exception."""
        image = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
        grade = grade_symbol(image, corners)
        assert grade.grade == min(p.grade for p in grade.parameters.values())

    def test_grade_score(self) -> None:
        """A continuous score's letter is its integer part, 4.0 and above A."""
        assert [grade_score(s) for s in (0.0, 0.99, 1.0, 2.5, 3.999, 4.0)] == [0, 0, 1, 2, 3, 4]


# --- compiled kernels against plain numpy ------------------------------------------------------------

KernelCalls = dict[str, list[tuple[object, ...]]]


@functools.cache
def _kernel_calls() -> KernelCalls:
    """Every call grading makes to the compiled kernels on a few realistic symbols: simulated frames
    (one light on dark), a turned and soft drawn one, and a damaged one (edges dropped from the fit)."""
    calls: KernelCalls = {}
    names = (
        "find_edges",
        "growth_and_lines",
        "grid_equations",
        "grid_residuals",
        "finite_median",
        "largest_shift",
        "fixed_pattern_levels",
        "codeword_levels",
    )
    originals = {name: getattr(_grading_kernels, name) for name in names}

    def recording(name: str) -> object:
        def record(*args: object) -> object:
            calls.setdefault(name, []).append(args)
            return originals[name](*args)

        return record

    damaged, corners = draw(modules(), angle=23.0, module_px=3.6, blur=1.1)
    damaged[150:190, 180:215] = 200  # a light patch over part of the symbol
    frames = [
        (simulated(3), None),
        (simulated(4, Appearance(module_px=4.5, blur_sigma=0.6, contrast=0.9, light_on_dark=True)), None),
        draw(modules(), angle=-37.0, module_px=5.5, blur=1.4, noise=5.0),
        (damaged, corners),
    ]
    with pytest.MonkeyPatch.context() as patch:
        for name in names:
            patch.setattr(_grading_kernels, name, recording(name))
        for image, at_corners in frames:
            grade_symbol(image, decoded_corners(image) if at_corners is None else at_corners)
    return calls


def _realistic(name: str) -> list[tuple[Any, ...]]:
    calls = _kernel_calls().get(name, [])
    assert len(calls) >= 4, name
    return calls


class TestKernels:
    """Each compiled kernel gives what the plain numpy it replaced gives, on the arguments grading passes."""

    def test_find_edges(self) -> None:
        """Each edge where a plain numpy profile across its grid line crosses the mid-level."""
        for raw, homography, dark, min_contrast, reach, samples, fits in _realistic("find_edges"):
            got = _grading_kernels.find_edges(raw, homography, dark, min_contrast, reach, samples, fits)
            expected = _numpy_edges(raw, homography, dark, min_contrast, reach, samples, fits)
            assert got[0].size > 100
            for index, name in ((0, "axis"), (1, "line"), (2, "along"), (4, "polarity")):
                np.testing.assert_array_equal(got[index], expected[index], err_msg=name)
            np.testing.assert_allclose(got[3], expected[3], rtol=0, atol=1e-9, err_msg="offset")
            np.testing.assert_allclose(got[5], expected[5], rtol=1e-9, err_msg="spread")
            assert np.isfinite(got[5]).any() and np.isnan(got[5]).any()

    def test_growth_and_lines(self) -> None:
        """The line fits left: per grid line, the mean position and residual of its edges (less the
        growth, with polarity) and the least-squares slope where the edges spread far enough."""
        for axis, line, along, residual, polarity, use, rows, cols in _realistic("growth_and_lines"):
            step_u, step_v, fits = _grading_kernels.growth_and_lines(
                axis, line, along, residual, polarity, use, rows, cols
            )
            corrected = residual - polarity * np.array([step_u, step_v])[axis]
            sloped = 0
            for a, length in ((0, rows), (1, cols)):
                for j in range(fits.shape[1]):
                    mine = (axis == a) & (line == j) & use
                    if not mine.any():
                        np.testing.assert_array_equal(fits[a, j], 0.0)
                        continue
                    position = along[mine] - length / 2
                    values = corrected[mine]
                    spread = ((position - position.mean()) ** 2).sum()
                    slope = 0.0
                    if mine.sum() >= 4 and spread >= mine.sum() * (length / 8) ** 2 * (1 + 1e-9):
                        slope = ((position - position.mean()) * (values - values.mean())).sum() / spread
                        sloped += 1
                    expected = [position.mean(), values.mean(), slope]
                    np.testing.assert_allclose(fits[a, j], expected, rtol=1e-9, atol=1e-12)
            assert sloped > 0

    def test_grid_equations(self) -> None:
        """The normal matrix is A^T A of the DLT rows of the kept edges; the kept counts per axis."""
        for axis, line, along, offset, polarity, keep, growth, normal in _realistic("grid_equations"):
            scale, centre_u, centre_v = normal
            matrix, observed, kept_u, kept_v = _grading_kernels.grid_equations(
                axis, line, along, offset, polarity, keep, growth, normal
            )
            shifted = line + offset - polarity * np.asarray(growth)[axis]
            column = axis == 0
            x = np.where(column, shifted, along)
            y = np.where(column, along, shifted)
            np.testing.assert_array_equal(observed, np.stack([x, y], axis=1))
            assert (kept_u, kept_v) == (
                int(np.count_nonzero(keep & column)),
                int(np.count_nonzero(keep & ~column)),
            )
            target = (line - np.where(column, centre_u, centre_v)) * scale
            xn, yn = (x - centre_u) * scale, (y - centre_v) * scale
            rows = np.zeros((line.size, 9))
            rows[column, 0:3] = np.stack([xn, yn, np.ones_like(xn)], axis=1)[column]
            rows[~column, 3:6] = np.stack([xn, yn, np.ones_like(xn)], axis=1)[~column]
            rows[:, 6:9] = -target[:, None] * np.stack([xn, yn, np.ones_like(xn)], axis=1)
            rows = rows[keep]
            np.testing.assert_allclose(matrix, rows.T @ rows, rtol=1e-12, atol=1e-9)
            np.testing.assert_array_equal(matrix, matrix.T)

    def test_grid_residuals(self) -> None:
        """Distances across the lines after the correction, within the limit, and nothing new dropped."""
        settled_seen = set()
        for correction, observed, axis, line, limit, kept in _realistic("grid_residuals"):
            residual, within, settled = _grading_kernels.grid_residuals(
                correction, observed, axis, line, limit, kept
            )
            points = np.column_stack([observed, np.ones(line.size)]) @ correction.T
            moved = np.where(axis == 0, points[:, 0], points[:, 1]) / points[:, 2]
            np.testing.assert_allclose(residual, moved - line, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(within, np.abs(residual) <= limit)
            assert settled == bool((within | ~kept).all())
            settled_seen.add(settled)
        assert settled_seen == {True, False}  # the damaged symbol drops edges

    def test_finite_median(self) -> None:
        """numpy's median of the finite edge spreads, exactly, and their count."""
        for (spread,) in _realistic("finite_median"):
            finite = spread[np.isfinite(spread)]
            assert finite.size < spread.size  # some edges are not wide enough to measure
            median, count = _grading_kernels.finite_median(spread)
            assert (median, count) == (float(np.median(finite)), finite.size)
            for cut in (1, 2, 3):  # odd and even counts
                part = finite[:cut]
                assert _grading_kernels.finite_median(part) == (float(np.median(part)), cut)
        median, count = _grading_kernels.finite_median(np.array([math.nan, math.inf]))
        assert math.isnan(median) and count == 0

    def test_largest_shift(self) -> None:
        """The longest module shift in pixels, symbol only, exactly as numpy computes it."""
        for shifts, per_u, per_v in _realistic("largest_shift"):
            inner = shifts[1:-1, 1:-1]
            moved = inner[..., :1] * per_u + inner[..., 1:] * per_v
            expected = float(np.sqrt((moved * moved).sum(axis=-1)).max())
            assert expected > 0.0
            assert _grading_kernels.largest_shift(shifts, per_u, per_v) == expected

    def test_fixed_pattern_levels(self) -> None:
        """Segment scores on the modulation (wrong colour counting 0) and the wrong share, exactly."""
        any_wrong = False
        for dark, modulation, expected, fixed, cells, starts, knots, damage in _realistic(
            "fixed_pattern_levels"
        ):
            scores, wrong, total = _grading_kernels.fixed_pattern_levels(
                dark, modulation, expected, fixed, cells, starts, knots, damage
            )
            wrong_cells = fixed & (dark != expected)
            margin = np.where(wrong_cells, 0.0, modulation).ravel()[cells]
            np.testing.assert_array_equal(
                scores, _grading_kernels.segment_levels(margin, starts, knots, damage)
            )
            assert (wrong, total) == (int(np.count_nonzero(wrong_cells)), int(np.count_nonzero(fixed)))
            any_wrong |= wrong > 0
        assert any_wrong

    def test_codeword_levels(self) -> None:
        """Modulation and reflectance margin by levels on each codeword's weakest module, exactly."""
        for modulation, wrong, rows, cols, group, capacity, knots, damage in _realistic("codeword_levels"):
            module_modulation = modulation[1:-1, 1:-1]
            margin = np.where(wrong, 0.0, module_modulation)
            weakest = module_modulation[rows, cols].min(axis=1)
            lowest = margin[rows, cols].min(axis=1)
            expected = (
                *_grading_kernels.graded_levels(weakest, group, capacity, knots, damage),
                *_grading_kernels.graded_levels(lowest, group, capacity, knots, damage),
            )
            args = (modulation, wrong, rows, cols, group, capacity, knots, damage)
            assert _grading_kernels.codeword_levels(*args) == expected

    @pytest.mark.parametrize("size", [*range(0, 140), 255, 256, 257, 700, 1031, 4100])
    def test_pairwise_sum(self, size: int) -> None:
        """numpy's own sum, to the last bit, and np.add.reduceat's (first value plus the rest)."""
        values = np.random.default_rng(size).normal(120.0, 60.0, size) ** 2
        assert _grading_kernels.pairwise_sum(values) == np.sum(values)
        if size:
            assert values[0] + _grading_kernels.pairwise_sum(values[1:]) == np.add.reduceat(values, [0])[0]

    @pytest.mark.parametrize("turns", [False, True])
    def test_best_labelling(self, turns: bool) -> None:
        """The labelling, agreement and polarity the plain numpy ranking gives, on realistic rings."""
        looks = ((3.0, 4.5, 200.0, 30.0), (95.0, 3.2, 200.0, 30.0), (200.0, 5.0, 40.0, 190.0))
        images = [draw(modules(), angle=a, module_px=px, light=light, ink=ink) for a, px, light, ink in looks]
        image = simulated(7)
        images.append((image, decoded_corners(image)))
        for image, corners in images:
            quad = np.asarray(corners, np.float64)
            crop, origin = _crop(image, quad)
            assert crop is not None
            for jitter in (0.0, 2.5):
                moved = quad - origin + np.random.default_rng(1).normal(0.0, jitter, quad.shape)
                table = _search_table(_shapes_for(moved), any_turn=turns)
                assert table is not None
                grey = _sample(crop, _project(_frame_homography(1, 1, moved), table.points))
                got = _grading_kernels.best_labelling(
                    grey, table.starts, table.counts, table.dark_point, table.dark_group,
                    table.dark_counts, table.labelling_shape,
                )  # fmt: skip
                assert got == _numpy_labelling(grey, table)


def _numpy_edges(
    raw: npt.NDArray[np.float32],
    homography: npt.NDArray[np.float64],
    dark: npt.NDArray[np.bool_],
    min_contrast: float,
    reach: float,
    samples: int,
    fits: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[Any], ...]:
    """find_edges in plain numpy, one profile at a time (see its docstring)."""
    rows, cols = dark.shape[0] - 2, dark.shape[1] - 2
    height, width = raw.shape
    grey = raw.astype(np.float64)
    t = np.arange(samples) / (samples - 1)
    inner = round((reach - 0.5) / (2 * reach) * (samples - 1))
    found: list[tuple[int, int, float, float, float, float]] = []
    for axis in (0, 1):
        for line in range((cols if axis == 0 else rows) + 1):
            for position in range(rows if axis == 0 else cols):
                pair = (position + 1, line) if axis == 0 else (line, position + 1)
                step = (0, 1) if axis == 0 else (1, 0)
                before, after = dark[pair], dark[pair[0] + step[0], pair[1] + step[1]]
                if before == after:
                    continue
                centred = position + 0.5 - (rows if axis == 0 else cols) / 2
                shift = fits[axis, line, 1] + fits[axis, line, 2] * (centred - fits[axis, line, 0])
                across = line + shift + reach * (2 * t - 1)
                along = np.full(samples, position + 0.5)
                uv = np.stack([across, along] if axis == 0 else [along, across], axis=1)
                ends = _project(homography, uv[[0, -1]])
                x = np.clip(ends[0, 0] + t * (ends[1, 0] - ends[0, 0]), 0.0, width - 1.001)
                y = np.clip(ends[0, 1] + t * (ends[1, 1] - ends[0, 1]), 0.0, height - 1.001)
                x0, y0 = x.astype(int), y.astype(int)
                fx, fy = x - x0, y - y0
                top = grey[y0, x0] * (1 - fx) + grey[y0, x0 + 1] * fx
                bottom = grey[y0 + 1, x0] * (1 - fx) + grey[y0 + 1, x0 + 1] * fx
                profile = top * (1 - fy) + bottom * fy
                first, last = profile[inner], profile[samples - 1 - inner]
                if abs(last - first) < min_contrast:
                    continue
                mid = (first + last) / 2
                crossings = np.flatnonzero((profile[:-1] > mid) != (profile[1:] > mid))
                if not crossings.size:
                    continue
                best = int(crossings[np.argmin(np.abs(crossings + 0.5 - (samples - 1) / 2))])
                low, high = profile[best] - mid, profile[best + 1] - mid
                fraction = low / (low - high) if high != low else 0.5
                reach_out = (
                    (pair[0] - step[0], pair[1] - step[1]),
                    (pair[0] + 2 * step[0], pair[1] + 2 * step[1]),
                )
                wide = 1 <= line <= (cols if axis == 0 else rows) - 1 and (
                    dark[reach_out[0]] == before and dark[reach_out[1]] == after
                )
                spread = math.nan
                steepest = np.abs(np.diff(profile))[max(best - 1, 0) : min(best + 2, samples - 1)].max()
                if wide and steepest > 0:
                    step_px = math.dist(ends[0], ends[1]) / (samples - 1)
                    spread = abs(profile[-1] - profile[0]) * step_px / (steepest * math.sqrt(2 * math.pi))
                offset = shift + reach * (2 * (best + fraction) / (samples - 1) - 1)
                found.append((axis, line, position + 0.5, offset, 1.0 if before else -1.0, spread))
    columns = list(zip(*found, strict=True))
    return tuple(np.array(column) for column in columns)


def _numpy_labelling(grey: npt.NDArray[np.float64], table: _SearchTable) -> tuple[int, float, bool]:
    """The plain numpy ranking of labellings that best_labelling replaced."""
    squares = grey * grey
    total = np.add.reduceat(grey, table.starts)[table.labelling_shape]
    total_squares = np.add.reduceat(squares, table.starts)[table.labelling_shape]
    count = table.counts[table.labelling_shape]
    dark_sum = np.bincount(table.dark_group, grey[table.dark_point], minlength=len(table.labellings))
    dark_squares = np.bincount(table.dark_group, squares[table.dark_point], minlength=len(table.labellings))
    light_count = count - table.dark_counts
    dark_mean = dark_sum / table.dark_counts
    light_mean = (total - dark_sum) / light_count
    dark_var = np.maximum(dark_squares / table.dark_counts - dark_mean**2, 0.0)
    light_var = np.maximum((total_squares - dark_squares) / light_count - light_mean**2, 0.0)
    separation = (light_mean - dark_mean) / np.sqrt((dark_var + light_var) / 2 + 1.0)
    index = int(np.argmax(np.abs(separation)))
    lod = bool(separation[index] < 0)
    shape = table.labelling_shape[index]
    start = table.starts[shape]
    ring = grey[start : start + int(table.counts[shape])]
    expected = np.zeros(ring.size, np.bool_)
    expected[table.dark_point[table.dark_group == index] - start] = True
    middle = (dark_mean[index] + light_mean[index]) / 2
    seen_dark = ring > middle if lod else ring < middle
    return index, float(np.mean(seen_dark == expected)), lod
