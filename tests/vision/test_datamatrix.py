"""DataMatrix reading: zxing-cpp first, libdmtx as a bounded fallback that keeps FNC1."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp

from vision.datamatrix import CodeRead, _read_with_libdmtx, read_datamatrix

GS1_CONTENT = "(01)09501101020917(17)271231(10)LOT42(21)ABC123"
GS1_TEXT = "01095011010209171727123110LOT42\x1d21ABC123"
MODULE_PX = 4
FRAME = (480, 640)
CENTRE = (320.0, 240.0)


def symbol(content: str = GS1_CONTENT, *, gs1: bool = True) -> npt.NDArray[np.uint8]:
    """The symbol at one pixel per module, no quiet zone (255 light, 0 dark)."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.DataMatrix, gs1=gs1, forceSquare=True)
    return np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False))


def frame(
    modules: npt.NDArray[np.uint8], *, angle: float = 0.0, light_on_dark: bool = False
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """A gray, slightly blurred and noisy camera-like frame holding the symbol rotated by ``angle``.

    Returns the frame and the symbol's true corners (TL, TR, BR, BL) in frame pixels.
    """
    side = modules.shape[0] * MODULE_PX
    big = cv2.resize(modules, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    ink = big * (150 / 255) + 40  # dark 40, light 190
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    matrix[:, 2] += np.array(CENTRE) - side / 2
    height, width = FRAME
    mask = cv2.warpAffine(np.ones_like(ink), matrix, (width, height))
    warped = cv2.warpAffine(ink, matrix, (width, height))
    image = 190 * (1 - mask) + warped * mask
    image = cv2.GaussianBlur(image, (0, 0), 0.8) + np.random.default_rng(7).normal(0, 4, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if light_on_dark:
        image = 255 - image
    corners = np.array([[0, 0, 1], [side, 0, 1], [side, side, 1], [0, side, 1]], np.float64) @ matrix.T
    return np.ascontiguousarray(image), corners


def corner_error(read: CodeRead, truth: npt.NDArray[np.float64]) -> float:
    """Largest distance in pixels between reported and true corners, in order."""
    return max(math.dist(found, expected) for found, expected in zip(read.corners, truth, strict=True))


class TestReadDatamatrix:
    """read_datamatrix on camera-like frames."""

    def test_gs1_symbol(self) -> None:
        """A GS1 DataMatrix reads as ]d2 with GS separators and no leading FNC1."""
        image, truth = frame(symbol())
        (read,) = read_datamatrix(image)
        assert read.text == GS1_TEXT
        assert read.raw == GS1_TEXT.encode("ascii")
        assert read.symbology_identifier == "]d2" and read.is_gs1
        assert read.decoder == "zxing-cpp"
        assert corner_error(read, truth) < 2 * MODULE_PX

    def test_rotated_30_degrees(self) -> None:
        """A symbol turned by 30 degrees reads, its corners follow the symbol's own orientation."""
        image, truth = frame(symbol(), angle=30)
        (read,) = read_datamatrix(image)
        assert read.text == GS1_TEXT
        assert corner_error(read, truth) < 2 * MODULE_PX

    def test_upside_down(self) -> None:
        """At 180 degrees the reported top-left is the symbol's, now at the bottom right of the frame."""
        image, truth = frame(symbol(), angle=180)
        (read,) = read_datamatrix(image)
        assert read.corners[0][0] > CENTRE[0] and read.corners[0][1] > CENTRE[1]
        assert corner_error(read, truth) < 2 * MODULE_PX

    def test_light_on_dark(self) -> None:
        """An inverted (laser-marked style) symbol reads the same."""
        image, _ = frame(symbol(), angle=15, light_on_dark=True)
        (read,) = read_datamatrix(image)
        assert read.text == GS1_TEXT and read.is_gs1

    def test_plain_datamatrix_is_not_gs1(self) -> None:
        """Without FNC1 in first position the identifier is ]d1."""
        image, _ = frame(symbol("HELLO 123", gs1=False))
        (read,) = read_datamatrix(image)
        assert (read.text, read.symbology_identifier, read.is_gs1) == ("HELLO 123", "]d1", False)

    def test_empty_frame_costs_at_most_the_fallback_budget(self) -> None:
        """No symbol: an empty list, with libdmtx stopped by its timeout (it takes seconds unbounded)."""
        image = np.full((1024, 1280), 180, np.uint8)
        image[100:900:40, 100:1200] = 60  # stripes give libdmtx edges to chase
        start = time.perf_counter()
        assert read_datamatrix(image, fallback_timeout_ms=40) == []
        assert time.perf_counter() - start < 0.5

    @pytest.mark.parametrize(
        ("image", "message"),
        [
            (np.zeros((10, 10, 3), np.uint8), r"shape \(10, 10, 3\), expected 2-D"),
            (np.zeros((10, 10), np.float32), "dtype float32, expected uint8"),
            (np.zeros((10, 20), np.uint8)[:, ::2], "not C-contiguous"),
            (np.zeros((0, 10), np.uint8), "non-empty"),
            ([[0, 1], [1, 0]], "expected a numpy ndarray"),
        ],
    )
    def test_bad_image_is_refused(self, image: npt.NDArray[np.uint8], message: str) -> None:
        """Wrong shape, dtype, layout or type raises ValueError saying what is wrong."""
        with pytest.raises(ValueError, match=message):
            read_datamatrix(image)

    def test_bad_timeout_is_refused(self) -> None:
        """The fallback budget must be positive."""
        with pytest.raises(ValueError, match="fallback_timeout_ms is 0"):
            read_datamatrix(np.zeros((10, 10), np.uint8), fallback_timeout_ms=0)


class TestLibdmtxFallback:
    """The libdmtx path on its own, as read_datamatrix uses it when zxing-cpp finds nothing."""

    def test_keeps_fnc1(self) -> None:
        """libdmtx reports ]d2 and GS separators, exactly as zxing-cpp does."""
        image, truth = frame(symbol(), angle=30)
        (read,) = _read_with_libdmtx(image, timeout_ms=2000)
        assert read.text == GS1_TEXT and read.raw == GS1_TEXT.encode("ascii")
        assert read.symbology_identifier == "]d2" and read.decoder == "libdmtx"
        assert corner_error(read, truth) < 2 * MODULE_PX

    def test_same_corners_as_zxing(self) -> None:
        """Both decoders name the same corners in the same order."""
        image, _ = frame(symbol(), angle=120)
        (lib,) = _read_with_libdmtx(image, timeout_ms=2000)
        (zx,) = read_datamatrix(image)
        assert max(math.dist(a, b) for a, b in zip(lib.corners, zx.corners, strict=True)) < 2 * MODULE_PX

    def test_light_on_dark(self) -> None:
        """libdmtx finds inverted symbols too."""
        image, _ = frame(symbol(), angle=10, light_on_dark=True)
        (read,) = _read_with_libdmtx(image, timeout_ms=2000)
        assert read.text == GS1_TEXT

    def test_plain_datamatrix(self) -> None:
        """A symbol without leading FNC1 is ]d1, text unchanged."""
        image, _ = frame(symbol("HELLO 123", gs1=False))
        (read,) = _read_with_libdmtx(image, timeout_ms=2000)
        assert (read.text, read.symbology_identifier) == ("HELLO 123", "]d1")

    def test_nothing_found(self) -> None:
        """A blank frame gives an empty list."""
        assert _read_with_libdmtx(np.full((200, 200), 128, np.uint8), timeout_ms=50) == []
