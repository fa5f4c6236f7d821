"""Combination 2's segmentation network: which columns of a line are character, gap or word space.

Three strided convolution blocks and a 5 x 1 one fold the ``LINE_ROWS`` normalised rows into one column of
features every 2 normalised pixels; four dilated 1-D convolutions (with residuals) then see about 60
normalised pixels, four character advances, which tells a word space from the gap inside a word and
splits characters whose ink touches. Output: per step, the posteriors of ``vision.ocr_dl.SEGNET_CLASSES``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from vision.ocr_dl import LINE_ROWS, SEGNET_CLASSES, SEGNET_STRIDE
from vision.training.data import TrainingLine, stack_images, width_groups

__all__ = ["IGNORE", "SegNet", "SegNetBatch", "batches", "loss", "step_labels"]

SegNetBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""Images (n, 1, LINE_ROWS, w), step labels (n, w / 2), ``IGNORE`` past each line's end, and step weights."""

IGNORE = -100
GAP, CHARACTER, SPACE = range(len(SEGNET_CLASSES))
# A missed split between two characters or a missed word space costs a whole line, while most gap
# steps are the easy margins: the steps between characters weigh this much more.
_BETWEEN_WEIGHT = 4.0


class _Dilated(nn.Module):
    """A residual dilated 1-D convolution along the line."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, columns: torch.Tensor) -> torch.Tensor:
        """(n, channels, steps) -> the same shape."""
        return torch.relu(columns + self.norm(self.conv(columns)))


class SegNet(nn.Module):
    """(n, 1, LINE_ROWS, w) normalised lines -> (n, classes, w / 2) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=(2, 1), padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 48, 3, stride=(2, 1), padding=1, bias=False),
            nn.BatchNorm2d(48),
            nn.ReLU(),
            nn.Conv2d(48, 48, (LINE_ROWS // 8, 1), bias=False),  # the LINE_ROWS / 8 remaining rows -> 1
            nn.BatchNorm2d(48),
            nn.ReLU(),
        )
        self.context = nn.Sequential(*(_Dilated(48, dilation) for dilation in (1, 2, 4, 8)))
        self.classify = nn.Conv1d(48, len(SEGNET_CLASSES), 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits per step, (n, classes, steps)."""
        logits: torch.Tensor = self.classify(self.context(self.features(image).squeeze(2)))
        return logits


class SegNetPosteriors(nn.Module):
    """The exported form: posteriors instead of logits."""

    def __init__(self, segnet: SegNet) -> None:
        super().__init__()
        self.segnet = segnet

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 1, LINE_ROWS, w) -> (1, classes, w / 2) posteriors."""
        return torch.softmax(self.segnet(image), dim=1)


def step_labels(line: TrainingLine) -> np.ndarray:
    """The class of each step of a line: character over each character's ink, space between words.

    Characters whose ink touches or nearly touches keep at least one gap step between them, so the
    net learns to split them.
    """
    steps = line.line.image.shape[3] // SEGNET_STRIDE
    target = np.full(steps, GAP, np.int64)
    spans: list[tuple[int, int]] = []  # [first, last] step of each printed character
    to_step = line.line.scale / SEGNET_STRIDE
    for box in line.ink_boxes:
        if box is not None:
            x, _, w, _ = box
            spans.append(
                (math.floor(x * to_step), max(math.ceil((x + w) * to_step) - 1, math.floor(x * to_step)))
            )
    for index in range(len(spans) - 1):
        (first, last), (next_first, next_last) = spans[index], spans[index + 1]
        if last >= next_first - 1:  # touching at step resolution: cut in the middle
            cut = (last + next_first) // 2
            spans[index] = (first, min(last, cut - 1))
            spans[index + 1] = (max(next_first, cut + 1), next_last)
    printed = iter(spans)
    previous: tuple[int, int] | None = None
    pending_space = False
    for char in line.text:
        if char == " ":
            pending_space = True
            continue
        first, last = next(printed)
        if pending_space and previous is not None:
            target[previous[1] + 1 : first] = SPACE
        target[first : last + 1] = CHARACTER
        previous, pending_space = (first, last), False
    return target


def batches(
    lines: Sequence[TrainingLine], rng: np.random.Generator, *, batch_size: int, augment: bool
) -> Iterator[SegNetBatch]:
    """One epoch of batches of lines of similar width, in an order drawn from ``rng``."""
    for group in width_groups(lines, rng, batch_size=batch_size):
        images = stack_images([line.line.image[0, 0] for line in group], rng if augment else None)
        targets = np.full((len(group), images.shape[3] // SEGNET_STRIDE), IGNORE, np.int64)
        weights = np.ones(targets.shape, np.float32)
        for row, line in enumerate(group):
            labels = step_labels(line)
            targets[row, : labels.size] = labels
            printed = np.flatnonzero(labels == CHARACTER)
            if printed.size:
                between = slice(printed[0], printed[-1] + 1)
                weights[row, between][labels[between] != CHARACTER] = _BETWEEN_WEIGHT
        yield torch.from_numpy(images), torch.from_numpy(targets), torch.from_numpy(weights)


def loss(net: SegNet, batch: SegNetBatch) -> torch.Tensor:
    """Weighted mean cross-entropy over the steps of a batch."""
    images, targets, weights = batch
    losses = nn.functional.cross_entropy(net(images), targets, ignore_index=IGNORE, reduction="none")
    weights = weights * (targets != IGNORE)
    value: torch.Tensor = (losses * weights).sum() / weights.sum()
    return value
