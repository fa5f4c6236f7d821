"""Otsu and Sauvola binarization against plain numpy references, and their input checks."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vision.binarize import binarize_otsu, binarize_sauvola, otsu_threshold

Image = npt.NDArray[np.uint8]

images = st.integers(1, 40).flatmap(
    lambda h: st.integers(1, 40).flatmap(lambda w: arrays(np.uint8, (h, w), elements=st.integers(0, 255)))
)


def otsu_reference(image: Image) -> int:
    """The grey level maximising the between-class variance of levels <= t against levels > t."""
    histogram = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    best, best_variance = 0, -1.0
    for t in range(255):
        low, high = histogram[: t + 1], histogram[t + 1 :]
        if low.sum() == 0 or high.sum() == 0:
            continue
        mean_low = (low * np.arange(t + 1)).sum() / low.sum()
        mean_high = (high * np.arange(t + 1, 256)).sum() / high.sum()
        variance = low.sum() * high.sum() * (mean_low - mean_high) ** 2
        if variance > best_variance + 1e-9:
            best, best_variance = t, variance
    return best


def sauvola_reference(image: Image, window: int, k: float, r: float) -> tuple[Image, npt.NDArray[np.float64]]:
    """Sauvola's mask and threshold per pixel, window clipped to the image, straight from the formula."""
    h, w = image.shape
    radius = window // 2
    values = image.astype(np.float64)
    thresholds = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            patch = values[max(y - radius, 0) : y + radius + 1, max(x - radius, 0) : x + radius + 1]
            thresholds[y, x] = patch.mean() * (1 + k * (patch.std() / r - 1))
    return (values <= thresholds).astype(np.uint8), thresholds


class TestOtsu:
    """Otsu's threshold is OpenCV's; these pin down its meaning for the stages built on it."""

    @settings(max_examples=60, deadline=None)
    @given(images)
    def test_matches_reference_split(self, image: Image) -> None:
        """The threshold splits the histogram with the largest between-class variance."""
        if np.unique(image).size < 2:
            return
        t = otsu_threshold(image)
        histogram = np.bincount(image.ravel(), minlength=256).astype(np.float64)

        def between(t: int) -> float:
            low, high = histogram[: t + 1], histogram[t + 1 :]
            if low.sum() == 0 or high.sum() == 0:
                return 0.0
            m0 = (low * np.arange(t + 1)).sum() / low.sum()
            m1 = (high * np.arange(t + 1, 256)).sum() / high.sum()
            return float(low.sum() * high.sum() * (m0 - m1) ** 2)

        assert between(t) >= between(otsu_reference(image)) * (1 - 1e-9)

    def test_mask_is_dark_side(self) -> None:
        """binarize_otsu marks exactly the pixels at or below the threshold."""
        image = np.random.default_rng(0).integers(0, 256, (30, 50), dtype=np.uint8)
        t = otsu_threshold(image)
        assert np.array_equal(binarize_otsu(image), (image <= t).astype(np.uint8))
        assert np.array_equal(binarize_otsu(image, threshold=100), (image <= 100).astype(np.uint8))


class TestSauvola:
    """The numba Sauvola kernel against the formula evaluated window by window."""

    @settings(max_examples=30, deadline=None)
    @given(images, st.integers(1, 12), st.floats(0.0, 0.9), st.floats(16.0, 200.0))
    def test_matches_reference(self, image: Image, radius: int, k: float, r: float) -> None:
        """Masks agree except where a pixel lies within rounding of its threshold."""
        mask = binarize_sauvola(image, window=2 * radius + 1, k=k, r=r)
        expected, thresholds = sauvola_reference(image, 2 * radius + 1, k, r)
        differ = mask != expected
        assert np.all(np.abs(image[differ] - thresholds[differ]) < 1e-6 * np.maximum(thresholds[differ], 1.0))

    def test_uneven_light(self) -> None:
        """Text on a ground that darkens threefold across the image: Sauvola finds the ink, Otsu cannot."""
        text = np.zeros((60, 400), np.uint8)
        for i in range(12):
            cv2.putText(text, "8", (8 + 32 * i, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 1, 3)
        light = np.linspace(240.0, 80.0, 400)[None, :].repeat(60, axis=0)
        image = np.clip(light * (1 - 0.6 * text), 0, 255).astype(np.uint8)
        found = binarize_sauvola(image, window=31, k=0.2)
        agreement = (found == text).mean()
        assert agreement > 0.97, agreement
        assert (binarize_otsu(image) == text).mean() < agreement

    def test_flat_image_has_no_ink(self) -> None:
        """A flat ground thresholds at (1 - k) of itself: nothing is ink."""
        assert not binarize_sauvola(np.full((20, 30), 180, np.uint8), window=15).any()


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    @pytest.mark.parametrize(
        "image", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((0, 4), np.uint8)]
    )
    def test_image(self, image: npt.NDArray[np.uint8]) -> None:
        """Not a non-empty 2-D uint8 image (the arrays' dtypes are wrong on purpose)."""
        for call in (otsu_threshold, binarize_otsu, lambda i: binarize_sauvola(i, window=3)):
            with pytest.raises(ValueError, match="image"):
                call(image)

    @pytest.mark.parametrize(
        ("option", "value"), [("window", 4), ("window", 1), ("k", 1.0), ("k", -0.1), ("r", 0.0)]
    )
    def test_sauvola_options(self, option: str, value: float) -> None:
        """An even or tiny window, k outside [0, 1) or a non-positive r."""
        options: dict[str, float] = {"window": 15, "k": 0.2, "r": 128.0} | {option: value}
        with pytest.raises(ValueError, match=option):
            binarize_sauvola(np.zeros((8, 8), np.uint8), **options)  # type: ignore[arg-type]

    def test_threshold(self) -> None:
        """A threshold outside 0..255."""
        with pytest.raises(ValueError, match="threshold"):
            binarize_otsu(np.zeros((4, 4), np.uint8), threshold=300)
