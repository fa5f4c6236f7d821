"""libdmtx as a second-opinion DataMatrix decoder that keeps FNC1, bounded in time.

Stock ``pylibdmtx.decode`` drops FNC1 codewords, so a GS1 message loses its group separators and its
``]d2`` identity; this module drives libdmtx through pylibdmtx's ctypes wrapper instead.
"""

from __future__ import annotations

import ctypes
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

with warnings.catch_warnings():
    # pylibdmtx 0.1.10 compares libdmtx versions with distutils' deprecated LooseVersion on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pylibdmtx import wrapper as dmtx

Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]
"""Top-left, top-right, bottom-right, bottom-left of a symbol in its own orientation, in image pixels."""

# dmtx.h: DmtxPropFnc1 = 104 (encoding block, but dmtxDecodeSetProp accepts it since libdmtx 0.7.5;
# Debian's libdmtx0b 0.7.7 still reports "0.7.5" from dmtxVersion()).  With it set, every FNC1 codeword
# is written to the output as this byte instead of being dropped.
_GS = 0x1D
# ISO/IEC 16022: codeword 232 is FNC1; as the first data codeword it marks a GS1 DataMatrix.
_FNC1_CODEWORD = 232


@dataclass(frozen=True, slots=True)
class LibdmtxRead:
    """One symbol decoded by libdmtx."""

    data: bytes
    """Decoded bytes, FNC1 separators as GS (0x1D); a leading FNC1 is removed and shown by ``fnc1_first``."""
    fnc1_first: bool
    """The first data codeword is FNC1, i.e. the symbol is GS1 DataMatrix (symbology identifier ``]d2``)."""
    corners: Corners


def decode_first(image: npt.NDArray[np.uint8], *, timeout_ms: int) -> LibdmtxRead | None:
    """Find and decode the first DataMatrix symbol in ``image`` within ``timeout_ms``.

    Parameters
    ----------
    image : (H, W) uint8 ndarray, C-contiguous
        Grayscale frame; the caller validates it (libdmtx reads the buffer in place).
    timeout_ms : int
        Budget for the region search in milliseconds; the search stops when it is spent.

    Returns
    -------
    LibdmtxRead or None
        The first region that decodes, or None when none decodes in time.
    """
    height, width = image.shape
    pixels = image.ctypes.data_as(dmtx.c_ubyte_p)
    dmtx_image = dmtx.dmtxImageCreate(pixels, width, height, dmtx.DmtxPackOrder.DmtxPack8bppK)
    if not dmtx_image:
        raise MemoryError(f"libdmtx could not create a {width}x{height} image")
    try:
        return _decode_image(dmtx_image, timeout_ms, height)
    finally:
        dmtx.dmtxImageDestroy(ctypes.byref(dmtx_image))


def _decode_image(
    dmtx_image: ctypes._Pointer[dmtx.DmtxImage], timeout_ms: int, height: int
) -> LibdmtxRead | None:
    decoder = dmtx.dmtxDecodeCreate(dmtx_image, 1)
    if not decoder:
        raise MemoryError("libdmtx could not create a decoder")
    try:
        dmtx.dmtxDecodeSetProp(decoder, dmtx.DmtxProperty.DmtxPropFnc1, _GS)
        deadline = dmtx.dmtxTimeAdd(dmtx.dmtxTimeNow(), timeout_ms)
        # Every region libdmtx proposes is tried until one decodes or the deadline passes: a false
        # region (text, edges) would otherwise hide the real symbol behind it.
        while region := dmtx.dmtxRegionFindNext(decoder, ctypes.byref(deadline)):
            try:
                read = _decode_region(decoder, region, height)
            finally:
                dmtx.dmtxRegionDestroy(ctypes.byref(region))
            if read is not None:
                return read
        return None
    finally:
        dmtx.dmtxDecodeDestroy(ctypes.byref(decoder))


def _decode_region(
    decoder: ctypes._Pointer[dmtx.DmtxDecode], region: ctypes._Pointer[dmtx.DmtxRegion], height: int
) -> LibdmtxRead | None:
    message = dmtx.dmtxDecodeMatrixRegion(decoder, region, dmtx.DmtxUndefined)
    if not message:
        return None
    try:
        content = message.contents
        # outputIdx, not a NUL search: binary payloads may contain 0x00.
        output = ctypes.string_at(content.output, content.outputIdx)
        fnc1_first = content.codeSize > 0 and content.code[0] == _FNC1_CODEWORD
        data = output[1:] if fnc1_first and output[:1] == bytes([_GS]) else output
        return LibdmtxRead(data=data, fnc1_first=fnc1_first, corners=_corners(region.contents, height))
    finally:
        dmtx.dmtxMessageDestroy(ctypes.byref(message))


def _corners(region: dmtx.DmtxRegion, height: int) -> Corners:
    # The region's fit space is the unit square with the L finder's corner at (0, 0) and the
    # symbol's own "up" along +y, so (0, 1) is the symbol's top-left.  libdmtx counts image rows
    # bottom-up (y = 0 is the last row of the buffer), hence the flip into numpy's row order.
    def to_image(x: float, y: float) -> Point:
        vector = dmtx.DmtxVector2(x, y)
        dmtx.dmtxMatrix3VMultiplyBy(ctypes.byref(vector), region.fit2raw)
        return (float(vector.X), float(height - 1 - vector.Y))

    return (to_image(0.0, 1.0), to_image(1.0, 1.0), to_image(1.0, 0.0), to_image(0.0, 0.0))
