"""The SQLite serial store on a real file: durability settings, duplicate refusal, totals across restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.store import DuplicateSerial, SerialStore, StoreError, StoreTotals, UnitRecord
from node.store_sqlite import SCHEMA_VERSION, SqliteSerialStore

GTIN = "09506000134352"


def unit(
    tracking_id: int,
    serial: str | None,
    verdict: Literal["good", "rejected"] = "good",
    *,
    gtin: str | None = GTIN,
) -> UnitRecord:
    """A unit record with realistic values around the fields a test cares about."""
    return UnitRecord(
        tracking_id=tracking_id,
        serial=serial,
        gtin=gtin,
        lot="L2406",
        expiry="270131",
        verdict=verdict,
        reasons=() if verdict == "good" else ("duplicate_serial",),
        position="P1",
        recipe_number=1,
        recipe_version=1,
        batch_lot="L2406",
        triggered_at=1_750_000_000.0 + tracking_id,
        decided_at=1_750_000_000.012 + tracking_id,
        latency_ms=12.0,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the store's file goes."""
    return tmp_path / "serials.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteSerialStore]:
    """A fresh store on a real file."""
    opened = SqliteSerialStore(db_path)
    yield opened
    opened.close()


class TestSqliteSerialStore:
    """Records, issued serials and totals in one SQLite file."""

    def test_is_a_serial_store(self, store: SqliteSerialStore) -> None:
        """The SQLite store satisfies the protocol the runner uses."""
        protocol_view: SerialStore = store
        assert protocol_view.totals() == StoreTotals(0, 0, 0)

    def test_file_is_in_wal_mode_with_current_schema(self, store: SqliteSerialStore, db_path: Path) -> None:
        """WAL is recorded in the file itself, with the schema version, for any other reader to see."""
        with sqlite3.connect(db_path) as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert reader.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)

    def test_commits_with_full_sync(self, store: SqliteSerialStore) -> None:
        """The store's own connection syncs the WAL on every commit (synchronous=FULL is 2)."""
        assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)

    def test_totals_and_serials_survive_reopen(self, db_path: Path) -> None:
        """Counters and seen serials continue after the node restarts."""
        first = SqliteSerialStore(db_path)
        first.record_unit(unit(1, "A1"))
        first.record_unit(unit(2, "A2", "rejected"))
        first.record_unit(unit(3, None, "rejected", gtin=None))
        first.close()
        reopened = SqliteSerialStore(db_path)
        try:
            assert reopened.totals() == StoreTotals(total=3, good=1, rejected=2)
            assert reopened.seen_serials(GTIN) == {"A1", "A2"}
        finally:
            reopened.close()

    def test_duplicate_good_serial_is_refused(self, store: SqliteSerialStore) -> None:
        """A second good record of one GTIN+serial is refused by the database and not counted."""
        store.record_unit(unit(1, "A1"))
        with pytest.raises(DuplicateSerial) as caught:
            store.record_unit(unit(2, "A1"))
        assert (caught.value.gtin, caught.value.serial) == (GTIN, "A1")
        assert "unit 2" in str(caught.value) and GTIN in str(caught.value)
        assert store.totals() == StoreTotals(total=1, good=1, rejected=0)

    def test_rejected_rows_may_repeat_a_serial(self, store: SqliteSerialStore) -> None:
        """The caught duplicate is recorded as rejected next to the good original."""
        store.record_unit(unit(1, "A1"))
        store.record_unit(unit(2, "A1", "rejected"))
        store.record_unit(unit(3, "A1", "rejected"))
        assert store.totals() == StoreTotals(total=3, good=1, rejected=2)

    def test_same_serial_under_another_gtin_is_not_a_duplicate(self, store: SqliteSerialStore) -> None:
        """Serials are unique per GTIN, not across GTINs."""
        store.record_unit(unit(1, "A1"))
        store.record_unit(unit(2, "A1", gtin="09506000134369"))
        assert store.seen_serials("09506000134369") == {"A1"}

    def test_issued_serials_round_trip(self, store: SqliteSerialStore) -> None:
        """Issued serials come back per GTIN and lot, and issuing them again changes nothing."""
        store.issue_serials(GTIN, "L1", ["A1", "A2", "A2"])
        store.issue_serials(GTIN, "L1", iter(["A2", "A3"]))
        store.issue_serials(GTIN, "L2", ["B1"])
        assert store.issued_serials(GTIN, "L1") == {"A1", "A2", "A3"}
        assert store.issued_serials(GTIN, "L2") == {"B1"}
        assert store.issued_serials("09506000134369", "L1") == frozenset()

    def test_serial_issued_for_two_lots_is_refused_whole(self, store: SqliteSerialStore) -> None:
        """A serial Level 4 already issued for another lot refuses the whole request."""
        store.issue_serials(GTIN, "L1", ["A1"])
        with pytest.raises(DuplicateSerial, match="already issued for lot 'L1'"):
            store.issue_serials(GTIN, "L2", ["B1", "A1"])
        assert store.issued_serials(GTIN, "L2") == frozenset()

    def test_many_issued_serials(self, store: SqliteSerialStore) -> None:
        """A batch's worth of serials goes in as one transaction, and a repeat is found among them."""
        serials = [f"S{number:011d}" for number in range(20_000)]
        store.issue_serials(GTIN, "L1", serials)
        store.issue_serials(GTIN, "L1", serials)
        with pytest.raises(DuplicateSerial):
            store.issue_serials(GTIN, "L2", [*serials[:0:-1], "NEW"])
        assert len(store.issued_serials(GTIN, "L1")) == 20_000

    def test_newer_schema_is_refused(self, db_path: Path) -> None:
        """A file written by a newer tracenode is not opened, so nothing is misread."""
        SqliteSerialStore(db_path).close()
        with sqlite3.connect(db_path) as writer:
            writer.execute("PRAGMA user_version = 99")
        with pytest.raises(StoreError, match="schema version 99 is newer"):
            SqliteSerialStore(db_path)

    def test_unopenable_path_names_the_file(self, tmp_path: Path) -> None:
        """A store in a missing directory fails with its path."""
        with pytest.raises(StoreError, match="absent"):
            SqliteSerialStore(tmp_path / "absent" / "serials.db")

    def test_close_twice_is_harmless(self, db_path: Path) -> None:
        """Shutdown paths may close twice."""
        opened = SqliteSerialStore(db_path)
        opened.close()
        opened.close()

    @settings(max_examples=25, deadline=None)
    @given(
        steps=st.lists(
            st.tuples(
                st.sampled_from(["good", "rejected"]), st.sampled_from(["A", "B", "C", "D", "E", None])
            ),
            max_size=15,
        )
    )
    def test_totals_add_up(
        self,
        tmp_path_factory: pytest.TempPathFactory,
        steps: list[tuple[Literal["good", "rejected"], str | None]],
    ) -> None:
        """Whatever is recorded, total is good + rejected, and each serial is good at most once."""
        path = tmp_path_factory.mktemp("totals") / "serials.db"
        store = SqliteSerialStore(path)
        good: set[str] = set()
        rejected = 0
        for tracking_id, (verdict, serial) in enumerate(steps):
            if verdict == "good" and serial is None:
                verdict = "rejected"
            try:
                store.record_unit(unit(tracking_id, serial, verdict))
            except DuplicateSerial:
                assert serial in good
                continue
            if verdict == "good":
                assert serial is not None
                good.add(serial)
            else:
                rejected += 1
            totals = store.totals()
            assert totals.total == totals.good + totals.rejected
        store.close()
        reopened = SqliteSerialStore(path)
        try:
            assert reopened.totals() == StoreTotals(len(good) + rejected, len(good), rejected)
        finally:
            reopened.close()
