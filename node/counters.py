"""Production counters (PackML-style): total, good, rejected per reason and per position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from node.reasons import Reason


@dataclass(frozen=True, slots=True)
class PositionCounts:
    """Counts of one inspection position (Arbeitsbereich)."""

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
