"""The serial store's record type refuses records that break the verdict rules."""

from __future__ import annotations

from typing import Literal

import pytest

from node.store import UnitRecord


def record(verdict: Literal["good", "rejected"], serial: str | None, reasons: tuple[str, ...]) -> UnitRecord:
    """A record with the verdict fields under test and plain values elsewhere."""
    return UnitRecord(
        tracking_id=1,
        serial=serial,
        gtin="09506000134352",
        lot="L1",
        expiry="270131",
        verdict=verdict,
        reasons=reasons,
        position="P1",
        recipe_number=1,
        recipe_version=1,
        batch_lot="L1",
        triggered_at=0.0,
        decided_at=0.01,
        latency_ms=10.0,
    )


class TestUnitRecord:
    """A record cannot say something the verdict rules forbid."""

    def test_good_unit_needs_a_serial(self) -> None:
        """A good unit without a serial would escape the duplicate check, so it cannot be built."""
        with pytest.raises(ValueError, match="good unit needs a GTIN and a serial"):
            record("good", None, ())

    def test_good_unit_has_no_reason(self) -> None:
        """A unit with a reject reason is not good."""
        with pytest.raises(ValueError, match="no reason"):
            record("good", "A1", ("ocv_mismatch",))

    def test_rejected_unit_needs_a_reason(self) -> None:
        """Every reject says why."""
        with pytest.raises(ValueError, match="at least one reason"):
            record("rejected", None, ())

    def test_valid_records(self) -> None:
        """A good unit with its serial and a rejected one with a reason are both fine."""
        assert record("good", "A1", ()).verdict == "good"
        assert record("rejected", None, ("no_read",)).reasons == ("no_read",)
