"""The shared-memory frame ring: layout, slot ownership, and no torn frame under a concurrent writer."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from multiprocessing import shared_memory

import numpy as np
import numpy.typing as npt
import pytest

from drivers.frame_ring import FrameRing

SHAPE = (1024, 1280)


def pattern(tracking_id: int, shape: tuple[int, int] = SHAPE) -> npt.NDArray[np.uint8]:
    """A frame whose every pixel encodes its tracking id, so a mix of two frames shows."""
    return np.full(shape, tracking_id % 251, np.uint8)


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    """A fresh 4-slot ring of full frames, removed afterwards."""
    created = FrameRing.create(f"tn-test-{uuid.uuid4().hex[:12]}", slots=4, shape=SHAPE)
    yield created
    created.close()
    created.unlink()


# The writer process's program. It runs through exec() because pytest imports this module by
# path, so a function defined here is not always importable in a spawned child.
WRITER = """
import numpy as np
from drivers.frame_ring import FrameRing

ring = FrameRing.attach(name)
try:
    for tracking_id in range(1, count + 1):
        ring.write(tracking_id, np.full(ring.shape, tracking_id % 251, np.uint8))
finally:
    ring.close()
"""


class TestLayout:
    """Creating and attaching."""

    def test_attach_reads_the_header(self, ring: FrameRing) -> None:
        """An attached ring knows slots and shape from the segment's header."""
        other = FrameRing.attach(ring.name)
        try:
            assert (other.slots, other.shape) == (4, SHAPE)
        finally:
            other.close()

    def test_new_ring_is_empty(self, ring: FrameRing) -> None:
        """No slot holds a frame before the first write."""
        assert [ring.read(i) for i in range(4)] == [None] * 4
        assert ring.held_id(0) is None

    def test_attach_missing(self) -> None:
        """Attaching a ring that does not exist raises FileNotFoundError."""
        with pytest.raises(FileNotFoundError):
            FrameRing.attach(f"tn-missing-{uuid.uuid4().hex[:12]}")

    def test_attach_foreign_segment(self) -> None:
        """A shared-memory segment that is not a ring is refused."""
        foreign = shared_memory.SharedMemory(f"tn-foreign-{uuid.uuid4().hex[:12]}", create=True, size=4096)
        try:
            with pytest.raises(ValueError, match="not a frame ring"):
                FrameRing.attach(foreign.name)
        finally:
            foreign.close()
            foreign.unlink()

    def test_create_existing(self, ring: FrameRing) -> None:
        """Creating a ring under a taken name raises FileExistsError."""
        with pytest.raises(FileExistsError):
            FrameRing.create(ring.name, slots=2, shape=(4, 4))

    @pytest.mark.parametrize(("slots", "shape"), [(0, (4, 4)), (2, (0, 4)), (2, (4,))])
    def test_create_bad_geometry(self, slots: int, shape: tuple[int, int]) -> None:
        """Zero slots or an empty or non-2-D frame is refused."""
        with pytest.raises(ValueError, match="slots >= 1"):
            FrameRing.create(f"tn-bad-{uuid.uuid4().hex[:12]}", slots=slots, shape=shape)


class TestSlots:
    """Which frame a slot holds."""

    def test_read_back(self, ring: FrameRing) -> None:
        """A written frame reads back equal, as a copy that later writes do not change."""
        frame = np.random.default_rng(0).integers(0, 256, SHAPE, dtype=np.uint8)
        ring.write(9, frame)
        copy = ring.read(9)
        ring.write(13, pattern(13))  # same slot (13 % 4 == 9 % 4)
        assert copy is not None
        np.testing.assert_array_equal(copy, frame)

    def test_other_id_in_slot(self, ring: FrameRing) -> None:
        """Asking for an id whose slot holds another unit's frame gives None."""
        ring.write(5, pattern(5))
        assert ring.read(1) is None
        assert ring.read(9) is None
        assert ring.held_id(9) == 5

    def test_overwritten_by_lap(self, ring: FrameRing) -> None:
        """A frame is gone once the ring has wrapped onto its slot."""
        for tracking_id in range(1, 10):
            ring.write(tracking_id, pattern(tracking_id))
        assert ring.read(1) is None
        frame = ring.read(9)
        assert frame is not None and frame[0, 0] == 9

    def test_write_checks_the_frame(self, ring: FrameRing) -> None:
        """A frame of the wrong shape or type, or a negative id, is refused."""
        with pytest.raises(ValueError, match="ring holds uint8"):
            ring.write(1, np.zeros((10, 10), np.uint8))
        with pytest.raises(ValueError, match="ring holds uint8"):
            ring.write(1, np.zeros(SHAPE, np.uint16))
        with pytest.raises(ValueError, match="negative"):
            ring.write(-1, pattern(1))


class TestConcurrentWriter:
    """A writer in another process while this one reads."""

    def test_never_returns_a_torn_frame(self) -> None:
        """Every frame read while a spawned process rewrites the two busiest slots is whole."""
        small = FrameRing.create(f"tn-race-{uuid.uuid4().hex[:12]}", slots=2, shape=SHAPE)
        count = 3000
        spawn = multiprocessing.get_context("spawn")
        writer = spawn.Process(target=exec, args=(WRITER, {"name": small.name, "count": count}))
        try:
            writer.start()
            whole = 0
            wanted = 1
            deadline = time.monotonic() + 30
            # Chase the writer: always ask for the two most recent ids, the slots it is rewriting.
            while writer.is_alive() and time.monotonic() < deadline:
                held = [small.held_id(slot) or 0 for slot in (0, 1)]
                wanted = max(held)
                for tracking_id in (wanted, wanted + 1):
                    frame = small.read(tracking_id)
                    if frame is not None:
                        assert frame.min() == frame.max() == tracking_id % 251, f"torn frame {tracking_id}"
                        whole += 1
            writer.join(10)
            assert writer.exitcode == 0
            assert whole > 50  # the reads did overlap the writes
            last = small.read(count)
            assert last is not None and last[0, 0] == count % 251
        finally:
            if writer.is_alive():
                writer.kill()
            small.close()
            small.unlink()
