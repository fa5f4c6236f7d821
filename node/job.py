"""The active job: recipe plus batch plus the batch's serial registry view."""

from __future__ import annotations

from dataclasses import dataclass

from recipes.schema import Recipe


@dataclass(frozen=True, slots=True)
class Job:
    """What the PLC selected at batch change, with the serials Level 4 issued for it.

    `seen` holds every serial already recorded for this GTIN before the job started
    (from the serial store), so a serial printed twice is caught across restarts too.
    """

    request: int  # the RecipeRequest counter value that selected it
    recipe: Recipe
    lot: str
    expiry: str  # YYMMDD
    issued: frozenset[str]
    seen: frozenset[str] = frozenset()
