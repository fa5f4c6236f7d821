"""The asyncio shell around the core: a fixed-period cycle that reads the PLC, feeds the core and acts.

Each cycle: read all PLC inputs in one request, hand the core the events that arrived
(vision results, loaded jobs, operator resets) plus the PLC snapshot, and carry out the
commands: one PLC write per cycle, captures and inspections in a worker pool, store writes
in one dedicated thread, log lines, SCADA updates. Nothing in the cycle waits for vision,
the store or a reconnect; the cycle measures its own lateness (jitter).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
import structlog

from drivers.base import SignalDriver
from drivers.camera import Camera
from drivers.errors import DriverError
from drivers.signals import Signal, SignalValue
from node.core import Core
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
    StartInspection,
    StateChanged,
    Tick,
    WriteSignals,
)
from node.job import Job
from node.states import NodeState
from node.store import SerialStore, UnitRecord
from vision.print_check import faults_by_field
from vision.result import InspectionResult

log = structlog.get_logger("tracenode")
T = TypeVar("T")

Inspect = Callable[[np.ndarray, Job], tuple[InspectionResult, ...]]
WarmUp = Callable[[Job], None]
LoadJobFn = Callable[[LoadJob], Awaitable[JobLoaded | JobRefused]]


class Observer(Protocol):
    """Something that wants every final decision and state change (SCADA, a report)."""

    def on_decision(self, decision: Decision, record: UnitRecord) -> None:
        """Called once per final verdict, in the loop thread; must not block."""

    def on_state(self, core: Core) -> None:
        """Called after a cycle in which the state, job or counters changed."""


class Collector:
    """Observer that keeps every decision and every node state the runner went through (reports, tests)."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.states: list[NodeState] = []

    def on_decision(self, decision: Decision, record: UnitRecord) -> None:
        """Keep it."""
        self.decisions.append(decision)

    def on_state(self, core: Core) -> None:
        """Keep the state when it changed."""
        if not self.states or self.states[-1] is not core.state:
            self.states.append(core.state)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Timing of the shell."""

    cycle_s: float = 0.004
    capture_timeout_s: float = 0.1
    reconnect_min_s: float = 0.1
    reconnect_max_s: float = 2.0
    vision_workers: int = 2


@dataclass(slots=True)
class CycleStats:
    """How punctual the cycle is: lateness of each cycle start against its schedule."""

    cycles: int = 0
    overruns: int = 0
    jitter_s: list[float] = field(default_factory=list)
    read_s: list[float] = field(default_factory=list)  # one PLC input read
    core_s: list[float] = field(default_factory=list)  # the core deciding one cycle's events
    write_s: list[float] = field(default_factory=list)  # one PLC output write

    def add(self, lateness: float) -> None:
        """Record one cycle's lateness."""
        self.cycles += 1
        _bounded_append(self.jitter_s, lateness)


def _bounded_append(samples: list[float], value: float) -> None:
    # Keep the most recent 100k samples: a node runs for months.
    if len(samples) >= 100_000:
        del samples[:50_000]
    samples.append(value)


class Runner:
    """Runs one node: PLC link, camera, vision pool, store and observers around a Core."""

    def __init__(
        self,
        *,
        core: Core,
        driver: SignalDriver,
        camera: Camera,
        inspect: Inspect,
        warm_up: WarmUp | None = None,
        load_job: LoadJobFn,
        store: SerialStore,
        config: RunnerConfig | None = None,
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.core = core
        self.driver = driver
        self.camera = camera
        self.inspect = inspect
        self.warm_up = warm_up
        self.load_job = load_job
        self.store = store
        self.config = config or RunnerConfig()
        self.observers = observers
        self.stats = CycleStats()
        self._inbox: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._connected = False
        self._connecting: asyncio.Task[None] | None = None
        self._backoff = self.config.reconnect_min_s
        self._reconnect_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._vision: Executor = ThreadPoolExecutor(self.config.vision_workers, thread_name_prefix="vision")
        # One thread owns the store connection (SQLite objects are per thread) and keeps order.
        self._store_pool: Executor = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._store_writes: set[asyncio.Future[None]] = set()
        self._capture_ms: dict[int, float] = {}
        self.capture_ms: list[float] = []  # every capture's duration, for benchmarks
        self._wall_offset = time.time() - time.monotonic()

    # ------------------------------------------------------------ public

    def post(self, event: Event) -> None:
        """Queue an event for the next cycle (operator resets from SCADA, tests)."""
        self._inbox.append(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle until `stop` is set, then drain: store writes finished, link closed."""
        period = self.config.cycle_s
        next_at = time.monotonic()
        try:
            while not stop.is_set():
                start = time.monotonic()
                lateness = start - next_at
                self.stats.add(max(0.0, lateness))
                if lateness > period:
                    # An overrun: re-anchor instead of bursting to catch up the lost slots.
                    self.stats.overruns += int(lateness / period)
                    next_at = start
                await self._cycle()
                next_at += period
                await self._idle_until(next_at, stop)
        finally:
            await self._shutdown()

    async def _idle_until(self, deadline: float, stop: asyncio.Event) -> None:
        """Sleep until the next scheduled cycle, but run an extra one as soon as a result arrives.

        A finished inspection's verdict then goes to the PLC at once instead of waiting up to a
        whole period; the scheduled cycles (and the jitter measured on them) are unchanged.
        """
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            if not self._inbox:
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    return
            await self._cycle()

    # ------------------------------------------------------------ the cycle

    async def _cycle(self) -> None:
        events: list[Event] = []
        if self._connected:
            t0 = time.perf_counter()
            try:
                events.append(PlcSignals(await self.driver.read_inputs()))
            except DriverError as exc:
                self._link_lost(exc, events)
            else:
                _bounded_append(self.stats.read_s, time.perf_counter() - t0)
        elif self._connecting is None and time.monotonic() >= self._reconnect_at:
            self._connecting = asyncio.create_task(self._connect())
        while self._inbox:
            events.append(self._inbox.popleft())
        now = time.monotonic()
        t0 = time.perf_counter()
        commands: list[Command] = []
        for event in events or [Tick()]:
            commands += self.core.handle(event, now)
        _bounded_append(self.stats.core_s, time.perf_counter() - t0)
        await self._execute(commands)

    async def _execute(self, commands: list[Command]) -> None:
        writes: dict[Signal, SignalValue] = {}
        changed = False
        for command in commands:
            match command:
                case WriteSignals(values=values):
                    for signal, value in values:
                        # Latest write wins and moves to the end, so a verdict's strobe
                        # (ResultCount) always goes out after its id and code.
                        writes.pop(signal, None)
                        writes[signal] = value
                case StartInspection():
                    self._spawn(self._inspect(command))
                case RecordUnit(decision=decision):
                    self._record(decision)
                    changed = True
                case LoadJob():
                    self._spawn(self._load(command))
                case StateChanged(state=state):
                    log.info("state", state=state.name)
                    changed = True
                case JobChanged(job=job):
                    changed = True
                    log.info(
                        "job", recipe=job.recipe.number, name=job.recipe.name, lot=job.lot, expiry=job.expiry
                    )
                case Notice(level=level, event=event, fields=fields):
                    getattr(log, level)(event, **fields)
        if writes and self._connected:
            t0 = time.perf_counter()
            try:
                await self.driver.write_outputs(writes)
            except DriverError as exc:
                lost: list[Event] = []
                self._link_lost(exc, lost)
                self._inbox.extend(lost)
            else:
                _bounded_append(self.stats.write_s, time.perf_counter() - t0)
        if changed:
            for observer in self.observers:
                observer.on_state(self.core)

    # ------------------------------------------------------------ link

    async def _connect(self) -> None:
        try:
            await self.driver.connect()
        except DriverError as exc:
            log.warning("PLC connect failed", error=str(exc), retry_in_s=round(self._backoff, 2))
            self._reconnect_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.config.reconnect_max_s)
        else:
            self._connected = True
            self._backoff = self.config.reconnect_min_s
            self._inbox.append(LinkUp())
        finally:
            self._connecting = None

    def _link_lost(self, exc: DriverError, events: list[Event]) -> None:
        self._connected = False
        self._reconnect_at = time.monotonic() + self._backoff
        events.append(LinkDown(str(exc)))
        self._spawn(self.driver.close())

    # ------------------------------------------------------------ work off the cycle

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _inspect(self, command: StartInspection) -> None:
        loop = asyncio.get_running_loop()
        try:
            t0 = time.perf_counter()
            frame = await self.camera.capture(command.tracking_id, timeout_s=self.config.capture_timeout_s)
            capture_ms = (time.perf_counter() - t0) * 1000
            self._capture_ms[command.unit] = capture_ms
            _bounded_append(self.capture_ms, capture_ms)
            results = await loop.run_in_executor(self._vision, self.inspect, frame, command.job)
        except Exception as exc:  # every fault path ends in a reject, never in a lost unit
            self._inbox.append(InspectionFailed(command.unit, f"{type(exc).__name__}: {exc}"))
        else:
            self._inbox.append(InspectionDone(command.unit, results))
        self._wake.set()

    async def _load(self, command: LoadJob) -> None:
        try:
            answer = await self.load_job(command)
            if isinstance(answer, JobLoaded) and self.warm_up is not None:
                # Before the PLC hears "loaded", so the first unit of the batch is not late.
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._vision, self.warm_up, answer.job)
        except Exception as exc:  # a loader bug must still answer the PLC
            log.exception("job load failed", request=command.request)
            answer = JobRefused(command.request, code=2, message=f"internal error: {exc!r}")
        self._inbox.append(answer)

    def _record(self, decision: Decision) -> None:
        records = unit_records(decision, self._wall_offset)
        record = records[0]
        capture_ms = self._capture_ms.pop(decision.unit, None)
        timings = dict(decision.result.timings_ms) if decision.result is not None else {}
        if capture_ms is not None:
            timings["capture"] = round(capture_ms, 2)
        extra: dict[str, object] = {}
        if len(decision.positions) > 1:
            extra["positions"] = {
                name: {"serial": rec.serial, "reasons": sorted(r.value for r in own)}
                for (name, own), rec in zip(decision.positions, records, strict=True)
            }
        result = decision.result
        if result is not None and result.grade is not None:
            extra["grade"] = result.grade
        if result is not None and result.print_check is not None:
            extra["print"] = faults_by_field(result.print_check)
        log.info(
            "unit",
            tracking_id=decision.tracking_id,
            serial=record.serial,
            verdict=decision.verdict,
            reasons=sorted(r.value for r in decision.reasons),
            position=decision.position,
            latency_ms=round(record.latency_ms, 2),
            timings_ms=timings,
            **extra,
        )
        loop = asyncio.get_running_loop()
        for row in records:
            future = loop.run_in_executor(self._store_pool, self.store.record_unit, row)
            self._store_writes.add(future)
            future.add_done_callback(self._store_done)
        for observer in self.observers:
            observer.on_decision(decision, record)

    def _store_done(self, future: asyncio.Future[None]) -> None:
        self._store_writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            # The verdict stands (the PLC has it); the record must not vanish silently.
            log.critical("store write failed", error=repr(future.exception()))

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._store_writes:
            await asyncio.gather(*self._store_writes, return_exceptions=True)
        if self._connecting is not None:
            self._connecting.cancel()
        await self.driver.close()
        self._vision.shutdown(wait=True, cancel_futures=True)
        self._store_pool.shutdown(wait=True)

    async def run_in_store_thread(self, fn: Callable[[], T]) -> T:
        """Run a store call on the store's own thread (job loading reads serials there)."""
        return await asyncio.get_running_loop().run_in_executor(self._store_pool, fn)


def unit_records(decision: Decision, wall_offset: float) -> tuple[UnitRecord, ...]:
    """The store rows for a decision, one per position (pack); monotonic times become wall-clock.

    Every pack of a trigger shares its verdict (the PLC rejects what is under the camera) and keeps
    its own reasons, plus the trigger's reasons when it has none of its own (a pack that passed in a
    rejected unit was rejected with it).
    """
    job = decision.job
    rows = []
    for pack, (name, own) in enumerate(decision.positions):
        result = decision.results[pack] if pack < len(decision.results) else None
        ais = result.gs1 if result is not None and result.gs1 is not None else {}
        reasons = own or decision.reasons
        rows.append(
            UnitRecord(
                tracking_id=decision.tracking_id,
                serial=ais.get("21"),
                gtin=ais.get("01"),
                lot=ais.get("10"),
                expiry=ais.get("17"),
                verdict=decision.verdict,
                reasons=tuple(sorted(r.value for r in reasons)),
                position=name,
                recipe_number=job.recipe.number if job is not None else None,
                recipe_version=job.recipe.version if job is not None else None,
                batch_lot=job.lot if job is not None else None,
                triggered_at=decision.triggered_at + wall_offset,
                decided_at=decision.decided_at + wall_offset,
                latency_ms=(decision.decided_at - decision.triggered_at) * 1000,
                trigger_count=decision.trigger_count,
                pack=pack,
            )
        )
    return tuple(rows)
