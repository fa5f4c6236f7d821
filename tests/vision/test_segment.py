"""Character segmentation on the simulator's line samples: one box per printed character."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.text_samples import LineSample, line_samples
from vision._ocr_kernels import grid_band_kernel
from vision.fonts import DOT_FONTS
from vision.ocr_types import LINE_MARGIN_Y_MM
from vision.segment import Box, segment_characters, segment_line, segmentation_readings, segmentations

FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex", "hershey_duplex", "hershey_plain")
PX_PER_MM = 10.0


def text_height(sample: LineSample) -> float:
    """The cap height of a crop in the ocr_types convention."""
    return float(sample.image.shape[0] / PX_PER_MM - 2 * LINE_MARGIN_Y_MM)


def matches(boxes: tuple[Box, ...], sample: LineSample) -> bool:
    """One box per printed character, each centred within that character's cell (±1 px)."""
    cells = [box for box, char in zip(sample.boxes, sample.text, strict=True) if char != " "]
    return len(boxes) == len(cells) and all(
        cell[0] - 1 <= box[0] + box[2] / 2 <= cell[0] + cell[2] + 1
        for box, cell in zip(boxes, cells, strict=True)
    )


@pytest.fixture(scope="module")
def samples() -> dict[str, list[LineSample]]:
    """40 held-out in-spec lines per font (seeds from 1000 up are never trained on)."""
    return {
        font: line_samples(np.random.default_rng([1002, i]), 40, fonts=(font,))
        for i, font in enumerate(FONTS)
    }


class TestCounts:
    """Clean in-spec lines segment into their characters."""

    @pytest.mark.parametrize("font", FONTS)
    def test_one_reading_matches(self, samples: dict[str, list[LineSample]], font: str) -> None:
        """Of each font's 40 lines, at least 38 have a reading with exactly their characters (solid
        fonts 39); the reader picks between readings by confidence."""
        found = sum(
            any(
                matches(s.boxes, sample)
                for s in segmentations(sample.image, px_per_mm=PX_PER_MM, text_height_mm=text_height(sample))
            )
            for sample in samples[font]
        )
        assert found >= (38 if font.startswith("dot") else 39), found

    @pytest.mark.parametrize("font", ["dot5x7", "dot7x9"])
    def test_dot_matrix_grid(self, samples: dict[str, list[LineSample]], font: str) -> None:
        """Dot-matrix lines are read on a grid whose advance is the font's, within 2 %."""
        for sample in samples[font][:10]:
            segmentation = segmentations(
                sample.image, px_per_mm=PX_PER_MM, text_height_mm=text_height(sample)
            )
            grids = [s.advance for s in segmentation if s.advance is not None]
            expected = DOT_FONTS[font].advance_px(text_height(sample) * PX_PER_MM)
            assert grids and abs(grids[0] - expected) < 0.02 * expected, (grids, expected)

    def test_boxes_in_order_inside_crop(self, samples: dict[str, list[LineSample]]) -> None:
        """Boxes run left to right without overlapping and lie inside the crop."""
        for sample in samples["tij_sans"][:10] + samples["dot5x7"][:10]:
            boxes = segment_characters(sample.image, px_per_mm=PX_PER_MM, text_height_mm=text_height(sample))
            height, width = sample.image.shape
            assert all(
                x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height
                for x, y, w, h in boxes
            )
            assert all(a[0] + a[2] <= b[0] for a, b in itertools.pairwise(boxes))

    def test_lazy_readings_match(self, samples: dict[str, list[LineSample]]) -> None:
        """segmentation_readings gives the readings of segmentations, in order, each made once."""
        for sample in samples["dot5x7"][:10] + samples["hershey_simplex"][:10]:
            height = text_height(sample)
            readings = segmentation_readings(sample.image, px_per_mm=PX_PER_MM, text_height_mm=height)
            made = tuple(reading() for reading in readings)
            assert made == segmentations(sample.image, px_per_mm=PX_PER_MM, text_height_mm=height)
            assert all(
                reading() is segmentation for reading, segmentation in zip(readings, made, strict=True)
            )

    def test_flat_crop(self) -> None:
        """A crop of bare carton (noise only) has no characters."""
        crop = np.clip(np.random.default_rng(0).normal(190, 3, (38, 300)), 0, 255).astype(np.uint8)
        segmentation = segment_line(crop, px_per_mm=PX_PER_MM, text_height_mm=2.6)
        assert segmentation.boxes == () and segmentation.levels is None


def bands_reference(profile: npt.NDArray[np.float64], advance: float, band: float, step: float) -> float:
    """Least ink in a band of ``round(band / step)`` bins, repeated every advance, by brute force."""
    bins = int(np.ceil(advance / step))
    folded = np.zeros(bins)
    for x, value in enumerate(profile):
        folded[min(int(((x + 0.5) % advance) / step), bins - 1)] += value
    span = min(max(1, round(band / step)), bins)
    return float(min(sum(folded[(start + j) % bins] for j in range(span)) for start in range(bins)))


class TestGridKernel:
    """The band search kernel against the brute-force fold."""

    @settings(max_examples=60, deadline=None)
    @given(
        arrays(np.float64, st.integers(1, 200), elements=st.integers(0, 30).map(float)),
        st.floats(5.0, 40.0),
        st.floats(0.5, 4.0),
    )
    def test_matches_reference(self, profile: npt.NDArray[np.float64], advance: float, band: float) -> None:
        """The least banded ink per advance equals the brute-force value."""
        ink, centres = grid_band_kernel(profile, np.array([advance]), band, 0.25)
        assert ink[0] == pytest.approx(bands_reference(profile, advance, band, 0.25), abs=1e-6)
        assert 0.0 <= centres[0] < advance


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    def test_crop(self) -> None:
        """Not a non-empty 2-D uint8 crop."""
        with pytest.raises(ValueError, match="crop"):
            segment_characters(np.zeros((38, 100), np.float32), px_per_mm=10.0, text_height_mm=2.6)

    @pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
    def test_px_per_mm(self, value: float) -> None:
        """A scale that is not positive and finite."""
        with pytest.raises(ValueError, match="px_per_mm"):
            segment_characters(np.zeros((38, 100), np.uint8), px_per_mm=value, text_height_mm=2.6)

    @pytest.mark.parametrize("value", [0.0, 0.5, 5.0])
    def test_text_height(self, value: float) -> None:
        """A cap height that is not positive, under 8 px or taller than the crop."""
        with pytest.raises(ValueError, match="text_height_mm"):
            segment_characters(np.zeros((38, 100), np.uint8), px_per_mm=10.0, text_height_mm=value)
