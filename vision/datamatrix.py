"""Read DataMatrix symbols from a grayscale frame: zxing-cpp first, libdmtx as a bounded second opinion.

Both decoders release the GIL while they work, so the node can run this stage in a thread pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import zxingcpp

from vision import _libdmtx
from vision._libdmtx import Corners

__all__ = ["CodeRead", "Corners", "read_datamatrix"]

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


def read_datamatrix(
    image: npt.NDArray[np.uint8], *, fallback: bool = True, fallback_timeout_ms: int = 60
) -> list[CodeRead]:
    """Decode every DataMatrix symbol in a grayscale frame.

    Parameters
    ----------
    image : (H, W) uint8 ndarray, C-contiguous
        The frame, dark-on-light or light-on-dark, symbol at any angle.
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
        If ``image`` is not a 2-D, C-contiguous uint8 array or ``fallback_timeout_ms`` is not positive.
    """
    _check_image(image)
    if fallback_timeout_ms <= 0:
        raise ValueError(f"fallback_timeout_ms is {fallback_timeout_ms}, expected a positive number of ms")
    reads = _read_with_zxing(image)
    if reads or not fallback:
        return reads
    return _read_with_libdmtx(image, timeout_ms=fallback_timeout_ms)


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


def _read_with_zxing(image: npt.NDArray[np.uint8]) -> list[CodeRead]:
    # Options measured on 1280x1024 frames (2-core dev machine, zxing-cpp 3.1.1) holding one GS1
    # symbol with 3, 4 or 6 px modules at 0/30/77/135/200 degrees, dark-on-light and light-on-dark,
    # Gaussian noise and blur, printed text as clutter (30 frames), plus 4 frames with no symbol;
    # best of 5 runs per frame:
    #   defaults (rotate, downscale, invert, LocalAverage)  30/30 read, 5.6 ms median, 5.7 ms on empty frames
    #   try_downscale=False (chosen)                        30/30 read, 4.6 ms median, 4.6 ms on empty frames
    #   try_invert=False                                    15/30 (all light-on-dark lost)
    #   try_rotate=False                                    16/30 (most angles beyond ~45 degrees lost)
    #   Binarizer.GlobalHistogram                           0/30
    # Downscaling only pays off for modules far larger than ours (it rescued 1 of 10 dot-printed 6 px
    # symbols, none at 3-5 px), so it is off; rotation and inversion stay on.
    barcodes = zxingcpp.read_barcodes(
        image,
        formats=_DATAMATRIX,
        text_mode=zxingcpp.TextMode.Plain,
        try_rotate=True,
        try_downscale=False,
        try_invert=True,
        binarizer=zxingcpp.Binarizer.LocalAverage,
    )
    return [_from_zxing(barcode) for barcode in barcodes]


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
