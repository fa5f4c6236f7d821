"""Compile every numba kernel once, ahead of the line: `python -m vision.precompile`.

The kernels are cached on disk (``cache=True``), but the first process after an install or an
update compiles them, and compiling holds the GIL for tens of seconds: done at the first batch
change, it would stall the node's event loop and the recipe's acknowledgement. The set-up
(`scripts/bootstrap.sh`) and the test target run this instead, which inspects one synthetic unit
of every embedded recipe (``vision.pipeline.warm_up``), so every pipeline's kernels, grading and
the completeness check are compiled and cached.
"""

from __future__ import annotations

import time

from node.job import Job
from recipes.loader import RecipeBook
from vision.pipeline import warm_up

__all__ = ["precompile"]


def precompile() -> dict[int, float]:
    """Warm every embedded recipe's pipeline up; seconds taken per recipe number."""
    taken = {}
    book = RecipeBook.embedded()
    for number, recipe in sorted(book.recipes.items()):
        started = time.perf_counter()
        warm_up(Job(request=0, recipe=recipe, lot="WARMUP", expiry="300101", issued=frozenset()))
        taken[number] = time.perf_counter() - started
    return taken


if __name__ == "__main__":
    times = precompile()
    print(
        "numba kernels compiled and cached: " + ", ".join(f"recipe {n} {s:.1f} s" for n, s in times.items())
    )
