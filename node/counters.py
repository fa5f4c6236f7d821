"""Production counters (PackML-style): total, good, rejected per reason and per position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from node.reasons import Reason


@dataclass(frozen=True, slots=True)
class PositionCounts:
    """Counts of one inspection position (Arbeitsbereich), by the position's own findings.

    A position that passed in a unit another position failed counts good here, though the
    PLC rejected the whole unit (and the unit counts rejected in the totals)."""

    total: int = 0
    good: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """A consistent copy of all counters, for SCADA, the PLC and the report.

    A unit rejected for several reasons counts once in `rejected` and once under each reason.
    """

    total: int = 0
    good: int = 0
    rejected: int = 0
    by_reason: Mapping[Reason, int] = field(default_factory=lambda: MappingProxyType({}))
    by_position: Mapping[str, PositionCounts] = field(default_factory=lambda: MappingProxyType({}))
    consecutive_rejects: int = 0
    alarm_active: bool = False

    @property
    def late(self) -> int:
        """Units whose verdict was not ready by the deadline."""
        return self.by_reason.get(Reason.LATE, 0)


class Counters:
    """The running counters the core keeps; `snapshot()` hands out a frozen copy."""

    def __init__(self, start: CounterSnapshot | None = None) -> None:
        start = start or CounterSnapshot()
        self.total = start.total
        self.good = start.good
        self.rejected = start.rejected
        self.by_reason: dict[Reason, int] = {r: start.by_reason.get(r, 0) for r in Reason}
        self.by_position: dict[str, PositionCounts] = dict(start.by_position)

    def add(
        self, verdict: str, reasons: frozenset[Reason], positions: tuple[tuple[str, frozenset[Reason]], ...]
    ) -> None:
        """Count one final verdict: the unit once, and each position by its own reasons."""
        good = verdict == "good"
        self.total += 1
        if good:
            self.good += 1
        else:
            self.rejected += 1
        for reason in reasons:
            self.by_reason[reason] += 1
        for name, own in positions:
            p = self.by_position.get(name, PositionCounts())
            self.by_position[name] = PositionCounts(
                total=p.total + 1, good=p.good + int(not own), rejected=p.rejected + int(bool(own))
            )

    def reset(self) -> None:
        """Start a new counting period (operator reset)."""
        self.total = self.good = self.rejected = 0
        self.by_reason = dict.fromkeys(Reason, 0)
        self.by_position = {name: PositionCounts() for name in self.by_position}

    def snapshot(self, *, consecutive_rejects: int = 0, alarm_active: bool = False) -> CounterSnapshot:
        """A frozen copy."""
        return CounterSnapshot(
            total=self.total,
            good=self.good,
            rejected=self.rejected,
            by_reason=MappingProxyType(dict(self.by_reason)),
            by_position=MappingProxyType(dict(self.by_position)),
            consecutive_rejects=consecutive_rejects,
            alarm_active=alarm_active,
        )
