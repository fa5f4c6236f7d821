"""Events the shell feeds into the cycle core, and the commands the core returns.

All are frozen dataclasses; times are monotonic seconds supplied by the shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from drivers.signals import PlcInputs, Signal, SignalValue
from node.job import Job
from node.reasons import Reason
from node.states import NodeState
from vision.result import InspectionResult

# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class PlcSignals:
    """The PLC inputs as read this cycle; the core finds the edges itself."""

    inputs: PlcInputs


@dataclass(frozen=True, slots=True)
class InspectionDone:
    """The vision pipeline finished for a unit."""

    unit: int  # the core's unit sequence number from StartInspection
    results: tuple[InspectionResult, ...]  # one per recipe position, in recipe order


@dataclass(frozen=True, slots=True)
class InspectionFailed:
    """Capture or vision raised: the unit cannot be judged."""

    unit: int
    error: str


@dataclass(frozen=True, slots=True)
class JobLoaded:
    """The shell loaded the recipe, checked the batch and got the issued serials."""

    job: Job


@dataclass(frozen=True, slots=True)
class JobRefused:
    """The requested recipe or batch is unknown or invalid; the previous job stays active."""

    request: int
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The PLC link failed; the shell is reconnecting."""

    error: str


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The PLC link is back."""


@dataclass(frozen=True, slots=True)
class ResetCounters:
    """An operator (SCADA) reset the production counters."""


@dataclass(frozen=True, slots=True)
class ResetAlarm:
    """An operator (SCADA) reset the consecutive-reject alarm."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: check deadlines, heartbeats and the verdict mailbox."""


Event = (
    PlcSignals
    | InspectionDone
    | InspectionFailed
    | JobLoaded
    | JobRefused
    | LinkDown
    | LinkUp
    | ResetCounters
    | ResetAlarm
    | Tick
)

# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class WriteSignals:
    """Write these node outputs to the PLC, in this order, in one request."""

    values: tuple[tuple[Signal, SignalValue], ...]


@dataclass(frozen=True, slots=True)
class StartInspection:
    """Capture the unit's image and run the job's pipeline on it."""

    unit: int
    tracking_id: int
    job: Job


@dataclass(frozen=True, slots=True)
class LoadJob:
    """Load recipe `number` with this batch data, fetch its serials, answer with JobLoaded/JobRefused."""

    request: int
    recipe_number: int
    lot: str
    expiry: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The final verdict of one trigger. Exactly one per trigger."""

    unit: int
    tracking_id: int  # 0 when the trigger was missed and the PLC's id is unknown
    trigger_count: int | None  # the PLC's TriggerCount of this unit; None with no trigger counter yet
    verdict: Literal["good", "rejected"]
    reasons: frozenset[Reason]
    positions: tuple[tuple[str, frozenset[Reason]], ...]
    """Each position's own name and reasons (a position counts on its own; the trigger's verdict is
    a reject when any position has a reason, since the PLC rejects what is under the camera)."""
    triggered_at: float
    decided_at: float
    job: Job | None
    results: tuple[InspectionResult, ...]  # one per position; empty when the unit was not inspected

    @property
    def result(self) -> InspectionResult | None:
        """The first position's findings, if the unit was inspected."""
        return self.results[0] if self.results else None

    @property
    def position(self) -> str:
        """The first position's name."""
        return self.positions[0][0]

    @property
    def serial(self) -> str | None:
        """The serial read from the first position's code, if any."""
        result = self.result
        return None if result is None or result.gs1 is None else result.gs1.get("21")


@dataclass(frozen=True, slots=True)
class RecordUnit:
    """Persist, count and report this decision."""

    decision: Decision


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The node state changed (for SCADA and the log)."""

    state: NodeState


@dataclass(frozen=True, slots=True)
class JobChanged:
    """A new job became active."""

    job: Job


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a person should see in the log; `level` is a structlog level name."""

    level: Literal["info", "warning", "error", "critical"]
    event: str
    fields: Mapping[str, object]


Command = WriteSignals | StartInspection | LoadJob | RecordUnit | StateChanged | JobChanged | Notice
