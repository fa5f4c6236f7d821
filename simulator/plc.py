"""The simulated line PLC: conveyor, trigger, shift register, reject station and verification sensor.

It runs the PLC side of the signal contract (docs/plc-interface.md) on a `SignalImage`, one
scan at a time: `scan(now)` is synchronous and takes the time as an argument, so the same
logic serves every link (OPC UA now; S7 and Modbus expose the same image) and tests can
drive it without sockets or sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.memory import SignalImage
from drivers.signals import ACK_APPLIED, ACK_TOO_LATE, UINT32_MOD, Signal


@dataclass(frozen=True, slots=True)
class LineConfig:
    """Conveyor and register geometry of the simulated line."""

    rate_per_min: float = 600.0
    register_length: int = 4  # pitches from camera to reject station
    units: int = 600
    heartbeat_s: float = 0.05
    node_heartbeat_timeout_s: float = 1.0
    operator_reset_after_s: float = 0.5  # the simulated operator resets a line-stop alarm

    @property
    def pitch_s(self) -> float:
        """Time between two units."""
        return 60.0 / self.rate_per_min


@dataclass(slots=True)
class UnitFate:
    """What physically happened to one unit at the PLC."""

    tracking_id: int
    triggered_at: float
    verdict_code: int | None = None  # None: no verdict reached the register in time
    verdict_at: float | None = None
    passed: bool | None = None  # None while the unit is still between camera and reject station
    late_verdicts: int = 0  # verdicts for this unit that came after it left the register


@dataclass(slots=True)
class PhysicalCounts:
    """What the line's own sensors counted."""

    triggered: int = 0
    passed: int = 0
    rejected: int = 0  # rejected at the reject station (no applied good verdict)
    verdicts_too_late: int = 0
    node_heartbeat_losses: int = 0
    line_stops: int = 0
    max_scan_gap_ms: float = 0.0  # longest time between two PLC scans while running


@dataclass(slots=True)
class _Register:
    fate: UnitFate
    due_at: float


@dataclass(slots=True)
class _Recipe:
    request: int = 0
    acked: bool = False
    error: int = 0


class LinePlc:
    """One packaging line's PLC program, scan by scan."""

    def __init__(self, image: SignalImage, config: LineConfig) -> None:
        self.image = image
        self.config = config
        self.fates: list[UnitFate] = []
        self.counts = PhysicalCounts()
        self._register: dict[int, _Register] = {}
        self._running = False
        self._next_trigger_at = 0.0
        self._next_heartbeat_at = 0.0
        self._last_result_count = 0
        self._recipe = _Recipe()
        self._node_heartbeat = (0, 0.0)
        self._node_alive = False
        self._alarm_since: float | None = None
        self._last_scan: float | None = None

    # ------------------------------------------------------------ operator/HMI actions

    def request_recipe(self, number: int, lot: str, expiry: str) -> int:
        """Select a recipe with the batch data (batch change); returns the request number."""
        self.image.set(Signal.RECIPE_NUMBER, number)
        self.image.set(Signal.BATCH_LOT, lot)
        self.image.set(Signal.BATCH_EXPIRY, expiry)
        request = (int(self.image.get(Signal.RECIPE_REQUEST)) + 1) % UINT32_MOD
        self.image.set(Signal.RECIPE_REQUEST, request)
        self._recipe = _Recipe(request=request)
        return request

    @property
    def recipe_answer(self) -> int | None:
        """None while the node has not answered the last request, else its RecipeError (0 = loaded)."""
        return self._recipe.error if self._recipe.acked else None

    def start(self, now: float) -> None:
        """Start the conveyor; the first unit reaches the camera one pitch later."""
        self._running = True
        self._last_scan = now
        self._next_trigger_at = now + self.config.pitch_s

    @property
    def done(self) -> bool:
        """Every unit of the run has passed the reject station."""
        return self.counts.triggered >= self.config.units and not self._register

    # ------------------------------------------------------------ the scan

    def scan(self, now: float) -> list[int]:
        """One PLC scan at time `now`; returns the tracking ids triggered in it (for the camera)."""
        if self._running and self._last_scan is not None:
            gap_ms = (now - self._last_scan) * 1000
            self.counts.max_scan_gap_ms = max(self.counts.max_scan_gap_ms, gap_ms)
        self._last_scan = now
        self._watch_node(now)
        self._take_verdict(now)
        self._reject_station(now)
        triggered = self._conveyor(now)
        self._heartbeat(now)
        return triggered

    def _watch_node(self, now: float) -> None:
        beat = int(self.image.get(Signal.NODE_HEARTBEAT))
        if beat != self._node_heartbeat[0]:
            self._node_heartbeat = (beat, now)
            self._node_alive = True
        elif self._node_alive and now - self._node_heartbeat[1] > self.config.node_heartbeat_timeout_s:
            self._node_alive = False
            self.counts.node_heartbeat_losses += 1
        ack = int(self.image.get(Signal.RECIPE_ACK))
        if not self._recipe.acked and self._recipe.request and ack == self._recipe.request:
            self._recipe.acked = True
            self._recipe.error = int(self.image.get(Signal.RECIPE_ERROR))
        alarm = bool(self.image.get(Signal.ALARM_ACTIVE))
        if alarm and self._alarm_since is None:
            self._alarm_since = now
            self.counts.line_stops += 1
        elif not alarm:
            self._alarm_since = None
        if self._alarm_since is not None and now - self._alarm_since >= self.config.operator_reset_after_s:
            request = (int(self.image.get(Signal.ALARM_RESET_REQUEST)) + 1) % UINT32_MOD
            self.image.set(Signal.ALARM_RESET_REQUEST, request)
            self._alarm_since = now  # wait again before a second reset

    def _take_verdict(self, now: float) -> None:
        count = int(self.image.get(Signal.RESULT_COUNT))
        if count == self._last_result_count:
            return
        self._last_result_count = count
        tracking_id = int(self.image.get(Signal.RESULT_ID))
        entry = self._register.get(tracking_id)
        if entry is not None and now < entry.due_at and entry.fate.verdict_code is None:
            entry.fate.verdict_code = int(self.image.get(Signal.RESULT_CODE))
            entry.fate.verdict_at = now
            status = ACK_APPLIED
        else:
            status = ACK_TOO_LATE
            self.counts.verdicts_too_late += 1
            for fate in reversed(self.fates):
                if fate.tracking_id == tracking_id:
                    fate.late_verdicts += 1
                    break
        self.image.set(Signal.RESULT_ACK_STATUS, status)
        self.image.set(Signal.RESULT_ACK, count)

    def _reject_station(self, now: float) -> None:
        for tracking_id in [t for t, e in self._register.items() if now >= e.due_at]:
            fate = self._register.pop(tracking_id).fate
            # The PLC's fail-safe default: only an accepted good verdict lets a unit pass.
            fate.passed = fate.verdict_code == 0
            if fate.passed:
                self.counts.passed += 1
            else:
                self.counts.rejected += 1

    def _conveyor(self, now: float) -> list[int]:
        stopped = bool(self.image.get(Signal.ALARM_ACTIVE))
        if not self._running or self.counts.triggered >= self.config.units:
            return []
        if stopped:
            # Line stop: the conveyor halts; the next unit arrives one pitch after restart.
            self._next_trigger_at = max(self._next_trigger_at, now + self.config.pitch_s)
            return []
        triggered: list[int] = []
        while now >= self._next_trigger_at and self.counts.triggered < self.config.units:
            self.counts.triggered += 1
            tracking_id = self.counts.triggered
            fate = UnitFate(tracking_id=tracking_id, triggered_at=now)
            self.fates.append(fate)
            due = now + self.config.register_length * self.config.pitch_s
            self._register[tracking_id] = _Register(fate=fate, due_at=due)
            self.image.set(Signal.TRIGGER_ID, tracking_id)
            self.image.set(Signal.TRIGGER_COUNT, self.counts.triggered % UINT32_MOD)
            self._next_trigger_at += self.config.pitch_s
            triggered.append(tracking_id)
        return triggered

    def _heartbeat(self, now: float) -> None:
        if now >= self._next_heartbeat_at:
            beat = (int(self.image.get(Signal.PLC_HEARTBEAT)) + 1) % UINT32_MOD
            self.image.set(Signal.PLC_HEARTBEAT, beat)
            self._next_heartbeat_at = now + self.config.heartbeat_s
