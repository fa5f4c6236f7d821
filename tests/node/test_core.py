"""The cycle core, driven by events and time only: no PLC, no sleeps."""

from __future__ import annotations

import pytest
from scripted import NO_READ, ScriptedPlc, good_result, line_config, make_job

from drivers.signals import ACK_TOO_LATE, PlcInputs, Signal
from node.core import Core, CoreConfig, Resume, resume_point
from node.events import (
    InspectionDone,
    InspectionFailed,
    JobLoaded,
    JobRefused,
    LinkDown,
    LinkUp,
    LoadJob,
    Notice,
    PlcSignals,
    RecordUnit,
    ResetAlarm,
    ResetCounters,
    Tick,
)
from node.reasons import Reason
from node.states import NodeState


@pytest.fixture
def config() -> CoreConfig:
    """Line timing of 600 units/min with a 4-pitch register."""
    return line_config()


def running(config: CoreConfig, **job_kw: object) -> ScriptedPlc:
    """A core with job 1 loaded through the PLC handshake."""
    plc = ScriptedPlc(Core(config))
    plc.select_recipe()
    plc.feed(JobLoaded(make_job(**job_kw)))  # type: ignore[arg-type]
    return plc


class TestJobHandshake:
    """Recipe selection by the PLC."""

    def test_request_asks_the_shell_to_load(self, config: CoreConfig) -> None:
        """A RecipeRequest edge becomes one LoadJob with the batch data."""
        plc = ScriptedPlc(Core(config))
        plc.set_inputs(recipe_request=1, recipe_number=7, batch_lot="L1")
        out = plc.scan()
        loads = [c for c in out if isinstance(c, LoadJob)]
        assert loads == [LoadJob(request=1, recipe_number=7, lot="L1", expiry="")]

    def test_loaded_job_is_acknowledged(self, config: CoreConfig) -> None:
        """A loaded job sets ActiveRecipe, clears RecipeError and echoes the request."""
        plc = running(config)
        assert plc.written(Signal.RECIPE_ACK) == 1
        assert plc.written(Signal.RECIPE_ERROR) == 0
        assert plc.written(Signal.ACTIVE_RECIPE) == 1
        assert plc.core.state is NodeState.READY

    def test_refused_job_keeps_the_previous_one(self, config: CoreConfig) -> None:
        """An invalid request returns its error code and the old job stays active."""
        plc = running(config)
        plc.select_recipe(number=99)
        plc.feed(JobRefused(request=2, code=1, message="recipe 99: unknown"))
        assert plc.written(Signal.RECIPE_ERROR) == 1
        assert plc.written(Signal.RECIPE_ACK) == 2
        assert plc.core.job is not None and plc.core.job.recipe.number == 1

    def test_trigger_without_job_is_rejected(self, config: CoreConfig) -> None:
        """With no recipe active every unit is rejected at once."""
        plc = ScriptedPlc(Core(config))
        plc.trigger()
        assert [d.reasons for d in plc.records] == [frozenset({Reason.NO_RECIPE})]
        assert plc.written(Signal.RESULT_CODE) == Reason.NO_RECIPE.code


class TestVerdicts:
    """From trigger to final verdict."""

    def test_good_unit_is_final_after_the_plc_applies_it(self, config: CoreConfig) -> None:
        """A good verdict counts only once the PLC acknowledges it applied it."""
        plc = running(config)
        plc.auto_ack = False
        tid = plc.trigger()
        unit = plc.started[-1].unit
        plc.feed(InspectionDone(unit, (good_result("SN000001"),)))
        assert plc.written(Signal.RESULT_ID) == tid
        assert plc.written(Signal.RESULT_CODE) == 0
        assert plc.records == []
        plc.auto_ack = True
        plc.advance(0.01)
        assert [(d.verdict, d.tracking_id) for d in plc.records] == [("good", tid)]

    def test_wrong_data_is_rejected_with_all_reasons(self, config: CoreConfig) -> None:
        """Wrong lot and expiry both show, and the primary code goes to the PLC."""
        plc = running(config)
        plc.trigger()
        plc.feed(
            InspectionDone(plc.started[-1].unit, (good_result("SN000001", **{"10": "X", "17": "280101"}),))
        )
        plc.advance(0.01)
        assert plc.records[-1].reasons == {Reason.WRONG_LOT, Reason.WRONG_EXPIRY}
        assert plc.written(Signal.RESULT_CODE) == Reason.WRONG_LOT.code
        assert plc.written(Signal.RESULT_REASONS) == Reason.WRONG_LOT.bit | Reason.WRONG_EXPIRY.bit

    def test_duplicate_and_unissued_serials(self, config: CoreConfig) -> None:
        """A serial read twice is a duplicate; one Level 4 never issued is rejected too."""
        plc = running(config)
        for serial in ("SN000001", "SN000001", "XX999999"):
            plc.trigger()
            plc.feed(InspectionDone(plc.started[-1].unit, (good_result(serial),)))
            plc.advance(0.01)
        assert [d.reasons for d in plc.records] == [
            frozenset(),
            frozenset({Reason.DUPLICATE_SERIAL}),
            frozenset({Reason.SERIAL_NOT_ISSUED}),
        ]

    def test_no_result_by_the_deadline_is_late(self, config: CoreConfig) -> None:
        """Vision that never answers ends in a late reject, before the reject station."""
        plc = running(config)
        plc.trigger()
        plc.advance(config.deadline_s - config.decide_margin_s + 0.01)
        assert plc.records[-1].reasons == {Reason.LATE}
        assert plc.records[-1].decided_at <= config.deadline_s

    def test_result_after_the_verdict_is_ignored(self, config: CoreConfig) -> None:
        """A late result cannot turn a late reject into a pass."""
        plc = running(config)
        plc.trigger()
        unit = plc.started[-1].unit
        plc.advance(config.deadline_s)
        plc.feed(InspectionDone(unit, (good_result("SN000001"),)))
        plc.advance(0.05)
        assert [d.verdict for d in plc.records] == ["rejected"]

    def test_plc_says_too_late(self, config: CoreConfig) -> None:
        """A good verdict the PLC could not apply in time is a late reject."""
        plc = running(config)
        plc.ack_status = ACK_TOO_LATE
        plc.trigger()
        plc.feed(InspectionDone(plc.started[-1].unit, (good_result("SN000001"),)))
        plc.advance(0.01)
        assert plc.records[-1].reasons == {Reason.LATE}

    def test_inspection_failure_is_an_internal_error(self, config: CoreConfig) -> None:
        """A crash in capture or vision rejects the unit."""
        plc = running(config)
        plc.trigger()
        plc.feed(InspectionFailed(plc.started[-1].unit, "camera timeout"))
        assert plc.records[-1].reasons == {Reason.INTERNAL_ERROR}

    def test_missed_triggers_are_counted(self, config: CoreConfig) -> None:
        """A jump of the trigger counter records each unit we never saw as a reject."""
        plc = running(config)
        plc.trigger(skip=2)
        assert [d.reasons for d in plc.records] == [frozenset({Reason.MISSED_TRIGGER})] * 2
        assert len(plc.started) == 1

    def test_no_read_is_rejected(self, config: CoreConfig) -> None:
        """A unit with no code is rejected as no read."""
        plc = running(config)
        plc.trigger()
        plc.feed(InspectionDone(plc.started[-1].unit, (NO_READ,)))
        assert plc.records[-1].reasons == {Reason.NO_READ}


class TestAlarm:
    """Consecutive rejects stop the line until reset."""

    def test_alarm_raises_and_resets_from_plc(self, config: CoreConfig) -> None:
        """N rejects in a row raise AlarmActive; the PLC's reset request clears it."""
        plc = running(config, limit=3)
        for _ in range(3):
            plc.trigger()
            plc.feed(InspectionDone(plc.started[-1].unit, (NO_READ,)))
        assert plc.written(Signal.ALARM_ACTIVE) is True
        assert plc.core.state is NodeState.ALARM
        plc.set_inputs(alarm_reset_request=plc.inputs.alarm_reset_request + 1)
        plc.scan()
        assert plc.written(Signal.ALARM_ACTIVE) is False
        assert plc.written(Signal.ALARM_RESET_ACK) == 1
        assert plc.core.snapshot().consecutive_rejects == 0

    def test_good_unit_breaks_the_series(self, config: CoreConfig) -> None:
        """A good unit resets the consecutive count."""
        plc = running(config, limit=3)
        for result in (NO_READ, NO_READ, good_result("SN000001"), NO_READ, NO_READ):
            plc.trigger()
            plc.feed(InspectionDone(plc.started[-1].unit, (result,)))
            plc.advance(0.01)
        assert plc.written(Signal.ALARM_ACTIVE) is not True
        assert plc.core.snapshot().consecutive_rejects == 2

    def test_operator_reset(self, config: CoreConfig) -> None:
        """SCADA's ResetConsecutiveFailures clears the alarm too."""
        plc = running(config, limit=1)
        plc.trigger()
        plc.feed(InspectionDone(plc.started[-1].unit, (NO_READ,)))
        plc.feed(ResetAlarm())
        assert plc.core.state is NodeState.READY


class TestLinkAndHeartbeat:
    """Faults of the PLC link."""

    def test_heartbeat_loss_is_a_fault(self, config: CoreConfig) -> None:
        """A PLC heartbeat that stops moving puts the node in FAULT."""
        plc = running(config)
        plc.now += config.heartbeat_timeout_s + 0.1
        plc.feed(Tick())
        assert plc.core.state is NodeState.FAULT
        plc.scan()
        assert plc.core.state is NodeState.READY

    def test_node_heartbeat_ticks(self, config: CoreConfig) -> None:
        """The node's heartbeat advances every heartbeat period."""
        plc = running(config)
        first = plc.written(Signal.NODE_HEARTBEAT)
        plc.advance(config.heartbeat_period_s * 3 + 0.001)
        assert isinstance(first, int)
        assert plc.written(Signal.NODE_HEARTBEAT) == first + 3

    def test_link_down_waits_for_the_ack(self, config: CoreConfig) -> None:
        """While the link is down a good verdict is held, then its ack decides it."""
        plc = running(config)
        plc.auto_ack = False
        plc.trigger()
        plc.feed(InspectionDone(plc.started[-1].unit, (good_result("SN000001"),)))
        plc.feed(LinkDown("reset by peer"))
        assert plc.core.state is NodeState.FAULT
        plc.now += 2.0
        plc.feed(Tick())
        assert plc.records == []
        plc.feed(LinkUp())
        plc.auto_ack = True
        plc.scan()
        assert [d.verdict for d in plc.records] == ["good"]


class TestCounters:
    """PackML-style counters."""

    def test_counts_add_up_and_reset(self, config: CoreConfig) -> None:
        """total = good + rejected, per reason and per position; an operator reset zeroes them."""
        plc = running(config)
        for result in (good_result("SN000001"), NO_READ, good_result("SN000002")):
            plc.trigger()
            plc.feed(InspectionDone(plc.started[-1].unit, (result,)))
            plc.advance(0.01)
        snap = plc.core.snapshot()
        assert (snap.total, snap.good, snap.rejected) == (3, 2, 1)
        assert snap.by_reason[Reason.NO_READ] == 1
        assert snap.by_position["P1"].total == 3
        plc.feed(ResetCounters())
        assert plc.core.snapshot().total == 0


class TestRestart:
    """Triggers the PLC counted while the node was down are not lost."""

    def test_resume_point_finds_in_flight_gaps(self) -> None:
        """Counts missing below the newest recorded one are the units in flight at the stop."""
        resume = resume_point([10, 8, 9, 6, 5])
        assert resume == Resume(last_count=10, missing=(7,))

    def test_resume_point_across_the_wrap(self) -> None:
        """The UInt32 wrap does not confuse the highest count."""
        resume = resume_point([1, 0xFFFFFFFF, 0])
        assert resume == Resume(last_count=1, missing=())

    def test_resume_point_of_an_empty_store(self) -> None:
        """A fresh store has nothing to resume."""
        assert resume_point([]) is None

    def test_units_missed_while_down_are_recorded(self, config: CoreConfig) -> None:
        """In-flight gaps and every count up to the PLC's counter at the first read become missed rejects."""
        core = Core(config, resume=Resume(last_count=20, missing=(18,)))
        out = core.handle(PlcSignals(PlcInputs(trigger_count=24, plc_heartbeat=1)), 0.0)
        decisions = [c.decision for c in out if isinstance(c, RecordUnit)]
        assert [d.trigger_count for d in decisions] == [18, 21, 22, 23, 24]
        assert all(d.reasons == {Reason.MISSED_TRIGGER} for d in decisions)
        assert core.snapshot().total == 5

    def test_plc_restart_is_not_a_gap(self, config: CoreConfig) -> None:
        """A counter far behind where the node stopped is re-baselined, with a warning."""
        core = Core(config, resume=Resume(last_count=50_000, missing=()))
        out = core.handle(PlcSignals(PlcInputs(trigger_count=3, plc_heartbeat=1)), 0.0)
        assert not [c for c in out if isinstance(c, RecordUnit)]
        assert any(isinstance(c, Notice) and c.level == "warning" for c in out)

    def test_decisions_carry_the_trigger_count(self, config: CoreConfig) -> None:
        """Each verdict knows its TriggerCount, so the store can resume from it."""
        plc = running(config)
        plc.trigger(skip=1)
        plc.feed(InspectionDone(plc.started[-1].unit, (NO_READ,)))
        assert [d.trigger_count for d in plc.records] == [1, 2]
