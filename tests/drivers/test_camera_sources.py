"""Node-side camera sources: the shared-memory ring of the simulator and a folder of images."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drivers.camera import Camera, CaptureError, FolderCamera, SharedMemoryCamera
from drivers.errors import DriverError
from drivers.frame_ring import FrameRing

SHAPE = (48, 64)


@pytest.fixture
def ring() -> Iterator[FrameRing]:
    """A small ring the test writes frames into, as the simulator's camera does."""
    created = FrameRing.create(f"tn-cam-{uuid.uuid4().hex[:12]}", slots=8, shape=SHAPE)
    yield created
    created.close()
    created.unlink()


@pytest.fixture
async def camera(ring: FrameRing) -> AsyncIterator[SharedMemoryCamera]:
    """The node's camera on that ring."""
    source = SharedMemoryCamera(ring.name)
    yield source
    source.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of three images (grey, colour, 16-bit) and a file that is not one."""
    Image.fromarray(np.full(SHAPE, 10, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((*SHAPE, 3), (200, 100, 50), np.uint8)).save(tmp_path / "b.bmp")
    Image.fromarray(np.full(SHAPE, 0x3400, np.uint16)).save(tmp_path / "c.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def frame(value: int) -> np.ndarray:
    """A uniform test frame."""
    return np.full(SHAPE, value, np.uint8)


class TestContract:
    """What every camera source promises the runner."""

    @pytest.fixture(params=["shared_memory", "folder"])
    def source(self, request: pytest.FixtureRequest, ring: FrameRing, folder: Path) -> Iterator[Camera]:
        """Each implementation, ready to deliver the frame of tracking id 1."""
        if request.param == "folder":
            yield FolderCamera(folder)
            return
        ring.write(1, frame(77))
        shm = SharedMemoryCamera(ring.name)
        yield shm
        shm.close()

    async def test_delivers_a_mono_uint8_frame(self, source: Camera) -> None:
        """capture() returns a 2-D uint8 array."""
        image = await source.capture(1, timeout_s=1.0)
        assert image.ndim == 2 and image.dtype == np.uint8

    def test_capture_error_is_a_driver_error(self) -> None:
        """Callers that handle DriverError handle camera faults too."""
        assert issubclass(CaptureError, DriverError)


class TestSharedMemoryCamera:
    """Frames from the simulator's ring."""

    async def test_frame_already_there(self, ring: FrameRing, camera: SharedMemoryCamera) -> None:
        """A frame written before the capture comes back at once."""
        ring.write(3, frame(33))
        image = await camera.capture(3, timeout_s=0.1)
        np.testing.assert_array_equal(image, frame(33))

    async def test_waits_for_the_frame(self, ring: FrameRing, camera: SharedMemoryCamera) -> None:
        """A capture waits for the frame of its id, written after the trigger."""

        async def expose() -> None:
            await asyncio.sleep(0.02)
            ring.write(4, frame(44))

        writer = asyncio.create_task(expose())
        image = await camera.capture(4, timeout_s=1.0)
        await writer
        assert image[0, 0] == 44

    async def test_ignores_another_units_frame(self, ring: FrameRing, camera: SharedMemoryCamera) -> None:
        """The frame of another unit in the same slot is not taken for this one."""
        ring.write(5, frame(55))

        async def expose() -> None:
            await asyncio.sleep(0.02)
            ring.write(13, frame(13))

        writer = asyncio.create_task(expose())
        image = await camera.capture(13, timeout_s=1.0)
        await writer
        assert image[0, 0] == 13

    async def test_timeout_leaves_other_captures_alone(
        self, ring: FrameRing, camera: SharedMemoryCamera
    ) -> None:
        """One unit timing out does not break the capture of another unit still waiting for its frame."""

        async def expose() -> None:
            await asyncio.sleep(0.06)
            ring.write(3, frame(33))

        writer = asyncio.create_task(expose())
        waiting = asyncio.create_task(camera.capture(3, timeout_s=1.0))
        with pytest.raises(CaptureError):
            await camera.capture(2, timeout_s=0.02)
        image = await waiting
        await writer
        assert image[0, 0] == 33

    async def test_timeout(self, ring: FrameRing, camera: SharedMemoryCamera) -> None:
        """No frame in time raises CaptureError saying which id, how long, and what the slot holds."""
        ring.write(6, frame(6))
        with pytest.raises(CaptureError, match=r"tracking id 14 .* within 30 ms .*tracking id 6"):
            await camera.capture(14, timeout_s=0.03)

    async def test_ring_missing(self) -> None:
        """A ring that does not exist raises CaptureError naming it."""
        camera = SharedMemoryCamera("tn-cam-nothing-here")
        with pytest.raises(CaptureError, match="no frame ring 'tn-cam-nothing-here'"):
            await camera.capture(1, timeout_s=0.01)

    async def test_ring_created_later(self) -> None:
        """A camera started before the simulator attaches once the ring exists."""
        name = f"tn-cam-{uuid.uuid4().hex[:12]}"
        camera = SharedMemoryCamera(name)
        with pytest.raises(CaptureError):
            await camera.capture(1, timeout_s=0.01)
        late = FrameRing.create(name, slots=2, shape=SHAPE)
        try:
            late.write(1, frame(1))
            assert (await camera.capture(1, timeout_s=0.1))[0, 0] == 1
        finally:
            camera.close()
            late.close()
            late.unlink()

    async def test_ring_recreated(self) -> None:
        """After the camera process restarts with a new ring of the same name, captures resume."""
        name = f"tn-cam-{uuid.uuid4().hex[:12]}"
        camera = SharedMemoryCamera(name)
        first = FrameRing.create(name, slots=2, shape=SHAPE)
        first.write(1, frame(1))
        await camera.capture(1, timeout_s=0.1)
        first.close()
        first.unlink()
        with pytest.raises(CaptureError):
            await camera.capture(2, timeout_s=0.01)
        second = FrameRing.create(name, slots=2, shape=SHAPE)
        try:
            second.write(2, frame(2))
            assert (await camera.capture(2, timeout_s=0.1))[0, 0] == 2
        finally:
            camera.close()
            second.close()
            second.unlink()


class TestFolderCamera:
    """Offline replay of image files."""

    async def test_cycles_in_name_order(self, folder: Path) -> None:
        """Images come in file-name order, then start over; other files are skipped."""
        camera = FolderCamera(folder)
        firsts = [int((await camera.capture(i, timeout_s=1.0))[0, 0]) for i in range(4)]
        assert [p.name for p in camera.files] == ["a.png", "b.bmp", "c.png"]
        assert firsts[0] == firsts[3] == 10

    async def test_converts_to_grey(self, folder: Path) -> None:
        """Colour becomes luma (0.299 R + 0.587 G + 0.114 B) and 16-bit keeps its top byte."""
        camera = FolderCamera(folder)
        await camera.capture(1, timeout_s=1.0)
        colour = await camera.capture(2, timeout_s=1.0)
        deep = await camera.capture(3, timeout_s=1.0)
        assert colour.shape == SHAPE
        assert abs(int(colour[0, 0]) - round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 1
        assert deep[0, 0] == 0x34

    async def test_transparent_is_paper(self, tmp_path: Path) -> None:
        """Fully transparent pixels read as white, not as the black under them."""
        rgba = np.zeros((*SHAPE, 4), np.uint8)
        Image.fromarray(rgba).save(tmp_path / "clear.png")
        image = await FolderCamera(tmp_path).capture(1, timeout_s=1.0)
        assert image.min() == 255

    async def test_unreadable_file(self, tmp_path: Path) -> None:
        """A broken image file raises CaptureError naming the file."""
        (tmp_path / "broken.png").write_bytes(b"not a png at all")
        with pytest.raises(CaptureError, match=r"broken\.png"):
            await FolderCamera(tmp_path).capture(1, timeout_s=1.0)

    def test_missing_folder(self, tmp_path: Path) -> None:
        """A folder that does not exist is refused."""
        with pytest.raises(CaptureError, match="does not exist"):
            FolderCamera(tmp_path / "nope")

    def test_folder_without_images(self, tmp_path: Path) -> None:
        """A folder with no image file is refused, listing the types looked for."""
        (tmp_path / "readme.md").write_text("x")
        with pytest.raises(CaptureError, match=r"holds no images \(.bmp"):
            FolderCamera(tmp_path)
