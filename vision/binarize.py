"""Binarization of print: which pixels are ink, for dark ink on a light ground (1 = ink).

Otsu's global threshold suits a line crop, over which the illumination barely changes (a 3 x 3 gain
grid across a 128 mm field); Sauvola's local threshold suits a whole frame or uneven light. Otsu is
OpenCV's (``cv2.threshold``, about 13 µs for a line crop); Sauvola is a numba kernel over integral
images, which beats the same sums done with ``cv2.boxFilter`` and numpy (``python -m bench.kernels``).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vision._ocr_kernels import sauvola_kernel

__all__ = ["binarize_otsu", "binarize_sauvola", "otsu_threshold"]


def otsu_threshold(image: npt.NDArray[np.uint8]) -> int:
    """Otsu's threshold of an image: the grey level that best splits its histogram in two classes.

    Parameters
    ----------
    image : (H, W) uint8 ndarray

    Returns
    -------
    int
        Threshold t in 0..255: pixels <= t form the dark class, pixels > t the light one.

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty 2-D uint8 array.
    """
    _check_image(image)
    threshold, _ = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return int(threshold)


def binarize_otsu(image: npt.NDArray[np.uint8], *, threshold: int | None = None) -> npt.NDArray[np.uint8]:
    """Dark ink by a global threshold: 1 where ``image <= threshold``.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        Dark ink on a light ground.
    threshold : int, optional
        A threshold already known (from ``otsu_threshold``); measured when not given.

    Returns
    -------
    (H, W) uint8 ndarray
        1 = ink, 0 = ground.

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty 2-D uint8 array or ``threshold`` is outside 0..255.
    """
    _check_image(image)
    if threshold is None:
        threshold = otsu_threshold(image)
    elif not 0 <= threshold <= 255:
        raise ValueError(f"threshold is {threshold}, expected 0..255")
    _, mask = cv2.threshold(image, threshold, 1, cv2.THRESH_BINARY_INV)
    return np.asarray(mask, np.uint8)


def binarize_sauvola(
    image: npt.NDArray[np.uint8], *, window: int, k: float = 0.2, r: float = 128.0
) -> npt.NDArray[np.uint8]:
    """Dark ink by Sauvola's local threshold: 1 where ``image <= m (1 + k (s / r - 1))``.

    m and s are the mean and standard deviation over a ``window`` x ``window`` square around each
    pixel, clipped to the image at its borders. A flat ground (s near 0) thresholds at (1 - k) m, so
    texture and noise stay ground while ink well below the local mean is found under uneven light.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        Dark ink on a light ground.
    window : int
        Odd side of the square in pixels, about two to three stroke widths or a character's height.
    k : float, default 0.2
        Sensitivity in [0, 1): larger keeps less ink.
    r : float, default 128
        The dynamic range of the standard deviation (128 for 8-bit images).

    Returns
    -------
    (H, W) uint8 ndarray
        1 = ink, 0 = ground.

    Raises
    ------
    ValueError
        If ``image`` is not a non-empty 2-D uint8 array, ``window`` is not an odd integer >= 3,
        ``k`` is outside [0, 1) or ``r`` is not positive.
    """
    _check_image(image)
    if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window % 2 == 0:
        raise ValueError(f"window is {window!r}, expected an odd integer >= 3")
    if not 0.0 <= k < 1.0:
        raise ValueError(f"k is {k}, expected 0 <= k < 1")
    if not r > 0.0:
        raise ValueError(f"r is {r}, expected > 0")
    return sauvola_kernel(np.ascontiguousarray(image), window // 2, float(k), float(r))


def _check_image(image: npt.NDArray[np.uint8]) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"image has shape {shape} and dtype {dtype}, expected non-empty 2-D uint8")
