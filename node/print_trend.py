"""Print-quality trend per inspection position: warn the printer operator before codes start failing.

Fed the continuous grade (vision.grading's ``SymbolGrade.score``, 0.0..4.0) of every graded unit, it
keeps per position an exponentially weighted moving average and a least-squares line over the last
units, and raises a warning when the average comes within a margin of the limit, or when the line
will reach the limit within a horizon of units. Pure: the unit index comes with each grade; no
clock, no I/O, no logging.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["PrintTrend", "TrendState", "TrendWarning", "lowest_passing_score"]

WINDOW = 500
"""Units the least-squares line is fitted over (the last ones graded at the position)."""
SMOOTHING = 50
"""Units of the moving average's memory: each new grade weighs 1/50."""
MIN_SAMPLES = 50
"""Units a position must have graded before it can warn (the moving average settles)."""
CLEAR_MARGIN = 0.25
"""Hysteresis: a warning clears only when the average is this far above the warning margin ..."""
CLEAR_HORIZON = 2.0
"""... and the line does not reach the limit within this many horizons."""
SIGNIFICANCE = 3.0
"""A falling line is projected only when its slope is this many standard errors below zero, and only
over a full WINDOW: a slope over fewer units, tested at every unit, raises false alarms."""


def lowest_passing_score(min_grade: float) -> float:
    """The lowest continuous grade whose letter passes ``min_grade`` (a recipe's limit, 0.0..4.0).

    One frame's grade is a whole letter (the score's integer part), so a limit of 1.5 passes C (2)
    and fails D (1): a unit starts failing when its score drops below 2.0.

    Raises
    ------
    ValueError
        If ``min_grade`` is outside 0.0..4.0.
    """
    if not 0.0 <= min_grade <= 4.0:
        raise ValueError(f"min_grade is {min_grade}, expected 0.0..4.0")
    return float(math.ceil(min_grade))


class TrendWarning(StrEnum):
    """Why a position's print quality needs the operator."""

    NEAR_LIMIT = "near_limit"
    """The moving average is within the warning margin of the limit (or below it)."""
    HEADING_FOR_LIMIT = "heading_for_limit"
    """The grade falls steadily and will reach the limit within the horizon."""


@dataclass(frozen=True, slots=True)
class TrendState:
    """A position's print-quality trend after one more graded unit."""

    position: str
    unit_index: int
    """The unit just graded."""
    samples: int
    """Units graded at this position since the start or the last reset."""
    value: float
    """The unit's own continuous grade."""
    smoothed: float
    """Exponentially weighted moving average of the grade."""
    slope: float
    """Least-squares slope of the grade over the last WINDOW units, in grade per unit (0.0 below
    MIN_SAMPLES)."""
    units_to_limit: float | None
    """Units until the fitted line reaches the limit (0.0 when already below), or None when the
    grade is not falling significantly or the window is not full yet."""
    warning: TrendWarning | None
    """Set while the position warns; cleared with hysteresis (CLEAR_MARGIN, CLEAR_HORIZON)."""


class _Track:
    """One position's running statistics."""

    def __init__(self) -> None:
        self.points: deque[tuple[int, float]] = deque()
        self.origin = 0  # unit index the sums are taken relative to, for precision
        self.since_rebase = 0
        self.n = 0
        self.sx = self.sy = self.sxx = self.sxy = self.syy = 0.0
        self.samples = 0
        self.smoothed = 0.0
        self.last_index: int | None = None
        self.warning: TrendWarning | None = None

    def add(self, index: int, value: float) -> None:
        self.smoothed = value if self.samples == 0 else self.smoothed + (value - self.smoothed) / SMOOTHING
        self.samples += 1
        self.last_index = index
        if len(self.points) == WINDOW:
            self._sum(*self.points.popleft(), sign=-1.0)
        self.points.append((index, value))
        self.since_rebase += 1
        if self.since_rebase >= WINDOW or self.n == 0:
            # Re-take the sums from the window now and then: exact again, and relative to a recent
            # unit, so that neither rounding nor a large unit index builds up.
            self.origin = self.points[0][0]
            self.n = 0
            self.sx = self.sy = self.sxx = self.sxy = self.syy = 0.0
            for point in self.points:
                self._sum(*point, sign=1.0)
            self.since_rebase = 0
        else:
            self._sum(index, value, sign=1.0)

    def _sum(self, index: int, value: float, *, sign: float) -> None:
        x = float(index - self.origin)
        self.n += int(sign)
        self.sx += sign * x
        self.sy += sign * value
        self.sxx += sign * x * x
        self.sxy += sign * x * value
        self.syy += sign * value * value

    def line(self) -> tuple[float, float, float]:
        """(slope, its standard error, the line's value at the last unit) over the window."""
        n = self.n
        mean_x, mean_y = self.sx / n, self.sy / n
        spread_x = self.sxx - n * mean_x * mean_x
        if n < 3 or spread_x <= 0.0:
            return 0.0, math.inf, mean_y
        cross = self.sxy - n * mean_x * mean_y
        spread_y = max(self.syy - n * mean_y * mean_y, 0.0)
        slope = cross / spread_x
        residual = max(spread_y - slope * cross, 0.0) / (n - 2)
        last = float(self.points[-1][0] - self.origin)
        return slope, math.sqrt(residual / spread_x), mean_y + slope * (last - mean_x)


class PrintTrend:
    """Print-quality trends of the inspection positions, each fed one graded unit at a time.

    Parameters
    ----------
    limit : float
        The lowest passing continuous grade (see ``lowest_passing_score``), 0.0..4.0.
    warn_margin : float
        Warn when the moving average is within this much of ``limit`` (the recipe's
        ``Grading.warn_margin``), 0.0..4.0.
    horizon_units : int
        Warn when the fitted line reaches ``limit`` within this many units (the recipe's
        ``Grading.horizon_units``), at least 1.

    Raises
    ------
    ValueError
        If an argument is outside its range.
    """

    def __init__(self, *, limit: float, warn_margin: float = 0.5, horizon_units: int = 2000) -> None:
        if not 0.0 <= limit <= 4.0:
            raise ValueError(f"limit is {limit}, expected 0.0..4.0")
        if not 0.0 <= warn_margin <= 4.0:
            raise ValueError(f"warn_margin is {warn_margin}, expected 0.0..4.0")
        if horizon_units < 1:
            raise ValueError(f"horizon_units is {horizon_units}, expected at least 1")
        self._limit = limit
        self._margin = warn_margin
        self._horizon = horizon_units
        self._tracks: dict[str, _Track] = {}
        self._states: dict[str, TrendState] = {}

    def update(self, position: str, value: float, unit_index: int) -> TrendState:
        """Add one unit's continuous grade at ``position`` and return the position's new state.

        Feed graded units only: a unit whose code was not found has no print to grade (a symbol
        found but not gradable scores 0.0 and counts).

        Raises
        ------
        ValueError
            If ``value`` is not a number in 0.0..4.0, or ``unit_index`` is not after the
            position's previous one.
        """
        if not 0.0 <= value <= 4.0:  # also refuses NaN
            raise ValueError(f"value is {value}, expected a grade 0.0..4.0")
        track = self._tracks.setdefault(position, _Track())
        if track.last_index is not None and unit_index <= track.last_index:
            raise ValueError(
                f"unit_index {unit_index} at position {position!r} is not after the previous one "
                f"({track.last_index})"
            )
        track.add(unit_index, value)
        slope, error, level = track.line() if track.samples >= MIN_SAMPLES else (0.0, math.inf, value)
        units_to_limit = None
        if track.n == WINDOW and slope < -SIGNIFICANCE * error:
            units_to_limit = max(level - self._limit, 0.0) / -slope
        near = track.smoothed < self._limit + self._margin
        heading = units_to_limit is not None and units_to_limit <= self._horizon
        if track.samples >= MIN_SAMPLES:
            track.warning = self._next_warning(track.warning, track.smoothed, units_to_limit, near, heading)
        state = TrendState(
            position=position,
            unit_index=unit_index,
            samples=track.samples,
            value=value,
            smoothed=track.smoothed,
            slope=slope,
            units_to_limit=units_to_limit,
            warning=track.warning,
        )
        self._states[position] = state
        return state

    def _next_warning(
        self,
        current: TrendWarning | None,
        smoothed: float,
        units_to_limit: float | None,
        near: bool,
        heading: bool,
    ) -> TrendWarning | None:
        if near:
            return TrendWarning.NEAR_LIMIT
        if heading:
            return TrendWarning.HEADING_FOR_LIMIT
        if current is None:
            return None
        recovered = smoothed >= self._limit + self._margin + CLEAR_MARGIN and (
            units_to_limit is None or units_to_limit > CLEAR_HORIZON * self._horizon
        )
        return None if recovered else current

    def state(self, position: str) -> TrendState | None:
        """The position's latest state, or None if it has graded nothing since the start or reset."""
        return self._states.get(position)

    def reset(self, position: str) -> None:
        """Forget a position's history: after printer maintenance or a batch change."""
        self._tracks.pop(position, None)
        self._states.pop(position, None)
