"""Line extraction from rendered frames: upright, dark-on-light crops that hold each whole line."""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp

from recipes.schema import PrintLayout
from simulator.camera import render_unit
from simulator.units import Appearance, Unit
from vision.datamatrix import Corners
from vision.ocr_types import LINE_MARGIN_Y_MM
from vision.print_text import print_lines
from vision.segment import ink_levels, segment_characters
from vision.text_region import code_frame, extract_lines

PX_PER_MM = 10.0


def locate(image: npt.NDArray[np.uint8]) -> Corners:
    """The code's corners as the node's decoder reports them (TL, TR, BR, BL in its own orientation)."""
    found = zxingcpp.read_barcodes(
        cv2.GaussianBlur(image, (0, 0), 0.8),
        formats=zxingcpp.BarcodeFormats(zxingcpp.DataMatrix),
        try_downscale=False,
    )
    assert found, "the rendered code did not decode"
    p = found[0].position
    tl, tr, br, bl = (
        (float(c.x), float(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
    )
    return (tl, tr, br, bl)


CASES = [
    ("dot5x7", 10.0, False),
    ("dot5x7", -10.0, True),
    ("tij_sans", -10.0, False),
    ("hershey_simplex", 10.0, True),
    ("dot7x9", 0.0, False),
]


@pytest.fixture(
    scope="module", params=CASES, ids=[f"{f}-{r:+.0f}deg-{'laser' if d else 'ink'}" for f, r, d in CASES]
)
def extracted(
    request: pytest.FixtureRequest,
) -> tuple[tuple[str, ...], tuple[npt.NDArray[np.uint8], ...], PrintLayout]:
    """A unit rendered at ±10 degrees, in ink or laser-marked, and its line crops."""
    font, rotation, laser = request.param
    layout = PrintLayout(font=font)
    unit = Unit(
        index=0,
        tracking_id=1,
        gtin="09501101020917",
        serial="K7M2P9Q4X8",
        lot="SIM26A01",
        expiry=dt.date(2028, 5, 31),
        appearance=Appearance(rotation_deg=rotation, light_on_dark=laser, blur_sigma=0.6, noise_sigma=3.0),
    )
    frame = render_unit(unit, layout, px_per_mm=PX_PER_MM, rng=np.random.default_rng(1005))
    lines = print_lines(
        layout, gtin=unit.gtin, serial=unit.serial, lot=unit.lot, expiry_yymmdd=unit.expiry_yymmdd
    )
    crops = extract_lines(
        frame, corners=locate(frame), layout=layout, expected_lines=lines, px_per_mm=PX_PER_MM
    )
    return lines, crops, layout


class TestExtraction:
    """Each crop follows the vision.ocr_types convention."""

    def test_one_crop_per_line(
        self, extracted: tuple[tuple[str, ...], tuple[npt.NDArray[np.uint8], ...], PrintLayout]
    ) -> None:
        """One uint8 crop per layout line, the cap height plus both margins tall."""
        lines, crops, layout = extracted
        assert len(crops) == len(lines)
        height = round(layout.text_height_mm * PX_PER_MM) + 2 * round(LINE_MARGIN_Y_MM * PX_PER_MM)
        assert all(crop.dtype == np.uint8 and crop.shape[0] == height for crop in crops)

    def test_dark_on_light(
        self, extracted: tuple[tuple[str, ...], tuple[npt.NDArray[np.uint8], ...], PrintLayout]
    ) -> None:
        """The ground is lighter than the ink, laser marks included."""
        _, crops, _ = extracted
        for crop in crops:
            levels = ink_levels(crop)
            assert levels is not None and levels[0] > levels[1] + 40

    def test_whole_line_upright(
        self, extracted: tuple[tuple[str, ...], tuple[npt.NDArray[np.uint8], ...], PrintLayout]
    ) -> None:
        """Every printed character is found, both ends keep bare carton, and the row of characters
        is level within the coder's own skew (at most 1 degree against the code; a frame rotation
        of 10 degrees left in would tilt it by a slope of 0.18)."""
        lines, crops, layout = extracted
        for text, crop in zip(lines, crops, strict=True):
            boxes = segment_characters(crop, px_per_mm=PX_PER_MM, text_height_mm=layout.text_height_mm)
            assert len(boxes) == sum(char != " " for char in text), (text, len(boxes))
            assert boxes[0][0] >= 3 and boxes[-1][0] + boxes[-1][2] <= crop.shape[1] - 3
            tall = np.array([box for box in boxes if box[3] >= 0.8 * layout.text_height_mm * PX_PER_MM])
            slope = np.polyfit(tall[:, 0] + tall[:, 2] / 2, tall[:, 1] + tall[:, 3] / 2, 1)[0]
            assert abs(slope) < 0.03, slope


class TestCodeFrame:
    """The code's frame from its corners."""

    def test_axes(self) -> None:
        """An upright 40 px code: x to the right, y down, top-right at its corner."""
        frame = code_frame(((100.0, 200.0), (140.0, 200.0), (140.0, 240.0), (100.0, 240.0)))
        assert frame.x_axis == pytest.approx((1.0, 0.0))
        assert frame.y_axis == pytest.approx((0.0, 1.0))
        assert frame.top_right == pytest.approx((140.0, 200.0))


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    CORNERS: Corners = ((100.0, 200.0), (140.0, 200.0), (140.0, 240.0), (100.0, 240.0))
    LINES = ("GTIN 1", "SN 2", "LOT 3", "EXP 4")

    def test_image(self) -> None:
        """Not a 2-D uint8 frame."""
        with pytest.raises(ValueError, match="image"):
            extract_lines(
                np.zeros((10, 10, 3), np.uint8),
                corners=self.CORNERS,
                layout=PrintLayout(),
                expected_lines=self.LINES,
                px_per_mm=PX_PER_MM,
            )

    @pytest.mark.parametrize(
        "corners",
        [((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)), ((0.0, 0.0), (1.0, 1.0)), ((np.nan, 0.0),) * 4],
    )
    def test_corners(self, corners: Corners) -> None:
        """Corners that do not span a symbol, are not four points, or are not finite."""
        with pytest.raises(ValueError, match="corners"):
            extract_lines(
                np.zeros((300, 300), np.uint8),
                corners=corners,
                layout=PrintLayout(),
                expected_lines=self.LINES,
                px_per_mm=PX_PER_MM,
            )

    @pytest.mark.parametrize("lines", [("GTIN 1",), ("GTIN 1", "SN 2", "", "EXP 4"), "GTIN"])
    def test_expected_lines(self, lines: tuple[str, ...]) -> None:
        """Not one non-empty string per layout line."""
        with pytest.raises(ValueError, match="expected_lines"):
            extract_lines(
                np.zeros((300, 300), np.uint8),
                corners=self.CORNERS,
                layout=PrintLayout(),
                expected_lines=lines,
                px_per_mm=PX_PER_MM,
            )

    @pytest.mark.parametrize("scale", [0.0, -2.0, float("inf")])
    def test_px_per_mm(self, scale: float) -> None:
        """A scale that is not positive and finite."""
        with pytest.raises(ValueError, match="px_per_mm"):
            extract_lines(
                np.zeros((300, 300), np.uint8),
                corners=self.CORNERS,
                layout=PrintLayout(),
                expected_lines=self.LINES,
                px_per_mm=scale,
            )
