"""Read text against true text, character by character: for scoring readers (training, benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["align", "edit_distance"]


def align(
    read: Sequence[str], truth: Sequence[str], pair_cost: Callable[[int, int], float] | None = None
) -> list[tuple[int | None, int | None]]:
    """Levenshtein alignment: pairs of (read index, truth index), None where one side has nothing.

    ``pair_cost(i, j)`` prices pairing read ``i`` with truth ``j`` (default: 0 when they are the same
    character, else 1); a missed or extra character costs 1. A cost that adds less than 1 in all
    to the mismatch only breaks ties between alignments of the least edits.
    """

    def mismatch(i: int, j: int) -> float:
        return float(read[i] != truth[j])

    price = pair_cost or mismatch
    rows, cols = len(read) + 1, len(truth) + 1
    cost = np.zeros((rows, cols))
    cost[:, 0], cost[0, :] = np.arange(rows), np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + price(i - 1, j - 1))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = len(read), len(truth)
    while i or j:
        if i and j and math.isclose(cost[i, j], cost[i - 1, j - 1] + price(i - 1, j - 1)):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and math.isclose(cost[i, j], cost[i - 1, j] + 1):
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def edit_distance(read: Sequence[str], truth: Sequence[str]) -> int:
    """Characters read wrong, missed or extra: the Levenshtein distance of the alignment."""
    return sum(r is None or t is None or read[r] != truth[t] for r, t in align(read, truth))
