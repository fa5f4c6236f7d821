"""Several packs in one image (positions): each is judged and counted on its own, the trigger once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from scripted import NO_READ, ScriptedPlc, good_result, line_config, make_job

from drivers.signals import Signal
from node.core import Core
from node.events import InspectionDone, JobLoaded
from node.reasons import Reason
from node.runner import unit_records
from node.store_sqlite import SqliteSerialStore

TWO = ("LEFT", "RIGHT")


def _running() -> ScriptedPlc:
    plc = ScriptedPlc(Core(line_config()))
    plc.select_recipe()
    plc.feed(JobLoaded(make_job(positions=TWO)))
    return plc


class TestTwoPositions:
    """One trigger, two packs."""

    def test_both_good_is_one_good_unit_and_two_good_positions(self) -> None:
        """The unit counts once; each position counts its own good."""
        plc = _running()
        plc.trigger()
        unit = plc.started[-1].unit
        plc.feed(
            InspectionDone(
                unit, (good_result("SN000001", position="LEFT"), good_result("SN000002", position="RIGHT"))
            )
        )
        plc.advance(0.01)
        snapshot = plc.core.snapshot()
        assert (snapshot.total, snapshot.good, snapshot.rejected) == (1, 1, 0)
        assert {name: (c.good, c.rejected) for name, c in snapshot.by_position.items()} == {
            "LEFT": (1, 0),
            "RIGHT": (1, 0),
        }

    def test_one_bad_position_rejects_the_unit_and_counts_only_itself(self) -> None:
        """The PLC rejects what is under the camera; the counters say which pack was bad."""
        plc = _running()
        plc.trigger()
        unit = plc.started[-1].unit
        plc.feed(
            InspectionDone(
                unit, (good_result("SN000001", position="LEFT"), replace(NO_READ, position="RIGHT"))
            )
        )
        plc.advance(0.01)
        (decision,) = plc.records
        assert decision.verdict == "rejected"
        assert dict(decision.positions) == {"LEFT": frozenset(), "RIGHT": frozenset({Reason.NO_READ})}
        assert plc.written(Signal.RESULT_CODE) == Reason.NO_READ.code
        snapshot = plc.core.snapshot()
        assert (snapshot.total, snapshot.rejected) == (1, 1)
        assert snapshot.by_reason[Reason.NO_READ] == 1
        assert {name: (c.good, c.rejected) for name, c in snapshot.by_position.items()} == {
            "LEFT": (1, 0),
            "RIGHT": (0, 1),
        }

    def test_same_serial_on_both_packs_is_a_duplicate(self) -> None:
        """A serial read twice in one image is caught at the second position."""
        plc = _running()
        plc.trigger()
        unit = plc.started[-1].unit
        plc.feed(
            InspectionDone(
                unit, (good_result("SN000001", position="LEFT"), good_result("SN000001", position="RIGHT"))
            )
        )
        (decision,) = plc.records
        assert dict(decision.positions)["RIGHT"] == {Reason.DUPLICATE_SERIAL}
        assert dict(decision.positions)["LEFT"] == frozenset()

    def test_results_not_matching_the_recipe_positions_reject(self) -> None:
        """A pipeline that returns too few positions cannot let the unit pass."""
        plc = _running()
        plc.trigger()
        plc.feed(InspectionDone(plc.started[-1].unit, (good_result("SN000001", position="LEFT"),)))
        (decision,) = plc.records
        assert decision.verdict == "rejected"
        assert decision.reasons == {Reason.INTERNAL_ERROR}

    def test_a_late_unit_rejects_every_position(self) -> None:
        """No result by the deadline: every pack in view is rejected late."""
        plc = _running()
        plc.trigger()
        plc.advance(1.0)
        (decision,) = plc.records
        assert dict(decision.positions) == {"LEFT": {Reason.LATE}, "RIGHT": {Reason.LATE}}


class TestPackRows:
    """The store keeps a row per pack and counts the trigger once."""

    @pytest.mark.parametrize("bad", [False, True])
    def test_rows_per_pack_and_totals_per_trigger(self, tmp_path: Path, bad: bool) -> None:
        """Two packs give two rows with their own serials; totals count one unit."""
        plc = _running()
        plc.trigger()
        right = replace(NO_READ, position="RIGHT") if bad else good_result("SN000002", position="RIGHT")
        plc.feed(InspectionDone(plc.started[-1].unit, (good_result("SN000001", position="LEFT"), right)))
        plc.advance(0.01)
        (decision,) = plc.records
        rows = unit_records(decision, 0.0)
        assert [(r.position, r.pack, r.serial) for r in rows] == [
            ("LEFT", 0, "SN000001"),
            ("RIGHT", 1, None if bad else "SN000002"),
        ]
        store = SqliteSerialStore(tmp_path / "units.db")
        try:
            for row in rows:
                store.record_unit(row)
            totals = store.totals()
            assert (totals.total, totals.good, totals.rejected) == ((1, 0, 1) if bad else (1, 1, 0))
            assert store.seen_serials(decision.job.recipe.gtin if decision.job else "") == (
                {"SN000001"} if bad else {"SN000001", "SN000002"}
            )
        finally:
            store.close()
        if bad:
            # The pack that passed was rejected with its unit, and says so.
            assert rows[0].verdict == "rejected" and rows[0].reasons == ("no_read",)
