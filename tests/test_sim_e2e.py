"""A whole simulated line end to end: the line process and the node, over loopback OPC UA."""

from __future__ import annotations

from node.sim import SimRun, run_sim
from simulator.line import SimSettings


class TestSimulatedLine:
    """The acceptance run of the spine."""

    async def test_300_units_with_defects(self) -> None:
        """No defective unit escapes, no trigger is lost, and the PLC's physical counts equal the node's."""
        outcome = await run_sim(
            SimRun(settings=SimSettings(units=300, rate_per_min=600, seed=11, defect_rate=0.1))
        )
        report = outcome.report
        assert report.units == 300
        assert sum(report.defects_injected.values()) >= 15
        assert report.escapes == 0
        assert report.lost == 0
        assert report.good + report.rejected == 300
        assert (report.physical_passed, report.physical_rejected) == (report.good, report.rejected)
        assert report.counts_match
        # Every injected defect is a reject (escapes == 0 above); good units are mostly passed.
        assert report.false_rejects <= 6
