"""The signal contract, run against every PLC link over a real loopback server: OPC UA, S7, Modbus.

Each scenario is a short production run of the simulated line PLC with a real node in the loop
(simulator/inprocess.py), so the handshakes are checked end to end, not message by message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.signals import Signal
from node.reasons import Reason
from node.states import NodeState
from recipes.loader import RecipeErrorCode
from simulator.inprocess import LineRun, Link, RecipeRefused, run_line
from simulator.plc_servers import PROTOCOLS, PlcProtocol
from simulator.units import Defect

pytestmark = pytest.mark.parametrize("protocol", PROTOCOLS)


def assert_accounted(run: LineRun) -> None:
    """Every trigger has one verdict, and the node's counts equal what the PLC physically did."""
    decisions = run.collector.decisions
    good = sum(d.verdict == "good" for d in decisions)
    assert len(decisions) == run.plc.counts.triggered
    assert good == run.plc.counts.passed
    assert len(decisions) - good == run.plc.counts.rejected
    assert run.runner.core.pending == 0


class TestContract:
    """One suite, every driver."""

    async def test_handshake_and_verdicts(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """Recipe select is acknowledged, each unit gets its verdict in time, the counts agree."""
        run = await run_line(tmp_path, 30, link=Link(protocol), defect_rate=0.2)
        assert_accounted(run)
        assert run.plc.image.get(Signal.ACTIVE_RECIPE) == 1
        # 30 units, ~6 defective; the good ones pass (a few false rejects remain, docs/benchmarks.md).
        # A floor that a broken link would miss.
        assert run.plc.counts.passed >= 15
        assert run.plc.counts.verdicts_too_late == 0
        assert all(Reason.LATE not in d.reasons for d in run.collector.decisions)

    async def test_recipe_error_reaches_the_plc(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """An unknown recipe number comes back as RecipeError 1, and nothing is produced."""
        with pytest.raises(RecipeRefused) as refused:
            await run_line(tmp_path, 5, link=Link(protocol), recipe_number=999)
        assert refused.value.code == RecipeErrorCode.UNKNOWN_RECIPE

    async def test_trigger_gap_is_counted(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """A PLC that stalls triggers the units it owed in one scan: the node counts the ones it missed."""
        run = await run_line(tmp_path, 30, link=Link(protocol), plc_stall=(0.5, 0.7))
        assert_accounted(run)
        missed = [d for d in run.collector.decisions if Reason.MISSED_TRIGGER in d.reasons]
        assert len(missed) >= 2
        assert all(d.trigger_count is not None for d in missed)

    async def test_heartbeat_loss_is_a_fault(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """A PLC heartbeat that stands still longer than the timeout puts the node in FAULT, then back."""
        run = await run_line(tmp_path, 40, link=Link(protocol), plc_stall=(0.3, 1.1))
        assert_accounted(run)
        states = run.collector.states
        assert NodeState.FAULT in states
        assert states[-1] is NodeState.READY

    async def test_server_killed_for_two_seconds(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """Kill the PLC's server for 2 s mid-batch: units seen meanwhile are rejected, the node reconnects."""
        run = await run_line(tmp_path, 70, link=Link(protocol), rate=600, outage=(1.0, 3.0))
        assert_accounted(run)
        decisions = run.collector.decisions
        assert run.plc.counts.rejected >= 15  # ~20 units passed the camera while the link was down
        last_ten = decisions[-10:]
        # Inspecting again after the reconnect: every unit read, none missed, late or faulted.
        assert all(d.result is not None and d.result.code_found for d in last_ten)
        assert not any(
            d.reasons & {Reason.MISSED_TRIGGER, Reason.LATE, Reason.INTERNAL_ERROR} for d in last_ten
        )

    async def test_alarm_stops_the_line_and_resets(self, protocol: PlcProtocol, tmp_path: Path) -> None:
        """Five rejects in a row raise AlarmActive; the operator's reset via the PLC clears it."""
        run = await run_line(tmp_path, 12, link=Link(protocol), defect_rate=1.0, defects=(Defect.NO_CODE,))
        assert_accounted(run)
        assert run.plc.counts.line_stops >= 1
        image = run.plc.image
        assert image.get(Signal.ALARM_RESET_ACK) == image.get(Signal.ALARM_RESET_REQUEST) != 0
