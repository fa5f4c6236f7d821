"""Compiled kernel of ``vision.print_completeness``; called only through ``line_completeness``, which
pads the ink so that every index it reads lies inside it. Releases the GIL and is cached on disk."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["best_shifts_kernel", "part_sums_kernel", "robust_line_kernel"]


@numba.njit(cache=True, nogil=True)
def best_shifts_kernel(
    ink: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    starts: npt.NDArray[np.int64],
    centres: npt.NDArray[np.int64],
    reach_y: int,
    reach_x: int,
    step: int,
) -> npt.NDArray[np.int64]:  # pragma: no cover - compiled
    """For each glyph, the (dy, dx) on a ``step`` grid within ``reach`` of its centre (dy, dx) where
    its template meets the most ink.

    Glyph ``g``'s template is the pixels ``starts[g]:starts[g + 1]`` of ``rows``/``cols`` (absolute
    positions in ``ink`` at zero shift) with ``weights``. Returns (n, 2) int64 shifts.
    """
    n = starts.size - 1
    out = np.zeros((n, 2), np.int64)
    for g in range(n):
        best = -np.inf
        best_dy = centres[g, 0]
        best_dx = centres[g, 1]
        for dy in range(centres[g, 0] - reach_y, centres[g, 0] + reach_y + 1, step):
            for dx in range(centres[g, 1] - reach_x, centres[g, 1] + reach_x + 1, step):
                score = 0.0
                for p in range(starts[g], starts[g + 1]):
                    score += weights[p] * ink[rows[p] + dy, cols[p] + dx]
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
def part_sums_kernel(
    ink: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    glyph: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    shifts: npt.NDArray[np.int64],
    bins: int,
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled
    """Sum the ink at each pixel (``rows``, ``cols`` moved by its glyph's shift) into every bin its
    row of ``labels`` names. Returns ``bins`` sums."""
    sums = np.zeros(bins, np.float64)
    for p in range(rows.size):
        g = glyph[p]
        value = ink[rows[p] + shifts[g, 0], cols[p] + shifts[g, 1]]
        for k in range(labels.shape[1]):
            sums[labels[p, k]] += value
    return sums
