"""The classical OCR kernels against the numpy code they replaced, on random input."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vision._ocr_kernels import (
    area_table_kernel,
    dot_matrix_kernel,
    drop_rows_kernel,
    glyph_frames_kernel,
    grid_cells_kernel,
    ink_levels_kernel,
    kept_blobs_kernel,
    kept_profiles_kernel,
    label_kernel,
    line_band_kernel,
    line_levels_kernel,
    patches_kernel,
)


def reference_levels(image: npt.NDArray[np.uint8], threshold: int) -> tuple[float, float, float] | None:
    """Ground, ink and spread as numpy measured them, None when a class is empty."""
    histogram = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    dark, light = histogram[: threshold + 1], histogram[threshold + 1 :]
    if dark.sum() == 0 or light.sum() == 0:
        return None
    ground = float((light * levels[threshold + 1 :]).sum() / light.sum())
    spread = math.sqrt(float((light * (levels[threshold + 1 :] - ground) ** 2).sum() / light.sum()))
    cumulative = np.cumsum(dark)
    top = int(np.searchsorted(cumulative, 0.2 * cumulative[-1]))
    ink = float((dark[: top + 1] * levels[: top + 1]).sum() / cumulative[top])
    return ground, ink, spread


def reference_cells(
    columns: npt.NDArray[np.int64], advance: float, phase: float, width: int
) -> tuple[npt.NDArray[np.int64], ...]:
    """The grid cells holding ink, as numpy found them."""
    first = math.floor((columns[0] + 0.5 - phase) / advance + 0.5)
    last = math.floor((columns[-1] + 0.5 - phase) / advance + 0.5)
    cells = np.arange(first, last + 1, dtype=np.int64)
    lefts = np.clip(np.round(phase + (cells - 0.5) * advance), 0, width).astype(np.int64)
    rights = np.clip(np.round(phase + (cells + 0.5) * advance), 0, width).astype(np.int64)
    low = np.searchsorted(columns, lefts)
    high = np.searchsorted(columns, rights)
    held = high > low
    return cells[held], columns[low[held]].astype(np.int64), columns[high[held] - 1].astype(np.int64) + 1


def reference_dot_matrix(
    mask: npt.NDArray[np.uint8], advance: float, phase: float, wide: float, sliver: float
) -> tuple[list[tuple[int, ...]], list[int], float]:
    """Boxes, cells and refined advance of the inked grid cells, as numpy found them."""
    inked = mask.any(axis=0)
    columns = np.flatnonzero(inked).astype(np.int64)
    if columns.size == 0:
        return [], [], advance
    for _ in range(2):
        cells, starts, stops = reference_cells(columns, advance, phase, mask.shape[1])
        is_wide = stops - starts >= wide
        if is_wide.sum() < 2 or np.ptp(cells[is_wide]) == 0:
            break
        index = cells[is_wide].astype(np.float64)
        middle = (starts[is_wide] + stops[is_wide]) / 2.0
        spread = index - index.mean()
        advance = float(spread @ (middle - middle.mean())) / float(spread @ spread)
        phase = float(middle.mean()) - advance * float(index.mean())
    cells, starts, stops = reference_cells(columns, advance, phase, mask.shape[1])
    keep = stops - starts >= sliver
    boxes = []
    for start, stop in zip(starts[keep], stops[keep], strict=True):
        rows = np.flatnonzero(mask[:, start:stop].any(axis=1))
        boxes.append((int(start), int(rows[0]), int(stop - start), int(rows[-1] - rows[0] + 1)))
    return boxes, cells[keep].tolist(), advance


def reference_band(
    table: npt.NDArray[np.int64], height: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Top and bottom of the cap band at each box, as numpy fitted them."""
    x = table[:, 0] + table[:, 2] / 2.0
    tops = table[:, 1].astype(np.float64)
    heights = table[:, 3]
    ordered = np.sort(heights)
    tall = heights >= 0.8 * ordered[(3 * (ordered.size - 1)) // 4]
    if ordered[-1] < 0.5 * height:
        cap = max(float(ordered[-1]), 0.5 * height)
        return np.full(x.size, (height - cap) / 2), np.full(x.size, (height + cap) / 2)
    centred = x[tall] - x[tall].mean()
    slope = 0.0
    if centred.size >= 3 and centred.any():
        middles = tops[tall] + heights[tall] / 2
        slope = float(np.clip((centred @ middles) / (centred @ centred), -0.07, 0.07))
    level = np.sort(tops[tall] - slope * centred)
    depth = np.sort(tops[tall] + heights[tall] - slope * centred)
    middle = (level.size - 1) / 2
    top = (level[math.floor(middle)] + level[math.ceil(middle)]) / 2
    bottom = (depth[math.floor(middle)] + depth[math.ceil(middle)]) / 2
    offset = slope * (x - x[tall].mean())
    return top + offset, bottom + offset


def dotted_mask(seed: int, height: int = 20, width: int = 120) -> npt.NDArray[np.uint8]:
    """Random drops in cells of a grid, with noise."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    advance = rng.uniform(7.0, 12.0)
    for cell in range(int(width / advance)):
        if rng.random() < 0.2:
            continue
        left = int(cell * advance + rng.integers(0, 2))
        glyph = rng.random((rng.integers(5, height), rng.integers(1, int(advance) - 1))) < 0.5
        top = int(rng.integers(0, height - glyph.shape[0] + 1))
        mask[top : top + glyph.shape[0], left : left + glyph.shape[1]] |= glyph
    return mask


class TestInkLevels:
    """ink_levels_kernel measures what numpy measured; ground and ink exactly (integer sums)."""

    @given(seed=st.integers(0, 2**32 - 1), threshold=st.integers(0, 255))
    @settings(max_examples=60, deadline=None)
    def test_matches_numpy(self, seed: int, threshold: int) -> None:
        rng = np.random.default_rng(seed)
        image = rng.integers(rng.integers(0, 128), 256, (rng.integers(1, 40), rng.integers(1, 60))).astype(
            np.uint8
        )
        ground, ink, spread = ink_levels_kernel(image, threshold, 0.2)
        reference = reference_levels(image, threshold)
        if reference is None:
            assert spread < 0
        else:
            assert (ground, ink) == reference[:2]
            assert spread == pytest.approx(reference[2], rel=1e-12, abs=1e-12)


class TestBlobs:
    """The kept blobs, their column profile and the drops' rows, against numpy."""

    @given(seed=st.integers(0, 2**32 - 1), min_area=st.floats(2.0, 12.0))
    @settings(max_examples=40, deadline=None)
    def test_kept_and_profiles(self, seed: int, min_area: float) -> None:
        mask = dotted_mask(seed)
        labels, stats = label_kernel(mask)
        blobs, keep = kept_blobs_kernel(stats, min_area)
        rows = np.flatnonzero(stats[1:, 4] >= min_area) + 1
        expected = np.column_stack([stats[rows].astype(np.int64), rows])
        expected = expected[np.argsort(expected[:, 0] * 2 + expected[:, 2], kind="stable")]
        np.testing.assert_array_equal(blobs, expected)
        np.testing.assert_array_equal(np.flatnonzero(keep), rows)
        otsu = (np.random.default_rng(seed).random(mask.shape) < 0.3).astype(np.uint8)
        profile, otsu_profile = kept_profiles_kernel(labels, keep, otsu)
        np.testing.assert_array_equal(profile, keep[labels].sum(axis=0, dtype=np.float64))
        np.testing.assert_array_equal(otsu_profile, otsu.sum(axis=0, dtype=np.float64))

    @given(seed=st.integers(0, 2**32 - 1), level=st.integers(0, 255))
    @settings(max_examples=40, deadline=None)
    def test_drop_rows(self, seed: int, level: int) -> None:
        mask = dotted_mask(seed)
        image = np.random.default_rng(seed).integers(0, 256, mask.shape).astype(np.uint8)
        labels, stats = label_kernel(mask)
        first, last = drop_rows_kernel(labels, stats, image, 3.0, level)
        reaching = np.unique(labels[image <= level])
        drops = np.isin(np.arange(stats.shape[0]), reaching) & (stats[:, 4] >= 3.0)
        drops[0] = False
        ink = drops[labels]
        inked = ink.any(axis=0)
        np.testing.assert_array_equal(first, np.where(inked, np.argmax(ink, axis=0), mask.shape[0]))
        np.testing.assert_array_equal(
            last, np.where(inked, mask.shape[0] - 1 - np.argmax(ink[::-1], axis=0), -1)
        )


class TestGrid:
    """Grid cells and the dot-matrix boxes, against numpy."""

    @given(
        seed=st.integers(0, 2**32 - 1),
        advance=st.sampled_from([7.0, 7.5, 8.0, 8.25, 9.5, 10.0]),
        phase=st.sampled_from([0.0, 0.25, 0.5, 1.5, 3.75]),
    )
    @settings(max_examples=80, deadline=None)
    def test_cells_match_numpy(self, seed: int, advance: float, phase: float) -> None:
        """Quarter-pixel advances and phases put cell bounds on half pixels: both round half to even."""
        rng = np.random.default_rng(seed)
        columns = np.flatnonzero(rng.random(100) < 0.4).astype(np.int64)
        if columns.size == 0:
            return
        for got, expected in zip(
            grid_cells_kernel(columns, advance, phase, 100),
            reference_cells(columns, advance, phase, 100),
            strict=True,
        ):
            np.testing.assert_array_equal(got, expected)

    @pytest.mark.parametrize("seed", range(40))
    def test_dot_matrix_matches_numpy(self, seed: int) -> None:
        mask = dotted_mask(seed)
        advance = float(np.random.default_rng(seed).uniform(7.0, 12.0))
        inked = mask.any(axis=0)
        first = np.where(inked, np.argmax(mask, axis=0), mask.shape[0]).astype(np.int64)
        last = np.where(inked, mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0), -1).astype(np.int64)
        boxes, cells, refined = dot_matrix_kernel(first, last, advance, advance / 2, 4.0, 1.5)
        expected_boxes, expected_cells, expected_advance = reference_dot_matrix(
            mask, advance, advance / 2, 4.0, 1.5
        )
        assert [tuple(box) for box in boxes.tolist()] == expected_boxes
        assert cells.tolist() == expected_cells
        assert refined == pytest.approx(expected_advance, rel=1e-12)


class TestGlyphFrames:
    """The cap band and each glyph's window and geometry, against numpy's band."""

    @given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 30))
    @settings(max_examples=80, deadline=None)
    def test_band_matches_numpy(self, seed: int, count: int) -> None:
        rng = np.random.default_rng(seed)
        height = 40
        x = np.cumsum(rng.integers(2, 20, count))
        h = rng.integers(1, height - 4, count)
        y = rng.integers(0, height - h + 1)
        table = np.column_stack([x, y, rng.integers(1, 15, count), h]).astype(np.int64)
        windows, geometry, cap = glyph_frames_kernel(table, height, 0.8, 0.07, 0.5)
        top, bottom = reference_band(table, height)
        band = np.maximum(bottom - top, 1.0)
        left, w = table[:, 0].astype(np.float64), table[:, 2].astype(np.float64)
        half = np.maximum(w, 0.5 * band) / 2
        expected = np.column_stack(
            [left + w / 2 - half, np.minimum(top, y), left + w / 2 + half, np.maximum(bottom, y + h)]
        )
        np.testing.assert_allclose(windows, expected, rtol=1e-12, atol=1e-12)
        expected_geometry = np.column_stack([w / band, h / band, (y - top) / band, (y + h - bottom) / band])
        np.testing.assert_allclose(geometry, expected_geometry, rtol=1e-12, atol=1e-12)
        assert cap == pytest.approx(band[0], rel=1e-12)


def test_reference_mask_has_cells() -> None:
    """The random masks hold several separate cells (else the grid tests would test little)."""
    assert all(
        sum(1 for inked, _ in itertools.groupby(dotted_mask(seed).any(axis=0)) if inked) >= 3
        for seed in range(40)
    )


def _line_crop(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.uint8]:
    """A line crop's look: a light, noisy carton with dark strokes."""
    crop = rng.normal(200, 6, (height, width))
    for x in range(2, width - 6, 9):
        top = int(rng.integers(2, height // 3))
        crop[top : height - top, x : x + int(rng.integers(2, 5))] = rng.normal(50, 10)
    return np.clip(np.rint(crop), 0, 255).astype(np.uint8)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_line_levels_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    crop = _line_crop(rng, int(rng.integers(20, 50)), int(rng.integers(20, 600)))
    cumulative = np.cumsum(np.bincount(crop.ravel(), minlength=256))
    expected = np.searchsorted(cumulative, (0.01 * crop.size, 0.9 * crop.size)).tolist()
    assert list(line_levels_kernel(crop, 0.01 * crop.size, 0.9 * crop.size)) == expected


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_line_band_matches_opencv(seed: int) -> None:
    """OpenCV's INTER_AREA shrink and numpy's ink, to the bit, on the rows asked for."""
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(24, 50)), int(rng.integers(30, 700))
    crop = _line_crop(rng, height, width)
    scale = float(rng.uniform(0.52, 0.97))
    columns, rows = max(1, round(width * scale)), max(1, round(height * scale))
    assume(1.0 / (columns / width) % 1 != 0 and 1.0 / (rows / height) % 1 != 0)
    background, contrast = int(rng.integers(150, 256)), float(rng.integers(48, 200))
    first, made = int(rng.integers(0, rows)), int(rng.integers(1, 40))
    resized = cv2.resize(crop, (columns, rows), interpolation=cv2.INTER_AREA)[first : first + made]
    expected = np.clip((np.float32(background) - resized.astype(np.float32)) / np.float32(contrast), 0.0, 1.0)
    out = np.full((min(made, rows - first), columns + 3), -1.0, np.float32)
    line_band_kernel(crop, out, first, background, contrast, rows, columns)
    assert out[:, :columns].tobytes() == expected.tobytes()
    assert (out[:, columns:] == -1.0).all()


@given(seed=st.integers(0, 2**32 - 1), count=st.integers(0, 12))
@settings(max_examples=60, deadline=None)
def test_patches_match_opencv(seed: int, count: int) -> None:
    """Each window cut, masked and shrunk by cv2.resize (INTER_AREA) one at a time, to the bit."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(0.3, 0.4, (40, 4 * int(rng.integers(10, 100)))), 0.0, 1.0).astype(np.float32)
    scale = float(rng.uniform(0.5, 0.9))
    lefts = rng.integers(0, int((image.shape[1] - 30) / scale), count).astype(np.float64)
    rights = lefts + rng.integers(-3, 40, count)
    masked = rng.integers(0, 2, count).astype(np.uint8)
    padded = np.zeros((30, image.shape[1] + 60), np.float32)
    padded[:, 30:-30] = image[5:35]
    expected = np.zeros((count, 1, 24, 24), np.float32)
    for index in range(count):
        x0, x1 = math.floor(lefts[index] * scale) - 1, math.ceil(rights[index] * scale) + 1
        origin = (x0 + x1) // 2 - 15
        window = padded[:, origin + 30 : origin + 60].copy()
        if masked[index]:
            window[:, : max(x0 - origin, 0)] = 0.0
            window[:, max(x1 - origin, 0) :] = 0.0
        expected[index, 0] = cv2.resize(window, (24, 24), interpolation=cv2.INTER_AREA)
    got = patches_kernel(image, lefts, rights, masked, scale, 5, 30, 24)
    assert got.shape == expected.shape and got.tobytes() == expected.tobytes()


def test_area_table_sums_to_one() -> None:
    """Every target pixel's weights cover it once (OpenCV's weights are an average)."""
    for source, target in ((30, 24), (487, 370), (38, 29), (355, 271)):
        to, of, weight = area_table_kernel(source, target)
        sums = np.bincount(to, weights=weight.astype(np.float64), minlength=target)
        np.testing.assert_allclose(sums, 1.0, atol=1e-6)
        assert (np.diff(to) >= 0).all() and of.min() >= 0 and of.max() < source
