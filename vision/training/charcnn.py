"""Combination 1's character classifier: a small CNN on one character patch, and its training patches.

Each box the segmenter cuts becomes a 24 x 24 patch (``vision.ocr_dl.patches``); the CNN names
it as one of ``CHARSET`` or as "not one whole character", and each gap between boxes as a word
space or not. The reject class is trained on what a segmenter cuts wrongly or print that cannot be
read: two characters merged into one box, a character with a piece of its neighbour, bare carton,
the segmenter's own boxes that match no character, and characters defaced beyond reading.
Besides jittered ink boxes, the CNN learns the boxes and gaps the reader gives it: where the
classical segmenter cuts a line into one box per printed character, each in its character's cell,
each box is that character (a narrow glyph's box, cut at the segmenter's core ink, is narrower than
its ink box) and each gap between two boxes as wide as the reader asks about is a word space or not.
Lines with a character partly unprinted, as the simulator prints a partial character, add that
character to the reject class. Posteriors are calibrated with a temperature fitted on validation patches.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from simulator.text_samples import line_samples
from vision.ocr_dl import (
    CHARCNN_JOINED,
    CHARCNN_REJECT,
    CHARCNN_SPACE,
    JOINED_GAP,
    PATCH_SIZE,
    line_input,
    patches,
)
from vision.ocr_types import CHARSET
from vision.segment import Box
from vision.training import data
from vision.training.data import TrainingLine

__all__ = ["CharCnn", "Segmenter", "batches", "fit_temperature", "loss", "partial_lines", "patch_set"]

Segmenter = Callable[[TrainingLine], Sequence[Box]]
"""Boxes a segmenter cuts on a training line, in crop pixels."""

# Boxes of the segmenter that overlap a character's ink box this much (intersection over union)
# are that character; the rest are rejects (unless the segmenter cut the line one box per
# character: ``_cut_cases``).
_MATCH_IOU = 0.6
# A box of a segmentation that cuts one box per character may reach this many cap heights beyond its
# character's cell (cells abut, at the character's advance) and still be that character's.
_CELL_SLACK = 0.1


class CharCnn(nn.Module):
    """(n, 1, 24, 24) patches -> (n, classes) logits; classes = CHARSET, reject, space, joined."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for inputs, outputs in ((1, 16), (16, 32), (32, 64)):
            layers += [
                nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
                nn.BatchNorm2d(outputs),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*layers)
        side = PATCH_SIZE // 8
        self.classify = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * side * side, 128),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(128, len(CHARSET) + 3),
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Logits, (n, classes)."""
        logits: torch.Tensor = self.classify(self.features(patches))
        return logits


class CharCnnPosteriors(nn.Module):
    """The exported form: calibrated posteriors, softmax(logits / temperature)."""

    def __init__(self, net: CharCnn, temperature: float) -> None:
        super().__init__()
        self.net = net
        self.temperature = temperature

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(n, 1, 24, 24) -> (n, classes) posteriors."""
        return torch.softmax(self.net(patches) / self.temperature, dim=1)


def patch_set(
    lines: Sequence[TrainingLine], rng: np.random.Generator, *, segmenter: Segmenter | None
) -> tuple[npt.NDArray[np.float16], npt.NDArray[np.int64]]:
    """Labelled patches of the characters and gaps of ``lines``, plus reject patches drawn from ``rng``.

    Parameters
    ----------
    lines : sequence of TrainingLine
        Normalised lines with their characters' ink boxes.
    rng : numpy.random.Generator
        Jitters the boxes and draws the reject cases.
    segmenter : callable or None
        The classical segmenter, if given: its boxes on each line are added, so the CNN learns the
        segmenter's own cuts and mistakes. Where it cut one box per printed character, each inside
        its character's cell, each box is labelled with its character and the gaps between the
        boxes that the reader asks about are added as word space or not (``_cut_cases``); on other
        lines a box is labelled by the character whose ink box it matches, reject otherwise.

    Returns
    -------
    patches : ndarray of float16, shape (n, 1, 24, 24)
    labels : ndarray of int64, shape (n,)
        Index in CHARSET, or ``CHARCNN_REJECT``, ``CHARCNN_SPACE``, ``CHARCNN_JOINED``.
    """
    all_patches: list[npt.NDArray[np.float32]] = []
    all_labels: list[int] = []
    for line in lines:
        boxes, labels = _char_cases(line, rng)
        gaps, gap_labels = _gap_cases(line)
        if segmenter is not None:
            cut = list(segmenter(line))
            cut_labels, cut_gaps, cut_gap_labels = _cut_cases(line, cut)
            boxes += cut
            labels += cut_labels
            gaps += cut_gaps
            gap_labels += cut_gap_labels
        all_patches.append(patches(line.line, [(x, x + w) for x, _, w, _ in boxes], masked=True))
        all_patches.append(patches(line.line, gaps, masked=False))
        all_labels += labels + gap_labels
    return np.concatenate(all_patches).astype(np.float16), np.array(all_labels, np.int64)


def partial_lines(
    seed: int, count: int, *, px_per_mm: float, fonts: Sequence[str] = data.FONTS
) -> list[TrainingLine]:
    """Lines with one character partly unprinted, that character labelled damaged.

    The lines are ``simulator.text_samples.line_samples`` with its "partial" defect (30 to 60 % of
    one character missing from one side: a blocked nozzle, the head lifting). A sample does not say
    which character lost its ink; its defect-free twin, drawn from the same seed, does: the character
    whose cell changed most. The ink boxes are the twin's, the character's whole extent, as
    ``data.deface`` keeps them.

    Parameters
    ----------
    seed : int
        Seed of the draw (a training seed: below ``data.RESERVED_SEEDS_FROM``).
    count : int
        How many lines (>= 1).
    px_per_mm : float
        Their scale.
    fonts : sequence of str
        Fonts to draw from.

    Raises
    ------
    ValueError
        If ``seed`` is negative or held back for tests, or ``count`` is below 1.
    """
    if not 0 <= seed < data.RESERVED_SEEDS_FROM:
        raise ValueError(f"seed must be in 0..{data.RESERVED_SEEDS_FROM - 1}, got {seed}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    fonts = tuple(fonts)
    defective = line_samples(
        np.random.default_rng(seed), count, fonts=fonts, px_per_mm=px_per_mm, defect="partial"
    )
    clean = line_samples(np.random.default_rng(seed), count, fonts=fonts, px_per_mm=px_per_mm)
    lines = []
    for sample, twin in zip(defective, clean, strict=True):
        twin_line = line_input(twin.image, px_per_mm=px_per_mm)
        boxes = tuple(
            None if char == " " else twin_line.ink_box(x, x + w) or (x, y, w, h)
            for char, (x, y, w, h) in zip(twin.text, twin.boxes, strict=True)
        )
        change = np.abs(sample.image.astype(np.int16) - twin.image.astype(np.int16)).sum(axis=0)
        cells = {index: box for index, box in enumerate(sample.boxes) if sample.text[index] != " "}
        damaged = max(
            cells, key=lambda index: int(change[cells[index][0] : cells[index][0] + cells[index][2]].sum())
        )
        lines.append(
            TrainingLine(
                sample=sample,
                image=sample.image,
                line=line_input(sample.image, px_per_mm=px_per_mm),
                text=sample.text,
                ink_boxes=boxes,
                damaged=damaged,
            )
        )
    return lines


def _char_cases(line: TrainingLine, rng: np.random.Generator) -> tuple[list[Box], list[int]]:
    """Jittered boxes of each character, and reject boxes: merged, overreaching, empty.

    No reject is cut out of one character: a part of an H is an I, of an E an L or an F; the
    segmenter's own splits come from its boxes (``patch_set``)."""
    cap_px = line.line.cap_box[1]
    boxes: list[Box] = []
    labels: list[int] = []
    printed = [(index, box) for index, box in enumerate(line.ink_boxes) if box is not None]
    for index, (x, y, w, h) in printed:
        label = CHARCNN_REJECT if index == line.damaged else CHARSET.index(line.text[index])
        dx0, dx1 = rng.integers(-1, 2, 2)
        boxes.append((int(x + dx0), y, max(int(w - dx0 + dx1), 1), h))
        labels.append(label)
    width = line.line.crop.shape[1]
    for _ in range(2):
        case = int(rng.integers(3)) if printed else 2
        index, (x, y, w, h) = printed[int(rng.integers(len(printed)))] if printed else (0, (0, 0, 0, 0))
        neighbour = line.ink_boxes[index + 1] if index + 1 < len(line.ink_boxes) else None
        if case == 0 and neighbour is not None:  # two characters in one box
            nx, _, nw, _ = neighbour
            boxes.append((x, y, nx + nw - x, h))
        elif case == 1 and neighbour is not None:  # a character and a piece of the next
            nx, _, nw, _ = neighbour
            boxes.append((x, y, nx + max(1, round(nw * rng.uniform(0.35, 0.6))) - x, h))
        else:  # bare carton where no character is
            span = max(2, round(cap_px * rng.uniform(0.2, 0.7)))
            start = int(rng.integers(0, max(width - span, 1)))
            if any(bx < start + span and start < bx + bw for _, (bx, _, bw, _) in printed):
                continue
            boxes.append((start, line.line.cap_box[0], span, cap_px))
        labels.append(CHARCNN_REJECT)
    return boxes, labels


def _gap_cases(line: TrainingLine) -> tuple[list[tuple[int, int]], list[int]]:
    """The gaps between neighbouring characters that the reader would ask about, as space or joined."""
    cap_px = line.line.cap_box[1]
    gaps: list[tuple[int, int]] = []
    labels: list[int] = []
    previous: Box | None = None
    space = False
    for box in line.ink_boxes:
        if box is None:
            space = True
            continue
        if previous is not None:
            x0, x1 = previous[0] + previous[2], box[0]
            # A pixel below the reader's limit too, for boxes cut a little wider than the ink.
            if x1 - x0 > JOINED_GAP * cap_px - 1:
                gaps.append((x0, x1))
                labels.append(CHARCNN_SPACE if space else CHARCNN_JOINED)
        previous, space = box, False
    return gaps, labels


def _cut_cases(line: TrainingLine, cut: Sequence[Box]) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """Labels of the segmenter's boxes on a line, and the gaps between them the reader asks about.

    When the segmenter cut one box per printed character, in order, each box centred in its
    character's cell and reaching no more than ``_CELL_SLACK`` cap heights beyond it, the boxes are
    the characters (the defaced one a reject), however their edges differ from the ink boxes' (the
    segmenter boxes at its core ink, ``data.prepare_lines`` at ``INK_LEVEL``: on a '.', an 'I' or a
    ':' that is often less than ``_MATCH_IOU``); and each gap between neighbouring boxes wider than
    ``JOINED_GAP`` cap heights (less a pixel) is a word space where the text has one, else joined.
    Otherwise each box is labelled by ``_match`` and no gap is added.

    Returns
    -------
    labels : list of int
        One per box of ``cut``.
    gaps : list of (x0, x1)
        Column spans of the gaps, crop pixels.
    gap_labels : list of int
        ``CHARCNN_SPACE`` or ``CHARCNN_JOINED``, one per gap.
    """
    printed = [index for index, box in enumerate(line.ink_boxes) if box is not None]
    cap_px = line.line.cap_box[1]
    slack = _CELL_SLACK * cap_px
    cells = [line.sample.boxes[index] for index in printed]
    if (
        not printed
        or len(cut) != len(printed)
        or not all(
            cx - slack <= x and x + w <= cx + cw + slack and cx <= x + w / 2 <= cx + cw
            for (x, _, w, _), (cx, _, cw, _) in zip(cut, cells, strict=True)
        )
    ):
        return [_match(line, box) for box in cut], [], []
    labels = [
        CHARCNN_REJECT if index == line.damaged else CHARSET.index(line.text[index]) for index in printed
    ]
    gaps: list[tuple[int, int]] = []
    gap_labels: list[int] = []
    neighbours = zip(itertools.pairwise(cut), itertools.pairwise(printed), strict=True)
    for (left, right), (first, second) in neighbours:
        x0, x1 = left[0] + left[2], right[0]
        if x1 - x0 > JOINED_GAP * cap_px - 1:
            gaps.append((x0, x1))
            gap_labels.append(CHARCNN_SPACE if " " in line.text[first:second] else CHARCNN_JOINED)
    return labels, gaps, gap_labels


def _match(line: TrainingLine, box: Box) -> int:
    """The class of a segmenter's box: the character whose ink it covers, or reject."""
    x, _, w, _ = box
    best, best_iou = CHARCNN_REJECT, 0.0
    for index, truth in enumerate(line.ink_boxes):
        if truth is None:
            continue
        tx, _, tw, _ = truth
        overlap = min(x + w, tx + tw) - max(x, tx)
        iou = overlap / (max(x + w, tx + tw) - min(x, tx)) if overlap > 0 else 0.0
        if iou > best_iou:
            label = CHARCNN_REJECT if index == line.damaged else CHARSET.index(line.text[index])
            best, best_iou = label, iou
    return best if best_iou >= _MATCH_IOU else CHARCNN_REJECT


def batches(
    patches: npt.NDArray[np.float16],
    labels: npt.NDArray[np.int64],
    rng: np.random.Generator,
    *,
    batch_size: int,
    augment: bool,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled batches; with ``augment``, a random ink gain and a little noise."""
    order = rng.permutation(len(labels))
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        images = patches[chosen].astype(np.float32)
        if augment:
            images = data.augment(images, rng)
        yield torch.from_numpy(images), torch.from_numpy(labels[chosen])


def loss(net: CharCnn, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of a batch."""
    images, labels = batch
    value: torch.Tensor = nn.functional.cross_entropy(net(images), labels)
    return value


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (a grid search, 0.5..4)."""
    grid = torch.linspace(0.5, 4.0, 71)
    losses = [float(nn.functional.cross_entropy(logits / t, labels)) for t in grid]
    return float(grid[int(np.argmin(losses))])
