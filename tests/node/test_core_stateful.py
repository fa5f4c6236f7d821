"""Hypothesis state machine over the cycle core: random triggers, results, faults and time."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from scripted import NO_READ, ScriptedPlc, good_result, line_config, make_job

from drivers.signals import ACK_APPLIED, ACK_TOO_LATE
from node.core import Core
from node.events import InspectionDone, InspectionFailed, JobLoaded, LinkDown, LinkUp, ResetAlarm, Tick
from node.reasons import Reason


class CoreMachine(RuleBasedStateMachine):
    """Every trigger gets exactly one verdict; late means reject; counters add up; good needs the PLC."""

    def __init__(self) -> None:
        super().__init__()
        self.config = line_config()
        self.plc = ScriptedPlc(Core(self.config))
        self.plc.select_recipe()
        self.plc.feed(JobLoaded(make_job(limit=4)))
        self.triggers = 0
        self.fed: set[int] = set()
        self.serial = 0
        self.link_up = True

    # ---------------------------------------------------------------- the PLC's view

    def _scan(self) -> None:
        if self.link_up:
            self.plc.scan()

    # ---------------------------------------------------------------- rules

    @rule(skip=st.integers(0, 3))
    def trigger(self, skip: int) -> None:
        """The PLC counts 1 + skip units; the node sees the last one."""
        if not self.link_up:
            return
        self.triggers += 1 + skip
        self.plc.trigger(skip=skip)

    @precondition(lambda self: any(s.unit not in self.fed for s in self.plc.started))
    @rule(
        pick=st.integers(0, 10),
        kind=st.sampled_from(["good", "no_read", "wrong_lot", "duplicate", "fail"]),
    )
    def finish(self, pick: int, kind: str) -> None:
        """Vision finishes one inspection, with some outcome."""
        open_units = [s.unit for s in self.plc.started if s.unit not in self.fed]
        unit = open_units[pick % len(open_units)]
        self.fed.add(unit)
        if kind == "fail":
            self.plc.feed(InspectionFailed(unit, "boom"))
            return
        self.serial += kind != "duplicate"
        serial = f"SN{max(self.serial, 1):06d}"
        result = {
            "good": good_result(serial),
            "no_read": NO_READ,
            "wrong_lot": good_result(serial, **{"10": "OTHER"}),
            "duplicate": good_result(serial),
        }[kind]
        self.plc.feed(InspectionDone(unit, (result,)))

    @rule(dt=st.floats(0.001, 0.3))
    def wait(self, dt: float) -> None:
        """Time passes with PLC scans."""
        end = self.plc.now + dt
        while self.plc.now < end:
            self.plc.now = min(end, self.plc.now + 0.005)
            if self.link_up:
                self._scan()
            else:
                self.plc.feed(Tick())

    @rule(auto=st.booleans(), late=st.booleans())
    def plc_mood(self, auto: bool, late: bool) -> None:
        """The PLC stops acknowledging, or answers 'too late'."""
        self.plc.auto_ack = auto
        self.plc.ack_status = ACK_TOO_LATE if late else ACK_APPLIED

    @rule()
    def link_toggle(self) -> None:
        """The PLC link drops or comes back."""
        self.link_up = not self.link_up
        self.plc.feed(LinkUp() if self.link_up else LinkDown("cable"))

    @rule()
    def reset_alarm(self) -> None:
        """An operator resets the consecutive alarm."""
        self.plc.feed(ResetAlarm())

    # ---------------------------------------------------------------- invariants

    @invariant()
    def one_verdict_per_trigger(self) -> None:
        """No unit is judged twice, and none is lost: decided + pending = triggered."""
        units = [d.unit for d in self.plc.records]
        assert len(units) == len(set(units))
        assert len(units) + self.plc.core.pending == self.triggers

    @invariant()
    def reject_iff_reasons(self) -> None:
        """A verdict is rejected exactly when it has reasons; late is always a reject."""
        for d in self.plc.records:
            assert (d.verdict == "rejected") == bool(d.reasons)
            if Reason.LATE in d.reasons:
                assert d.verdict == "rejected"

    @invariant()
    def good_only_when_plc_applied_it(self) -> None:
        """A unit counts good only if the PLC acknowledged applying its good verdict."""
        for d in self.plc.records:
            if d.verdict == "good":
                assert d.tracking_id in self.plc.applied_good

    @invariant()
    def counters_add_up(self) -> None:
        """total = good + rejected, and reason counters match the records."""
        snap = self.plc.core.snapshot()
        assert snap.total == snap.good + snap.rejected == len(self.plc.records)
        by_reason = Counter(r for d in self.plc.records for r in d.reasons)
        assert {r: n for r, n in snap.by_reason.items() if n} == dict(by_reason)

    def teardown(self) -> None:
        """With the link up and the PLC answering, every open unit ends within its deadline."""
        if not self.link_up:
            self.link_up = True
            self.plc.feed(LinkUp())
        self.plc.auto_ack = True
        end = self.plc.now + self.config.deadline_s + 2 * self.config.ack_timeout_s + 0.1
        while self.plc.now < end:
            self.plc.now += 0.005
            self._scan()
        assert self.plc.core.pending == 0
        assert len(self.plc.records) == self.triggers


CoreMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCoreMachine = CoreMachine.TestCase
