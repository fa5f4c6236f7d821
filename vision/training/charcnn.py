"""Combination 1's character classifier: a small CNN on one character patch, and its training patches.

Each box the segmenter cuts becomes a 24 x 24 patch (``vision.ocr_dl.patches``); the CNN names
it as one of ``CHARSET`` or as "not one whole character", and each gap between boxes as a word
space or not. The reject class is trained on what a segmenter cuts wrongly or print that cannot be
read: two characters merged into one box, a character with a piece of its neighbour, bare carton,
the segmenter's own boxes that match no character, and characters defaced beyond reading.
Posteriors are calibrated with a temperature fitted on validation patches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from vision.ocr_dl import CHARCNN_JOINED, CHARCNN_REJECT, CHARCNN_SPACE, JOINED_GAP, PATCH_SIZE, patches
from vision.ocr_types import CHARSET
from vision.segment import Box
from vision.training import data
from vision.training.data import TrainingLine

__all__ = ["CharCnn", "Segmenter", "batches", "fit_temperature", "loss", "patch_set"]

Segmenter = Callable[[TrainingLine], Sequence[Box]]
"""Boxes a segmenter cuts on a training line, in crop pixels."""

# Boxes of the segmenter that overlap a character's ink box this much (intersection over union)
# are that character; the rest are rejects.
_MATCH_IOU = 0.6


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
        The classical segmenter, if given: its boxes on each line are added, labelled by the
        character whose ink box they match, reject otherwise, so the CNN learns the segmenter's
        own cuts and mistakes.

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
        if segmenter is not None:
            cut = list(segmenter(line))
            boxes += cut
            labels += [_match(line, box) for box in cut]
        gaps, gap_labels = _gap_cases(line)
        all_patches.append(patches(line.line, [(x, x + w) for x, _, w, _ in boxes], masked=True))
        all_patches.append(patches(line.line, gaps, masked=False))
        all_labels += labels + gap_labels
    return np.concatenate(all_patches).astype(np.float16), np.array(all_labels, np.int64)


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
