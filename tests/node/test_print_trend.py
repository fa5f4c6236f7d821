"""Print-quality trend per position: warnings before units fail, none on a steady process, no flapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.print_trend import MIN_SAMPLES, PrintTrend, TrendState, TrendWarning, lowest_passing_score

LIMIT = 2.0  # a recipe's min_grade 1.5: C passes, D fails


def feed(trend: PrintTrend, values: np.ndarray, *, position: str = "A", start: int = 0) -> list[TrendState]:
    """Every value at consecutive unit indices; the states that came back."""
    return [trend.update(position, float(v), start + i) for i, v in enumerate(values)]


def noisy(mean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """``mean`` plus Gaussian noise, kept in 0..4 as grades are."""
    values: np.ndarray = np.clip(mean + np.random.default_rng(seed).normal(0.0, sigma, mean.size), 0.0, 4.0)
    return values


def raises(states: list[TrendState]) -> list[int]:
    """Unit indices where a warning was raised (off to on)."""
    on = [state.warning is not None for state in states]
    return [states[i].unit_index for i in range(len(on)) if on[i] and (i == 0 or not on[i - 1])]


class TestLimit:
    """lowest_passing_score: the recipe's min_grade as a continuous limit."""

    def test_whole_letters(self) -> None:
        """One frame grades a whole letter, so 1.5 needs C (2.0); a whole limit is itself."""
        assert lowest_passing_score(1.5) == 2.0
        assert lowest_passing_score(2.0) == 2.0
        assert lowest_passing_score(0.0) == 0.0

    def test_out_of_range(self) -> None:
        """A limit outside 0..4 raises ValueError naming it."""
        with pytest.raises(ValueError, match="min_grade"):
            lowest_passing_score(4.5)


class TestWarnings:
    """When the warning comes."""

    def test_slow_drift_warns_before_the_first_failure(self) -> None:
        """A grade falling from 3.8 over 20 000 units warns at least 1000 units before one fails."""
        units = np.arange(22_000)
        values = noisy(3.8 - units * 1.8 / 20_000, 0.15, seed=1)
        states = feed(PrintTrend(limit=LIMIT), values)
        first_failure = int(np.argmax(values < LIMIT))
        warned = raises(states)
        assert warned and warned[0] <= first_failure - 1000
        assert states[first_failure].warning is not None

    def test_fast_drift_is_projected(self) -> None:
        """A grade losing 1.5 in 3000 units is projected to the limit while still far above the margin."""
        units = np.arange(4000)
        values = noisy(3.8 - units * 1.5 / 3000, 0.1, seed=2)
        states = feed(PrintTrend(limit=LIMIT, horizon_units=2000), values)
        first = next(state for state in states if state.warning is not None)
        assert first.warning is TrendWarning.HEADING_FOR_LIMIT
        assert first.smoothed > LIMIT + 0.5
        assert first.units_to_limit is not None and first.units_to_limit <= 2000
        # The projection is about right: the line reaches 2.0 at unit 3600.
        assert first.unit_index + first.units_to_limit == pytest.approx(3600, rel=0.15)

    def test_step_drop_warns(self) -> None:
        """A grade dropping from 3.6 to 2.3 (still passing) warns within 100 units."""
        mean = np.where(np.arange(3000) < 2000, 3.6, 2.3)
        states = feed(PrintTrend(limit=LIMIT), noisy(mean, 0.15, seed=3))
        assert raises(states) and 2000 <= raises(states)[0] <= 2100
        assert states[-1].warning is TrendWarning.NEAR_LIMIT

    def test_failing_units_warn(self) -> None:
        """Grades already below the limit warn as soon as the position has enough of them."""
        states = feed(PrintTrend(limit=LIMIT), np.full(MIN_SAMPLES, 1.2))
        assert [state.warning for state in states[:-1]] == [None] * (MIN_SAMPLES - 1)
        assert states[-1].warning is TrendWarning.NEAR_LIMIT

    @settings(max_examples=60, deadline=None)
    @given(
        mean=st.floats(LIMIT + 0.5 + 0.35, 4.0),
        sigma=st.floats(0.0, 0.25),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_steady_process_never_warns(self, mean: float, sigma: float, seed: int) -> None:
        """A process steadily above the warning margin never warns, whatever its noise."""
        states = feed(PrintTrend(limit=LIMIT), noisy(np.full(3000, mean), sigma, seed))
        assert all(state.warning is None for state in states)

    def test_positions_are_separate(self) -> None:
        """A failing position warns; a good one beside it does not."""
        trend = PrintTrend(limit=LIMIT)
        for i in range(200):
            trend.update("left", 3.7, i)
            trend.update("right", 1.0, i)
        left, right = trend.state("left"), trend.state("right")
        assert left is not None and left.warning is None
        assert right is not None and right.warning is TrendWarning.NEAR_LIMIT
        assert trend.state("middle") is None


class TestHysteresis:
    """A warning does not flap."""

    def test_hovering_at_the_margin(self) -> None:
        """A grade hovering around the warning level raises the warning once, not with every wobble."""
        values = noisy(np.full(6000, LIMIT + 0.5), 0.2, seed=4)
        states = feed(PrintTrend(limit=LIMIT), values)
        assert len(raises(states)) <= 2

    def test_clears_after_recovery(self) -> None:
        """After the printer is fixed the warning clears, once the average is well above the margin."""
        mean = np.concatenate([np.full(1000, 3.6), np.full(1000, 2.2), np.full(3000, 3.6)])
        states = feed(PrintTrend(limit=LIMIT), noisy(mean, 0.1, seed=5))
        assert len(raises(states)) == 1
        cleared = next(s for s in states[2000:] if s.warning is None)
        assert cleared.smoothed >= LIMIT + 0.5 + 0.25
        assert all(state.warning is None for state in states[cleared.unit_index :])

    def test_reset(self) -> None:
        """A reset (printer maintenance, batch change) forgets the history and the warning."""
        trend = PrintTrend(limit=LIMIT)
        feed(trend, np.full(100, 1.0))
        trend.reset("A")
        assert trend.state("A") is None
        states = feed(trend, np.full(100, 3.5), start=100)
        assert all(state.warning is None for state in states)
        assert states[-1].samples == 100


class TestState:
    """What a state reports."""

    def test_moving_average_and_slope(self) -> None:
        """The average follows the grade with a memory of about 50 units; the slope is per unit."""
        states = feed(PrintTrend(limit=LIMIT), 3.5 - np.arange(1000) * 1e-4)
        last = states[-1]
        assert last.slope == pytest.approx(-1e-4, rel=1e-6)
        # The average lags a falling line by (1 - 1/50) * 50 units' worth of its slope.
        assert last.smoothed == pytest.approx(last.value + 49 * 1e-4, abs=2e-5)
        assert last.units_to_limit == pytest.approx((last.value - LIMIT) / 1e-4, rel=1e-6)
        assert last.samples == 1000

    def test_large_unit_index(self) -> None:
        """Unit indices in the hundreds of millions lose no precision in the slope."""
        start = 400_000_000
        states = feed(PrintTrend(limit=LIMIT), 3.5 - np.arange(3000) * 2e-4, start=start)
        assert states[-1].slope == pytest.approx(-2e-4, rel=1e-6)

    def test_gaps_in_unit_index(self) -> None:
        """Units another position took leave gaps; the slope is per unit of the line, not per sample."""
        trend = PrintTrend(limit=LIMIT)
        for i in range(600):
            state = trend.update("A", 3.5 - 3 * i * 1e-4, 3 * i)
        assert state.slope == pytest.approx(-1e-4, rel=1e-6)


class TestArguments:
    """Refused input."""

    @pytest.mark.parametrize("value", [-0.1, 4.1, math.nan])
    def test_value_out_of_range(self, value: float) -> None:
        """A grade outside 0..4 (or NaN) raises ValueError naming the value."""
        with pytest.raises(ValueError, match="value"):
            PrintTrend(limit=LIMIT).update("A", value, 0)

    def test_unit_index_must_advance(self) -> None:
        """A unit index not after the position's last raises ValueError; another position may reuse it."""
        trend = PrintTrend(limit=LIMIT)
        trend.update("A", 3.0, 5)
        with pytest.raises(ValueError, match="unit_index"):
            trend.update("A", 3.0, 5)
        trend.update("B", 3.0, 5)

    @pytest.mark.parametrize(
        ("kwargs", "named"),
        [
            ({"limit": 5.0}, "limit"),
            ({"limit": 2.0, "warn_margin": -1.0}, "warn_margin"),
            ({"limit": 2.0, "horizon_units": 0}, "horizon_units"),
        ],
    )
    def test_settings_out_of_range(self, kwargs: dict[str, float], named: str) -> None:
        """Settings outside their range raise ValueError naming them."""
        with pytest.raises(ValueError, match=named):
            PrintTrend(**kwargs)  # type: ignore[arg-type]
