"""`python -m bench.kernels`: each numba kernel of the classical OCR against its OpenCV or numpy equivalent.

Inputs are realistic: line crops drawn by ``simulator.text_samples`` and a whole 1280 x 1024 frame
rendered by ``simulator.camera``, binarized as the reader binarizes them. Each figure is the median
of one call's wall time over the inputs (and repeats), after a warm-up call; ratio = reference /
numba, so above 1 the kernel wins. The code uses whichever wins (see each module's docstring): the
numba labeller, Sauvola and band search, OpenCV's Otsu; the glyph grid kernel ties with a
``cv2.resize`` per glyph and is kept for the windows past the crop's edge it takes.

The reader's row is the process's CPU time per call (``time.process_time``, all its threads)
instead, since the machine is shared and BLAS's threads burn CPU that wall time hides:
``ClassicalReader.read_line`` with the shipped model and its recommended threshold, per line and
per 20 characters.

Hook into ``python -m bench``: add ``"kernels"`` to ``bench.__main__.SECTIONS`` and
``"kernels": lambda: [kernel_table()]`` to its sections.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt
from rich.console import Console

from bench.tables import BenchTable
from recipes.schema import PrintLayout
from simulator.camera import render_unit, sample_appearance
from simulator.text_samples import line_samples
from simulator.units import Unit
from vision._ocr_kernels import glyph_grid_kernel, grid_band_kernel, label_kernel, sauvola_kernel
from vision.char_features import GRID_COLUMNS, GRID_ROWS
from vision.ocr import ClassicalReader
from vision.ocr_types import LINE_MARGIN_Y_MM
from vision.segment import segment_line

__all__ = ["kernel_rows", "kernel_table", "main"]

_SEED = 1001  # seeds from 1000 up are held back from training for tests and benchmarks
_PX_PER_MM = 10.0
_SAUVOLA_WINDOW = 25

Image = npt.NDArray[np.uint8]
T = TypeVar("T")


def kernel_rows(*, lines: int = 60, repeats: int = 5) -> list[tuple[str, ...]]:
    """One row per kernel and input: kernel, input, numba µs, reference, reference µs, ratio.

    Parameters
    ----------
    lines : int
        How many line crops to time over.
    repeats : int
        Calls per input (the frame is timed ``repeats`` times, each crop once per repeat).
    """
    samples = line_samples(np.random.default_rng(_SEED), lines)
    crops = [sample.image for sample in samples]
    masks = [_otsu_mask(crop) for crop in crops]
    frame = _frame()
    frame_mask = _otsu_mask(frame)
    rows: list[tuple[str, ...]] = []

    def row(kernel: str, data: str, numba_s: float, reference: str, reference_s: float) -> None:
        rows.append(
            (
                kernel,
                data,
                f"{numba_s * 1e6:.1f}",
                reference,
                f"{reference_s * 1e6:.1f}",
                f"{reference_s / numba_s:.2f}",
            )
        )

    def labels_cv2(mask: Image) -> object:
        return cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)

    row(
        "label_kernel",
        "line crops",
        _median(label_kernel, masks, repeats),
        "cv2.connectedComponentsWithStats",
        _median(labels_cv2, masks, repeats),
    )
    row(
        "label_kernel",
        "frame",
        _median(label_kernel, [frame_mask], repeats),
        "cv2.connectedComponentsWithStats",
        _median(labels_cv2, [frame_mask], repeats),
    )

    def sauvola(image: Image) -> object:
        return sauvola_kernel(image, _SAUVOLA_WINDOW // 2, 0.2, 128.0)

    row(
        f"sauvola_kernel w={_SAUVOLA_WINDOW}",
        "line crops",
        _median(sauvola, crops, repeats),
        "cv2.boxFilter + numpy",
        _median(_sauvola_cv2, crops, repeats),
    )
    row(
        f"sauvola_kernel w={_SAUVOLA_WINDOW}",
        "frame",
        _median(sauvola, [frame], repeats),
        "cv2.boxFilter + numpy",
        _median(_sauvola_cv2, [frame], repeats),
    )

    glyphs: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]] = []
    for crop in crops:
        boxes = segment_line(crop, px_per_mm=_PX_PER_MM, text_height_mm=_text_height(crop)).boxes
        if boxes:
            ink = np.asarray(
                cv2.GaussianBlur(crop.astype(np.float32) / np.float32(255.0), (0, 0), 1.3), np.float32
            )
            windows = np.array([(x, y, x + w, y + h) for x, y, w, h in boxes], np.float64)
            glyphs.append((ink, windows))

    def grid(item: tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]) -> object:
        return glyph_grid_kernel(item[0], item[1], GRID_ROWS, GRID_COLUMNS)

    def grid_cv2(item: tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]) -> object:
        ink, windows = item
        return [
            cv2.resize(
                ink[int(y0) : int(y1), int(x0) : int(x1)],
                (GRID_COLUMNS, GRID_ROWS),
                interpolation=cv2.INTER_AREA,
            )
            for x0, y0, x1, y1 in windows
        ]

    row(
        "glyph_grid_kernel",
        "a line's glyphs",
        _median(grid, glyphs, repeats),
        "cv2.resize INTER_AREA per glyph",
        _median(grid_cv2, glyphs, repeats),
    )

    profiles = [
        (mask.sum(axis=0, dtype=np.float64), np.linspace(0.8, 1.0, 51) * _text_height(crop) * _PX_PER_MM)
        for crop, mask in zip(crops, masks, strict=True)
    ]

    def bands(item: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]) -> object:
        return grid_band_kernel(item[0], item[1], 2.0, 0.25)

    row(
        "grid_band_kernel",
        "line crops",
        _median(bands, profiles, repeats),
        "numpy fold + cumsum",
        _median(_bands_numpy, profiles, repeats),
    )

    reader = ClassicalReader.from_model()

    def read(crop: Image) -> object:
        return reader.read_line(crop, px_per_mm=_PX_PER_MM)

    per_line = _cpu(read, crops, repeats)
    chars = sum(len(sample.text) for sample in samples) / len(samples)
    rows.append(
        (
            f"ClassicalReader.read_line (CPU, threshold {reader.min_confidence:.2f})",
            f"a line ({chars:.1f} characters)",
            f"{per_line * 1e6:.1f}",
            "the same per 20 characters",
            f"{per_line * 20 / chars * 1e6:.1f}",
            "-",
        )
    )

    def otsu_cv2(image: Image) -> object:
        return cv2.threshold(image, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)

    rows.append(
        (
            "(no kernel: Otsu)",
            "line crops",
            "-",
            "cv2.threshold OTSU",
            f"{_median(otsu_cv2, crops, repeats) * 1e6:.1f}",
            "-",
        )
    )
    rows.append(
        (
            "(no kernel: Otsu)",
            "numpy histogram reference",
            "-",
            "numpy",
            f"{_median(_otsu_numpy, crops, repeats) * 1e6:.1f}",
            "-",
        )
    )
    return rows


def kernel_table(*, lines: int = 60, repeats: int = 5) -> BenchTable:
    """The rows of ``kernel_rows`` as a table for ``python -m bench``."""
    return BenchTable(
        title="Classical OCR kernels: numba against OpenCV / numpy",
        columns=("kernel", "input", "numba µs", "reference", "reference µs", "ratio"),
        rows=tuple(kernel_rows(lines=lines, repeats=repeats)),
        notes=(
            f"median wall time of one call over {lines} line crops (simulator.text_samples, seed {_SEED}) "
            f"or one 1280 x 1024 frame, {repeats} repeats; ratio = reference / numba (> 1: numba wins)",
            "the reader's row (CPU): mean process CPU time per call (all threads), not wall time",
        ),
    )


def _median(function: Callable[[T], object], inputs: Sequence[T], repeats: int) -> float:
    function(inputs[0])  # warm-up: compiles or loads the numba cache
    times: list[float] = []
    for _ in range(repeats):
        for item in inputs:
            start = time.perf_counter()
            function(item)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cpu(function: Callable[[T], object], inputs: Sequence[T], repeats: int) -> float:
    """Mean CPU time of the process (all its threads) per call, after a warm-up call."""
    function(inputs[0])
    start = time.process_time()
    for _ in range(repeats):
        for item in inputs:
            function(item)
    return (time.process_time() - start) / (repeats * len(inputs))


def _otsu_mask(image: Image) -> Image:
    _, mask = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return np.ascontiguousarray(mask, np.uint8)


def _text_height(crop: Image) -> float:
    return float(crop.shape[0] / _PX_PER_MM - 2 * LINE_MARGIN_Y_MM)


def _frame() -> Image:
    rng = np.random.default_rng(_SEED)
    unit = Unit(
        index=0,
        tracking_id=1,
        gtin="09501101020917",
        serial="K7M2P9Q4X8",
        lot="SIM26A01",
        expiry=dt.date(2028, 5, 31),
        appearance=sample_appearance(rng),
    )
    return render_unit(unit, PrintLayout(font="dot5x7"), px_per_mm=_PX_PER_MM, rng=rng)


def _sauvola_cv2(image: Image) -> object:
    """Sauvola with OpenCV box sums over the same clipped windows as the kernel."""
    values = image.astype(np.float64)
    size = (_SAUVOLA_WINDOW, _SAUVOLA_WINDOW)
    total = cv2.boxFilter(values, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    squares = cv2.sqrBoxFilter(values, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    count = cv2.boxFilter(np.ones_like(values), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    mean = total / count
    deviation = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    return (values <= mean * (1.0 + 0.2 * (deviation / 128.0 - 1.0))).astype(np.uint8)


def _bands_numpy(item: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]) -> object:
    profile, advances = item
    columns = np.arange(profile.size) + 0.5
    found = []
    for advance in advances:
        bins = int(np.ceil(advance / 0.25))
        folded = np.bincount(
            np.minimum(((columns % advance) / 0.25).astype(np.int64), bins - 1), profile, bins
        )
        span = 8
        window = np.cumsum(np.concatenate([folded, folded[:span]]))
        found.append(float((window[span:] - window[:-span]).min()))
    return found


def _otsu_numpy(image: Image) -> int:
    histogram = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    weight = np.cumsum(histogram)
    mass = np.cumsum(histogram * np.arange(256))
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mass * weight - mass * total) ** 2 / (weight * (total - weight))
    return int(np.nanargmax(between[:-1]))


def main() -> None:
    """Print the table."""
    Console(width=160).print(kernel_table().rich())


if __name__ == "__main__":
    main()
