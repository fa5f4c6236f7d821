"""The core follows each position's print grade and warns before units start failing."""

from __future__ import annotations

from dataclasses import replace

from scripted import ScriptedPlc, good_result, line_config, make_job

from node.core import Core
from node.events import InspectionDone, JobLoaded, Notice


def _graded(serial: int, score: float) -> InspectionDone:
    result = replace(good_result(f"SN{serial:06d}"), grade=float(int(score)), grade_score=score)
    return InspectionDone(0, (result,))


class TestPrintTrend:
    """Predictive maintenance of the printer."""

    def test_slow_drift_warns_while_every_unit_still_passes(self) -> None:
        """A grade sliding from 3.8 toward C's floor warns before the first unit fails."""
        plc = ScriptedPlc(Core(line_config()))
        plc.select_recipe()
        plc.feed(JobLoaded(make_job(grading=True)))
        warnings: list[tuple[int, Notice]] = []
        for n in range(1000):
            plc.trigger()
            score = 3.8 - 1.7 * n / 1000  # ends at 2.1: still grade C, which passes a 1.5 limit
            event = _graded(n, score)
            out = plc.feed(replace(event, unit=plc.started[-1].unit))
            warnings += [(n, c) for c in out if isinstance(c, Notice) and c.level == "warning"]
            plc.advance(0.01)
        assert warnings, "no warning for a drift toward the limit"
        first, notice = warnings[0]
        assert "print quality" in notice.event and notice.fields["position"] == "P1"
        assert first < 800  # score still >= 2.44 there: hundreds of units before the first failure
        assert all(d.verdict == "good" for d in plc.records)
        (state,) = plc.core.print_trends()
        assert state.warning is not None and state.samples == 1000

    def test_steady_print_never_warns(self) -> None:
        """A good, steady printer raises nothing."""
        plc = ScriptedPlc(Core(line_config()))
        plc.select_recipe()
        plc.feed(JobLoaded(make_job(grading=True)))
        for n in range(300):
            plc.trigger()
            out = plc.feed(replace(_graded(n, 3.6 + 0.05 * ((n * 7) % 5 - 2)), unit=plc.started[-1].unit))
            assert not [c for c in out if isinstance(c, Notice) and c.level == "warning"]
            plc.advance(0.01)
        (state,) = plc.core.print_trends()
        assert state.warning is None

    def test_no_trend_without_grading(self) -> None:
        """A recipe without grading keeps no trend."""
        plc = ScriptedPlc(Core(line_config()))
        plc.select_recipe()
        plc.feed(JobLoaded(make_job(grading=False)))
        plc.trigger()
        plc.feed(replace(_graded(1, 3.0), unit=plc.started[-1].unit))
        assert plc.core.print_trends() == ()
