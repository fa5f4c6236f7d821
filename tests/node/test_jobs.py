"""Batch change in the shell: recipe, batch data and Level 4 serials become a Job or a PLC error code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.errors import Disconnected
from node.events import JobLoaded, JobRefused, LoadJob
from node.jobs import JobLoader
from node.store import UnitRecord
from node.store_sqlite import SqliteSerialStore
from recipes.loader import RecipeBook, RecipeErrorCode
from simulator.level4 import Level4Server

GTIN = RecipeBook.embedded().select(1).gtin


class Level4:
    """Level 4's real serial logic, asked in-process; `down` makes it unreachable."""

    def __init__(self) -> None:
        self.server = Level4Server(seed=3)
        self.down = False

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Serials issued for the batch, or Disconnected when down."""
        if self.down:
            raise Disconnected("opc.tcp://127.0.0.1:1: connection refused")
        return self.server.issued_for_batch(gtin, lot)


async def inline(fn: Callable[[], object]) -> object:
    """Run a store call inline (the runner uses its store thread)."""
    return fn()


@pytest.fixture
def store(tmp_path: Path) -> SqliteSerialStore:
    """A fresh SQLite store."""
    return SqliteSerialStore(tmp_path / "serials.db")


def loader(store: SqliteSerialStore, level4: Level4) -> JobLoader:
    """A loader over the embedded recipes."""
    return JobLoader(book=RecipeBook.embedded(), level4=level4, store=store, in_store_thread=inline)


class TestJobLoader:
    """Each outcome the PLC can see."""

    async def test_loads_recipe_batch_and_serials(self, store: SqliteSerialStore) -> None:
        """A valid request gives a job with the issued serials, cached in the store."""
        level4 = Level4()
        issued = level4.server.issue(GTIN, "L1", 50)
        answer = await loader(store, level4)(LoadJob(request=1, recipe_number=1, lot="L1", expiry="281200"))
        assert isinstance(answer, JobLoaded)
        assert answer.job.issued == frozenset(issued)
        assert store.issued_serials(GTIN, "L1") == frozenset(issued)

    async def test_unknown_recipe(self, store: SqliteSerialStore) -> None:
        """An unknown number is refused with code 1 and a message naming it."""
        answer = await loader(store, Level4())(
            LoadJob(request=2, recipe_number=99, lot="L1", expiry="281200")
        )
        assert isinstance(answer, JobRefused)
        assert answer.code == RecipeErrorCode.UNKNOWN_RECIPE
        assert "99" in answer.message

    async def test_invalid_batch(self, store: SqliteSerialStore) -> None:
        """A 13th month is refused with code 3, naming the expiry field."""
        answer = await loader(store, Level4())(LoadJob(request=3, recipe_number=1, lot="L1", expiry="281301"))
        assert isinstance(answer, JobRefused)
        assert answer.code == RecipeErrorCode.INVALID_BATCH
        assert "expiry" in answer.message

    async def test_level4_down_uses_the_cached_pool(self, store: SqliteSerialStore) -> None:
        """With Level 4 unreachable the batch runs on the pool downloaded before."""
        level4 = Level4()
        issued = level4.server.issue(GTIN, "L1", 20)
        await loader(store, level4)(LoadJob(request=1, recipe_number=1, lot="L1", expiry="281200"))
        level4.down = True
        answer = await loader(store, level4)(LoadJob(request=2, recipe_number=1, lot="L1", expiry="281200"))
        assert isinstance(answer, JobLoaded)
        assert answer.job.issued == frozenset(issued)

    async def test_level4_down_and_no_pool(self, store: SqliteSerialStore) -> None:
        """No serials at all for the batch is refused with code 4: never produce unserialised."""
        level4 = Level4()
        level4.down = True
        answer = await loader(store, level4)(LoadJob(request=1, recipe_number=1, lot="L9", expiry="281200"))
        assert isinstance(answer, JobRefused)
        assert answer.code == RecipeErrorCode.LEVEL4_UNAVAILABLE

    async def test_seen_serials_come_from_the_store(self, store: SqliteSerialStore) -> None:
        """Serials recorded before (an earlier run) are in the job, for duplicate checks after a restart."""
        level4 = Level4()
        issued = level4.server.issue(GTIN, "L1", 5)
        store.record_unit(
            UnitRecord(
                tracking_id=1,
                serial=issued[0],
                gtin=GTIN,
                lot="L1",
                expiry="281200",
                verdict="good",
                reasons=(),
                position="P1",
                recipe_number=1,
                recipe_version=1,
                batch_lot="L1",
                triggered_at=0.0,
                decided_at=0.01,
                latency_ms=10.0,
            )
        )
        answer = await loader(store, level4)(LoadJob(request=1, recipe_number=1, lot="L1", expiry="281200"))
        assert isinstance(answer, JobLoaded)
        assert answer.job.seen == frozenset({issued[0]})
