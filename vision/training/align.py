"""Read text against true text, character by character: for scoring readers (training, benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["align", "edit_distance"]


def align(read: Sequence[str], truth: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Levenshtein alignment: pairs of (read index, truth index), None where one side has nothing."""
    rows, cols = len(read) + 1, len(truth) + 1
    cost = np.zeros((rows, cols), np.int32)
    cost[:, 0], cost[0, :] = np.arange(rows), np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(
                cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (read[i - 1] != truth[j - 1])
            )
    pairs: list[tuple[int | None, int | None]] = []
    i, j = len(read), len(truth)
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (read[i - 1] != truth[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def edit_distance(read: Sequence[str], truth: Sequence[str]) -> int:
    """Characters read wrong, missed or extra: the Levenshtein distance of the alignment."""
    return sum(r is None or t is None or read[r] != truth[t] for r, t in align(read, truth))
