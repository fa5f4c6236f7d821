"""Compiled kernels of the classical OCR stages; called only through the validating wrappers.

``vision.components.label_components``, ``vision.binarize.binarize_sauvola``,
``vision.char_features.char_features``, ``vision.segment`` and
``vision.feature_classifier.FeatureClassifier`` check shapes, dtypes and ranges, so these kernels
read and write without bounds checks. Each releases the GIL (two vision workers run
at once) and is cached on disk, so a process pays for compiling only once per install.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "class_distances_kernel",
    "classify_kernel",
    "glyph_grid_kernel",
    "grid_band_kernel",
    "label_kernel",
    "sauvola_kernel",
    "solid_groups_kernel",
]


@numba.njit(cache=True, nogil=True)
def _root(parent: npt.NDArray[np.int32], label: int) -> int:  # pragma: no cover - compiled
    """The root of ``label``'s tree, halving the path on the way (every node points to its grandparent)."""
    while parent[label] != label:
        parent[label] = parent[parent[label]]
        label = parent[label]
    return label


@numba.njit(cache=True, nogil=True)
def _union(parent: npt.NDArray[np.int32], a: int, b: int) -> int:  # pragma: no cover - compiled
    """Join the trees of ``a`` and ``b`` under the smaller root, which is returned."""
    a = _root(parent, a)
    b = _root(parent, b)
    if a < b:
        parent[b] = a
        return a
    parent[a] = b
    return b


@numba.njit(cache=True, nogil=True)
def label_kernel(
    mask: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:  # pragma: no cover - compiled
    """8-connected components of the non-zero pixels, labelled run by run over a union-find forest.

    Returns labels (0 = background, components 1..n in the raster order of their first pixel) and
    stats (n + 1, 5): x, y, width, height, area of each component; row 0 holds only the
    background's area (its box is left 0).

    Text is made of short horizontal runs, so joining runs rather than pixels does a few operations
    per run instead of per pixel; the label image is written once, a run at a time.
    """
    height, width = mask.shape
    # A run ends at a background pixel or the row's end, so a row holds at most ceil(width / 2).
    capacity = height * ((width + 1) // 2)
    run_start = np.empty(capacity, np.int32)
    run_stop = np.empty(capacity, np.int32)
    run_row = np.empty(capacity, np.int32)
    parent = np.empty(capacity + 1, np.int32)
    runs = 0
    previous_first = 0  # runs of the row above: [previous_first, row_first)
    for y in range(height):
        row = mask[y]
        row_first = runs
        above = previous_first
        x = 0
        while x < width:
            if row[x] == 0:
                x += 1
                continue
            start = x
            while x < width and row[x] != 0:
                x += 1
            run_start[runs] = start
            run_stop[runs] = x
            run_row[runs] = y
            label = runs + 1
            parent[label] = label
            # Runs above that touch this one, diagonals included: they start at or before x
            # and stop after start - 1. Those stopping before start - 1 cannot touch later runs either.
            while above < row_first and run_stop[above] < start:
                above += 1
            touching = above
            while touching < row_first and run_start[touching] <= x:
                _union(parent, label, touching + 1)
                touching += 1
            runs += 1
        previous_first = row_first
    # Roots are the smallest label of their tree, the run met first in raster order; numbering
    # them in order gives the raster order of first pixels.
    final = np.zeros(runs + 1, np.int32)
    n = 0
    for label in range(1, runs + 1):
        root = _root(parent, label)
        if root == label:
            n += 1
            final[label] = n
        else:
            final[label] = final[root]
    stats = np.zeros((n + 1, 5), np.int32)
    low_x = np.full(n + 1, width, np.int32)
    low_y = np.full(n + 1, height, np.int32)
    high_x = np.zeros(n + 1, np.int32)
    high_y = np.zeros(n + 1, np.int32)
    labels = np.zeros((height, width), np.int32)
    ink = 0
    for i in range(runs):
        label = final[i + 1]
        start, stop, y = run_start[i], run_stop[i], run_row[i]
        labels[y, start:stop] = label
        stats[label, 4] += stop - start
        ink += stop - start
        low_x[label] = min(low_x[label], start)
        high_x[label] = max(high_x[label], stop)
        low_y[label] = min(low_y[label], y)
        high_y[label] = max(high_y[label], y + 1)
    for label in range(1, n + 1):
        stats[label, 0] = low_x[label]
        stats[label, 1] = low_y[label]
        stats[label, 2] = high_x[label] - low_x[label]
        stats[label, 3] = high_y[label] - low_y[label]
    stats[0, 4] = height * width - ink
    return labels, stats


@numba.njit(cache=True, nogil=True)
def sauvola_kernel(
    image: npt.NDArray[np.uint8], radius: int, k: float, r: float
) -> npt.NDArray[np.uint8]:  # pragma: no cover - compiled
    """Sauvola's threshold over a (2 radius + 1)² window clipped to the image; 1 where ink (dark).

    Pixel p is ink when p <= m (1 + k (s / r - 1)), m and s the window's mean and standard
    deviation. The sums are exact integers: per column over the window's rows, updated as the
    window moves down a row, then along the row by prefix sums; memory is read in order.
    """
    height, width = image.shape
    column = np.zeros(width, np.int64)
    column_sq = np.zeros(width, np.int64)
    prefix = np.zeros(width + 1, np.int64)
    prefix_sq = np.zeros(width + 1, np.int64)
    mask = np.zeros((height, width), np.uint8)
    for y in range(min(radius, height)):
        for x in range(width):
            value = np.int64(image[y, x])
            column[x] += value
            column_sq[x] += value * value
    for y in range(height):
        entering = y + radius
        if entering < height:
            for x in range(width):
                value = np.int64(image[entering, x])
                column[x] += value
                column_sq[x] += value * value
        leaving = y - radius - 1
        if leaving >= 0:
            for x in range(width):
                value = np.int64(image[leaving, x])
                column[x] -= value
                column_sq[x] -= value * value
        for x in range(width):
            prefix[x + 1] = prefix[x] + column[x]
            prefix_sq[x + 1] = prefix_sq[x] + column_sq[x]
        rows = min(y + radius + 1, height) - max(y - radius, 0)
        row = image[y]
        out = mask[y]
        for x in range(width):
            left = max(x - radius, 0)
            right = min(x + radius + 1, width)
            # With n pixels, sum S and sum of squares Q, the test p <= m (1 + k (s / r - 1)) is
            # n p - (1 - k) S <= k S sqrt(n Q - S²) / (n r); squared when the left side is positive,
            # it needs no division or root (which cost most of the time per pixel).
            n = rows * (right - left)
            total = prefix[right] - prefix[left]
            spread = float(n * (prefix_sq[right] - prefix_sq[left]) - total * total)
            excess = float(n * np.int64(row[x])) - (1.0 - k) * float(total)
            bound = k * float(total)
            out[x] = excess <= 0.0 or (excess * float(n) * r) ** 2 <= bound * bound * spread
    return mask


@numba.njit(cache=True, nogil=True)
def _coverage(start: float, stop: float, cells: int, size: int, weights: npt.NDArray[np.float32]) -> None:
    """weights[c, p]: how much of pixel p (of ``size``) lies in cell c of [start, stop) cut in ``cells``."""
    step = (stop - start) / cells
    weights[:cells, :size] = 0.0
    for c in range(cells):
        low = start + c * step
        high = low + step
        first = max(math.floor(low), 0)
        last = min(math.ceil(high), size)
        for p in range(first, last):
            weights[c, p] = min(high, p + 1.0) - max(low, float(p))


@numba.njit(cache=True, nogil=True)
def glyph_grid_kernel(
    ink: npt.NDArray[np.float32], windows: npt.NDArray[np.float64], rows: int, cols: int
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    """Mean of ``ink`` over each cell of a rows x cols grid laid over each window (x0, y0, x1, y1).

    Windows may be fractional and may reach beyond the image, which counts as no ink. Within the
    image this is OpenCV's INTER_AREA downscaling of the window, for all windows in one call.
    """
    height, width = ink.shape
    out = np.zeros((windows.shape[0], rows, cols), np.float32)
    wy = np.empty((rows, height), np.float32)
    wx = np.empty((cols, width), np.float32)
    band = np.empty(width, np.float32)
    for i in range(windows.shape[0]):
        x0, y0, x1, y1 = windows[i, 0], windows[i, 1], windows[i, 2], windows[i, 3]
        _coverage(x0, x1, cols, width, wx)
        _coverage(y0, y1, rows, height, wy)
        first_x = max(math.floor(x0), 0)
        last_x = min(math.ceil(x1), width)
        first_y = max(math.floor(y0), 0)
        last_y = min(math.ceil(y1), height)
        scale = np.float32(rows * cols / ((x1 - x0) * (y1 - y0)))
        for r in range(rows):
            # Rows of this cell, weighted, summed into one row; then the columns of each cell.
            band[first_x:last_x] = 0.0
            for y in range(first_y, last_y):
                weight = wy[r, y]
                if weight > 0.0:
                    line = ink[y]
                    for x in range(first_x, last_x):
                        band[x] += weight * line[x]
            for c in range(cols):
                acc = np.float32(0.0)
                for x in range(first_x, last_x):
                    acc += wx[c, x] * band[x]
                out[i, r, c] = acc * scale
    return out


@numba.njit(cache=True, nogil=True)
def grid_band_kernel(
    profile: npt.NDArray[np.float64], advances: npt.NDArray[np.float64], band: float, step: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # pragma: no cover - compiled
    """For each advance, the least ink in a band of width ``band`` repeated every advance, and where.

    ``profile[x]`` is the ink of column x, whose centre is at x + 0.5. Columns are folded modulo the
    advance into bins of ``step`` px; a circular window of ``round(band / step)`` bins slides over them.
    Returns the least windowed ink per advance and the window's centre (0 <= centre < advance).
    """
    ink = np.empty(advances.size)
    centre = np.empty(advances.size)
    width = profile.size
    for i in range(advances.size):
        advance = advances[i]
        bins = math.ceil(advance / step)
        folded = np.zeros(bins)
        # (x + 0.5) modulo the advance, stepped along instead of divided per column.
        phase = 0.5 % advance
        for x in range(width):
            if profile[x] != 0.0:
                folded[min(int(phase / step), bins - 1)] += profile[x]
            phase += 1.0
            if phase >= advance:
                phase -= advance
        span = min(max(1, round(band / step)), bins)
        total = 0.0
        for j in range(span):
            total += folded[j]
        best = total
        best_start = 0
        for start in range(1, bins):
            total += folded[(start + span - 1) % bins] - folded[start - 1]
            if total < best:
                best = total
                best_start = start
        ink[i] = best
        centre[i] = ((best_start + span / 2.0) * step) % advance
    return ink, centre


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def class_distances_kernel(
    x: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    whitening_t: npt.NDArray[np.float64],
    centres: npt.NDArray[np.float64],
    centre_sq: npt.NDArray[np.float64],
    centre_class: npt.NDArray[np.int64],
    centre_group: npt.NDArray[np.int64],
    n_classes: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """Squared whitened distance of each row of ``x`` to each class (its nearest subclass), and the
    group of the nearest subclass of all.

    ``whitening_t`` is the whitening transposed (row j gives whitened feature j), ``centres`` the
    whitened subclass means (m, d), ``centre_sq`` their squared norms. Every product is a dot
    product of two contiguous rows, each matrix row used for all glyphs while it is in cache;
    ``fastmath`` (reassociation only: infinities stay exact) lets the sums vectorise, so they add
    in another order than numpy's and differ from it in the last bits. Numpy's matrix products are
    faster in a tight loop of their own, but inside the reader OpenBLAS's threads wake for every
    line's small products and cost several times the arithmetic in CPU (``bench.kernels``' reader
    row). Classes without subclasses stay ``inf``.
    """
    n, d = x.shape
    m = centres.shape[0]
    centred = np.empty((n, d))
    for i in range(n):
        for k in range(d):
            centred[i, k] = x[i, k] - mean[k]
    z = np.empty((n, d))
    for j in range(d):
        row = whitening_t[j]
        for i in range(n):
            values = centred[i]
            total = 0.0
            for k in range(d):
                total += values[k] * row[k]
            z[i, j] = total
    norms = np.empty(n)
    for i in range(n):
        total = 0.0
        for k in range(d):
            total += z[i, k] * z[i, k]
        norms[i] = total
    out = np.full((n, n_classes), np.inf)
    nearest = np.full(n, np.inf)
    group = np.zeros(n, np.int64)
    for c in range(m):
        centre = centres[c]
        label = centre_class[c]
        for i in range(n):
            values = z[i]
            total = 0.0
            for k in range(d):
                total += values[k] * centre[k]
            squared = max(norms[i] - 2.0 * total + centre_sq[c], 0.0)
            if squared < out[i, label]:
                out[i, label] = squared
            if squared < nearest[i]:
                nearest[i] = squared
                group[i] = centre_group[c]
    return out, group


@numba.njit(cache=True, nogil=True)
def classify_kernel(
    x: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    whitening_t: npt.NDArray[np.float64],
    centres: npt.NDArray[np.float64],
    centre_sq: npt.NDArray[np.float64],
    centre_class: npt.NDArray[np.int64],
    centre_group: npt.NDArray[np.int64],
    n_classes: int,
    calibration: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:  # pragma: no cover - compiled
    """Best class and calibrated confidence of each row (``class_distances_kernel`` for the inputs).

    The confidence is ``sigmoid(bias - a ln(1 + d1) + b ln(1 + min(d2 - d1, 1e12)))``, d1 and d2 the
    best and second-best class distances, (bias, a, b) the row of ``calibration`` (g, 3) of the
    nearest subclass's group; the best class is the first of the smallest distance.
    """
    squared, group = class_distances_kernel(
        x, mean, whitening_t, centres, centre_sq, centre_class, centre_group, n_classes
    )
    n = x.shape[0]
    indices = np.zeros(n, np.int64)
    confidences = np.zeros(n)
    for i in range(n):
        best = 0
        for c in range(1, n_classes):
            if squared[i, c] < squared[i, best]:
                best = c
        second = np.inf
        for c in range(n_classes):
            if c != best and squared[i, c] < second:
                second = squared[i, c]
        first = squared[i, best]
        bias, weight, margin = calibration[group[i], 0], calibration[group[i], 1], calibration[group[i], 2]
        score = bias - weight * math.log1p(first) + margin * math.log1p(min(second - first, 1e12))
        indices[i] = best
        confidences[i] = 1.0 / (1.0 + math.exp(-min(max(score, -700.0), 700.0)))
    return indices, confidences


@numba.njit(cache=True, nogil=True)
def solid_groups_kernel(
    blobs: npt.NDArray[np.int64], overlap: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """Blobs (rows x, y, w, h, ...) in order joined into groups: a blob joins the group before it
    when their x ranges overlap by at least ``overlap`` times the narrower of the blob and the group.

    Returns each group's (left, top, right, bottom), right and bottom exclusive, and each blob's
    group.
    """
    groups = np.empty((blobs.shape[0], 4), np.int64)
    member_of = np.empty(blobs.shape[0], np.int64)
    count = 0
    for i in range(blobs.shape[0]):
        x, y, w, h = blobs[i, 0], blobs[i, 1], blobs[i, 2], blobs[i, 3]
        if count > 0:
            g = count - 1
            left, right = groups[g, 0], groups[g, 2]
            if min(right, x + w) - max(left, x) >= overlap * min(w, right - left):
                groups[g, 0] = min(left, x)
                groups[g, 1] = min(groups[g, 1], y)
                groups[g, 2] = max(right, x + w)
                groups[g, 3] = max(groups[g, 3], y + h)
                member_of[i] = g
                continue
        groups[count, 0], groups[count, 1], groups[count, 2], groups[count, 3] = x, y, x + w, y + h
        member_of[i] = count
        count += 1
    return groups[:count], member_of
