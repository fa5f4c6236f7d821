"""Glyph features: the grid kernel against OpenCV's area resampling, and what the features keep."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.text_samples import line_samples
from vision._ocr_kernels import glyph_grid_kernel
from vision.char_features import GRID_COLUMNS, GRID_ROWS, N_FEATURES, char_features
from vision.segment import segment_line


@st.composite
def windows(draw: st.DrawFn) -> tuple[npt.NDArray[np.float32], tuple[int, int, int, int], int, int]:
    """An image, an integer window inside it at least as large as the grid, and the grid."""
    rows, cols = draw(st.integers(1, 12)), draw(st.integers(1, 9))
    h, w = draw(st.integers(rows, 40)), draw(st.integers(cols, 40))
    image = draw(arrays(np.float32, (h + 5, w + 7), elements=st.floats(0, 1, width=32)))
    y, x = draw(st.integers(0, 5)), draw(st.integers(0, 7))
    return image, (x, y, w, h), rows, cols


class TestGridKernel:
    """glyph_grid_kernel is INTER_AREA downscaling of each window, all windows in one call."""

    @settings(max_examples=100, deadline=None)
    @given(windows())
    def test_matches_inter_area(
        self, case: tuple[npt.NDArray[np.float32], tuple[int, int, int, int], int, int]
    ) -> None:
        """Each cell is the mean over its area, as cv2.resize with INTER_AREA computes it."""
        image, (x, y, w, h), rows, cols = case
        grid = glyph_grid_kernel(image, np.array([[x, y, x + w, y + h]], np.float64), rows, cols)[0]
        expected = cv2.resize(image[y : y + h, x : x + w], (cols, rows), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(grid, expected.reshape(rows, cols), atol=1e-4)

    def test_outside_is_no_ink(self) -> None:
        """A window half outside the image averages the inside with zeros."""
        image = np.ones((10, 10), np.float32)
        grid = glyph_grid_kernel(image, np.array([[-10.0, 0.0, 10.0, 10.0]]), 1, 2)[0]
        np.testing.assert_allclose(grid, [[0.0, 1.0]], atol=1e-6)


@pytest.fixture(scope="module")
def line() -> tuple[npt.NDArray[np.uint8], tuple[tuple[int, int, int, int], ...]]:
    """A held-out dot-matrix line crop and its character boxes."""
    sample = line_samples(np.random.default_rng(1004), 1, fonts=("dot5x7",))[0]
    boxes = segment_line(sample.image, px_per_mm=10.0, text_height_mm=sample.image.shape[0] / 10 - 1.2).boxes
    assert boxes
    return sample.image, boxes


class TestFeatures:
    """What char_features keeps and what it normalises away."""

    def test_shape(self, line: tuple[npt.NDArray[np.uint8], tuple[tuple[int, int, int, int], ...]]) -> None:
        """One float32 row of N_FEATURES per box; grid cells in 0..1."""
        crop, boxes = line
        features = char_features(crop, boxes)
        assert features.shape == (len(boxes), N_FEATURES) == (len(boxes), GRID_ROWS * GRID_COLUMNS + 4)
        assert features.dtype == np.float32
        grid = features[:, : GRID_ROWS * GRID_COLUMNS]
        assert grid.min() >= 0.0 and grid.max() <= 1.0 and grid.max() > 0.5

    def test_contrast_invariant(
        self, line: tuple[npt.NDArray[np.uint8], tuple[tuple[int, int, int, int], ...]]
    ) -> None:
        """Halving the print's contrast around its ground leaves the features nearly unchanged."""
        crop, boxes = line
        ground = float(np.percentile(crop, 90))
        faint = np.clip(ground - (ground - crop.astype(np.float64)) * 0.5, 0, 255).round().astype(np.uint8)
        difference = np.abs(char_features(crop, boxes) - char_features(faint, boxes))
        assert difference.max() < 0.1, difference.max()

    def test_empty(self, line: tuple[npt.NDArray[np.uint8], tuple[tuple[int, int, int, int], ...]]) -> None:
        """No boxes, no rows."""
        assert char_features(line[0], []).shape == (0, N_FEATURES)


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    def test_crop(self) -> None:
        """Not a non-empty 2-D uint8 crop."""
        with pytest.raises(ValueError, match="crop"):
            char_features(np.zeros((10, 10, 3), np.uint8), [(0, 0, 2, 2)])

    @pytest.mark.parametrize("box", [(0, 0, 0, 5), (8, 0, 5, 5), (-1, 0, 2, 2), (0.5, 0, 2, 2)])
    def test_boxes(self, box: tuple[float, ...]) -> None:
        """A box of no size, outside the crop, or not integers."""
        with pytest.raises(ValueError, match="boxes"):
            char_features(np.zeros((10, 10), np.uint8), [box])  # type: ignore[list-item]

    def test_levels(self) -> None:
        """Ground not lighter than the ink."""
        with pytest.raises(ValueError, match="levels"):
            char_features(np.zeros((10, 10), np.uint8), [(0, 0, 2, 2)], levels=(50.0, 200.0))
