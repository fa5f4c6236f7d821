"""Compiled kernels of ``vision.print_completeness``; called only through ``line_completeness``, which
pads the ink so that every index they read lies inside it. They release the GIL and are cached on disk.

A line's templates are flat arrays of pixels (row, column at the glyph's nominal place, weight),
glyph after glyph (``starts``); every search and every sum reads the ink through one flat offset
per pixel, so a line is measured in one call.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["dot_verdicts_kernel", "measure_line_kernel", "robust_line_kernel", "solid_verdicts_kernel"]


@numba.njit(cache=True, nogil=True)
def _offsets(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], width: int
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    out = np.empty(rows.size, np.int64)
    for p in range(rows.size):
        out[p] = rows[p] * width + cols[p]
    return out


@numba.njit(cache=True, nogil=True)
def _best_shifts(
    flat: npt.NDArray[np.float32],
    width: int,
    offsets: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    centres: npt.NDArray[np.int64],
    reach_y: npt.NDArray[np.int64],
    reach_x: int,
    step: int,
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    """For each glyph, the (dy, dx) on a ``step`` grid within ``reach`` of its centre where its
    template meets the most ink (``reach_y``: each glyph's own)."""
    n = starts.size - 1
    out = np.zeros((n, 2), np.int64)
    for g in range(n):
        best = -np.inf
        best_dy = centres[g, 0]
        best_dx = centres[g, 1]
        for dy in range(centres[g, 0] - reach_y[g], centres[g, 0] + reach_y[g] + 1, step):
            for dx in range(centres[g, 1] - reach_x, centres[g, 1] + reach_x + 1, step):
                base = dy * width + dx
                score = 0.0
                for p in range(starts[g], starts[g + 1]):
                    score += weights[p] * flat[base + offsets[p]]
                if score > best:
                    best = score
                    best_dy = dy
                    best_dx = dx
        out[g, 0] = best_dy
        out[g, 1] = best_dx
    return out


@numba.njit(cache=True, nogil=True)
def robust_line_kernel(
    x: npt.NDArray[np.float64], values: npt.NDArray[np.float64], outlier: float
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled
    """``values`` as a least-squares line in ``x``, fitted three times, each time without the points
    farther off the last line than ``outlier`` or three times the median distance."""
    n = x.size
    keep = np.ones(n, np.bool_)
    line = np.full(n, np.median(values))
    for _ in range(3):
        count = keep.sum()
        if count < 2:
            break
        mean_x = x[keep].mean()
        mean_v = values[keep].mean()
        spread = 0.0
        covariance = 0.0
        for i in range(n):
            if keep[i]:
                spread += (x[i] - mean_x) ** 2
                covariance += (x[i] - mean_x) * (values[i] - mean_v)
        slope = covariance / spread if spread > 0 else 0.0
        line = mean_v + slope * (x - mean_x)
        residual = np.abs(line - values)
        keep = residual <= max(outlier, 3.0 * np.median(residual))
    return line


@numba.njit(cache=True, nogil=True)
def measure_line_kernel(
    ink: npt.NDArray[np.float32],
    pad: int,
    coarse_rows: npt.NDArray[np.int64],
    coarse_cols: npt.NDArray[np.int64],
    coarse_weights: npt.NDArray[np.float32],
    coarse_starts: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    centres: npt.NDArray[np.float64],
    reach_y: int,
    reach_x: int,
    step: int,
    outlier: float,
    refine_y: npt.NDArray[np.int64],
    part_rows: npt.NDArray[np.int64],
    part_cols: npt.NDArray[np.int64],
    part_glyph: npt.NDArray[np.int64],
    part_labels: npt.NDArray[np.int64],
    bins: int,
    ring_rows: npt.NDArray[np.int64],
    ring_cols: npt.NDArray[np.int64],
    ring_glyph: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # pragma: no cover - compiled
    """Place every glyph of a line and sum the ink under its parts and its ring.

    The glyphs are searched on a ``step`` grid within ``reach`` of their nominal place; a robust
    line through the shifts (against the glyphs' centres) gives each its place, refined by a pixel
    across the line and by ``refine_y[g]`` (0 or 1) px along it.
    Returns the sums per bin of ``part_labels`` (each row names the bins its pixel counts in) and
    the ink summed over each glyph's ring. All positions are crop pixels; ``ink`` is the crop
    padded by ``pad`` on every side.
    """
    n = starts.size - 1
    width = ink.shape[1]
    flat = ink.ravel()
    origin = np.full((n, 2), pad, np.int64)
    coarse = _best_shifts(
        flat,
        width,
        _offsets(coarse_rows, coarse_cols, width),
        coarse_weights,
        coarse_starts,
        origin,
        np.full(n, reach_y, np.int64),
        reach_x,
        step,
    )
    fitted = np.empty((n, 2), np.int64)
    line_y = robust_line_kernel(centres, (coarse[:, 0] - pad).astype(np.float64), outlier)
    line_x = robust_line_kernel(centres, (coarse[:, 1] - pad).astype(np.float64), outlier)
    for g in range(n):
        fitted[g, 0] = pad + min(max(int(np.rint(line_y[g])), -reach_y), reach_y)
        fitted[g, 1] = pad + min(max(int(np.rint(line_x[g])), -reach_x), reach_x)
    final = _best_shifts(flat, width, _offsets(rows, cols, width), weights, starts, fitted, refine_y, 1, 1)
    sums = np.zeros(bins, np.float64)
    for p in range(part_rows.size):
        g = part_glyph[p]
        value = flat[(part_rows[p] + final[g, 0]) * width + part_cols[p] + final[g, 1]]
        for k in range(part_labels.shape[1]):
            sums[part_labels[p, k]] += value
    ring = np.zeros(n, np.float64)
    for p in range(ring_rows.size):
        g = ring_glyph[p]
        ring[g] += flat[(ring_rows[p] + final[g, 0]) * width + ring_cols[p] + final[g, 1]]
    return sums, ring


@numba.njit(cache=True, nogil=True)
def _median(values: npt.NDArray[np.float64]) -> float:  # pragma: no cover - compiled
    """The median of ``values`` (not empty, no NaN), as ``np.median`` computes it."""
    ordered = np.sort(values)
    half = ordered.size // 2
    if ordered.size % 2 == 1:
        return float(ordered[half])
    return float((ordered[half - 1] + ordered[half]) / 2)


@numba.njit(cache=True, nogil=True)
def solid_verdicts_kernel(
    sums: npt.NDArray[np.float64],
    ring: npt.NDArray[np.float64],
    ring_count: npt.NDArray[np.int64],
    part_area: npt.NDArray[np.float64],
    expected: npt.NDArray[np.float64],
    min_ink: float,
    min_share: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:  # pragma: no cover - compiled
    """Each solid glyph's score and verdict from the ink under its five parts (``sums``, ``5 * g + part``)
    and its ring (``ring``, summed over ``ring_count`` pixels).

    A part's share is its ink above the ring's mean carton against the font's (``expected``; NaN: not
    weighed), over the median share of that part on the line; the score is the least. Every glyph
    scores 0 when the median whole glyph holds less than ``min_ink``.
    """
    n = expected.shape[0]
    shares = np.empty((n, 5), np.float64)
    for g in range(n):
        ground = ring[g] / max(ring_count[g], 1)
        for k in range(5):
            shares[g, k] = (sums[5 * g + k] - ground * part_area[g, k]) / expected[g, k]
    scores = np.zeros(n, np.float64)
    complete = np.zeros(n, np.bool_)
    if n == 0 or not _median(shares[:, 0].copy()) >= min_ink:
        return scores, complete
    medians = np.ones(5, np.float64)
    for k in range(5):
        column = shares[:, k]
        weighed = column[~np.isnan(column)]
        if weighed.size > 0:
            medians[k] = max(_median(weighed), 1e-6)
    for g in range(n):
        score = np.inf
        for k in range(5):
            if not np.isnan(shares[g, k]):
                score = min(score, shares[g, k] / medians[k])
        scores[g] = score
        complete[g] = score >= min_share
    return scores, complete


@numba.njit(cache=True, nogil=True)
def dot_verdicts_kernel(
    drops: npt.NDArray[np.float64],
    drop_glyph: npt.NDArray[np.int64],
    neighbours: npt.NDArray[np.int64],
    glyphs: int,
    present_share: float,
    min_ink: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:  # pragma: no cover - compiled
    """Each dot-matrix glyph's share of drops present and its verdict: no two neighbouring drops
    (``neighbours``, pairs of drop numbers) missing, and at least one present.

    A drop is present when its ink reaches ``present_share`` of the line's median drop (and of ``min_ink``).
    """
    scores = np.zeros(glyphs, np.float64)
    complete = np.zeros(glyphs, np.bool_)
    if drops.size == 0:
        return scores, complete
    floor = max(present_share * _median(drops), present_share * min_ink)
    present = drops >= floor
    counts = np.zeros(glyphs, np.int64)
    shown = np.zeros(glyphs, np.float64)
    for p in range(drops.size):
        counts[drop_glyph[p]] += 1
        if present[p]:
            shown[drop_glyph[p]] += 1.0
    broken = np.zeros(glyphs, np.bool_)
    for k in range(neighbours.shape[0]):
        a = neighbours[k, 0]
        if not present[a] and not present[neighbours[k, 1]]:
            broken[drop_glyph[a]] = True
    for g in range(glyphs):
        scores[g] = shown[g] / max(counts[g], 1)
        complete[g] = not broken[g] and shown[g] > 0
    return scores, complete
