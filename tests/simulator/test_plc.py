"""The simulated line PLC, scan by scan, on a signal image: no sockets, no sleeps."""

from __future__ import annotations

from drivers.memory import SignalImage
from drivers.signals import ACK_APPLIED, ACK_TOO_LATE, Signal
from simulator.plc import LineConfig, LinePlc


def line(units: int = 3) -> LinePlc:
    """A line at 600 units/min with a 4-pitch register, conveyor started at t=0."""
    plc = LinePlc(SignalImage(), LineConfig(rate_per_min=600, register_length=4, units=units))
    plc.start(0.0)
    return plc


def verdict(plc: LinePlc, tracking_id: int, code: int) -> None:
    """The node writes one verdict with the next strobe value."""
    image = plc.image
    image.set(Signal.RESULT_ID, tracking_id)
    image.set(Signal.RESULT_CODE, code)
    image.set(Signal.RESULT_COUNT, int(image.get(Signal.RESULT_COUNT)) + 1)


class TestConveyor:
    """Triggers and the shift register."""

    def test_one_trigger_per_pitch(self) -> None:
        """Units reach the camera one pitch apart, with tracking ids 1, 2, 3."""
        plc = line()
        seen = [tid for t in range(0, 400) for tid in plc.scan(t / 1000)]
        assert seen == [1, 2, 3]
        assert plc.image.get(Signal.TRIGGER_COUNT) == 3

    def test_no_verdict_means_reject(self) -> None:
        """A unit without a verdict is rejected at the reject station (the fail-safe default)."""
        plc = line(units=1)
        for t in range(0, 600):
            plc.scan(t / 1000)
        assert plc.done
        assert (plc.counts.passed, plc.counts.rejected) == (0, 1)
        assert plc.fates[0].verdict_code is None

    def test_good_verdict_in_time_passes(self) -> None:
        """An applied good verdict lets the unit pass and is acknowledged as applied."""
        plc = line(units=1)
        plc.scan(0.1)
        verdict(plc, 1, 0)
        plc.scan(0.12)
        assert plc.image.get(Signal.RESULT_ACK) == 1
        assert plc.image.get(Signal.RESULT_ACK_STATUS) == ACK_APPLIED
        plc.scan(0.6)
        assert (plc.counts.passed, plc.counts.rejected) == (1, 0)
        assert plc.fates[0].verdict_at is not None

    def test_verdict_after_the_station_is_too_late(self) -> None:
        """A verdict for a unit already past the reject station is refused and counted."""
        plc = line(units=1)
        plc.scan(0.1)
        plc.scan(0.55)
        verdict(plc, 1, 0)
        plc.scan(0.56)
        assert plc.image.get(Signal.RESULT_ACK_STATUS) == ACK_TOO_LATE
        assert plc.counts.verdicts_too_late == 1
        assert plc.counts.passed == 0

    def test_reject_verdict_rejects(self) -> None:
        """A reject verdict is applied and the unit leaves the line."""
        plc = line(units=1)
        plc.scan(0.1)
        verdict(plc, 1, 4)
        plc.scan(0.12)
        plc.scan(0.6)
        assert plc.counts.rejected == 1
        assert plc.fates[0].verdict_code == 4


class TestHandshakes:
    """Recipe selection and the line-stop alarm."""

    def test_recipe_answer(self) -> None:
        """The PLC waits for RecipeAck to echo its request, then reads RecipeError."""
        plc = LinePlc(SignalImage(), LineConfig())
        request = plc.request_recipe(2, "LOT1", "281231")
        plc.scan(0.0)
        assert plc.recipe_answer is None
        plc.image.set(Signal.RECIPE_ERROR, 3)
        plc.image.set(Signal.RECIPE_ACK, request)
        plc.scan(0.01)
        assert plc.recipe_answer == 3

    def test_alarm_stops_the_conveyor_until_reset(self) -> None:
        """AlarmActive halts triggers; the operator's reset request follows after a delay."""
        plc = line(units=10)
        plc.image.set(Signal.ALARM_ACTIVE, True)
        triggered = [tid for t in range(0, 450) for tid in plc.scan(t / 1000)]
        assert triggered == []
        assert plc.counts.line_stops == 1
        assert plc.image.get(Signal.ALARM_RESET_REQUEST) == 0
        plc.scan(0.6)
        assert plc.image.get(Signal.ALARM_RESET_REQUEST) == 1

    def test_heartbeat_advances(self) -> None:
        """PlcHeartbeat counts up every heartbeat period."""
        plc = line()
        for t in range(0, 200):
            plc.scan(t / 1000)
        assert plc.image.get(Signal.PLC_HEARTBEAT) == 4


class TestScanGap:
    """The PLC reports its own longest pause between scans while running."""

    def test_gap_counts_only_while_running(self) -> None:
        """Time before the conveyor starts is not a scan gap; a pause while running is."""
        plc = LinePlc(SignalImage(), LineConfig(units=5))
        plc.scan(0.0)
        plc.start(10.0)
        plc.scan(10.001)
        assert plc.counts.max_scan_gap_ms < 2
        plc.scan(10.051)
        assert 49 < plc.counts.max_scan_gap_ms < 51
