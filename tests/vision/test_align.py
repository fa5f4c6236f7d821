"""Scoring a read against the truth: alignment and edit distance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vision.training.align import align, edit_distance

TEXT = st.text(alphabet="AB01-", max_size=12)


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


class TestAlign:
    """The alignment readers are scored with."""

    @given(TEXT, TEXT)
    def test_distance_is_levenshtein(self, read: str, truth: str) -> None:
        """The alignment's cost is the textbook edit distance."""
        assert edit_distance(read, truth) == _levenshtein(read, truth)

    @given(TEXT, TEXT)
    def test_every_character_is_paired_once(self, read: str, truth: str) -> None:
        """Each read and each true character appears once, in order."""
        pairs = align(read, truth)
        assert [r for r, _ in pairs if r is not None] == list(range(len(read)))
        assert [t for _, t in pairs if t is not None] == list(range(len(truth)))

    def test_a_missed_character(self) -> None:
        """A character not read is paired with nothing."""
        assert align("AC", "ABC") == [(0, 0), (None, 1), (1, 2)]
