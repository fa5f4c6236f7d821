"""The asyncio runner in real time against the simulated line PLC over the in-memory link.

Everything but the transport is real (simulator/inprocess.py); the OPC UA, S7 and Modbus transports
run the same scenarios in tests/drivers/test_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from node.reasons import Reason
from node.store_sqlite import SqliteSerialStore
from simulator.inprocess import run_line


class TestRunner:
    """A node in the loop of a running line."""

    @pytest.mark.slow
    async def test_every_unit_judged_and_counts_match(self, tmp_path: Path) -> None:
        """Good units pass; the node's verdicts equal what the PLC physically did."""
        run = await run_line(tmp_path, 40)
        verdicts = [d.verdict for d in run.collector.decisions]
        assert len(verdicts) == run.plc.counts.triggered == 40
        assert verdicts.count("good") == run.plc.counts.passed
        assert verdicts.count("rejected") == run.plc.counts.rejected
        # Good print only: nothing rejects it but a character the reader is unsure of, one the
        # completeness check measures short (both rare: measured 39 of 40 passed) or a rare
        # unreadable render.
        allowed = {Reason.PRINT_ILLEGIBLE, Reason.PRINT_INCOMPLETE, Reason.NO_READ}
        assert all(d.reasons <= allowed for d in run.collector.decisions)
        assert run.plc.counts.passed >= 30
        assert run.runner.stats.cycles > 0

    @pytest.mark.slow
    async def test_link_outage_rejects_and_accounts(self, tmp_path: Path) -> None:
        """Units the PLC saw while the link was down are rejected and every trigger is accounted for."""
        run = await run_line(tmp_path, 60, outage=(0.8, 1.3))
        decisions = run.collector.decisions
        reasons = [r for d in decisions for r in d.reasons]
        assert len(decisions) == run.plc.counts.triggered == 60
        assert Reason.MISSED_TRIGGER in reasons or Reason.LATE in reasons
        good = sum(d.verdict == "good" for d in decisions)
        assert good == run.plc.counts.passed
        assert len(decisions) - good == run.plc.counts.rejected
        assert run.plc.counts.rejected >= 5  # ~10 units passed the camera during the 0.5 s outage

    @pytest.mark.slow
    async def test_node_restart_loses_no_trigger(self, tmp_path: Path) -> None:
        """Stop the node mid-batch and start a new one on the same store: totals still equal the PLC's."""
        run = await run_line(tmp_path, 60, restart=(0.8, 1.4))
        store = SqliteSerialStore(run.db)
        totals = store.totals()
        store.close()
        assert totals.total == run.plc.counts.triggered == 60
        assert totals.good == run.plc.counts.passed
        assert totals.rejected == run.plc.counts.rejected
        assert run.runner.core.snapshot().total == 60  # the second node's counters continue the first's
        missed = [d for d in run.collector.decisions if Reason.MISSED_TRIGGER in d.reasons]
        assert len(missed) >= 5  # ~12 units passed the camera while no node ran
