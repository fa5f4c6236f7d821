"""Loading a job at batch change: the recipe by number, the batch data, the batch's issued serials.

This is shell code (it talks to Level 4 and the store); it answers the core's LoadJob with
JobLoaded or with JobRefused carrying the error code the PLC sees (RecipeError).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from drivers.errors import DriverError
from node.events import JobLoaded, JobRefused, LoadJob
from node.job import Job
from node.store import SerialStore, StoreError
from recipes.batch import parse_batch
from recipes.loader import RecipeBook, RecipeError, RecipeErrorCode, recipe_digest

log = structlog.get_logger("tracenode.jobs")


class IssuedSerials(Protocol):
    """The part of Level 4 the node needs at batch change."""

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Every serial Level 4 issued for this GTIN and lot."""
        ...


class JobLoader:
    """Answers LoadJob commands; the previous job stays active whenever this refuses."""

    def __init__(
        self,
        *,
        book: RecipeBook,
        level4: IssuedSerials,
        store: SerialStore,
        in_store_thread: Callable[[Callable[[], object]], Awaitable[object]],
    ) -> None:
        self.book = book
        self.level4 = level4
        self.store = store
        self.in_store_thread = in_store_thread

    async def __call__(self, command: LoadJob) -> JobLoaded | JobRefused:
        """Load recipe and batch, fetch and cache the issued serials, collect already-seen serials."""
        try:
            recipe = self.book.select(command.recipe_number)
            batch = parse_batch(command.lot, command.expiry)
        except RecipeError as exc:
            return JobRefused(command.request, int(exc.code), str(exc))
        issued = await self._issued(recipe.gtin, batch.lot)
        if not issued:
            return JobRefused(
                command.request,
                int(RecipeErrorCode.LEVEL4_UNAVAILABLE),
                f"no serials issued for GTIN {recipe.gtin} lot {batch.lot} (Level 4 unreachable or empty)",
            )
        seen = await self.in_store_thread(lambda: self.store.seen_serials(recipe.gtin))
        assert isinstance(seen, frozenset)
        log.info(
            "job ready",
            recipe=recipe.number,
            digest=recipe_digest(recipe)[:12],
            lot=batch.lot,
            expiry=batch.expiry,
            issued=len(issued),
            already_seen=len(seen),
        )
        return JobLoaded(
            Job(
                request=command.request,
                recipe=recipe,
                lot=batch.lot,
                expiry=batch.expiry,
                issued=issued,
                seen=seen,
            )
        )

    async def _issued(self, gtin: str, lot: str) -> frozenset[str]:
        try:
            serials = await self.level4.issued_serials(gtin, lot)
        except DriverError as exc:
            # Keep producing on the pool downloaded earlier for this batch, if there is one.
            cached = await self.in_store_thread(lambda: self.store.issued_serials(gtin, lot))
            assert isinstance(cached, frozenset)
            log.warning("Level 4 unreachable; using cached serials", error=str(exc), cached=len(cached))
            return cached
        try:
            await self.in_store_thread(lambda: self.store.issue_serials(gtin, lot, serials))
        except StoreError as exc:
            # e.g. Level 4 issued a serial already issued for another lot: never produce on that.
            log.error("issued serials refused by the store", error=str(exc))
            return frozenset()
        return frozenset(serials)
