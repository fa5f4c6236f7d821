"""Builders for node tests: a job, findings, and a scripted PLC that drives the pure core."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from drivers.signals import ACK_APPLIED, PlcInputs, Signal, SignalValue
from node.core import Core, CoreConfig, signal_values
from node.events import Command, Decision, Event, PlcSignals, RecordUnit, StartInspection
from node.job import Job
from recipes.schema import Recipe
from vision.result import InspectionResult

GTIN = "09501101020917"
LOT = "LOT42"
EXPIRY = "271231"
ISSUED = frozenset(f"SN{i:06d}" for i in range(1000))


def make_job(
    request: int = 1,
    *,
    limit: int = 5,
    ocv: bool = False,
    grading: bool = False,
    positions: tuple[str, ...] = ("P1",),
) -> Job:
    """A job for recipe 1 with 1000 issued serials (print check and grading off unless asked)."""
    recipe = Recipe.model_validate(
        {
            "number": 1,
            "name": "Test product",
            "gtin": GTIN,
            "consecutive_reject_limit": limit,
            "positions": positions,
            "inspection": {"ocr": {"enabled": ocv}, "grading": {"enabled": grading}},
        }
    )
    return Job(request=request, recipe=recipe, lot=LOT, expiry=EXPIRY, issued=ISSUED)


def good_result(serial: str, *, position: str = "P1", **overrides: str) -> InspectionResult:
    """Findings of a perfect unit with this serial."""
    ais = {"01": GTIN, "17": EXPIRY, "10": LOT, "21": serial} | overrides
    return InspectionResult(
        position=position, code_found=True, gs1=MappingProxyType(ais), ocv_ok=True, grade=4.0
    )


NO_READ = InspectionResult(position="P1", code_found=False, gs1=None, gs1_error="no code found")


class ScriptedPlc:
    """The PLC side of the contract, in memory: triggers units and acknowledges verdicts.

    It plays the handshake exactly as docs/plc-interface.md describes it, so the core
    can be driven through whole unit lives without any driver.
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.inputs = PlcInputs(plc_heartbeat=1)
        self.now = 0.0
        self.next_id = 1
        self.records: list[Decision] = []
        self.started: list[StartInspection] = []
        self.writes: list[tuple[Signal, SignalValue]] = []
        self.auto_ack = True
        self.ack_status = ACK_APPLIED
        self.applied_good: set[int] = set()  # tracking ids the PLC let pass
        self.feed(PlcSignals(self.inputs))

    def feed(self, event: Event) -> list[Command]:
        """Hand one event to the core and collect what it says."""
        out = self.core.handle(event, self.now)
        for c in out:
            if isinstance(c, RecordUnit):
                self.records.append(c.decision)
            elif isinstance(c, StartInspection):
                self.started.append(c)
        self.writes += signal_values(out)
        return out

    def scan(self) -> list[Command]:
        """One PLC scan: acknowledge the latest verdict strobe, publish inputs, advance the heartbeat."""
        count = self.written(Signal.RESULT_COUNT)
        if self.auto_ack and count is not None and count != self.inputs.result_ack:
            self.inputs = replace(self.inputs, result_ack=int(count), result_ack_status=self.ack_status)
            if self.ack_status == ACK_APPLIED and self.written(Signal.RESULT_CODE) == 0:
                self.applied_good.add(int(self.written(Signal.RESULT_ID) or 0))
        self.inputs = replace(self.inputs, plc_heartbeat=self.inputs.plc_heartbeat + 1)
        return self.feed(PlcSignals(self.inputs))

    def set_inputs(self, **changes: int | str) -> None:
        """Change PLC inputs (takes effect at the next scan)."""
        self.inputs = replace(self.inputs, **changes)  # type: ignore[arg-type]

    def trigger(self, *, skip: int = 0) -> int:
        """Count one unit under the camera (after `skip` units the node never saw)."""
        tracking_id = self.next_id + skip
        self.next_id = tracking_id + 1
        self.inputs = replace(
            self.inputs, trigger_count=self.inputs.trigger_count + 1 + skip, trigger_id=tracking_id
        )
        self.scan()
        return tracking_id

    def select_recipe(self, number: int = 1, lot: str = LOT, expiry: str = EXPIRY) -> None:
        """Ask for a recipe at batch change."""
        self.inputs = replace(
            self.inputs,
            recipe_request=self.inputs.recipe_request + 1,
            recipe_number=number,
            batch_lot=lot,
            batch_expiry=expiry,
        )
        self.scan()

    def advance(self, dt: float, *, step: float = 0.005) -> None:
        """Let time pass with PLC scans every `step` seconds."""
        end = self.now + dt
        while self.now < end:
            self.now = min(end, self.now + step)
            self.scan()

    def written(self, signal: Signal) -> SignalValue | None:
        """The last value the node wrote to a signal."""
        for s, v in reversed(self.writes):
            if s is signal:
                return v
        return None


def line_config() -> CoreConfig:
    """Line timing of 600 units/min with a 4-pitch register."""
    return CoreConfig(register_length=4, pitch_s=0.1, decide_margin_s=0.03, ack_timeout_s=0.2)
