"""The end-to-end line reader's network (``dl``): a CRNN trained with CTC, and its training batches.

Three strided 3 x 3 convolution blocks and a 5 x 1 one fold the ``LINE_ROWS`` normalised rows into
one column of features every 4 normalised pixels (a character advance is 12..18 of them, so 3..4
frames per character), a bidirectional LSTM reads the columns in context, and a linear layer gives
the CTC posteriors over ``vision.ocr_dl.CRNN_CLASSES``. Strides rather than pooling: a third of the
arithmetic, which a line read (about 1 ms) and the CPU training both feel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from vision.ocr_dl import CRNN_BLANK, CRNN_CLASSES, CRNN_DAMAGED, CRNN_SPACE, CRNN_STRIDE, LINE_ROWS
from vision.ocr_types import CHARSET
from vision.training.data import TrainingLine, stack_images, width_groups

__all__ = ["Crnn", "CrnnBatch", "batches", "labels", "loss"]

CrnnBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""Images (n, 1, LINE_ROWS, w), concatenated labels, frames per image, labels per image."""


def _block(
    inputs: int, outputs: int, kernel: tuple[int, int], stride: tuple[int, int], padding: int
) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


class Crnn(nn.Module):
    """CRNN: (n, 1, LINE_ROWS, w) normalised lines -> (n, w / 4, classes) CTC logits."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(1, 16, (3, 3), (2, 2), 1),
            *_block(16, 32, (3, 3), (2, 2), 1),
            *_block(32, 64, (3, 3), (2, 1), 1),
            *_block(64, 64, (LINE_ROWS // 8, 1), (1, 1), 0),  # the LINE_ROWS / 8 remaining rows -> 1
        )
        self.context = nn.LSTM(64, 64, bidirectional=True, batch_first=True)
        self.classify = nn.Linear(128, len(CRNN_CLASSES))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """CTC logits per frame, (n, frames, classes)."""
        columns = self.features(image).squeeze(2).permute(0, 2, 1)
        context, _ = self.context(columns)
        logits: torch.Tensor = self.classify(context)
        return logits


class CrnnPosteriors(nn.Module):
    """The exported form: posteriors instead of logits, for one line at a time."""

    def __init__(self, crnn: Crnn) -> None:
        super().__init__()
        self.crnn = crnn

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 1, LINE_ROWS, w) -> (1, w / 4, classes) posteriors."""
        return torch.softmax(self.crnn(image), dim=-1)


def labels(line: TrainingLine) -> list[int]:
    """The CTC target of a line: one class per character, the defaced one as "damaged"."""
    return [
        CRNN_SPACE if char == " " else CRNN_DAMAGED if index == line.damaged else 1 + CHARSET.index(char)
        for index, char in enumerate(line.text)
    ]


def batches(
    lines: Sequence[TrainingLine], rng: np.random.Generator, *, batch_size: int, augment: bool
) -> Iterator[CrnnBatch]:
    """One epoch of batches of lines of similar width, in an order drawn from ``rng``.

    With ``augment``, besides ``data.augment``, each line is stretched or squeezed by up to 10 %
    (CTC needs no alignment, and print widths vary with the coder's speed and font).
    """
    for group in width_groups(lines, rng, batch_size=batch_size):
        images = [line.line.image[0, 0] for line in group]
        if augment:
            images = [_stretched(image, float(rng.uniform(0.9, 1.1))) for image in images]
        targets = [labels(line) for line in group]
        yield (
            torch.from_numpy(stack_images(images, rng if augment else None)),
            torch.tensor([label for target in targets for label in target], dtype=torch.long),
            torch.tensor([image.shape[1] // CRNN_STRIDE for image in images], dtype=torch.long),
            torch.tensor([len(target) for target in targets], dtype=torch.long),
        )


def _stretched(image: npt.NDArray[np.float32], factor: float) -> npt.NDArray[np.float32]:
    width = max(CRNN_STRIDE, round(image.shape[1] * factor / CRNN_STRIDE) * CRNN_STRIDE)
    stretched = cv2.resize(image, (width, image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return stretched.astype(np.float32, copy=False)


def loss(net: Crnn, batch: CrnnBatch) -> torch.Tensor:
    """Mean CTC loss of a batch (per target character, so long and short lines weigh alike)."""
    images, targets, frames, lengths = batch
    log_probs = torch.log_softmax(net(images), dim=-1).permute(1, 0, 2)  # CTC wants (frames, n, classes)
    value: torch.Tensor = nn.functional.ctc_loss(
        log_probs, targets, frames, lengths, blank=CRNN_BLANK, reduction="mean", zero_infinity=True
    )
    return value
