"""Camera sources on the node side, behind one small protocol: the frame of a unit, by tracking id.

On a line the camera is hardware-triggered by the same photo-eye as the PLC, so each frame carries
the trigger's id. Sources here: the simulator's shared-memory ring and a folder of image files for
offline replay. No real GigE Vision / USB3 Vision camera library is wired in yet.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from drivers.errors import DriverError
from drivers.frame_ring import FrameRing

__all__ = ["Camera", "CaptureError", "FolderCamera", "SharedMemoryCamera"]

IMAGE_SUFFIXES = frozenset({".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".pgm"})
"""File types FolderCamera replays (case-insensitive)."""

# How often SharedMemoryCamera looks for the frame. asyncio on Linux sleeps in whole milliseconds
# (epoll), so this polls about once per ms: a frame is picked up within ~1 ms of being written.
_POLL_S = 0.0005


class CaptureError(DriverError):
    """No frame for a unit: the camera timed out, its source is gone, or the image is unreadable."""


class Camera(Protocol):
    """A source of unit frames."""

    async def capture(self, tracking_id: int, *, timeout_s: float) -> npt.NDArray[np.uint8]:
        """The mono frame of the unit ``tracking_id``, within ``timeout_s``; raises CaptureError."""
        ...


class SharedMemoryCamera:
    """Frames from a FrameRing that a camera process (the simulator's) writes.

    The ring is attached at the first capture, and again after a failed attach or a timeout, so
    the node may start before the camera process and survives its restart.
    """

    def __init__(self, ring_name: str) -> None:
        """Read from the ring named ``ring_name``."""
        self.ring_name = ring_name
        self._ring: FrameRing | None = None

    async def capture(self, tracking_id: int, *, timeout_s: float) -> npt.NDArray[np.uint8]:
        """Wait until the frame of ``tracking_id`` is in the ring and return a copy of it.

        Raises
        ------
        CaptureError
            If the ring does not exist, or the frame does not arrive within ``timeout_s``.
        """
        ring = self._attached()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            frame = ring.read(tracking_id)
            if frame is not None:
                return frame
            if loop.time() >= deadline:
                held = ring.held_id(tracking_id)
                now = "an empty slot" if held is None else f"the frame of tracking id {held}"
                # Attach afresh next time: if the camera process restarted, it made a new ring.
                # Only drop our reference: other captures may still be polling this ring, and
                # the mapping is released when the last of them lets go of it.
                if self._ring is ring:
                    self._ring = None
                raise CaptureError(
                    f"no frame for tracking id {tracking_id} in ring {self.ring_name!r} within "
                    f"{timeout_s * 1000:.0f} ms (its slot holds {now})"
                )
            await asyncio.sleep(_POLL_S)

    def close(self) -> None:
        """Detach from the ring (the camera process owns and removes it)."""
        if self._ring is not None:
            self._ring.close()
            self._ring = None

    def _attached(self) -> FrameRing:
        if self._ring is None:
            try:
                self._ring = FrameRing.attach(self.ring_name)
            except FileNotFoundError:
                raise CaptureError(
                    f"no frame ring {self.ring_name!r}: is the camera (simulator) process running?"
                ) from None
            except ValueError as error:
                raise CaptureError(str(error)) from None
        return self._ring


class FolderCamera:
    """Replays the image files of a folder in name order, one per capture, starting over at the end.

    Colour images are converted to grey (ITU-R 601 luma), transparent pixels count as white paper,
    and 16-bit images keep their top eight bits.
    """

    def __init__(self, folder: Path | str) -> None:
        """Replay the images in ``folder`` (not its subfolders).

        Raises
        ------
        CaptureError
            If the folder does not exist or holds no image file.
        """
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CaptureError(f"image folder {self.folder} does not exist")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        """The images replayed, in order."""
        if not self.files:
            raise CaptureError(
                f"image folder {self.folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self._next = itertools.cycle(self.files)

    def close(self) -> None:
        """Nothing to release: files are opened per capture."""

    async def capture(self, tracking_id: int, *, timeout_s: float) -> npt.NDArray[np.uint8]:
        """The next image of the folder as a grey frame (``tracking_id`` only names it in errors).

        Raises
        ------
        CaptureError
            If the file cannot be read as an image, or reading takes longer than ``timeout_s``.
        """
        path = next(self._next)
        try:
            # Decoding a large file takes milliseconds: keep it off the event loop.
            return await asyncio.wait_for(asyncio.to_thread(_load_grey, path), timeout_s)
        except TimeoutError:
            raise CaptureError(
                f"reading {path} for tracking id {tracking_id} took over {timeout_s * 1000:.0f} ms"
            ) from None
        except (OSError, UnidentifiedImageError) as error:
            raise CaptureError(f"cannot read {path} for tracking id {tracking_id}: {error}") from None


def _load_grey(path: Path) -> npt.NDArray[np.uint8]:
    with Image.open(path) as image:
        if image.mode.startswith("I;16"):
            # convert("L") would clip 16-bit pixels at 255; keep the top eight bits instead.
            return (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            paper = Image.new("RGBA", image.size, "white")
            return np.array(Image.alpha_composite(paper, image.convert("RGBA")).convert("L"), dtype=np.uint8)
        return np.array(image.convert("L"), dtype=np.uint8)
