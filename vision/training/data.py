"""Training and validation data of the DL OCR stages, drawn from ``simulator.text_samples``.

Lines are drawn by the simulator's text generator from a seed, then normalised exactly as the
readers normalise a crop (``vision.ocr_dl.line_input``), so a model never sees an input its reader
would not give it. Besides in-spec print, a share of lines carries one defaced character (part of it
wiped off, or a smudge of ink over it) that the models learn to call damaged, and a share is blank:
an unsure character must read as unsure, and a blank crop as nothing.

Seeds from ``RESERVED_SEEDS_FROM`` up belong to tests and benchmarks; training never draws them.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recipes.schema import PrintLayout
from simulator.text_samples import LineSample, line_samples
from vision.ocr_dl import LINE_ROWS, LineInput, line_input
from vision.segment import Box

__all__ = [
    "FONTS",
    "RESERVED_SEEDS_FROM",
    "TrainingLine",
    "augment",
    "deface",
    "draw_lines",
    "prepare_lines",
    "stack_images",
    "width_groups",
]

RESERVED_SEEDS_FROM = 1000
"""Seeds at or above this are held back for tests and benchmarks: never used to train."""

FONTS: tuple[str, ...] = typing.get_args(PrintLayout.model_fields["font"].annotation)
"""Every font a recipe may print (``recipes.schema.PrintLayout.font``), all trained on."""

_DEFACED_INK = 0.35
"""Share of a character's ink that defacing removes or adds, at least."""


@dataclass(frozen=True, slots=True, eq=False)  # eq: compare by identity, not arrays
class TrainingLine:
    """One line as the models train on it."""

    sample: LineSample
    """The generator's line as drawn."""
    image: npt.NDArray[np.uint8]
    """The crop trained on: the sample's, or a defaced or blank copy of it."""
    line: LineInput
    """The normalised line, as its reader will see it."""
    text: str
    """What the line says; ``""`` for a blank line."""
    ink_boxes: tuple[Box | None, ...]
    """Per character of ``text``, its box tightened to the ink (crop pixels); None for a space."""
    damaged: int | None
    """Index in ``text`` of the defaced character, if any."""


def draw_lines(seed: int, count: int, *, px_per_mm: float, fonts: Sequence[str] = FONTS) -> list[LineSample]:
    """Draw ``count`` in-spec lines from the simulator's generator, reproducibly from ``seed``.

    Raises
    ------
    ValueError
        If ``seed`` is negative or ``count`` is below 1.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return line_samples(np.random.default_rng(seed), count, fonts=tuple(fonts), px_per_mm=px_per_mm)


def prepare_lines(
    samples: Sequence[LineSample],
    *,
    px_per_mm: float,
    rng: np.random.Generator,
    defaced_share: float,
    blank_share: float,
) -> list[TrainingLine]:
    """Normalise samples for training; deface or blank a share of them, drawn from ``rng``.

    Parameters
    ----------
    samples : sequence of LineSample
        Lines from ``draw_lines``.
    px_per_mm : float
        Their scale.
    rng : numpy.random.Generator
        Chooses which lines are defaced or blanked, and how.
    defaced_share, blank_share : float
        Fractions (0..1) of lines that get one defaced character, or lose all their print.

    Returns
    -------
    list of TrainingLine
        In the order of ``samples``.
    """
    lines = []
    for sample in samples:
        line = line_input(sample.image, px_per_mm=px_per_mm)
        boxes = tuple(
            None if char == " " else line.ink_box(x, x + w) or (x, y, w, h)
            for char, (x, y, w, h) in zip(sample.text, sample.boxes, strict=True)
        )
        image, text, damaged = sample.image, sample.text, None
        draw = rng.random()
        if draw < blank_share:
            image, text, boxes = _blank(sample.image, rng), "", ()
        elif draw < blank_share + defaced_share:
            image, damaged = deface(sample.image, boxes, rng)
        if image is not sample.image:
            line = line_input(image, px_per_mm=px_per_mm)
        lines.append(
            TrainingLine(sample=sample, image=image, line=line, text=text, ink_boxes=boxes, damaged=damaged)
        )
    return lines


def deface(
    image: npt.NDArray[np.uint8], boxes: Sequence[Box | None], rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], int]:
    """Deface one printed character beyond reading; returns the new image and the character's index.

    A band across the character (a missing top, bottom or side: dropped nozzles, a scratch) or a
    patch inside it is wiped to the carton's grey or covered with ink (a smudge), redrawn until at
    least ``_DEFACED_INK`` of the character's ink is gone or added, so that the character can no
    longer be told for sure.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
        A line crop.
    boxes : sequence of (x, y, w, h) or None
        Ink box of each character of the line, None for spaces.
    rng : numpy.random.Generator
        Chooses the character and the damage.
    """
    printed = [index for index, box in enumerate(boxes) if box is not None]
    index = printed[int(rng.integers(len(printed)))]
    box = boxes[index]
    assert box is not None
    x, y, w, h = box
    carton, dark = (float(level) for level in np.percentile(image, (90.0, 1.0)))
    contrast = max(carton - dark, 1.0)
    before = np.clip((carton - image[y : y + h, x : x + w].astype(np.float32)) / contrast, 0.0, 1.0)
    for _ in range(20):
        area = rng.uniform(0.35, 0.6)
        if rng.random() < 0.5:
            if rng.random() < 0.5:
                bh = max(1, round(h * area))
                y0, x0, bw = (0 if rng.random() < 0.5 else h - bh), 0, w
            else:
                bw = max(1, round(w * area))
                x0, y0, bh = (0 if rng.random() < 0.5 else w - bw), 0, h
        else:
            side = np.sqrt(area)
            bh, bw = max(1, round(h * side)), max(1, round(w * side))
            y0, x0 = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        level = carton if rng.random() < 0.6 else dark
        after = before.copy()
        after[y0 : y0 + bh, x0 : x0 + bw] = 1.0 if level == dark else 0.0
        if np.abs(after - before).sum() >= _DEFACED_INK * before.sum():
            break
    defaced = image.copy()
    region = defaced[y + y0 : y + y0 + bh, x + x0 : x + x0 + bw]
    region[...] = np.clip(level + rng.normal(0.0, 2.0, region.shape), 0, 255).astype(np.uint8)
    return defaced, index


def _blank(image: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A crop of bare carton with the same grey and grain as ``image``: a line the printer missed."""
    carton = np.percentile(image, 90.0)
    grain = float(np.std(image[image >= np.percentile(image, 60.0)]))
    blank = rng.normal(carton, max(grain, 0.5), image.shape)
    return np.clip(blank, 0, 255).astype(np.uint8)


def width_groups(
    lines: Sequence[TrainingLine], rng: np.random.Generator, *, batch_size: int
) -> Iterator[list[TrainingLine]]:
    """One epoch of batches of lines of similar width (little padding), in an order drawn from ``rng``."""
    order = sorted(range(len(lines)), key=lambda index: lines[index].line.image.shape[3])
    groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    for group_index in rng.permutation(len(groups)):
        yield [lines[index] for index in groups[group_index]]


def stack_images(
    images: Sequence[npt.NDArray[np.float32]], rng: np.random.Generator | None
) -> npt.NDArray[np.float32]:
    """Normalised lines (LINE_ROWS, w) in one (n, 1, LINE_ROWS, w) array, padded with bare carton on
    the right; ``augment``-ed with ``rng`` unless it is None."""
    stacked = np.zeros((len(images), 1, LINE_ROWS, max(image.shape[1] for image in images)), np.float32)
    for row, image in enumerate(images):
        stacked[row, 0, :, : image.shape[1]] = image
    return stacked if rng is None else augment(stacked, rng)


def augment(images: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A random ink gain per image (n, 1, h, w), a shift of up to a row, and a little noise, so a net
    does not learn the generator's exact contrast and placement."""
    for index, shift in enumerate(rng.integers(-1, 2, len(images)).tolist()):
        if shift:
            images[index, 0] = np.roll(images[index, 0], shift, axis=0)
            images[index, 0, 0 if shift > 0 else -1] = 0.0
    gain = rng.uniform(0.75, 1.15, (len(images),) + (1,) * (images.ndim - 1)).astype(np.float32)
    noise = rng.normal(0.0, 0.03, images.shape).astype(np.float32)
    augmented: npt.NDArray[np.float32] = np.clip(images * gain + noise, 0.0, 1.0)
    return augmented
