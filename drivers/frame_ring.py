"""A ring of camera frames in shared memory: one writer process (the camera) and readers (the node).

Each slot carries a sequence counter that is odd while the writer fills it (a seqlock), so a
reader never returns a frame that was torn by a concurrent write: it retries or reports nothing.
"""

from __future__ import annotations

import struct
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import numba
import numpy as np
import numpy.typing as npt
from numba.core import types
from numba.extending import intrinsic

__all__ = ["FrameRing"]

_MAGIC = b"TNFRAME1"
_HEADER = struct.Struct("<8sIII")  # magic, slots, height, width
_ALIGN = 64  # a cache line: slot metadata and frames never share one
# A reader spins this long at most on a slot the writer keeps rewriting (a frame copy takes well
# under a millisecond), then reports the frame as not there rather than block its event loop.
_READ_RETRY_S = 0.005


def _aligned(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _attach_untracked(name: str) -> shared_memory.SharedMemory:
    """Open an existing segment without handing it to this process's resource tracker."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)
    # Before 3.13 an attached segment is registered like a created one, so the tracker unlinks it
    # when this process exits, from under the process that created it (CPython gh-82300). The swap
    # below is not thread-safe; readers attach once, at start-up, when nothing else registers.
    register = resource_tracker.register
    resource_tracker.register = lambda name, rtype: None
    try:
        return shared_memory.SharedMemory(name)
    finally:
        resource_tracker.register = register


def _buffer(memory: shared_memory.SharedMemory) -> memoryview:
    buffer = memory.buf
    if buffer is None:  # only after close()
        raise ValueError(f"frame ring {memory.name!r} is closed")
    return buffer


@intrinsic
def _fence_instruction(typingctx: object) -> tuple[object, object]:  # pragma: no cover - compiled
    def codegen(context: object, builder: object, signature: object, args: object) -> object:
        builder.fence("seq_cst")  # type: ignore[attr-defined]
        return context.get_dummy_value()  # type: ignore[attr-defined]

    return types.none(), codegen


# A seqlock needs the sequence stores and the frame copy to become visible in program order. x86-64
# keeps stores in order anyway, but ARM (aarch64 line PCs) does not, and numpy offers no barrier:
# this is one full memory fence (lock or on x86-64, dmb ish on aarch64), about 0.2 us a call.
@numba.njit(cache=True)
def _fence() -> None:  # pragma: no cover - compiled
    _fence_instruction()  # type: ignore[call-arg]  # numba supplies the typing context


class FrameRing:
    """Shared-memory ring of mono uint8 frames; the frame of tracking id ``t`` lives in slot ``t % slots``.

    Single writer: one process writes, any number read. Layout: a header (magic, slots, height,
    width), then per slot a (sequence, tracking id) pair of int64, then the frames.
    """

    def __init__(
        self, memory: shared_memory.SharedMemory, *, slots: int, shape: tuple[int, int], owner: bool
    ):
        """Wrap an open segment; use :meth:`create` or :meth:`attach`."""
        # Compile (or load from numba's cache) the fence now: the first call costs ~0.5 s of GIL,
        # which must not land on the first frame of a batch.
        _fence()
        self._memory = memory
        self._owner = owner
        self.slots = slots
        """Number of frames the ring holds."""
        self.shape = shape
        """(height, width) of every frame."""
        meta_offset = _aligned(_HEADER.size)
        frames_offset = meta_offset + _aligned(slots * 16)
        # Column 0: sequence (even = stable, odd = being written); column 1: tracking id (-1 = empty).
        self._meta: npt.NDArray[np.int64] = np.ndarray((slots, 2), np.int64, _buffer(memory), meta_offset)
        self._frames: npt.NDArray[np.uint8] = np.ndarray(
            (slots, *shape), np.uint8, _buffer(memory), frames_offset
        )

    @property
    def name(self) -> str:
        """The shared-memory segment's name."""
        return self._memory.name

    @classmethod
    def create(cls, name: str, *, slots: int, shape: tuple[int, int]) -> FrameRing:
        """Create a new ring named ``name`` with ``slots`` empty frames of ``shape`` (height, width).

        Raises
        ------
        FileExistsError
            If a segment of that name exists (a ring left over from a crashed run must be unlinked).
        ValueError
            If ``slots`` or a dimension is not positive.
        """
        if slots < 1 or len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"a ring needs slots >= 1 and a (height, width) shape, got {slots} and {shape}")
        size = _aligned(_HEADER.size) + _aligned(slots * 16) + slots * shape[0] * shape[1]
        memory = shared_memory.SharedMemory(name, create=True, size=size)
        _HEADER.pack_into(_buffer(memory), 0, _MAGIC, slots, shape[0], shape[1])
        ring = cls(memory, slots=slots, shape=(shape[0], shape[1]), owner=True)
        ring._meta[:, 0] = 0
        ring._meta[:, 1] = -1
        return ring

    @classmethod
    def attach(cls, name: str) -> FrameRing:
        """Open the existing ring ``name``; slots and shape come from its header.

        Raises
        ------
        FileNotFoundError
            If there is no segment of that name.
        ValueError
            If the segment is not a frame ring.
        """
        memory = _attach_untracked(name)
        magic, slots, height, width = _HEADER.unpack_from(_buffer(memory), 0)
        if magic != _MAGIC:
            memory.close()
            raise ValueError(f"shared memory {name!r} is not a frame ring (magic {magic!r})")
        return cls(memory, slots=slots, shape=(height, width), owner=False)

    def write(self, tracking_id: int, frame: npt.NDArray[np.uint8]) -> None:
        """Store the frame of ``tracking_id`` in its slot, replacing whatever was there.

        Raises
        ------
        ValueError
            If ``tracking_id`` is negative or ``frame`` is not a uint8 array of the ring's shape.
        """
        if tracking_id < 0:
            raise ValueError(f"tracking id {tracking_id} is negative")
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame is {frame.dtype} {frame.shape}, the ring holds uint8 {self.shape}")
        slot = tracking_id % self.slots
        meta = self._meta[slot]
        sequence = int(meta[0])
        # Odd while writing: a reader that sees an odd or changed sequence knows the frame is torn.
        meta[0] = sequence + 1
        _fence()
        meta[1] = tracking_id
        self._frames[slot] = frame
        _fence()
        meta[0] = sequence + 2

    def read(self, tracking_id: int) -> npt.NDArray[np.uint8] | None:
        """A copy of the frame of ``tracking_id``, or None if its slot holds no frame of that id."""
        slot = tracking_id % self.slots
        meta = self._meta[slot]
        give_up = time.monotonic() + _READ_RETRY_S
        while True:
            before = int(meta[0])
            _fence()
            if before % 2 == 0:
                held = int(meta[1])
                frame = self._frames[slot].copy() if held == tracking_id else None
                _fence()
                if int(meta[0]) == before:
                    return frame
            if time.monotonic() > give_up:
                return None

    def held_id(self, tracking_id: int) -> int | None:
        """The tracking id whose frame now sits in ``tracking_id``'s slot (None if the slot is empty)."""
        held = int(self._meta[tracking_id % self.slots, 1])
        return None if held < 0 else held

    def close(self) -> None:
        """Detach from the segment; the ring lives on for other processes until unlinked."""
        # The numpy views export the buffer; they must go before the segment can close.
        del self._meta, self._frames
        self._memory.close()

    def unlink(self) -> None:
        """Remove the segment from the system (the creator does this at shutdown)."""
        if not self._owner:
            # unlink() unregisters the segment from the resource tracker; attach() already did.
            resource_tracker.register(self._memory._name, "shared_memory")  # type: ignore[attr-defined]
        self._memory.unlink()
