"""Connected-component labelling against OpenCV, the reference implementation."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vision.components import label_components

Mask = npt.NDArray[np.uint8]

masks = st.integers(1, 48).flatmap(
    lambda h: st.integers(1, 48).flatmap(
        lambda w: arrays(np.uint8, (h, w), elements=st.sampled_from([0, 0, 1, 255]))
    )
)


def canonical(
    labels: npt.NDArray[np.int32], stats: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int64], list[tuple[int, ...]]]:
    """Labels renumbered by the raster order of each component's first pixel, and their stats rows."""
    flat = labels.ravel()
    present, first = np.unique(flat, return_index=True)
    order = [label for _, label in sorted(zip(first, present, strict=True)) if label != 0]
    renumber = np.zeros(int(labels.max()) + 1, np.int64)
    for new, label in enumerate(order, start=1):
        renumber[label] = new
    return renumber[labels], [tuple(int(v) for v in stats[label]) for label in order]


class TestAgainstOpenCV:
    """Same partition into 8-connected components and the same box and area for each."""

    @settings(max_examples=150, deadline=None)
    @given(masks)
    def test_same_components(self, mask: Mask) -> None:
        """Labels and stats equal OpenCV's up to numbering; the ground's area is counted."""
        labels, stats = label_components(mask)
        count, cv_labels, cv_stats, _ = cv2.connectedComponentsWithStats(
            mask, connectivity=8, ltype=cv2.CV_32S
        )
        ours, ours_stats = canonical(labels, stats)
        theirs, theirs_stats = canonical(np.asarray(cv_labels, np.int32), np.asarray(cv_stats, np.int32))
        assert stats.shape == (count, 5)
        assert np.array_equal(ours, theirs)
        assert ours_stats == theirs_stats
        assert stats[0, 4] == np.count_nonzero(mask == 0)

    @settings(max_examples=50, deadline=None)
    @given(masks)
    def test_raster_order(self, mask: Mask) -> None:
        """Components are numbered in the raster order of their first pixel."""
        labels, _ = label_components(mask)
        flat = labels.ravel()
        firsts = [int(np.flatnonzero(flat == label)[0]) for label in range(1, int(labels.max()) + 1)]
        assert firsts == sorted(firsts)

    def test_diagonal_touch_is_connected(self) -> None:
        """Pixels meeting at a corner belong to one component (8-connectivity)."""
        mask = np.eye(5, dtype=np.uint8)[::-1].copy()
        labels, stats = label_components(mask)
        assert stats.shape[0] == 2 and stats[1].tolist() == [0, 0, 5, 5, 5]
        assert set(np.unique(labels)) == {0, 1}


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    @pytest.mark.parametrize(
        "mask", [np.zeros((3, 3), bool), np.zeros((3,), np.uint8), np.zeros((0, 3), np.uint8)]
    )
    def test_mask(self, mask: npt.NDArray[np.generic]) -> None:
        """Not a non-empty 2-D uint8 mask."""
        with pytest.raises(ValueError, match="mask"):
            label_components(mask)  # type: ignore[arg-type]
