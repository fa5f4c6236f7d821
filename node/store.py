"""The serial store's contract: one record per unit and the serials Level 4 issued, behind one small protocol.

SQLite (node.store_sqlite) is the embedded implementation; a PostgreSQL one for site scale follows the same
protocol. Methods are synchronous because the runner calls them from one dedicated worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """What the store keeps of one unit: what was read, the verdict and why, and when.

    A good unit has a GTIN and a serial and no reason; a rejected one has at least one reason
    (a `node.reasons.Reason` value) and may lack anything that could not be read.
    """

    tracking_id: int
    serial: str | None
    gtin: str | None
    lot: str | None
    expiry: str | None
    verdict: Literal["good", "rejected"]
    reasons: tuple[str, ...]
    position: str
    recipe_number: int | None
    recipe_version: int | None
    batch_lot: str | None
    triggered_at: float  # unix seconds
    decided_at: float  # unix seconds
    latency_ms: float
    trigger_count: int | None = None  # the PLC's TriggerCount of this unit (None: not known)
    # Which pack of the trigger this row is: 0 for the recipe's first position, 1.. for the others
    # (several packs in one image). Totals count pack 0 only: one verdict per trigger.
    pack: int = 0

    def __post_init__(self) -> None:
        # A good unit without a serial would slip past the duplicate check, which keys on gtin+serial.
        if self.verdict == "good" and (self.reasons or self.gtin is None or self.serial is None):
            raise ValueError(
                f"unit {self.tracking_id}: a good unit needs a GTIN and a serial and no reason "
                f"(got gtin={self.gtin!r}, serial={self.serial!r}, reasons={self.reasons!r})"
            )
        if self.verdict == "rejected" and not self.reasons:
            raise ValueError(f"unit {self.tracking_id}: a rejected unit needs at least one reason")


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """Units recorded over the store's whole life, so counters continue across restarts."""

    total: int
    good: int
    rejected: int


class StoreError(Exception):
    """The store could not do what was asked; the message names the database and the record."""


class DuplicateSerial(StoreError):
    """A GTIN+serial was already recorded as good (or issued for another lot): serials are unique for life."""

    def __init__(self, gtin: str, serial: str, message: str) -> None:
        super().__init__(message)
        self.gtin = gtin
        self.serial = serial


class SerialStore(Protocol):
    """Unit-level records and issued serials. Not safe for concurrent use: call from one thread at a time."""

    def record_unit(self, rec: UnitRecord) -> None:
        """Store one unit durably; raise `DuplicateSerial` if its GTIN+serial is already recorded good."""

    def issue_serials(self, gtin: str, lot: str, serials: Iterable[str]) -> None:
        """Remember serials Level 4 issued for this batch, all or none.

        Issuing the same ones again changes nothing; one already issued for another lot raises
        `DuplicateSerial`.
        """

    def issued_serials(self, gtin: str, lot: str) -> frozenset[str]:
        """The serials issued for this GTIN and lot."""

    def seen_serials(self, gtin: str) -> frozenset[str]:
        """Every serial already recorded for this GTIN, whatever the verdict."""

    def recent_trigger_counts(self, limit: int) -> list[int]:
        """The PLC trigger counts of the last `limit` units recorded, newest first (restart recovery)."""

    def totals(self) -> StoreTotals:
        """Counts of all units recorded."""

    def close(self) -> None:
        """Release the database; calling it twice is harmless."""
