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
    "area_table_kernel",
    "class_distances_kernel",
    "classify_kernel",
    "dot_matrix_kernel",
    "drop_rows_kernel",
    "glyph_frames_kernel",
    "glyph_grid_kernel",
    "grid_band_kernel",
    "grid_cells_kernel",
    "ink_levels_kernel",
    "kept_blobs_kernel",
    "kept_profiles_kernel",
    "label_kernel",
    "line_band_kernel",
    "line_levels_kernel",
    "patches_kernel",
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
def _coverage(
    start: float,
    stop: float,
    cells: int,
    size: int,
    weights: npt.NDArray[np.float32],
    spans: npt.NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """weights[c, p]: how much of pixel p (of ``size``) lies in cell c of [start, stop) cut in ``cells``.

    Only the pixels of the window's span (floor(start) .. ceil(stop), within the image) are
    written; ``spans[c]`` is the first and last pixel + 1 that cell c covers.
    """
    step = (stop - start) / cells
    weights[:cells, max(math.floor(start), 0) : min(math.ceil(stop), size)] = 0.0
    for c in range(cells):
        low = start + c * step
        high = low + step
        first = max(math.floor(low), 0)
        last = min(math.ceil(high), size)
        spans[c, 0] = first
        spans[c, 1] = last
        for p in range(first, last):
            weights[c, p] = min(high, p + 1.0) - max(low, float(p))


@numba.njit(cache=True, nogil=True)
def glyph_grid_kernel(
    ink: npt.NDArray[np.float32], windows: npt.NDArray[np.float64], rows: int, cols: int
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    """Mean of ``ink`` over each cell of a rows x cols grid laid over each window (x0, y0, x1, y1).

    Windows may be fractional and may reach beyond the image, which counts as no ink. Within the
    image this is OpenCV's INTER_AREA downscaling of the window, for all windows in one call. Each
    cell sums only the pixels it covers, in ascending order (the others would add exact zeros).
    """
    height, width = ink.shape
    out = np.zeros((windows.shape[0], rows, cols), np.float32)
    wy = np.empty((rows, height), np.float32)
    wx = np.empty((cols, width), np.float32)
    row_spans = np.empty((rows, 2), np.int64)
    col_spans = np.empty((cols, 2), np.int64)
    band = np.empty(width, np.float32)
    for i in range(windows.shape[0]):
        x0, y0, x1, y1 = windows[i, 0], windows[i, 1], windows[i, 2], windows[i, 3]
        _coverage(x0, x1, cols, width, wx, col_spans)
        _coverage(y0, y1, rows, height, wy, row_spans)
        first_x = max(math.floor(x0), 0)
        last_x = min(math.ceil(x1), width)
        scale = np.float32(rows * cols / ((x1 - x0) * (y1 - y0)))
        for r in range(rows):
            # Rows of this cell, weighted, summed into one row; then the columns of each cell.
            band[first_x:last_x] = 0.0
            for y in range(row_spans[r, 0], row_spans[r, 1]):
                weight = wy[r, y]
                if weight > 0.0:
                    line = ink[y]
                    for x in range(first_x, last_x):
                        band[x] += weight * line[x]
            for c in range(cols):
                acc = np.float32(0.0)
                for x in range(max(col_spans[c, 0], first_x), min(col_spans[c, 1], last_x)):
                    acc += wx[c, x] * band[x]
                out[i, r, c] = acc * scale
    return out


@numba.njit(cache=True, nogil=True)
def glyph_frames_kernel(
    table: npt.NDArray[np.int64], height: int, tall_share: float, max_slope: float, min_window: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]:  # pragma: no cover - compiled
    """Each glyph's sampling window and geometry against the line's cap band.

    ``table`` holds the boxes (x, y, w, h), at least one. The band's top and bottom are two lines
    of one slope (the line's skew, least squares of the tall boxes' middles on their centres,
    within ``max_slope``), each offset the median of the tall boxes' edges; tall boxes are at
    least ``tall_share`` of the upper quartile of heights. When the tallest box is under half the
    crop's ``height``, the band is the crop's middle, as tall as the tallest box or half the crop.

    Returns windows (x0, y0, x1, y1): the box widened to ``min_window`` cap heights about its
    centre and stretched over the band; geometry: width, height, top and bottom offset from the
    band in cap heights; and the cap height at the first box.
    """
    n = table.shape[0]
    x = np.empty(n)
    for i in range(n):
        x[i] = table[i, 0] + table[i, 2] / 2.0
    ordered = np.sort(table[:, 3])
    tall_height = tall_share * ordered[(3 * (n - 1)) // 4]
    top = np.empty(n)
    bottom = np.empty(n)
    if ordered[-1] < 0.5 * height:
        cap = max(float(ordered[-1]), 0.5 * height)
        top[:] = (height - cap) / 2
        bottom[:] = (height + cap) / 2
    else:
        tall = np.flatnonzero(table[:, 3] >= tall_height)
        centre = 0.0
        for k in range(tall.size):
            centre += x[tall[k]]
        centre /= tall.size
        covariance = 0.0
        variance = 0.0
        for k in range(tall.size):
            centred = x[tall[k]] - centre
            covariance += centred * (table[tall[k], 1] + table[tall[k], 3] / 2)
            variance += centred * centred
        slope = 0.0
        if tall.size >= 3 and variance != 0.0:
            slope = min(max(covariance / variance, -max_slope), max_slope)
        level = np.empty(tall.size)
        depth = np.empty(tall.size)
        for k in range(tall.size):
            i = tall[k]
            centred = x[i] - centre
            level[k] = table[i, 1] - slope * centred
            depth[k] = float(table[i, 1] + table[i, 3]) - slope * centred
        level.sort()
        depth.sort()
        middle = (tall.size - 1) / 2
        band_top = (level[math.floor(middle)] + level[math.ceil(middle)]) / 2
        band_bottom = (depth[math.floor(middle)] + depth[math.ceil(middle)]) / 2
        for i in range(n):
            offset = slope * (x[i] - centre)
            top[i] = band_top + offset
            bottom[i] = band_bottom + offset
    windows = np.empty((n, 4))
    geometry = np.empty((n, 4))
    for i in range(n):
        left, y, w, h = float(table[i, 0]), float(table[i, 1]), float(table[i, 2]), float(table[i, 3])
        cap = max(bottom[i] - top[i], 1.0)
        centre = left + w / 2
        half = max(w, min_window * cap) / 2
        windows[i, 0] = centre - half
        windows[i, 1] = min(top[i], y)
        windows[i, 2] = centre + half
        windows[i, 3] = max(bottom[i], y + h)
        geometry[i, 0] = w / cap
        geometry[i, 1] = h / cap
        geometry[i, 2] = (y - top[i]) / cap
        geometry[i, 3] = (y + h - bottom[i]) / cap
    return windows, geometry, max(bottom[0] - top[0], 1.0)


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
        entering = span - 1  # (start + span - 1) modulo bins, stepped along instead of divided
        for start in range(1, bins):
            entering += 1
            if entering == bins:
                entering = 0
            total += folded[entering] - folded[start - 1]
            if total < best:
                best = total
                best_start = start
        ink[i] = best
        centre[i] = ((best_start + span / 2.0) * step) % advance
    return ink, centre


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _row_dots(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], out: npt.NDArray[np.float64]
) -> None:  # pragma: no cover - compiled
    """out[i, j] = a[i] . b[j]: four rows of ``a`` at a time against each row of ``b``, which is
    read once for the four (the loads, not the arithmetic, bound a lone dot product)."""
    n, d = a.shape
    i = 0
    while i + 4 <= n:
        a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
        for j in range(b.shape[0]):
            row = b[j]
            t0 = 0.0
            t1 = 0.0
            t2 = 0.0
            t3 = 0.0
            for k in range(d):
                value = row[k]
                t0 += a0[k] * value
                t1 += a1[k] * value
                t2 += a2[k] * value
                t3 += a3[k] * value
            out[i, j] = t0
            out[i + 1, j] = t1
            out[i + 2, j] = t2
            out[i + 3, j] = t3
        i += 4
    for rest in range(i, n):
        values = a[rest]
        for j in range(b.shape[0]):
            row = b[j]
            total = 0.0
            for k in range(d):
                total += values[k] * row[k]
            out[rest, j] = total


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
    product of two contiguous rows, each matrix row read once for four glyphs (``_row_dots``);
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
    _row_dots(centred, whitening_t, z)
    norms = np.empty(n)
    for i in range(n):
        total = 0.0
        for k in range(d):
            total += z[i, k] * z[i, k]
        norms[i] = total
    dots = np.empty((n, m))
    _row_dots(z, centres, dots)
    out = np.full((n, n_classes), np.inf)
    nearest = np.full(n, np.inf)
    group = np.zeros(n, np.int64)
    for c in range(m):
        label = centre_class[c]
        for i in range(n):
            squared = max(norms[i] - 2.0 * dots[i, c] + centre_sq[c], 0.0)
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


@numba.njit(cache=True, nogil=True)
def ink_levels_kernel(
    image: npt.NDArray[np.uint8], threshold: int, core_share: float
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """(ground, ink, spread) of a dark-on-light image split at ``threshold``; spread -1 when a class
    is empty.

    The ground is the mean grey of the light class (> threshold), spread its standard deviation;
    the ink is the mean of the darkest ``core_share`` of the dark class (the pixels up to the first
    grey level where the dark class's cumulative count reaches that share). Counts and grey-weighted
    counts are integers, exact in float64, so ground and ink equal numpy's sums of the histogram.
    """
    histogram = np.zeros(256, np.int64)
    height, width = image.shape
    for y in range(height):
        row = image[y]
        for x in range(width):
            histogram[row[x]] += 1
    dark = 0
    for level in range(threshold + 1):
        dark += histogram[level]
    light = 0
    light_sum = 0
    for level in range(threshold + 1, 256):
        light += histogram[level]
        light_sum += histogram[level] * level
    if dark == 0 or light == 0:
        return 0.0, 0.0, -1.0
    ground = float(light_sum) / float(light)
    squares = 0.0
    for level in range(threshold + 1, 256):
        squares += float(histogram[level]) * (float(level) - ground) ** 2
    spread = math.sqrt(squares / float(light))
    target = core_share * float(dark)
    cumulative = 0
    ink_sum = 0
    for level in range(threshold + 1):
        cumulative += histogram[level]
        ink_sum += histogram[level] * level
        if float(cumulative) >= target:
            break
    return ground, float(ink_sum) / float(cumulative), spread


@numba.njit(cache=True, nogil=True)
def kept_blobs_kernel(
    stats: npt.NDArray[np.int32], min_area: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:  # pragma: no cover - compiled
    """The components of ``stats`` (``label_kernel``) with at least ``min_area`` pixels.

    Returns their rows (x, y, w, h, area, label) in ascending order of 2 x + w (the order of
    their centres; ties keep label order), and a flag per label (row of ``stats``), 1 where kept.
    """
    count = stats.shape[0]
    keep = np.zeros(count, np.uint8)
    kept = 0
    for label in range(1, count):
        if stats[label, 4] >= min_area:
            keep[label] = 1
            kept += 1
    blobs = np.empty((kept, 6), np.int64)
    keys = np.empty(kept, np.int64)
    row = 0
    for label in range(1, count):
        if keep[label]:
            for k in range(5):
                blobs[row, k] = stats[label, k]
            blobs[row, 5] = label
            keys[row] = 2 * np.int64(stats[label, 0]) + stats[label, 2]
            row += 1
    order = np.argsort(keys, kind="mergesort")
    return blobs[order], keep


@numba.njit(cache=True, nogil=True)
def kept_profiles_kernel(
    labels: npt.NDArray[np.int32], keep: npt.NDArray[np.uint8], otsu: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:  # pragma: no cover - compiled
    """Per column, the pixels of kept labels (``keep[label]`` non-zero) and the ink of ``otsu``."""
    height, width = labels.shape
    kept = np.zeros(width, np.int64)
    ink = np.zeros(width, np.int64)
    for y in range(height):
        label_row = labels[y]
        otsu_row = otsu[y]
        for x in range(width):
            kept[x] += keep[label_row[x]]
            ink[x] += otsu_row[x]
    return kept.astype(np.float64), ink.astype(np.float64)


@numba.njit(cache=True, nogil=True)
def drop_rows_kernel(
    labels: npt.NDArray[np.int32],
    stats: npt.NDArray[np.int32],
    image: npt.NDArray[np.uint8],
    min_area: float,
    level: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """First and last row of each column holding a drop: a component of at least ``min_area``
    pixels with a pixel of ``image`` at or below ``level``. Columns without one give the
    height and -1."""
    height, width = labels.shape
    count = stats.shape[0]
    reaching = np.zeros(count, np.uint8)
    for y in range(height):
        label_row = labels[y]
        image_row = image[y]
        for x in range(width):
            if image_row[x] <= level:
                reaching[label_row[x]] = 1
    drop = np.zeros(count, np.uint8)
    for label in range(1, count):
        drop[label] = reaching[label] and stats[label, 4] >= min_area
    first = np.full(width, height, np.int64)
    last = np.full(width, -1, np.int64)
    for y in range(height):
        label_row = labels[y]
        for x in range(width):
            if drop[label_row[x]]:
                if first[x] == height:
                    first[x] = y
                last[x] = y
    return first, last


@numba.njit(cache=True, nogil=True)
def grid_cells_kernel(
    columns: npt.NDArray[np.int64], advance: float, phase: float, width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:  # pragma: no cover
    """(cell index, first inked column, last inked column + 1) of each grid cell holding ink.

    ``columns`` are the inked columns in ascending order (at least one); cell k spans
    ``round(phase + (k -/+ 0.5) advance)``, clipped to 0..width.
    """
    first = math.floor((columns[0] + 0.5 - phase) / advance + 0.5)
    last = math.floor((columns[-1] + 0.5 - phase) / advance + 0.5)
    total = last - first + 1
    cells = np.empty(total, np.int64)
    starts = np.empty(total, np.int64)
    stops = np.empty(total, np.int64)
    held = 0
    for cell in range(first, last + 1):
        left = min(max(np.round(phase + (cell - 0.5) * advance), 0.0), float(width))
        right = min(max(np.round(phase + (cell + 0.5) * advance), 0.0), float(width))
        low = np.searchsorted(columns, np.int64(left))
        high = np.searchsorted(columns, np.int64(right))
        if high > low:
            cells[held] = cell
            starts[held] = columns[low]
            stops[held] = columns[high - 1] + 1
            held += 1
    return cells[:held], starts[:held], stops[:held]


@numba.njit(cache=True, nogil=True)
def dot_matrix_kernel(
    first_row: npt.NDArray[np.int64],
    last_row: npt.NDArray[np.int64],
    advance: float,
    phase: float,
    wide: float,
    sliver: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]:  # pragma: no cover - compiled
    """Boxes (x, y, w, h) of the inked grid cells, their cell indices and the refined advance.

    ``first_row`` and ``last_row`` are per column the first and last inked row (the height and -1
    where none). The cells of ink at least ``wide`` px across refine advance and phase twice by
    least squares of their middles on their indices (while two or more, on different cells); then
    cells whose ink is narrower than ``sliver`` px are dropped, and each box spans its cell's ink.
    """
    width = first_row.size
    inked = 0
    for x in range(width):
        inked += last_row[x] >= 0
    columns = np.empty(inked, np.int64)
    inked = 0
    for x in range(width):
        if last_row[x] >= 0:
            columns[inked] = x
            inked += 1
    if inked == 0:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64), advance
    for _ in range(2):
        cells, starts, stops = grid_cells_kernel(columns, advance, phase, width)
        count = 0
        low_cell = cells[0]
        high_cell = cells[0]
        index_sum = 0.0
        middle_sum = 0.0
        for k in range(cells.size):
            if stops[k] - starts[k] >= wide:
                if count == 0 or cells[k] < low_cell:
                    low_cell = cells[k]
                if count == 0 or cells[k] > high_cell:
                    high_cell = cells[k]
                count += 1
                index_sum += float(cells[k])
                middle_sum += (starts[k] + stops[k]) / 2.0
        if count < 2 or low_cell == high_cell:
            break
        index_mean = index_sum / count
        middle_mean = middle_sum / count
        covariance = 0.0
        variance = 0.0
        for k in range(cells.size):
            if stops[k] - starts[k] >= wide:
                spread = float(cells[k]) - index_mean
                covariance += spread * ((starts[k] + stops[k]) / 2.0 - middle_mean)
                variance += spread * spread
        advance = covariance / variance
        phase = middle_mean - advance * index_mean
    cells, starts, stops = grid_cells_kernel(columns, advance, phase, width)
    boxes = np.empty((cells.size, 4), np.int64)
    kept_cells = np.empty(cells.size, np.int64)
    kept = 0
    for k in range(cells.size):
        if stops[k] - starts[k] < sliver:
            continue
        top = first_row[starts[k]]
        bottom = last_row[starts[k]]
        for x in range(starts[k] + 1, stops[k]):
            if last_row[x] >= 0:
                top = min(top, first_row[x])
                bottom = max(bottom, last_row[x])
        boxes[kept, 0] = starts[k]
        boxes[kept, 1] = top
        boxes[kept, 2] = stops[k] - starts[k]
        boxes[kept, 3] = bottom - top + 1
        kept_cells[kept] = cells[k]
        kept += 1
    return boxes[:kept], kept_cells[:kept], advance


@numba.njit(cache=True, nogil=True)
def area_table_kernel(
    source: int, target: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # pragma: no cover
    """OpenCV's ``INTER_AREA`` weights for shrinking ``source`` pixels to ``target`` (non-integer scale).

    Returns per weight its target pixel, source pixel and float32 weight, in OpenCV's order (target
    by target, source pixels left to right), computed in float64 as ``computeResizeAreaTab`` does.
    """
    scale = 1.0 / (target / source)
    capacity = 2 * source + 2
    to = np.empty(capacity, np.int64)
    of = np.empty(capacity, np.int64)
    weight = np.empty(capacity, np.float32)
    k = 0
    for dx in range(target):
        start = dx * scale
        stop = start + scale
        cell = min(scale, source - start)
        first = min(math.ceil(start), min(math.floor(stop), source - 1))
        last = min(math.floor(stop), source - 1)
        if first - start > 1e-3:
            to[k], of[k], weight[k] = dx, first - 1, np.float32((first - start) / cell)
            k += 1
        for sx in range(first, last):
            to[k], of[k], weight[k] = dx, sx, np.float32(1.0 / cell)
            k += 1
        if stop - last > 1e-3:
            to[k], of[k], weight[k] = dx, last, np.float32(min(min(stop - last, 1.0), cell) / cell)
            k += 1
    return to[:k], of[:k], weight[:k]


@numba.njit(cache=True, nogil=True)
def _area_dense(
    to: npt.NDArray[np.int64], of: npt.NDArray[np.int64], weight: npt.NDArray[np.float32], target: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:  # pragma: no cover - compiled
    """``area_table_kernel``'s weights as (target, most per target) tables of source pixels and
    weights, in order, each target's row padded with weight 0 (on a pixel of its own)."""
    most = 0
    k = 0
    while k < to.size:
        stop = k
        while stop < to.size and to[stop] == to[k]:
            stop += 1
        most = max(most, stop - k)
        k = stop
    sources = np.empty((target, most), np.int64)
    weights = np.zeros((target, most), np.float32)
    k = 0
    for dx in range(target):
        count = 0
        while k < to.size and to[k] == dx:
            sources[dx, count] = of[k]
            weights[dx, count] = weight[k]
            count += 1
            k += 1
        for pad in range(count, most):
            sources[dx, pad] = sources[dx, 0] if count else 0
    return sources, weights


@numba.njit(cache=True, nogil=True)
def _area_sums(
    source: npt.NDArray[np.float32],
    sources: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
) -> None:  # pragma: no cover - compiled
    """One horizontal (or vertical, row by row) ``INTER_AREA`` pass: each target's weighted sum of
    ``source``, in float32, summed onto 0 in OpenCV's order. A pad's weight 0 adds +0, which leaves
    every sum of non-negative terms as it is."""
    most = sources.shape[1]
    for dx in range(out.size):
        total = np.float32(0.0)
        for t in range(most):
            total += source[sources[dx, t]] * weights[dx, t]
        out[dx] = total


@numba.njit(cache=True, nogil=True)
def line_levels_kernel(image: npt.NDArray[np.uint8], dark: float, light: float) -> tuple[int, int]:
    """The least grey levels whose cumulative pixel counts reach ``dark`` and ``light`` (256 where
    none does): ``np.searchsorted(np.cumsum(np.bincount(image.ravel(), minlength=256)), ...)``.
    """  # pragma: no cover - compiled
    histogram = np.zeros(256, np.int64)
    height, width = image.shape
    for y in range(height):
        row = image[y]
        for x in range(width):
            histogram[row[x]] += 1
    first = 256
    second = 256
    cumulative = 0
    for level in range(256):
        cumulative += histogram[level]
        if first == 256 and float(cumulative) >= dark:
            first = level
        if float(cumulative) >= light:
            second = level
            break
    return first, second


@numba.njit(cache=True, nogil=True)
def line_band_kernel(
    crop: npt.NDArray[np.uint8],
    out: npt.NDArray[np.float32],
    first_row: int,
    background: float,
    contrast: float,
    rows: int,
    columns: int,
) -> None:  # pragma: no cover - compiled
    """Rows ``first_row ..`` of the crop shrunk to ``(rows, columns)`` by OpenCV's ``INTER_AREA``
    (non-integer scale, uint8 result rounded half to even), as ink: ``clip((background - v) /
    contrast, 0, 1)`` in float32, written to ``out[:, : columns]``.

    Only ``out.shape[0]`` rows from ``first_row`` are made, each as OpenCV's ``resizeArea_`` makes it
    (a row's sums do not depend on the others'): each source row's horizontal sums once, then each
    target row's weighted sum of them, all in float32 and in OpenCV's order. OpenCV starts every
    target row but its first afresh rather than on 0, which for these non-negative sums is the same.
    """
    height, width = crop.shape
    x_sources, x_weights = _area_dense(*area_table_kernel(width, columns), columns)
    y_sources, y_weights = _area_dense(*area_table_kernel(height, rows), rows)
    ground = np.float32(background)
    spread = np.float32(contrast)
    # Ink of each uint8 level, as numpy computes it in float32.
    ink = np.empty(256, np.float32)
    for level in range(256):
        value = (ground - np.float32(level)) / spread
        ink[level] = min(max(value, np.float32(0.0)), np.float32(1.0))
    made = min(out.shape[0], rows - first_row)
    if made <= 0:
        return
    low = height
    high = 0
    for dy in range(first_row, first_row + made):
        for t in range(y_sources.shape[1]):
            low = min(low, y_sources[dy, t])
            high = max(high, y_sources[dy, t] + 1)
    source = np.empty(width, np.float32)
    sums = np.empty((high - low, columns), np.float32)
    for sy in range(low, high):
        row = crop[sy]
        for x in range(width):
            source[x] = np.float32(row[x])
        _area_sums(source, x_sources, x_weights, sums[sy - low])
    total = np.empty(columns, np.float32)
    for dy in range(first_row, first_row + made):
        total[:] = 0.0
        for t in range(y_sources.shape[1]):
            beta = y_weights[dy, t]
            above = sums[y_sources[dy, t] - low]
            for dx in range(columns):
                total[dx] += beta * above[dx]
        _band_row(total, ink, out[dy - first_row])


@numba.njit(cache=True, nogil=True)
def _band_row(
    total: npt.NDArray[np.float32], ink: npt.NDArray[np.float32], out: npt.NDArray[np.float32]
) -> None:  # pragma: no cover - compiled
    """One shrunk row to uint8 (``saturate_cast``: round half to even, clip) and on to ink."""
    for dx in range(total.size):
        value = np.rint(total[dx])
        level = 0 if value < 0 else (255 if value > 255 else int(value))
        out[dx] = ink[level]


@numba.njit(cache=True, nogil=True)
def patches_kernel(
    image: npt.NDArray[np.float32],
    lefts: npt.NDArray[np.float64],
    rights: npt.NDArray[np.float64],
    masked: npt.NDArray[np.uint8],
    scale: float,
    band_top: int,
    window: int,
    size: int,
) -> npt.NDArray[np.float32]:  # pragma: no cover - compiled
    """One ``size`` square per span: the ``window`` square of ``image`` (zero beyond it) from row
    ``band_top``, centred on the span's columns, shrunk by OpenCV's ``INTER_AREA`` (``size`` <
    ``window`` < 2 ``size``, so a non-integer scale), each pixel's float32 sums in OpenCV's order.

    A span [left, right) in crop pixels covers image columns ``floor(left * scale) - 1`` to
    ``ceil(right * scale) + 1``; where ``masked`` is set, the window's columns outside them are 0.
    ``image`` must be finite and non-negative (``line_band_kernel``'s ink). Returns (spans, 1, size,
    size).
    """
    rows, width = image.shape
    sources, weights = _area_dense(*area_table_kernel(window, size), size)
    out = np.empty((lefts.size, 1, size, size), np.float32)
    source = np.zeros(window, np.float32)
    horizontal = np.empty((window, size), np.float32)
    total = np.empty(size, np.float32)
    half = window // 2
    for index in range(lefts.size):
        x0 = math.floor(lefts[index] * scale) - 1
        x1 = math.ceil(rights[index] * scale) + 1
        origin = (x0 + x1) // 2 - half
        low, high = 0, window
        if masked[index]:
            low, high = max(x0 - origin, 0), max(x1 - origin, 0)
        low = max(low, -origin)
        high = min(high, width - origin, window)
        for r in range(window):
            y = band_top + r
            source[:] = 0.0
            if 0 <= y < rows:
                for j in range(low, high):
                    source[j] = image[y, origin + j]
            _area_sums(source, sources, weights, horizontal[r])
        patch = out[index, 0]
        for dy in range(size):
            total[:] = 0.0
            for t in range(sources.shape[1]):
                beta = weights[dy, t]
                above = horizontal[sources[dy, t]]
                for dx in range(size):
                    total[dx] += beta * above[dx]
            patch[dy] = total
    return out
