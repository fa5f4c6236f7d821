"""Compiled kernels of combination 2's boxing (``vision.ocr_dl``); called only through its wrappers.

``vision.ocr_dl.glyph_boxes`` and ``vision.ocr_dl.SegNetReader`` pass arrays they made themselves
(labels and stats of ``vision.components.label_components``, spans inside the crop), so these
kernels read and write without bounds checks. Each releases the GIL (two vision workers run at
once) and is cached on disk, as ``vision._ocr_kernels``' are.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["float32_mean_kernel", "reaching_kernel", "segment_runs_kernel", "span_ink_kernel"]


@numba.njit(cache=True, nogil=True)
def reaching_kernel(
    labels: npt.NDArray[np.int32], crop: npt.NDArray[np.uint8], reach: int, count: int
) -> npt.NDArray[np.bool_]:  # pragma: no cover - compiled
    """Per label 0..count-1, whether one of its pixels in ``crop`` is at or below ``reach``."""
    out = np.zeros(count, np.bool_)
    height, width = labels.shape
    for y in range(height):
        label_row = labels[y]
        crop_row = crop[y]
        for x in range(width):
            if crop_row[x] <= reach:
                out[label_row[x]] = True
    return out


@numba.njit(cache=True, nogil=True)
def span_ink_kernel(
    stats: npt.NDArray[np.int32],
    blobs: npt.NDArray[np.int64],
    span_left: npt.NDArray[np.int64],
    span_right: npt.NDArray[np.int64],
    shared_px: float,
    near_px: float,
    width: int,
    height: int,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:  # pragma: no cover - compiled
    """Which span each blob (``stats`` rows ``blobs``) belongs to, and each span's ink box.

    A blob overlapping two spans or more by ``shared_px`` columns each is shared (flagged, and left
    out of the boxes); any other belongs to the span it overlaps most (the first among equals), or
    when it overlaps none, to the nearest (first among equals) if within ``near_px`` columns.
    Returns the shared flags and per span (x0, y0, x1, y1) of its blobs' ink, (width, height, -1, -1)
    for a span without any.
    """
    n_spans = span_left.shape[0]
    shared = np.zeros(blobs.shape[0], np.bool_)
    extent = np.empty((n_spans, 4), np.int64)
    for s in range(n_spans):
        extent[s, 0] = width
        extent[s, 1] = height
        extent[s, 2] = -1
        extent[s, 3] = -1
    for b in range(blobs.shape[0]):
        blob = blobs[b]
        left = np.int64(stats[blob, 0])
        right = left + stats[blob, 2]
        best_overlap = np.int64(-1)
        best_span = -1
        best_distance = np.int64(0)
        nearest = -1
        wide = 0
        for s in range(n_spans):
            overlap = max(min(right, span_right[s]) - max(left, span_left[s]), 0)
            if overlap > best_overlap:
                best_overlap = overlap
                best_span = s
            distance = max(span_left[s] - right, left - span_right[s])
            if nearest < 0 or distance < best_distance:
                best_distance = distance
                nearest = s
            if overlap >= shared_px:
                wide += 1
        if wide > 1:
            shared[b] = True
            continue
        owner = best_span if best_overlap > 0 else (nearest if best_distance <= near_px else -1)
        if owner < 0:
            continue
        top = np.int64(stats[blob, 1])
        extent[owner, 0] = min(extent[owner, 0], left)
        extent[owner, 1] = min(extent[owner, 1], top)
        extent[owner, 2] = max(extent[owner, 2], right)
        extent[owner, 3] = max(extent[owner, 3], top + stats[blob, 3])
    return shared, extent


@numba.njit(cache=True, nogil=True)
def _pairwise_sum(values: npt.NDArray[np.float32], start: int, stop: int) -> np.float32:  # pragma: no cover
    """The float32 sum of ``values[start:stop]`` in numpy's order (``np.add.reduce``: pairwise,
    eight accumulators in blocks up to 128), so a mean matches numpy's to the bit."""
    n = stop - start
    if n < 8:
        total = np.float32(-0.0)
        for i in range(start, stop):
            total += values[i]
        return total
    if n <= 128:
        r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
        r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
        i = start + 8
        end = stop - n % 8
        while i < end:
            r0 += values[i]
            r1 += values[i + 1]
            r2 += values[i + 2]
            r3 += values[i + 3]
            r4 += values[i + 4]
            r5 += values[i + 5]
            r6 += values[i + 6]
            r7 += values[i + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < stop:
            total += values[i]
            i += 1
        return np.float32(total)
    half = n // 2
    half -= half % 8
    return np.float32(_pairwise_sum(values, start, start + half) + _pairwise_sum(values, start + half, stop))


@numba.njit(cache=True, nogil=True)
def float32_mean_kernel(values: npt.NDArray[np.float32], start: int, stop: int) -> float:  # pragma: no cover
    """``float(values[start:stop].mean())`` for a contiguous float32 array, start < stop."""
    return float(_pairwise_sum(values, start, stop) / np.float32(stop - start))


@numba.njit(cache=True, nogil=True)
def segment_runs_kernel(
    probs: npt.NDArray[np.float32],
    crop: npt.NDArray[np.uint8],
    printed_below: float,
    scale: float,
    stride: int,
    character: int,
    space: int,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]:  # pragma: no cover - compiled
    """``vision.ocr_dl.cut_segments``' runs of the argmax of ``probs`` (classes, steps) whose class
    is ``character``: per run its span (x0, x1) in crop columns (step x ``stride`` / ``scale``,
    rounded half to even, clipped to the crop), the box (x, y, w, h) around the crop's pixels under
    ``printed_below`` within one column more each side of the span (w = 0 when there are none), the
    float32 mean of ``probs[character]`` over the run less its first and last step when it has
    three or more, and the highest ``probs[space]`` in the runs of other classes after it, before
    the next character and not at the line's end (0 for the last character).
    """
    classes, steps = probs.shape
    height, width = crop.shape
    # Per crop column: whether it is printed, and its top and bottom printed row.
    top = np.full(width, height, np.int64)
    bottom = np.full(width, -1, np.int64)
    for y in range(height):
        row = crop[y]
        for x in range(width):
            if row[x] < printed_below:
                if top[x] == height:
                    top[x] = y
                bottom[x] = y
    labels = np.empty(steps, np.int64)
    for t in range(steps):
        best = 0
        for c in range(1, classes):
            if probs[c, t] > probs[best, t]:
                best = c
        labels[t] = best
    spans = np.empty((steps, 2), np.int64)
    boxes = np.zeros((steps, 4), np.int64)
    confidences = np.empty(steps)
    space_after = np.zeros(steps)
    n = 0
    first = 0
    while first < steps:
        last = first
        while last + 1 < steps and labels[last + 1] == labels[first]:
            last += 1
        if labels[first] == character:
            x0 = min(max(np.int64(np.rint(first * stride / scale)), 0), width)
            x1 = min(max(np.int64(np.rint((last + 1) * stride / scale)), 0), width)
            spans[n, 0] = x0
            spans[n, 1] = x1
            ink0 = -1
            ink1 = -1
            for x in range(max(x0 - 1, 0), min(x1 + 1, width)):
                if bottom[x] >= 0:
                    if ink0 < 0:
                        ink0 = x
                    ink1 = x
            if ink0 >= 0:
                low = height
                high = -1
                for x in range(ink0, ink1 + 1):
                    low = min(low, top[x])
                    high = max(high, bottom[x])
                boxes[n, 0] = ink0
                boxes[n, 1] = low
                boxes[n, 2] = ink1 - ink0 + 1
                boxes[n, 3] = high - low + 1
            row = probs[character]
            if last - first > 1:
                confidences[n] = float(_pairwise_sum(row, first + 1, last) / np.float32(last - first - 1))
            else:
                confidences[n] = float(_pairwise_sum(row, first, last + 1) / np.float32(last - first + 1))
            n += 1
        elif n > 0 and last + 1 < steps:
            for t in range(first, last + 1):
                space_after[n - 1] = max(space_after[n - 1], float(probs[space, t]))
        first = last + 1
    if n > 0:
        space_after[n - 1] = 0.0
    return spans[:n], boxes[:n], confidences[:n], space_after[:n]
