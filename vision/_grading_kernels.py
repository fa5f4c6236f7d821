"""Compiled inner loops of print-quality grading (vision.grading): the search for the symbol's
labelling, the module edges, the grid's fit to them, and grading by levels.

Each replaced a chain of numpy calls on arrays of a few hundred to a few thousand elements, where
numpy's per-call cost dominated: together they took the grade of a symbol from about 9 ms to under
2 ms on a 2-core machine. They compute what the numpy they replaced computed, to the last bit:
sums add in numpy's order (pairwise_sum for np.sum and np.add.reduceat, in sequence for
np.bincount). Callers go through vision.grading, which builds the arrays (C-contiguous, so each
kernel compiles once), so the kernels do not validate them.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt


@numba.njit(cache=True, nogil=True)
def _line_shift(
    fits: npt.NDArray[np.float64], axis: int, line: int, along: float
) -> float:  # pragma: no cover
    """How far grid line ``line`` of ``axis`` runs from its ideal place at ``along`` (centred), in modules."""
    shift: float = fits[axis, line, 1] + fits[axis, line, 2] * (along - fits[axis, line, 0])
    return shift


@numba.njit(cache=True, nogil=True)
def find_edges(
    raw: npt.NDArray[np.float32],
    homography: npt.NDArray[np.float64],
    dark: npt.NDArray[np.bool_],
    min_contrast: float,
    reach: float,
    samples: int,
    fits: npt.NDArray[np.float64],
) -> tuple[
    npt.NDArray[np.int8],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:  # pragma: no cover - compiled
    """Every edge between two neighbouring modules of different colour, placed along its profile.

    ``dark`` is the ring-padded module grid (rows + 2, cols + 2): the symbol and one quiet-zone
    ring. For each pair of neighbours of different colour, ``samples`` grey levels are read
    (bilinear, border repeated) across the grid line, ``reach`` modules to either side of where the
    line runs (``fits``, see line_fits), through ``homography`` (canonical module coordinates u, v ->
    pixels x, y); the edge is where the profile crosses the mid-level of the two module centres
    (half a module to either side of the line), the crossing nearest the line if there are several.
    Profiles whose module centres differ by less than ``min_contrast``, or that never cross, are skipped.

    Returns per edge: axis (0: a line between columns, u = line; 1: between rows, v = line), line,
    along (the other coordinate, a module centre), offset (modules from the ideal line to the edge),
    polarity (+1 when the module before the line, left or above, is dark) and spread: the Gaussian
    sigma, in pixels, of a step blurred to the profile's steepest slope, where both sides are at
    least two modules of one colour (so the profile's ends are near full level), else NaN.
    """
    rows = dark.shape[0] - 2
    cols = dark.shape[1] - 2
    height, width = raw.shape
    flat = raw.ravel()
    most = rows * (cols + 1) + (rows + 1) * cols
    axis_out = np.empty(most, np.int8)
    line_out = np.empty(most, np.int64)
    along_out = np.empty(most, np.float64)
    offset_out = np.empty(most, np.float64)
    polarity_out = np.empty(most, np.float64)
    spread_out = np.empty(most, np.float64)
    profile = np.empty(samples, np.float64)
    steps = np.empty(samples, np.float64)
    for k in range(samples):
        steps[k] = k / (samples - 1)
    centre = (samples - 1) / 2
    # The two module centres, half a module to either side of the line, give the levels.
    inner = round((reach - 0.5) / (2 * reach) * (samples - 1))
    x_limit = width - 1.001
    y_limit = height - 1.001
    h00, h01, h02 = homography[0, 0], homography[0, 1], homography[0, 2]
    h10, h11, h12 = homography[1, 0], homography[1, 1], homography[1, 2]
    h20, h21, h22 = homography[2, 0], homography[2, 1], homography[2, 2]
    count = 0
    for axis in range(2):
        lines = cols + 1 if axis == 0 else rows + 1
        positions = rows if axis == 0 else cols
        for line in range(lines):
            for position in range(positions):
                if axis == 0:
                    before = dark[position + 1, line]
                    after = dark[position + 1, line + 1]
                else:
                    before = dark[line, position + 1]
                    after = dark[line + 1, position + 1]
                if before == after:
                    continue
                # The profile runs straight across the line where it runs: over one module the
                # homography is affine to well below a hundredth of a pixel.
                shift = _line_shift(fits, axis, line, position + 0.5 - (rows if axis == 0 else cols) / 2)
                if axis == 0:
                    u0, v0, u1, v1 = (
                        line + shift - reach,
                        position + 0.5,
                        line + shift + reach,
                        position + 0.5,
                    )
                else:
                    u0, v0, u1, v1 = (
                        position + 0.5,
                        line + shift - reach,
                        position + 0.5,
                        line + shift + reach,
                    )
                w0 = h20 * u0 + h21 * v0 + h22
                w1 = h20 * u1 + h21 * v1 + h22
                xs = (h00 * u0 + h01 * v0 + h02) / w0
                ys = (h10 * u0 + h11 * v0 + h12) / w0
                xe = (h00 * u1 + h01 * v1 + h02) / w1
                ye = (h10 * u1 + h11 * v1 + h12) / w1
                dx = xe - xs
                dy = ye - ys
                # Clamping a sample to the crop only matters when an end of the profile is near or
                # past its edge (rounding moves a sample between the ends by far less than 1e-6 px).
                inside = (
                    min(xs, xe) > 1e-6
                    and max(xs, xe) < x_limit - 1e-6
                    and min(ys, ye) > 1e-6
                    and max(ys, ye) < y_limit - 1e-6
                )
                for k in range(samples):
                    x = xs + steps[k] * dx
                    y = ys + steps[k] * dy
                    if not inside:
                        x = min(max(x, 0.0), x_limit)
                        y = min(max(y, 0.0), y_limit)
                    x0 = int(x)
                    y0 = int(y)
                    fx = x - x0
                    fy = y - y0
                    # x and y are clamped inside the crop: unsigned indices skip numba's wraparound
                    # of negative ones.
                    at = y0 * width + x0
                    top_left, top_right = flat[np.uint64(at)], flat[np.uint64(at + 1)]
                    bottom_left = flat[np.uint64(at + width)]
                    bottom_right = flat[np.uint64(at + width + 1)]
                    top = top_left + fx * (top_right - top_left)
                    bottom = bottom_left + fx * (bottom_right - bottom_left)
                    profile[k] = top + fy * (bottom - top)
                first = profile[inner]
                last = profile[samples - 1 - inner]
                if abs(last - first) < min_contrast:
                    continue
                mid = (first + last) / 2
                best = -1
                nearest = math.inf
                for k in range(samples - 1):
                    if (profile[k] > mid) != (profile[k + 1] > mid):
                        distance = abs(k + 0.5 - centre)
                        if distance < nearest:
                            nearest = distance
                            best = k
                if best < 0:
                    continue
                low = profile[best] - mid
                high = profile[best + 1] - mid
                fraction = low / (low - high) if high != low else 0.5
                # Steps of two modules of one colour on each side are wide enough to measure blur on.
                if axis == 0:
                    wide = (
                        line >= 1
                        and line <= cols - 1
                        and dark[position + 1, line - 1] == before
                        and dark[position + 1, line + 2] == after
                    )
                else:
                    wide = (
                        line >= 1
                        and line <= rows - 1
                        and dark[line - 1, position + 1] == before
                        and dark[line + 2, position + 1] == after
                    )
                spread = math.nan
                if wide:
                    step_px = math.sqrt((xe - xs) ** 2 + (ye - ys) ** 2) / (samples - 1)
                    steepest = 0.0
                    for k in range(max(best - 1, 0), min(best + 2, samples - 1)):
                        steepest = max(steepest, abs(profile[k + 1] - profile[k]))
                    if steepest > 0.0:
                        height_span = abs(profile[samples - 1] - profile[0])
                        spread = height_span * step_px / (steepest * math.sqrt(2 * math.pi))
                axis_out[count] = axis
                line_out[count] = line
                along_out[count] = position + 0.5
                offset_out[count] = shift + reach * (2 * (best + fraction) / (samples - 1) - 1)
                polarity_out[count] = 1.0 if before else -1.0
                spread_out[count] = spread
                count += 1
    return (
        axis_out[:count],
        line_out[:count],
        along_out[:count],
        offset_out[:count],
        polarity_out[:count],
        spread_out[:count],
    )


@numba.njit(cache=True, nogil=True)
def grid_equations(
    axis: npt.NDArray[np.int8],
    line: npt.NDArray[np.int64],
    along: npt.NDArray[np.float64],
    offset: npt.NDArray[np.float64],
    polarity: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_],
    growth: tuple[float, float],
    normal: tuple[float, float, float],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int, int]:  # pragma: no cover - compiled
    """The normal matrix (A^T A, 9 x 9) of the DLT system that puts the kept edges on their grid lines.

    An edge on column line j observed at (x, y) asks for a homography K with K(x, y)_u = j; one on
    row line i for K(x, y)_v = i. Each edge is first moved back by the print growth along its axis
    (dark-before edges forward by ``growth``, light-before back). Coordinates are normalised as
    (c - centre) * scale with ``normal`` = (scale, centre_u, centre_v). Also returns the observed
    (x, y) of every edge, growth removed, in canonical module coordinates, and how many edges were
    kept on column lines and on row lines.
    """
    scale, centre_u, centre_v = normal
    count = line.size
    observed = np.empty((count, 2), np.float64)
    matrix = np.zeros((9, 9), np.float64)
    row = np.empty(6, np.float64)
    kept = np.zeros(2, np.int64)
    for e in range(count):
        shifted = line[e] + offset[e] - polarity[e] * growth[axis[e]]
        if axis[e] == 0:
            x, y, target = shifted, along[e], (line[e] - centre_u) * scale
        else:
            x, y, target = along[e], shifted, (line[e] - centre_v) * scale
        observed[e, 0] = x
        observed[e, 1] = y
        if not keep[e]:
            continue
        kept[axis[e]] += 1
        xn = (x - centre_u) * scale
        yn = (y - centre_v) * scale
        # The equation's six non-zero coefficients sit at first..first + 2 and 6..8 of the row of 9;
        # each element of the (symmetric) upper triangle gets its product, edge after edge.
        first = 3 * axis[e]
        row[0], row[1], row[2] = xn, yn, 1.0
        row[3], row[4], row[5] = -target * xn, -target * yn, -target
        for i in range(3):
            for j in range(i, 3):
                matrix[first + i, first + j] += row[i] * row[j]
            for j in range(3):
                matrix[first + i, 6 + j] += row[i] * row[3 + j]
        for i in range(3):
            for j in range(i, 3):
                matrix[6 + i, 6 + j] += row[3 + i] * row[3 + j]
    for i in range(9):
        for j in range(i):
            matrix[i, j] = matrix[j, i]
    return matrix, observed, kept[0], kept[1]


@numba.njit(cache=True, nogil=True)
def graded_levels(
    values: npt.NDArray[np.float64],
    group: npt.NDArray[np.int64],
    capacity: npt.NDArray[np.float64],
    level_knots: npt.NDArray[np.float64],
    damage_knots: npt.NDArray[np.float64],
) -> tuple[float, float]:  # pragma: no cover - compiled
    """ISO/IEC 15415 grading by levels, continuous: the best over levels t of min(grade of t, of damage).

    At level t, the values below t are damage: per group, their count over the group's ``capacity``
    is its damage, and the worst group's damage is graded (``damage_knots``: the damage at grades
    4, 3, 2, 1, 0, increasing). The level itself is graded on ``level_knots`` (the value at grades
    0, 1, 2, 3, 4, increasing). Levels tried: every value below the grade-4 knot, and that knot.
    Returns (score, level).
    """
    order = np.argsort(values)
    damaged = np.zeros(capacity.size, np.float64)
    worst = 0.0
    top = level_knots[4]
    best_score = -1.0
    best_level = top
    grades = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    damage_grades = np.array([4.0, 3.0, 2.0, 1.0, 0.0])
    i = 0
    n = values.size
    while True:
        # Level: the next value (all values below it are already counted), or the grade-4 knot.
        level = top if i >= n else min(values[order[i]], top)
        score = min(np.interp(level, level_knots, grades), np.interp(worst, damage_knots, damage_grades))
        if score > best_score:
            best_score = score
            best_level = level
        if level >= top:
            break
        # Everything equal to this level becomes damage for the next one.
        current = values[order[i]]
        while i < n and values[order[i]] == current:
            g = group[order[i]]
            damaged[g] += 1.0
            worst = max(worst, damaged[g] / capacity[g])
            i += 1
    return best_score, best_level


@numba.njit(cache=True, nogil=True)
def grid_residuals(
    correction: npt.NDArray[np.float64],
    observed: npt.NDArray[np.float64],
    axis: npt.NDArray[np.int8],
    line: npt.NDArray[np.int64],
    limit: float,
    kept: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], bool]:  # pragma: no cover - compiled
    """Each edge's distance across its line after ``correction``, whether it is within ``limit``, and
    whether every edge within it was already ``kept`` (nothing new to drop)."""
    count = line.size
    residual = np.empty(count, np.float64)
    keep = np.empty(count, np.bool_)
    settled = True
    for e in range(count):
        x, y = observed[e, 0], observed[e, 1]
        w = correction[2, 0] * x + correction[2, 1] * y + correction[2, 2]
        if axis[e] == 0:
            moved = (correction[0, 0] * x + correction[0, 1] * y + correction[0, 2]) / w
        else:
            moved = (correction[1, 0] * x + correction[1, 1] * y + correction[1, 2]) / w
        residual[e] = moved - line[e]
        keep[e] = abs(residual[e]) <= limit
        if kept[e] and not keep[e]:
            settled = False
    return residual, keep, settled


@numba.njit(cache=True, nogil=True)
def line_fits(
    axis: npt.NDArray[np.int8],
    line: npt.NDArray[np.int64],
    along: npt.NDArray[np.float64],
    residual: npt.NDArray[np.float64],
    use: npt.NDArray[np.bool_],
    rows: int,
    cols: int,
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled
    """A straight line through the residuals of each grid line's own edges, as a reference decoder's
    grid line runs straight through its clock module.

    Returns (2, max(rows, cols) + 1, 3): per axis (0: the cols + 1 lines between columns, 1: the
    rows + 1 between rows) and line, the mean position along the line (centred on the symbol), the
    mean residual and the slope. A line with fewer than 4 edges, or edges over less than about a
    quarter of its length, gets an offset alone; a line without edges stays where the grid has it.
    """
    lengths = (rows, cols)
    halves = (rows / 2, cols / 2)
    most = max(cols, rows) + 1
    fits = np.zeros((2, most, 3))
    # Per axis and line: count, sum of positions, of residuals, of squared positions, of products.
    sums = np.zeros((2, most, 5))
    for e in range(line.size):
        if not use[e]:
            continue
        a = axis[e]
        j = line[e]
        position = along[e] - halves[a]
        sums[a, j, 0] += 1
        sums[a, j, 1] += position
        sums[a, j, 2] += residual[e]
        sums[a, j, 3] += position * position
        sums[a, j, 4] += position * residual[e]
    for a in range(2):
        for j in range(most):
            count, sum_a, sum_v, sum_aa, sum_av = sums[a, j]
            if count == 0:
                continue
            mean_a = sum_a / count
            mean_v = sum_v / count
            spread = sum_aa - count * mean_a * mean_a
            fits[a, j, 0] = mean_a
            fits[a, j, 1] = mean_v
            if count >= 4 and spread >= count * (lengths[a] / 8) ** 2:
                fits[a, j, 2] = (sum_av - count * mean_a * mean_v) / spread
    return fits


@numba.njit(cache=True, nogil=True)
def centre_shifts(
    fits: npt.NDArray[np.float64], rows: int, cols: int
) -> npt.NDArray[np.float64]:  # pragma: no cover
    """(rows + 2, cols + 2, 2) how far each module centre (and each of the quiet-zone ring) lies from
    the ideal grid, (du, dv) in modules: midway between the two grid lines around it, or on the
    outer line for the ring."""
    shifts = np.zeros((rows + 2, cols + 2, 2))
    for i in range(rows + 2):
        v = i - 0.5 - rows / 2
        below = min(max(i - 1, 0), rows)
        above = min(max(i, 0), rows)
        for j in range(cols + 2):
            u = j - 0.5 - cols / 2
            left = min(max(j - 1, 0), cols)
            right = min(max(j, 0), cols)
            shifts[i, j, 0] = (_line_shift(fits, 0, left, v) + _line_shift(fits, 0, right, v)) / 2
            shifts[i, j, 1] = (_line_shift(fits, 1, below, u) + _line_shift(fits, 1, above, u)) / 2
    return shifts


@numba.njit(cache=True, nogil=True)
def segment_levels(
    values: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    level_knots: npt.NDArray[np.float64],
    damage_knots: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled
    """``graded_levels`` for several segments at once, each its own single group.

    Segment s holds ``values[starts[s]:starts[s + 1]]`` and grades its damaged share on
    ``damage_knots[s]``. Returns each segment's score.
    """
    segments = starts.size - 1
    scores = np.empty(segments, np.float64)
    for s in range(segments):
        chunk = values[starts[s] : starts[s + 1]]
        group = np.zeros(chunk.size, np.int64)
        capacity = np.array([float(chunk.size)])
        scores[s], _ = graded_levels(chunk, group, capacity, level_knots, damage_knots[s])
    return scores


@numba.njit(cache=True, nogil=True)
def edge_shifts(
    fits: npt.NDArray[np.float64],
    axis: npt.NDArray[np.int8],
    line: npt.NDArray[np.int64],
    along: npt.NDArray[np.float64],
    rows: int,
    cols: int,
) -> npt.NDArray[np.float64]:  # pragma: no cover - compiled
    """Where each edge's grid line runs (``fits``, see line_fits) at the edge, relative to the ideal line."""
    shifts = np.empty(line.size)
    for e in range(line.size):
        half = (rows if axis[e] == 0 else cols) / 2
        shifts[e] = _line_shift(fits, axis[e], line[e], along[e] - half)
    return shifts


@numba.njit(cache=True, nogil=True)
def growth_and_lines(
    axis: npt.NDArray[np.int8],
    line: npt.NDArray[np.int64],
    along: npt.NDArray[np.float64],
    residual: npt.NDArray[np.float64],
    polarity: npt.NDArray[np.float64],
    use: npt.NDArray[np.bool_],
    rows: int,
    cols: int,
) -> tuple[float, float, npt.NDArray[np.float64]]:  # pragma: no cover - compiled
    """Split the edges' residuals into print growth (per axis) and each grid line's own course.

    An edge's residual is its line's deviation from the grid, plus the growth not yet corrected
    (with the edge's polarity), plus noise. Estimated in turn, twice: the lines from the residuals
    less the growth, the growth as the polarity-weighted mean of the residuals less the lines.
    Returns the growth along u and v and the line fits (see line_fits) of the residuals less it.
    """
    step = np.zeros(2)
    corrected = np.empty(line.size)
    for _ in range(2):
        for e in range(line.size):
            corrected[e] = residual[e] - polarity[e] * step[axis[e]]
        fits = line_fits(axis, line, along, corrected, use, rows, cols)
        shifts = edge_shifts(fits, axis, line, along, rows, cols)
        total = np.zeros(2)
        count = np.zeros(2)
        for e in range(line.size):
            if use[e]:
                total[axis[e]] += (residual[e] - shifts[e]) * polarity[e]
                count[axis[e]] += 1
        for a in range(2):
            step[a] = total[a] / count[a] if count[a] > 0 else 0.0
    for e in range(line.size):
        corrected[e] = residual[e] - polarity[e] * step[axis[e]]
    return step[0], step[1], line_fits(axis, line, along, corrected, use, rows, cols)


@numba.njit(cache=True, nogil=True)
def clock_crossings(profile: npt.NDArray[np.float64], transitions: int) -> npt.NDArray[np.float64]:
    """Where a clock track's profile crosses mid-level, in samples; empty unless exactly ``transitions``.

    Mid-level is halfway between the profile's 5th and 95th percentiles.
    """
    ordered = np.sort(profile)
    tail = profile.size // 20
    middle = (ordered[tail] + ordered[profile.size - 1 - tail]) / 2
    found = np.empty(transitions)
    count = 0
    for k in range(profile.size - 1):
        if (profile[k] > middle) != (profile[k + 1] > middle):
            if count == transitions:
                return np.empty(0)
            found[count] = k + (middle - profile[k]) / (profile[k + 1] - profile[k])
            count += 1
    if count != transitions:
        return np.empty(0)
    return found


@numba.njit(cache=True, nogil=True)
def finite_median(values: npt.NDArray[np.float64]) -> tuple[float, int]:  # pragma: no cover - compiled
    """The median of the finite values (NaN when there are none), as numpy's median, and their count."""
    finite = np.sort(values[np.isfinite(values)])
    count = finite.size
    if count == 0:
        return math.nan, 0
    half = count // 2
    if count % 2:
        return finite[half], count
    return (finite[half - 1] + finite[half]) / 2, count


@numba.njit(cache=True, nogil=True)
def largest_shift(
    shifts: npt.NDArray[np.float64], per_u: npt.NDArray[np.float64], per_v: npt.NDArray[np.float64]
) -> float:  # pragma: no cover - compiled
    """The longest of the symbol's module shifts in pixels: ``shifts`` (rows + 2, cols + 2, 2) are
    (du, dv) in modules, ring included (left out here); ``per_u``, ``per_v`` the pixels per module
    along u and v."""
    largest = -math.inf
    for i in range(1, shifts.shape[0] - 1):
        for j in range(1, shifts.shape[1] - 1):
            x = shifts[i, j, 0] * per_u[0] + shifts[i, j, 1] * per_v[0]
            y = shifts[i, j, 0] * per_u[1] + shifts[i, j, 1] * per_v[1]
            largest = max(largest, math.sqrt(x * x + y * y))
    return largest


@numba.njit(cache=True, nogil=True)
def fixed_pattern_levels(
    dark: npt.NDArray[np.bool_],
    modulation: npt.NDArray[np.float64],
    expected: npt.NDArray[np.bool_],
    fixed: npt.NDArray[np.bool_],
    cells: npt.NDArray[np.intp],
    starts: npt.NDArray[np.int64],
    level_knots: npt.NDArray[np.float64],
    damage_knots: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], int, int]:  # pragma: no cover - compiled
    """Fixed pattern damage of the ring-padded grid: each segment's score (see segment_levels) on the
    modulation of its modules, a module of the wrong colour counting 0; and how many of the fixed
    pattern's modules are of the wrong colour, of how many.

    ``dark``, ``modulation``, ``expected`` (must be dark) and ``fixed`` (in a segment) are all
    (rows + 2, cols + 2); ``cells`` and ``starts`` lay the segments out as segment_levels takes them.
    """
    flat_dark = dark.ravel()
    flat_modulation = modulation.ravel()
    flat_expected = expected.ravel()
    flat_fixed = fixed.ravel()
    wrong = 0
    total = 0
    for k in range(flat_fixed.size):
        if flat_fixed[k]:
            total += 1
            if flat_dark[k] != flat_expected[k]:
                wrong += 1
    margin = np.empty(cells.size, np.float64)
    for k in range(cells.size):
        cell = cells[k]
        # Every cell is in a segment, so in the fixed pattern.
        margin[k] = 0.0 if flat_dark[cell] != flat_expected[cell] else flat_modulation[cell]
    return segment_levels(margin, starts, level_knots, damage_knots), wrong, total


@numba.njit(cache=True, nogil=True)
def pairwise_sum(values: npt.NDArray[np.float64]) -> float:  # pragma: no cover - compiled
    """The sum of ``values`` as numpy adds them (pairwise, 8 accumulators), to the last bit."""
    n = values.size
    total: float
    if n < 8:
        total = 0.0
        for i in range(n):
            total += values[i]
        return total
    if n <= 128:
        partial = values[:8].copy()
        i = 8
        while i < n - n % 8:
            for j in range(8):
                partial[j] += values[i + j]
            i += 8
        total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + (
            (partial[4] + partial[5]) + (partial[6] + partial[7])
        )
        while i < n:
            total += values[i]
            i += 1
        return total
    half = n // 2
    half -= half % 8
    total = pairwise_sum(values[:half]) + pairwise_sum(values[half:])
    return total


@numba.njit(cache=True, nogil=True)
def best_labelling(
    grey: npt.NDArray[np.float64],
    starts: npt.NDArray[np.intp],
    counts: npt.NDArray[np.float64],
    dark_point: npt.NDArray[np.intp],
    dark_group: npt.NDArray[np.intp],
    dark_counts: npt.NDArray[np.float64],
    labelling_shape: npt.NDArray[np.intp],
) -> tuple[int, float, bool]:  # pragma: no cover - compiled
    """The labelling whose expected dark modules best separate the ring grey levels (see
    vision.grading._SearchTable for the arguments): (index, agreement, light on dark).

    The separation is the difference of the mean grey levels where the labelling expects light and
    dark over their pooled standard deviation (+1 grey level squared), the best labelling the first
    of the largest absolute separation; its agreement is the share of its shape's ring modules on
    their expected side of the level midway between the two means. Sums as numpy's reductions
    (np.add.reduceat, np.bincount) make them, to the last bit.
    """
    shapes = starts.size
    labellings = dark_counts.size
    squares = grey * grey
    total = np.empty(shapes)
    total_squares = np.empty(shapes)
    for s in range(shapes):
        start = starts[s]
        end = starts[s + 1] if s + 1 < shapes else grey.size
        # np.add.reduceat: the segment's first value, plus the rest summed pairwise.
        total[s] = grey[start] + pairwise_sum(grey[start + 1 : end])
        total_squares[s] = squares[start] + pairwise_sum(squares[start + 1 : end])
    dark_sum = np.zeros(labellings)
    dark_squares = np.zeros(labellings)
    for k in range(dark_point.size):
        dark_sum[dark_group[k]] += grey[dark_point[k]]
        dark_squares[dark_group[k]] += squares[dark_point[k]]
    best = 0
    best_separation = 0.0
    best_middle = 0.0
    for p in range(labellings):
        shape = labelling_shape[p]
        light_count = counts[shape] - dark_counts[p]
        dark_mean = dark_sum[p] / dark_counts[p]
        light_mean = (total[shape] - dark_sum[p]) / light_count
        dark_var = max(dark_squares[p] / dark_counts[p] - dark_mean * dark_mean, 0.0)
        light_var = max((total_squares[shape] - dark_squares[p]) / light_count - light_mean * light_mean, 0.0)
        separation = (light_mean - dark_mean) / math.sqrt((dark_var + light_var) / 2 + 1.0)
        if p == 0 or abs(separation) > abs(best_separation):
            best = p
            best_separation = separation
            best_middle = (dark_mean + light_mean) / 2
    lod = best_separation < 0
    shape = labelling_shape[best]
    start = starts[shape]
    size = int(counts[shape])
    expected = np.zeros(size, np.bool_)
    for k in range(dark_point.size):
        if dark_group[k] == best:
            expected[dark_point[k] - start] = True
    agree = 0
    for i in range(size):
        level = grey[start + i]
        seen_dark = level > best_middle if lod else level < best_middle
        if seen_dark == expected[i]:
            agree += 1
    return best, agree / size, lod


@numba.njit(cache=True, nogil=True)
def codeword_levels(
    modulation: npt.NDArray[np.float64],
    wrong: npt.NDArray[np.bool_],
    bit_rows: npt.NDArray[np.intp],
    bit_cols: npt.NDArray[np.intp],
    group: npt.NDArray[np.int64],
    capacity: npt.NDArray[np.float64],
    level_knots: npt.NDArray[np.float64],
    damage_knots: npt.NDArray[np.float64],
) -> tuple[float, float, float, float]:  # pragma: no cover - compiled
    """Modulation and reflectance margin graded by levels (see graded_levels) on each codeword's
    weakest module: (score, level) of each.

    ``modulation`` is the ring-padded grid (rows + 2, cols + 2), ``wrong`` (rows, cols) the symbol's
    modules of the wrong colour (their margin counts 0), ``bit_rows`` and ``bit_cols`` (codewords, 8)
    where each codeword's modules sit in the symbol, ``group`` each codeword's block.
    """
    codewords = bit_rows.shape[0]
    weakest = np.empty(codewords, np.float64)
    margin = np.empty(codewords, np.float64)
    for c in range(codewords):
        for b in range(bit_rows.shape[1]):
            row, col = bit_rows[c, b], bit_cols[c, b]
            value = modulation[row + 1, col + 1]
            low = 0.0 if wrong[row, col] else value
            if b == 0 or value < weakest[c]:
                weakest[c] = value
            if b == 0 or low < margin[c]:
                margin[c] = low
    score, level = graded_levels(weakest, group, capacity, level_knots, damage_knots)
    margin_score, margin_level = graded_levels(margin, group, capacity, level_knots, damage_knots)
    return score, level, margin_score, margin_level
