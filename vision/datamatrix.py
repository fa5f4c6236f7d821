"""Read DataMatrix symbols from a grayscale frame: zxing-cpp first, libdmtx as a bounded second opinion.

Both decoders release the GIL while they work, so the node can run this stage in a thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from vision import _libdmtx
from vision._libdmtx import Corners

__all__ = ["CodeRead", "Corners", "Region", "read_datamatrix"]

_GS1_IDENTIFIERS = frozenset({"]d2", "]d5"})
_DATAMATRIX = zxingcpp.BarcodeFormats(zxingcpp.DataMatrix)


@dataclass(frozen=True, slots=True)
class CodeRead:
    """One decoded DataMatrix symbol."""

    text: str
    """Plain content: FNC1 separators as GS (0x1D), no HRI brackets; a leading FNC1 is not included."""
    raw: bytes
    """The decoded bytes (same convention as ``text`` for FNC1)."""
    symbology_identifier: str
    """ISO/IEC 15424 identifier, e.g. ``]d2`` for GS1 DataMatrix (FNC1 first), ``]d1`` otherwise."""
    corners: Corners
    """Top-left, top-right, bottom-right, bottom-left of the symbol in its own orientation, image pixels."""
    decoder: str
    """Which library read it: ``"zxing-cpp"`` or ``"libdmtx"``."""

    @property
    def is_gs1(self) -> bool:
        """Whether the symbol is a GS1 DataMatrix (FNC1 in first position)."""
        return self.symbology_identifier in _GS1_IDENTIFIERS


Region = tuple[int, int, int, int]
"""A search region: x, y, width, height in image pixels."""


def read_datamatrix(
    image: npt.NDArray[np.uint8],
    *,
    region: Region | None = None,
    any_angle: bool = True,
    fallback: bool = True,
    fallback_timeout_ms: int = 60,
) -> list[CodeRead]:
    """Decode every DataMatrix symbol in a grayscale frame.

    Parameters
    ----------
    image : (H, W) uint8 ndarray, C-contiguous
        The frame, dark-on-light or light-on-dark.
    region : (x, y, width, height), optional
        Search only here (a recipe's code region); corners still come back in frame pixels.
        A region reaching past the frame is clipped to it.
    any_angle : bool
        Add a last zxing-cpp pass that searches at any angle (slow on noisy frames). A line
        whose cartons are guided to within a few degrees does not need it.
    fallback : bool
        Ask libdmtx when zxing-cpp finds nothing.
    fallback_timeout_ms : int
        Time libdmtx may spend searching, in milliseconds (> 0); it returns at most one symbol.

    Returns
    -------
    list of CodeRead
        Empty when no symbol was decoded.

    Raises
    ------
    ValueError
        If ``image`` is not a 2-D, C-contiguous uint8 array, ``region`` is empty or outside the
        frame, or ``fallback_timeout_ms`` is not positive.
    """
    _check_image(image)
    if fallback_timeout_ms <= 0:
        raise ValueError(f"fallback_timeout_ms is {fallback_timeout_ms}, expected a positive number of ms")
    origin = (0, 0)
    if region is not None:
        image, origin = _crop(image, region)
    reads = _read_with_zxing(image, any_angle=any_angle)
    if not reads and fallback:
        reads = _read_with_libdmtx(image, timeout_ms=fallback_timeout_ms)
    if origin == (0, 0):
        return reads
    return [replace(read, corners=_shift(read.corners, origin)) for read in reads]


def _shift(corners: Corners, origin: tuple[int, int]) -> Corners:
    dx, dy = origin
    tl, tr, br, bl = corners
    return (
        (tl[0] + dx, tl[1] + dy),
        (tr[0] + dx, tr[1] + dy),
        (br[0] + dx, br[1] + dy),
        (bl[0] + dx, bl[1] + dy),
    )


def _crop(image: npt.NDArray[np.uint8], region: Region) -> tuple[npt.NDArray[np.uint8], tuple[int, int]]:
    x, y, width, height = region
    height_px, width_px = image.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width_px, x + width), min(height_px, y + height)
    if width <= 0 or height <= 0 or x1 - x0 < 8 or y1 - y0 < 8:
        raise ValueError(
            f"region {region} (x, y, width, height) leaves no search area in a {width_px}x{height_px} frame"
        )
    return np.ascontiguousarray(image[y0:y1, x0:x1]), (x0, y0)


def _read_with_libdmtx(image: npt.NDArray[np.uint8], *, timeout_ms: int) -> list[CodeRead]:
    # On the frames measured for zxing-cpp, libdmtx unbounded needs up to 0.7 s to find a symbol and
    # 9 s to give up on an empty frame; with 60 ms it finds 18 of 30 and an empty frame costs 61 ms.
    read = _libdmtx.decode_first(image, timeout_ms=timeout_ms)
    if read is None:
        return []
    return [
        CodeRead(
            # latin-1 maps bytes 0-255 one to one, as DataMatrix's default character set (ISO 8859-1) does.
            text=read.data.decode("latin-1"),
            raw=read.data,
            symbology_identifier="]d2" if read.fnc1_first else "]d1",
            corners=read.corners,
            decoder="libdmtx",
        )
    ]


def _check_image(image: npt.NDArray[np.uint8]) -> None:
    # libdmtx reads the buffer in place and zxing-cpp needs a plain 8-bit view, so a wrong array
    # must stop here rather than be misread.
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image is a {type(image).__name__}, expected a numpy ndarray")
    if image.ndim != 2:
        raise ValueError(f"image has shape {image.shape}, expected 2-D (height, width) grayscale")
    if image.dtype != np.uint8:
        raise ValueError(f"image has dtype {image.dtype}, expected uint8")
    if not image.flags.c_contiguous:
        raise ValueError("image is not C-contiguous, expected a contiguous array (use np.ascontiguousarray)")
    if 0 in image.shape:
        raise ValueError(f"image has shape {image.shape}, expected a non-empty frame")


def _read_with_zxing(image: npt.NDArray[np.uint8], *, any_angle: bool = True) -> list[CodeRead]:
    # Passes from cheapest to broadest; the first that finds a symbol wins. Measured on 400
    # simulated production frames (1280x1024, 3.5-6 px modules, +-10 degrees, blur 0.3-1.2 px,
    # noise 1-6 grey levels, contrast 0.55-1, 10 % light-on-dark), 2-core dev machine:
    #   LocalAverage, rotate on (the old single pass)     398/400, 48.8 ms median
    #   LocalAverage, rotate off                          398/400, 12.6 ms median, 19.7 ms p99
    #   FixedThreshold, rotate off                        393/400,  1.7 ms median
    #   Gaussian sigma 1 + LocalAverage, rotate off       395/400,  4.1 ms median
    #   the chain below                                   399/400,  1.5 ms median, 5.5 ms p99
    # Sensor noise makes LocalAverage chase false finder candidates, which a light blur or a
    # global threshold avoids; the last pass (rotation on) keeps any-angle symbols readable in
    # `tracenode read`. Earlier measurements (30 frames at 0/30/77/135/200 degrees): inversion
    # must stay on (15/30 without: all light-on-dark lost), GlobalHistogram read 0/30,
    # downscaling never helped at 3-6 px modules.
    for blur_sigma, rotate, binarizer in _ZXING_PASSES:
        if rotate and not any_angle:
            break
        frame = image if blur_sigma is None else cv2.GaussianBlur(image, (0, 0), blur_sigma)
        barcodes = zxingcpp.read_barcodes(
            frame,
            formats=_DATAMATRIX,
            text_mode=zxingcpp.TextMode.Plain,
            try_rotate=rotate,
            try_downscale=False,
            try_invert=True,
            binarizer=binarizer,
        )
        if barcodes:
            return [_from_zxing(barcode) for barcode in barcodes]
    return []


# (Gaussian pre-blur sigma or None, try_rotate, binarizer) per pass.
_ZXING_PASSES: tuple[tuple[float | None, bool, zxingcpp.Binarizer], ...] = (
    (None, False, zxingcpp.Binarizer.FixedThreshold),
    (1.0, False, zxingcpp.Binarizer.LocalAverage),
    (None, True, zxingcpp.Binarizer.LocalAverage),
)


def _from_zxing(barcode: zxingcpp.Barcode) -> CodeRead:
    position = barcode.position
    corners = tuple(
        (float(point.x), float(point.y))
        for point in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    )
    return CodeRead(
        text=barcode.text,
        raw=bytes(barcode.bytes),
        symbology_identifier=barcode.symbology_identifier,
        corners=(corners[0], corners[1], corners[2], corners[3]),
        decoder="zxing-cpp",
    )
