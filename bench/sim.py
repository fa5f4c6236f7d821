"""Runs of `tracenode sim` for the benchmarks: the simulated line in a child process, the node in this one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from node.sim import SimOutcome, SimRun, run_sim
from simulator.line import SimSettings

REGISTER_LENGTH = 4
"""Pitches from camera to reject station, as on the default simulated line."""
DECIDE_MARGIN_MS = 30.0
"""How long before the unit reaches the reject station the node must have decided (the node's default)."""

_PROC_STAT = Path("/proc/stat")


def decide_by_ms(rate_per_min: float) -> float:
    """Time from trigger to the node's decision deadline at this rate, in ms."""
    pitch_ms = 60_000.0 / rate_per_min
    return REGISTER_LENGTH * pitch_ms - DECIDE_MARGIN_MS


@dataclass(frozen=True, slots=True)
class LineRun:
    """One finished simulated run."""

    outcome: SimOutcome
    cpu_busy: float | None
    """Share of all this machine's CPU time that was busy while units ran (0..1), None where unknown."""


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None off Linux."""
    if not _PROC_STAT.exists():
        return None
    # cpu user nice system idle iowait irq softirq steal (guest time is already in user)
    ticks = [int(v) for v in _PROC_STAT.read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


class LineRuns:
    """Simulated production runs, each run once per (units, rate) and kept for every table that needs it."""

    def __init__(self, *, progress: Progress, seed: int = 1, defect_rate: float = 0.05) -> None:
        """Runs draw their units from ``seed`` with ``defect_rate`` defective; ``progress`` shows each run."""
        self._progress = progress
        self._seed = seed
        self._defect_rate = defect_rate
        self._runs: dict[tuple[int, float], LineRun] = {}

    @property
    def defect_rate(self) -> float:
        """Fraction of units the simulated printer makes defective."""
        return self._defect_rate

    def done(self, units: int, rate_per_min: float) -> bool:
        """Whether this run has already been made."""
        return (units, rate_per_min) in self._runs

    def run(self, units: int, rate_per_min: float) -> LineRun:
        """The run of ``units`` units at ``rate_per_min``: made now (units*60/rate s + start-up) or kept.

        Raises whatever `node.sim.run_sim` raises when the line or the node fails.
        """
        key = (units, rate_per_min)
        if key not in self._runs:
            self._runs[key] = self._make(units, rate_per_min)
        return self._runs[key]

    def _make(self, units: int, rate_per_min: float) -> LineRun:
        settings = SimSettings(
            units=units,
            rate_per_min=rate_per_min,
            seed=self._seed,
            defect_rate=self._defect_rate,
            register_length=REGISTER_LENGTH,
        )
        task = self._progress.add_task(f"sim: {units} units at {rate_per_min:g}/min", total=units)
        cpu = _CpuWindow()

        def progress(done: int, _total: int) -> None:
            cpu.mark()
            self._progress.update(task, completed=done)

        try:
            outcome = asyncio.run(
                run_sim(SimRun(settings=settings, decide_margin_ms=DECIDE_MARGIN_MS), progress=progress)
            )
        finally:
            self._progress.remove_task(task)
        return LineRun(outcome=outcome, cpu_busy=cpu.busy())


class _CpuWindow:
    """How busy the machine's CPUs were between the line's first and latest progress report.

    That is while units ran, without the start-up (spawn, imports, servers) or the shutdown.
    """

    def __init__(self) -> None:
        self._start: tuple[int, int] | None = None
        self._end: tuple[int, int] | None = None

    def mark(self) -> None:
        """A progress report came: the window starts at the first and ends at the latest."""
        self._end = _cpu_ticks()
        if self._start is None:
            self._start = self._end

    def busy(self) -> float | None:
        """Busy share of all CPU time in the window (0..1), None without two reports or /proc/stat."""
        if self._start is None or self._end is None or self._end[1] <= self._start[1]:
            return None
        return (self._end[0] - self._start[0]) / (self._end[1] - self._start[1])
