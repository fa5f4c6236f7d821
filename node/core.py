"""The cycle core: every trigger to exactly one verdict, in time or rejected. Pure and synchronous.

`Core.handle(event, now)` takes one event and the current monotonic time and returns the
commands the shell must carry out; `next_deadline()` says when the core next needs a Tick.
No asyncio, no clock, no I/O here (STYLE.md: sans-I/O, like h11).

A unit's life (the table lives in `_finalize` and `_on_tick`):

    trigger ──► INSPECTING ──result, reasons──► rejected (final; reject written, default anyway)
                   │        ──result, good────► AWAITING_ACK ──PLC ack "applied"──► good (final)
                   │                                 │──ack "too late" / ack timeout──► rejected: late
                   └──decide_by passed────────────► rejected: late (final)

A reject is final as soon as it is decided, because the PLC rejects every unit that has
no accepted good verdict. A good verdict is final only once the PLC acknowledges that it
applied it to the unit in time, so the node's counts equal what physically passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto

from drivers.signals import (
    ACK_APPLIED,
    UINT32_MOD,
    PlcInputs,
    Signal,
    SignalValue,
    counter_delta,
)
from node.counters import Counters, CounterSnapshot
from node.events import (
    Command,
    Decision,
    Event,
    InspectionDone,
    InspectionFailed,
    JobChanged,
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
    StartInspection,
    StateChanged,
    Tick,
    WriteSignals,
)
from node.job import Job
from node.print_trend import PrintTrend, TrendState, lowest_passing_score
from node.reasons import Reason, primary_reason, reasons_mask
from node.rules import judge
from node.states import NodeState
from vision.result import InspectionResult

# A jump of the trigger counter larger than this is a PLC restart or a counter reset, not
# a burst of missed units: the core re-baselines and says so instead of inventing rejects.
MAX_TRIGGER_GAP = 10_000


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Line timing, from the node configuration (it must match the PLC program).

    The deadline of a unit is `register_length * pitch_s` after its trigger: the moment it
    reaches the reject station. The core decides `decide_margin_s` before that, so the
    verdict is in the PLC's register in time.
    """

    register_length: int = 4
    pitch_s: float = 0.1
    decide_margin_s: float = 0.03
    ack_timeout_s: float = 0.5
    heartbeat_period_s: float = 0.1
    heartbeat_timeout_s: float = 1.0
    default_position: str = "P1"

    def __post_init__(self) -> None:
        if self.register_length < 1:
            raise ValueError(f"register_length: must be >= 1, got {self.register_length}")
        if self.pitch_s <= 0:
            raise ValueError(f"pitch_s: must be > 0, got {self.pitch_s}")
        if not 0 <= self.decide_margin_s < self.register_length * self.pitch_s:
            raise ValueError(
                f"decide_margin_s: must be within 0..{self.register_length * self.pitch_s} s, "
                f"got {self.decide_margin_s}"
            )

    @property
    def deadline_s(self) -> float:
        """Time from trigger to the reject station."""
        return self.register_length * self.pitch_s


class Stage(Enum):
    """Where a unit is in its life."""

    INSPECTING = auto()
    AWAITING_ACK = auto()


@dataclass(frozen=True, slots=True)
class Resume:
    """Where the previous run of the node stopped, from the store: so a restart loses no trigger.

    `last_count` is the highest TriggerCount with a recorded verdict; `missing` are lower counts
    that have none (units in flight when the node stopped). Every count after `last_count` up to
    the PLC's counter at the first read was never seen by the node: all are recorded as missed.
    """

    last_count: int
    missing: tuple[int, ...] = ()


def resume_point(recent: Sequence[int], *, window: int = 256) -> Resume | None:
    """The Resume for the trigger counts of the most recent records (newest first), or None if empty.

    Only counts within `window` below the highest are checked for gaps, and none below the
    oldest count given: older gaps belong to before this store's time.
    """
    if not recent:
        return None
    newest = recent[0]
    half = UINT32_MOD // 2
    last = (
        newest
        + max(((c - newest) % UINT32_MOD for c in recent if (c - newest) % UINT32_MOD < half), default=0)
    ) % UINT32_MOD
    behind = {(last - c) % UINT32_MOD for c in recent}
    reach = max((d for d in behind if d < window), default=0)
    missing = tuple((last - d) % UINT32_MOD for d in range(reach, 0, -1) if d not in behind)
    return Resume(last_count=last, missing=missing)


@dataclass(slots=True)
class _Unit:
    seq: int
    tracking_id: int
    trigger_count: int
    triggered_at: float
    decide_by: float
    job: Job
    stage: Stage = Stage.INSPECTING
    results: tuple[InspectionResult, ...] = ()
    judged: tuple[tuple[str, frozenset[Reason]], ...] = ()  # each position's own reasons


@dataclass(slots=True)
class _Verdict:
    """One entry of the verdict mailbox towards the PLC."""

    seq: int
    tracking_id: int
    code: int
    mask: int
    count: int = 0  # the ResultCount value it went out with
    sent_at: float = 0.0


@dataclass(slots=True)
class _Link:
    up: bool = False
    last_inputs: PlcInputs | None = None
    up_since: float = 0.0
    last_heartbeat_change: float = 0.0
    heartbeat_lost: bool = False
    next_node_heartbeat: float = 0.0
    node_heartbeat: int = 0


@dataclass(slots=True)
class _Alarm:
    consecutive: int = 0
    active: bool = False
    reset_ack: int = 0


class Core:
    """The node's decision logic. Feed it events with the time; carry out what it returns."""

    def __init__(
        self, config: CoreConfig, *, counters: CounterSnapshot | None = None, resume: Resume | None = None
    ) -> None:
        self.config = config
        self._resume = resume
        self.counters = Counters(counters)
        self.job: Job | None = None
        self.state = NodeState.STARTING
        self._seen: set[str] = set()
        self._units: dict[int, _Unit] = {}
        self._next_seq = 1
        self._mailbox: deque[_Verdict] = deque()
        self._in_flight: _Verdict | None = None
        self._result_count = 0
        self._link = _Link()
        self._alarm = _Alarm()
        self._loading: int | None = None  # RecipeRequest being loaded
        self._recipe_answer: tuple[int, int] = (0, 0)  # (RecipeAck, RecipeError) last written
        self._trend: PrintTrend | None = None  # print-quality trend per position, of the active job
        self._graded = 0  # graded codes fed to the trend (its unit index)

    # ------------------------------------------------------------ public face

    def handle(self, event: Event, now: float) -> list[Command]:
        """Process one event at monotonic time `now`; return the commands to execute in order."""
        out: list[Command] = []
        match event:
            case PlcSignals(inputs=inputs):
                self._on_inputs(inputs, now, out)
            case InspectionDone(unit=seq, results=results):
                self._on_result(seq, results, now, out)
            case InspectionFailed(unit=seq, error=error):
                self._on_failure(seq, error, now, out)
            case JobLoaded(job=job):
                self._on_job_loaded(job, out)
            case JobRefused(request=request, code=code, message=message):
                self._on_job_refused(request, code, message, out)
            case LinkDown(error=error):
                self._on_link_down(error, out)
            case LinkUp():
                self._link.up = True
                self._link.up_since = now
                self._link.last_heartbeat_change = now
                # Writes may have been lost with the link: restate every level output.
                out.append(self._output_image())
                if self._in_flight is not None:
                    # The strobe may never have reached the PLC: send the same count again;
                    # a PLC that already took it simply acknowledges it again.
                    self._in_flight.sent_at = now
                    out.append(self._verdict_write(self._in_flight))
                self._update_state(out)
            case ResetCounters():
                self.counters.reset()
                out.append(Notice("info", "counters reset", {}))
            case ResetAlarm():
                self._reset_alarm(out)
            case Tick():
                pass
        self._on_tick(now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which a Tick changes something, or None when idle."""
        times = [u.decide_by for u in self._units.values() if u.stage is Stage.INSPECTING]
        times += [self._ack_due(u) for u in self._units.values() if u.stage is Stage.AWAITING_ACK]
        if self._link.up:
            times.append(self._link.next_node_heartbeat)
            times.append(self._link.last_heartbeat_change + self.config.heartbeat_timeout_s)
        return min(times, default=None)

    def snapshot(self) -> CounterSnapshot:
        """The counters now, with the alarm state."""
        return self.counters.snapshot(
            consecutive_rejects=self._alarm.consecutive, alarm_active=self._alarm.active
        )

    def print_trends(self) -> tuple[TrendState, ...]:
        """The latest print-quality trend of every position graded under the active job."""
        if self._trend is None or self.job is None:
            return ()
        states = (self._trend.state(name) for name in self.job.recipe.position_names)
        return tuple(state for state in states if state is not None)

    @property
    def pending(self) -> int:
        """Triggers still without a final verdict."""
        return len(self._units)

    def restore_seen(self, serials: frozenset[str]) -> None:
        """Serials already read for the active GTIN (from the store), for duplicate checks."""
        self._seen |= serials

    # ------------------------------------------------------------ PLC inputs

    def _on_inputs(self, inputs: PlcInputs, now: float, out: list[Command]) -> None:
        prev = self._link.last_inputs
        self._link.last_inputs = inputs
        if prev is None:
            self._first_inputs(inputs, now, out)
            return
        if inputs.plc_heartbeat != prev.plc_heartbeat:
            self._link.last_heartbeat_change = now
            if self._link.heartbeat_lost:
                self._link.heartbeat_lost = False
                out.append(Notice("info", "PLC heartbeat back", {}))
                self._update_state(out)
        gap = counter_delta(inputs.trigger_count, prev.trigger_count)
        if gap > MAX_TRIGGER_GAP:
            out.append(
                Notice(
                    "warning",
                    "trigger counter jumped; re-baselined (PLC restart?)",
                    {"old": prev.trigger_count, "new": inputs.trigger_count},
                )
            )
        elif gap:
            for step in range(1, gap):
                self._missed_trigger((prev.trigger_count + step) % UINT32_MOD, now, out)
            self._trigger(inputs.trigger_id, inputs.trigger_count, now, out)
        if self._in_flight is not None and inputs.result_ack == self._in_flight.count:
            self._on_ack(self._in_flight, inputs.result_ack_status, now, out)
        if inputs.recipe_request != prev.recipe_request:
            self._request_job(inputs, out)
        if inputs.alarm_reset_request != prev.alarm_reset_request:
            self._alarm.reset_ack = inputs.alarm_reset_request
            self._reset_alarm(out)

    def _first_inputs(self, inputs: PlcInputs, now: float, out: list[Command]) -> None:
        """Baseline every counter on the first read: nothing before it is ours to judge."""
        self._link.up = True
        self._link.last_heartbeat_change = now
        self._link.next_node_heartbeat = now
        # Continue the verdict strobe where the PLC last acknowledged it, so the next
        # verdict is seen as new even after a node restart.
        self._result_count = inputs.result_ack
        self._alarm.reset_ack = inputs.alarm_reset_request
        self._resume_from(inputs.trigger_count, now, out)
        out.append(self._output_image())
        out.append(WriteSignals(((Signal.RESULT_COUNT, self._result_count),)))
        self._update_state(out)
        if inputs.recipe_request != 0:
            # The PLC selected a job before we (re)started: load it again.
            self._request_job(inputs, out)

    def _resume_from(self, trigger_count: int, now: float, out: list[Command]) -> None:
        """Account for the triggers the node missed while it was not running."""
        resume, self._resume = self._resume, None
        if resume is None:
            return
        for count in resume.missing:
            self._missed_trigger(count, now, out)
        gap = counter_delta(trigger_count, resume.last_count)
        if gap > MAX_TRIGGER_GAP:
            out.append(
                Notice(
                    "warning",
                    "trigger counter far from where the node stopped; not counted as missed (PLC restart?)",
                    {"stopped_at": resume.last_count, "now": trigger_count},
                )
            )
            return
        for step in range(1, gap + 1):
            self._missed_trigger((resume.last_count + step) % UINT32_MOD, now, out)
        if gap or resume.missing:
            out.append(
                Notice(
                    "warning",
                    "units triggered while the node was down recorded as missed",
                    {"count": gap + len(resume.missing)},
                )
            )

    # ------------------------------------------------------------ triggers

    def _trigger(self, tracking_id: int, trigger_count: int, now: float, out: list[Command]) -> None:
        seq = self._new_seq()
        if self.job is None:
            self._decide(
                seq, tracking_id, trigger_count, now, now, frozenset({Reason.NO_RECIPE}), None, (), out
            )
            return
        unit = _Unit(
            seq=seq,
            tracking_id=tracking_id,
            trigger_count=trigger_count,
            triggered_at=now,
            decide_by=now + self.config.deadline_s - self.config.decide_margin_s,
            job=self.job,
        )
        self._units[seq] = unit
        out.append(StartInspection(unit=seq, tracking_id=tracking_id, job=self.job))

    def _missed_trigger(self, trigger_count: int, now: float, out: list[Command]) -> None:
        # The PLC counted a unit we never saw: it has no verdict, so the PLC rejects it.
        reasons = frozenset({Reason.MISSED_TRIGGER})
        self._decide(self._new_seq(), 0, trigger_count, now, now, reasons, self.job, (), out, write=False)

    def _new_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    # ------------------------------------------------------------ vision results

    def _on_result(
        self, seq: int, results: tuple[InspectionResult, ...], now: float, out: list[Command]
    ) -> None:
        unit = self._units.get(seq)
        if unit is None or unit.stage is not Stage.INSPECTING:
            out.append(Notice("warning", "inspection result after the verdict; ignored", {"unit": seq}))
            return
        unit.results = results
        self._follow_grades(results, out)
        judged = []
        for result in results:
            # Serials read at earlier positions of this image count as seen: one serial on two
            # packs is a duplicate even within one trigger.
            own = judge(result, unit.job, self._seen)
            serial = result.gs1.get("21") if result.gs1 is not None else None
            if serial is not None:
                self._seen.add(serial)
            judged.append((result.position, own))
        expected = unit.job.recipe.position_names
        if tuple(name for name, _ in judged) != expected:
            # A pipeline that skipped or added a position must not let the unit pass.
            out.append(
                Notice(
                    "error",
                    "inspection positions differ from the recipe",
                    {"unit": seq, "expected": list(expected), "got": [name for name, _ in judged]},
                )
            )
            judged = [(name, frozenset({Reason.INTERNAL_ERROR})) for name in expected]
        unit.judged = tuple(judged)
        reasons = frozenset().union(*(own for _, own in judged))
        if reasons:
            self._finish(unit, now, reasons, out)
            return
        unit.stage = Stage.AWAITING_ACK
        self._mailbox.append(_Verdict(seq=seq, tracking_id=unit.tracking_id, code=0, mask=0))

    def _follow_grades(self, results: tuple[InspectionResult, ...], out: list[Command]) -> None:
        """Feed each graded position to the print trend; say when its warning starts or ends."""
        if self._trend is None:
            return
        for result in results:
            if result.grade_score is None:
                continue
            before = self._trend.state(result.position)
            self._graded += 1
            state = self._trend.update(result.position, result.grade_score, self._graded)
            was = before.warning if before is not None else None
            if state.warning != was:
                fields: dict[str, object] = {
                    "position": state.position,
                    "smoothed_grade": round(state.smoothed, 2),
                    "slope_per_1000_units": round(state.slope * 1000, 3),
                    "units_to_limit": None if state.units_to_limit is None else round(state.units_to_limit),
                }
                if state.warning is not None:
                    out.append(
                        Notice("warning", f"print quality {state.warning.value}: check the printer", fields)
                    )
                else:
                    out.append(Notice("info", "print quality back in its margin", fields))

    def _on_failure(self, seq: int, error: str, now: float, out: list[Command]) -> None:
        unit = self._units.get(seq)
        if unit is None:
            return
        out.append(Notice("error", "inspection failed", {"unit": seq, "error": error}))
        self._finish(unit, now, frozenset({Reason.INTERNAL_ERROR}), out)

    # ------------------------------------------------------------ verdict mailbox

    def _on_ack(self, verdict: _Verdict, status: int, now: float, out: list[Command]) -> None:
        self._in_flight = None
        unit = self._units.get(verdict.seq)
        if unit is None or unit.stage is not Stage.AWAITING_ACK:
            return  # a reject: already final
        reasons = frozenset() if status == ACK_APPLIED else frozenset({Reason.LATE})
        self._finish(unit, now, reasons, out, write=False)

    def _verdict_write(self, verdict: _Verdict) -> WriteSignals:
        return WriteSignals(
            (
                (Signal.RESULT_ID, verdict.tracking_id),
                (Signal.RESULT_CODE, verdict.code),
                (Signal.RESULT_REASONS, verdict.mask),
                (Signal.RESULT_COUNT, verdict.count),
            )
        )

    def _pump_mailbox(self, now: float, out: list[Command]) -> None:
        flight = self._in_flight
        if flight is not None and self._link.up and now - flight.sent_at > self.config.ack_timeout_s:
            # Give up on this strobe; its unit (if good) is finalized as late by its deadline.
            out.append(
                Notice("warning", "PLC did not acknowledge a verdict", {"tracking_id": flight.tracking_id})
            )
            self._in_flight = None
        if self._in_flight is not None or not self._link.up:
            return
        while self._mailbox:
            verdict = self._mailbox.popleft()
            unit = self._units.get(verdict.seq)
            if verdict.code == 0 and unit is None:
                continue  # its good verdict was finalized as late meanwhile
            self._result_count = (self._result_count + 1) % (1 << 32)
            verdict.count = self._result_count
            verdict.sent_at = now
            self._in_flight = verdict
            out.append(self._verdict_write(verdict))
            return

    # ------------------------------------------------------------ deciding

    def _finish(
        self, unit: _Unit, now: float, reasons: frozenset[Reason], out: list[Command], *, write: bool = True
    ) -> None:
        """Decide a tracked unit: it leaves the register of units in flight."""
        del self._units[unit.seq]
        self._decide(
            unit.seq,
            unit.tracking_id,
            unit.trigger_count,
            unit.triggered_at,
            now,
            reasons,
            unit.job,
            unit.results,
            out,
            write=write,
            judged=unit.judged,
        )

    def _decide(
        self,
        seq: int,
        tracking_id: int,
        trigger_count: int | None,
        triggered_at: float,
        now: float,
        reasons: frozenset[Reason],
        job: Job | None,
        results: tuple[InspectionResult, ...],
        out: list[Command],
        *,
        write: bool = True,
        judged: tuple[tuple[str, frozenset[Reason]], ...] = (),
    ) -> None:
        """Make a verdict final: count it, record it, and queue a reject for the PLC."""
        # Reasons of the whole unit (late, missed, a fault) apply to every position in view.
        shared = reasons - frozenset().union(*(own for _, own in judged))
        if judged:
            positions = tuple((name, own | shared) for name, own in judged)
        else:
            names = job.recipe.position_names if job is not None else (self.config.default_position,)
            positions = tuple((name, reasons) for name in names)
        decision = Decision(
            unit=seq,
            tracking_id=tracking_id,
            trigger_count=trigger_count,
            verdict="rejected" if reasons else "good",
            reasons=reasons,
            positions=positions,
            triggered_at=triggered_at,
            decided_at=now,
            job=job,
            results=results,
        )
        self.counters.add(decision.verdict, reasons, positions)
        out.append(RecordUnit(decision))
        if reasons and write:
            primary = primary_reason(reasons)
            assert primary is not None
            self._mailbox.append(
                _Verdict(seq=seq, tracking_id=tracking_id, code=primary.code, mask=reasons_mask(reasons))
            )
        self._count_consecutive(bool(reasons), job, out)

    def _count_consecutive(self, rejected: bool, job: Job | None, out: list[Command]) -> None:
        if not rejected:
            self._alarm.consecutive = 0
            return
        self._alarm.consecutive += 1
        limit = job.recipe.consecutive_reject_limit if job is not None else None
        if limit is not None and self._alarm.consecutive >= limit and not self._alarm.active:
            self._alarm.active = True
            out.append(WriteSignals(((Signal.ALARM_ACTIVE, True),)))
            out.append(
                Notice("critical", "consecutive rejects: line stop", {"count": self._alarm.consecutive})
            )
            self._update_state(out)

    def _reset_alarm(self, out: list[Command]) -> None:
        self._alarm.consecutive = 0
        was_active = self._alarm.active
        self._alarm.active = False
        out.append(
            WriteSignals(((Signal.ALARM_ACTIVE, False), (Signal.ALARM_RESET_ACK, self._alarm.reset_ack)))
        )
        if was_active:
            out.append(Notice("info", "consecutive-reject alarm reset", {}))
        self._update_state(out)

    # ------------------------------------------------------------ jobs

    def _request_job(self, inputs: PlcInputs, out: list[Command]) -> None:
        self._loading = inputs.recipe_request
        out.append(
            LoadJob(
                request=inputs.recipe_request,
                recipe_number=inputs.recipe_number,
                lot=inputs.batch_lot,
                expiry=inputs.batch_expiry,
            )
        )

    def _on_job_loaded(self, job: Job, out: list[Command]) -> None:
        if self._loading is not None and job.request != self._loading:
            return  # superseded by a newer request
        self._loading = None
        self.job = job
        self._seen |= job.seen
        grading = job.recipe.inspection.grading
        # A new job may bring another limit and other positions: the trend starts over.
        self._trend = (
            PrintTrend(
                limit=lowest_passing_score(grading.min_grade),
                warn_margin=grading.warn_margin,
                horizon_units=grading.horizon_units,
            )
            if grading.enabled
            else None
        )
        self._recipe_answer = (job.request, 0)
        out.append(
            WriteSignals(
                (
                    (Signal.ACTIVE_RECIPE, job.recipe.number),
                    (Signal.RECIPE_ERROR, 0),
                    (Signal.RECIPE_ACK, job.request),
                )
            )
        )
        out.append(JobChanged(job))
        out.append(
            Notice("info", "job loaded", {"recipe": job.recipe.number, "lot": job.lot, "expiry": job.expiry})
        )
        self._update_state(out)

    def _on_job_refused(self, request: int, code: int, message: str, out: list[Command]) -> None:
        if self._loading is not None and request != self._loading:
            return
        self._loading = None
        self._recipe_answer = (request, code)
        out.append(WriteSignals(((Signal.RECIPE_ERROR, code), (Signal.RECIPE_ACK, request))))
        out.append(
            Notice(
                "error",
                "recipe request refused; previous job stays active",
                {"request": request, "code": code, "reason": message},
            )
        )

    # ------------------------------------------------------------ link, time, state

    def _on_link_down(self, error: str, out: list[Command]) -> None:
        if self._link.up:
            out.append(Notice("error", "PLC link down", {"error": error}))
        self._link.up = False
        self._update_state(out)

    def _on_tick(self, now: float, out: list[Command]) -> None:
        for unit in list(self._units.values()):
            if unit.stage is Stage.INSPECTING and now >= unit.decide_by:
                self._finish(unit, now, frozenset({Reason.LATE}), out)
            elif unit.stage is Stage.AWAITING_ACK and self._link.up and now >= self._ack_due(unit):
                # No acknowledgement long after the reject station: the PLC rejected it.
                self._finish(unit, now, frozenset({Reason.LATE}), out, write=False)
        self._pump_mailbox(now, out)
        if not self._link.up:
            return
        if now >= self._link.next_node_heartbeat:
            self._link.node_heartbeat = (self._link.node_heartbeat + 1) % (1 << 32)
            # Fixed rate, no drift; after a stall skip ahead rather than burst.
            self._link.next_node_heartbeat = max(
                self._link.next_node_heartbeat + self.config.heartbeat_period_s, now
            )
            out.append(WriteSignals(((Signal.NODE_HEARTBEAT, self._link.node_heartbeat),)))
        if (
            not self._link.heartbeat_lost
            and now - self._link.last_heartbeat_change > self.config.heartbeat_timeout_s
        ):
            self._link.heartbeat_lost = True
            out.append(Notice("error", "PLC heartbeat lost", {"timeout_s": self.config.heartbeat_timeout_s}))
            self._update_state(out)

    def _output_image(self) -> WriteSignals:
        """Every level output (not the verdict strobe), to restate after (re)connecting."""
        return WriteSignals(
            (
                (Signal.NODE_STATE, int(self.state)),
                (Signal.ACTIVE_RECIPE, self.job.recipe.number if self.job is not None else 0),
                (Signal.RECIPE_ACK, self._recipe_answer[0]),
                (Signal.RECIPE_ERROR, self._recipe_answer[1]),
                (Signal.ALARM_ACTIVE, self._alarm.active),
                (Signal.ALARM_RESET_ACK, self._alarm.reset_ack),
            )
        )

    def _ack_due(self, unit: _Unit) -> float:
        # After a link outage the ack is read again before anything times out: the PLC's
        # ResultAck is a level, so a verdict it took while we were away still shows.
        due = unit.triggered_at + self.config.deadline_s
        return max(due, self._link.up_since) + self.config.ack_timeout_s

    def _update_state(self, out: list[Command]) -> None:
        if not self._link.up or self._link.heartbeat_lost:
            state = NodeState.FAULT
        elif self._alarm.active:
            state = NodeState.ALARM
        elif self.job is None:
            state = NodeState.NO_JOB
        else:
            state = NodeState.READY
        if state is not self.state:
            self.state = state
            out.append(StateChanged(state))
            if self._link.up:
                out.append(WriteSignals(((Signal.NODE_STATE, int(state)),)))


def signal_values(commands: list[Command]) -> list[tuple[Signal, SignalValue]]:
    """All signal writes of a command list, in order (what one cycle sends to the PLC)."""
    return [pair for c in commands if isinstance(c, WriteSignals) for pair in c.values]
