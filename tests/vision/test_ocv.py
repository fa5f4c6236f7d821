"""OCV of the printed text against the simulator's renders across the look of a line in specification."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp

from recipes.schema import Inspection, PrintLayout
from simulator.camera import render_unit, sample_appearance
from simulator.units import Appearance, Defect, Unit
from vision.datamatrix import Corners
from vision.ocv import OcvResult, verify_print
from vision.print_text import print_lines

LAYOUT = PrintLayout()
PX_PER_MM = Inspection().px_per_mm
MIN_SCORE = Inspection().ocr.min_score
CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

Frame = npt.NDArray[np.uint8]


@dataclasses.dataclass(frozen=True)
class Case:
    """One rendered unit and where its code was found."""

    unit: Unit
    image: Frame
    corners: Corners


def make_unit(seed: int, *, defect: Defect | None = None, appearance: Appearance | None = None) -> Unit:
    """A unit with random serial, lot and expiry and a sampled look, all drawn from ``seed``."""
    rng = np.random.default_rng([seed, 2])

    def text(size: int) -> str:
        return "".join(str(c) for c in rng.choice(list(CHARACTERS), size=size))

    return Unit(
        index=seed,
        tracking_id=seed + 1,
        gtin="09501101020917",
        serial=text(12),
        lot=text(int(rng.integers(5, 11))),
        expiry=dt.date(int(rng.integers(2026, 2031)), int(rng.integers(1, 13)), 1),
        defect=defect,
        appearance=appearance or sample_appearance(rng),
    )


def locate(image: Frame) -> Corners | None:
    """The code's corners as the node's decoder reports them (TL, TR, BR, BL in its own orientation).

    zxing-cpp runs on the frame smoothed by a 0.8 px Gaussian, which finds the same symbols in an
    eighth of the time on noisy frames; OCV itself gets the raw frame.
    """
    found = zxingcpp.read_barcodes(
        cv2.GaussianBlur(image, (0, 0), 0.8),
        formats=zxingcpp.BarcodeFormats(zxingcpp.DataMatrix),
        try_downscale=False,
    )
    if not found:
        return None
    p = found[0].position
    tl, tr, br, bl = (
        (float(c.x), float(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
    )
    return (tl, tr, br, bl)


def cases(count: int, *, defect: Defect | None, first_seed: int) -> list[Case]:
    """``count`` rendered units whose code decodes (the rare unread one is OCV's business no more)."""
    found: list[Case] = []
    seed = first_seed
    while len(found) < count:
        unit = make_unit(seed, defect=defect)
        image = render_unit(unit, LAYOUT, px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed))
        corners = locate(image)
        if corners is not None:
            found.append(Case(unit, image, corners))
        seed += 1
    assert seed - first_seed <= count + count // 50
    return found


def expected(unit: Unit, *, lot: str | None = None, serial: str | None = None) -> tuple[str, ...]:
    """The lines the node expects for ``unit``, optionally with another lot or serial."""
    return print_lines(
        LAYOUT,
        gtin=unit.gtin,
        serial=unit.serial if serial is None else serial,
        lot=unit.lot if lot is None else lot,
        expiry_yymmdd=unit.expiry_yymmdd,
    )


def verify(case: Case, lines: Sequence[str] | None = None) -> OcvResult:
    """OCV of a case against ``lines`` (by default what the unit should say)."""
    return verify_print(
        case.image,
        corners=case.corners,
        expected_lines=expected(case.unit) if lines is None else lines,
        layout=LAYOUT,
        px_per_mm=PX_PER_MM,
        min_score=MIN_SCORE,
    )


@pytest.fixture(scope="module")
def good() -> list[tuple[Case, OcvResult]]:
    """300 good units across sampled looks, verified."""
    return [(case, verify(case)) for case in cases(300, defect=None, first_seed=0)]


@pytest.fixture(scope="module")
def smudged() -> list[tuple[Case, OcvResult]]:
    """150 units with SMUDGED_PRINT, verified."""
    return [(case, verify(case)) for case in cases(150, defect=Defect.SMUDGED_PRINT, first_seed=10_000)]


def worst(results: Sequence[tuple[Case, OcvResult]]) -> npt.NDArray[np.float64]:
    """Each unit's lowest line score."""
    return np.array([min(result.line_scores) for _, result in results])


class TestGoodPrint:
    """Good print must pass: a false OCV reject throws away a good pack."""

    def test_pass_rate(self, good: list[tuple[Case, OcvResult]]) -> None:
        """At least 99.8 % of 300 good units pass (here: all of them)."""
        failed = [case.unit.appearance for case, result in good if not result.ok]
        assert len(failed) <= int(0.002 * len(good)), failed

    def test_light_on_dark_passes(self, good: list[tuple[Case, OcvResult]]) -> None:
        """Laser-marked units (light on dark) are among the sample, and pass."""
        laser = [result.ok for case, result in good if case.unit.appearance.light_on_dark]
        assert len(laser) >= 15 and all(laser)

    def test_one_score_per_line(self, good: list[tuple[Case, OcvResult]]) -> None:
        """A result has a score per layout line, each at most 1, and no failed line when ok."""
        _, result = good[0]
        assert len(result.line_scores) == len(LAYOUT.lines)
        assert all(score <= 1.0 for score in result.line_scores)
        assert result.failed_lines == ()

    def test_custom_layout(self) -> None:
        """A recipe's own lines and font are taught the same way, e.g. a full date in duplex."""
        layout = PrintLayout(lines=("LOT {lot}", "EXP {expiry_dd_mm_yyyy}"), font="hershey_duplex")
        unit = make_unit(3)
        image = render_unit(unit, layout, px_per_mm=PX_PER_MM, rng=np.random.default_rng(3))
        corners = locate(image)
        assert corners is not None
        lines = print_lines(
            layout, gtin=unit.gtin, serial=unit.serial, lot=unit.lot, expiry_yymmdd=unit.expiry_yymmdd
        )
        result = verify_print(
            image,
            corners=corners,
            expected_lines=lines,
            layout=layout,
            px_per_mm=PX_PER_MM,
            min_score=MIN_SCORE,
        )
        assert result.ok, result


class TestSmudgedPrint:
    """A smear over part of a line must fail it."""

    def test_all_fail(self, smudged: list[tuple[Case, OcvResult]]) -> None:
        """Every one of 150 smudged units fails."""
        assert not [case.unit.appearance for case, result in smudged if result.ok]

    def test_only_the_smeared_line_fails(self, smudged: list[tuple[Case, OcvResult]]) -> None:
        """The smear covers one line, and that one line is reported."""
        assert all(len(result.failed_lines) == 1 for _, result in smudged)

    def test_scores_far_apart(
        self, good: list[tuple[Case, OcvResult]], smudged: list[tuple[Case, OcvResult]]
    ) -> None:
        """The worst good unit scores well above min_score, the best smudged one far below it."""
        good_scores, smudged_scores = worst(good), worst(smudged)
        print(
            f"\ngood: min {good_scores.min():.3f} p1 {np.percentile(good_scores, 1):.3f} "
            f"median {np.median(good_scores):.3f}; smudged: max {smudged_scores.max():.3f} "
            f"median {np.median(smudged_scores):.3f}; min_score {MIN_SCORE}"
        )
        assert good_scores.min() - MIN_SCORE >= 0.08
        assert MIN_SCORE - smudged_scores.max() >= 0.3


class TestWrongText:
    """Print that is legible but says something else must fail."""

    # Pairs that look most alike in the printer's font, in both directions.
    LOOK_ALIKES = (("8", "B"), ("O", "D"), ("O", "Q"), ("5", "S"), ("0", "O"), ("2", "Z"), ("1", "I"))

    @pytest.mark.parametrize(("printed", "expected_char"), [*LOOK_ALIKES, *((b, a) for a, b in LOOK_ALIKES)])
    def test_look_alike_lot_character(self, printed: str, expected_char: str) -> None:
        """A lot printed with one character swapped for its closest look-alike fails on the LOT line."""
        for seed in (1, 2):
            unit = dataclasses.replace(make_unit(seed), lot=f"L{printed}7{printed}")
            image = render_unit(unit, LAYOUT, px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed))
            corners = locate(image)
            assert corners is not None
            case = Case(unit, image, corners)
            result = verify(case, expected(unit, lot=f"L{printed}7{expected_char}"))
            assert result.failed_lines == (2,), (seed, result)

    def test_any_lot_character(self, good: list[tuple[Case, OcvResult]]) -> None:
        """A lot that differs from the printed one in any single position fails."""
        rng = np.random.default_rng(0)
        for case, _ in good[:25]:
            for position in range(len(case.unit.lot)):
                other = rng.choice([c for c in CHARACTERS if c != case.unit.lot[position]])
                lot = case.unit.lot[:position] + other + case.unit.lot[position + 1 :]
                result = verify(case, expected(case.unit, lot=lot))
                assert result.failed_lines == (2,), (case.unit.lot, lot, result)

    def test_one_serial_character(self, good: list[tuple[Case, OcvResult]]) -> None:
        """A serial one character off fails on the SN line."""
        case, _ = good[1]
        serial = case.unit.serial[:-1] + ("X" if case.unit.serial[-1] != "X" else "Y")
        assert verify(case, expected(case.unit, serial=serial)).failed_lines == (1,)

    @pytest.mark.parametrize("line", [0, 1, 2, 3])
    def test_print_runs_on(self, good: list[tuple[Case, OcvResult]], line: int) -> None:
        """A line printed one character longer than expected fails: the extra one is checked too."""
        case, _ = good[2]
        lines = list(expected(case.unit))
        lines[line] = lines[line][:-1]
        assert verify(case, lines).failed_lines == (line,)


class TestPlacement:
    """Where OCV looks, and what happens when the text is not there."""

    def test_corners_of_another_place(self, good: list[tuple[Case, OcvResult]]) -> None:
        """Corners shifted by 3 mm point OCV at the wrong place: it fails, without an error."""
        case, _ = good[3]
        shift = 3 * PX_PER_MM
        moved = tuple((x + shift, y + shift) for x, y in case.corners)
        result = verify(dataclasses.replace(case, corners=moved))  # type: ignore[arg-type]
        assert not result.ok

    def test_text_off_the_image(self, good: list[tuple[Case, OcvResult]]) -> None:
        """A code at the image's right edge, its text beyond it, fails without an error."""
        case, _ = good[5]
        shift = case.image.shape[1] - 20 - int(max(x for x, _ in case.corners))
        image = np.full_like(case.image, int(np.median(case.image)))
        image[:, shift:] = case.image[:, :-shift]
        corners = tuple((x + shift, y) for x, y in case.corners)
        result = verify(Case(case.unit, image, corners))  # type: ignore[arg-type]
        assert result.failed_lines == (0, 1, 2, 3)

    def test_no_text_printed(self, good: list[tuple[Case, OcvResult]]) -> None:
        """Blank carton where the text should be fails every line."""
        case, _ = good[4]
        image = case.image.copy()
        left, right = min(x for x, _ in case.corners), max(x for x, _ in case.corners)
        image[:, int(right + 0.15 * (right - left)) :] = int(np.median(image))
        result = verify(dataclasses.replace(case, image=image))
        assert result.failed_lines == (0, 1, 2, 3)


class TestInputs:
    """Calls that cannot be verified are refused."""

    def test_line_count(self, good: list[tuple[Case, OcvResult]]) -> None:
        """Expected lines must match the layout's lines one to one."""
        case, _ = good[0]
        with pytest.raises(ValueError, match="3 expected lines given, the layout prints 4"):
            verify(case, expected(case.unit)[:3])

    def test_degenerate_corners(self, good: list[tuple[Case, OcvResult]]) -> None:
        """Corners that do not span a symbol are refused."""
        case, _ = good[0]
        with pytest.raises(ValueError, match="do not span a symbol"):
            verify(dataclasses.replace(case, corners=((5.0, 5.0),) * 4))

    def test_image_type(self, good: list[tuple[Case, OcvResult]]) -> None:
        """A colour or float image is refused."""
        case, _ = good[0]
        with pytest.raises(ValueError, match="expected 2-D uint8"):
            verify(dataclasses.replace(case, image=case.image.astype(np.float32)))
