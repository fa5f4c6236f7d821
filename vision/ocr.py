"""The OCR readers by name, and the classical one: segmentation, glyph features, a Gaussian classifier.

``make_reader`` builds each reader once per process and hands the same one to every caller; readers
hold only immutable tables, so the node's two vision workers share them. The DL reader and the two
combinations live in ``vision.ocr_dl`` and are imported only when asked for, so a node that reads
classically never loads onnxruntime.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vision.char_features import char_features
from vision.feature_classifier import FeatureClassifier
from vision.ocr_types import LINE_MARGIN_Y_MM, CharRead, LineRead, LineReader
from vision.segment import Box, Segmentation, segmentation_readings

__all__ = ["CLASSICAL_MODEL", "READERS", "ClassicalReader", "make_reader", "reading_score"]

CLASSICAL_MODEL = Path(__file__).parent / "models" / "classical_features.npz"
"""The shipped feature classifier (``python -m vision.training.train_classical`` writes it, and its
model card beside it, ``classical_features.json``)."""

READERS = ("classical", "dl", "combination1", "combination2")
"""The names ``make_reader`` knows."""

# Solid fonts: a gap is a word space when it exceeds the line's usual gap between letters by more
# than this many cap heights. The usual gap is the lower quartile of the gaps narrower than any word
# space (stroke weight moves it from 0.05 to 0.3 cap heights); over it, gaps within words exceed it
# by at most 0.13 (99.9 %), word spaces by at least 0.19 (99.9 %; 99 % by 0.22 to 0.28, by font)
# in 2000 sampled lines. A gap's confidence rises from 0 at the first bound to 1 at _SPACE_SURE, so
# that a gap the fonts share (0.13 to 0.30) is an unsure space, never a sure one.
_SPACE_FROM = 0.13
_SPACE_SURE = 0.30
_NARROWER_THAN_SPACES = 0.35
_USUAL_GAP = 0.12  # cap heights, for a line whose every gap is a word space
# Dot-matrix fonts: between the glyphs beside an empty cell lie at least 1.15 advances (a cell and
# the bare columns of two neighbours), between neighbouring glyphs at most 0.8; a skipped cell with
# less bare carton is a grid that slipped, not a word gap.
_CELL_GAP_FROM = 0.85
_CELL_GAP_SURE = 1.1

# Q's tail reaches below the cap band; where the crop's bottom edge cuts a glyph read as O, the
# tail may lie outside the crop (the crop's margin below the capitals is 0.6 mm, its residual
# shift up to 3 px), so the O is no surer than this. In validation every Q read as O with more
# than 0.1 was such a glyph, and no other reading leans on ink below the crop.
_CUT_O_CONFIDENCE = 0.1

_readers: dict[str, LineReader] = {}
_readers_lock = threading.Lock()


def reading_score(confidences: Sequence[float] | npt.NDArray[np.floating[Any]]) -> float:
    """How sure one reading of a line is as a whole: the mean log-confidence of its characters (0 for
    none). Two-pass readers keep the higher-scoring of their readings."""
    if len(confidences) == 0:
        return 0.0
    return float(np.mean(np.log(np.maximum(confidences, 1e-12))))


class ClassicalReader:
    """Reads a line crop with classical stages: segmentation, glyph features, a Gaussian classifier.

    When the line's ink may be dot-matrix or proportional (``vision.segment.segmentations`` gives
    two readings), the likelier is read first; when every character clears ``min_confidence`` it
    is kept as it is, else the other is read too and the one read with the higher mean
    log-confidence is kept: a wrong segmentation leaves fragments and merged pairs, which the
    classifier places far from every class. Word gaps come from geometry: an empty cell of a
    dot-matrix grid, or a gap well beyond the line's usual letter gap between solid characters.

    Parameters
    ----------
    classifier : FeatureClassifier
        Trained on ``vision.char_features`` of ``vision.ocr_types.CHARSET``.
    min_confidence : float, default 0.99
        The confidence threshold to verify reads with (the model card's recommended threshold,
        which ``make_reader`` and ``from_model`` pass); also where reading stops after the first
        segmentation when ``read_line`` is given no threshold of its own.
    """

    name = "classical"
    min_confidence: float
    """The recommended threshold: a field with a character below it is not read for sure. The node
    uses it when a recipe sets none (``recipes.schema`` ``min_confidence``)."""

    def __init__(self, classifier: FeatureClassifier, *, min_confidence: float = 0.99) -> None:
        if not (isinstance(min_confidence, int | float) and 0.0 < min_confidence <= 1.0):
            raise ValueError(f"min_confidence is {min_confidence!r}, expected 0 < min_confidence <= 1")
        self._classifier = classifier
        self._letter_o = classifier.classes.find("O")
        self.min_confidence = float(min_confidence)

    @property
    def classifier(self) -> FeatureClassifier:
        """The feature classifier it reads with."""
        return self._classifier

    @classmethod
    def from_model(cls, path: str | os.PathLike[str] = CLASSICAL_MODEL) -> ClassicalReader:
        """The reader of a trained model and the recommended threshold of its model card.

        Parameters
        ----------
        path : path-like, default ``CLASSICAL_MODEL``
            The ``.npz``; its card is the ``.json`` beside it.

        Raises
        ------
        FileNotFoundError
            If the model or its card is missing.
        ValueError
            If the model is not one (``FeatureClassifier.load``) or the card has no threshold.
        """
        card = Path(path).with_suffix(".json")
        try:
            threshold = float(json.loads(card.read_text())["validation"]["recommended_threshold"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{card} gives no validation.recommended_threshold: {error}") from None
        return cls(FeatureClassifier.load(path), min_confidence=threshold)

    def read_line(
        self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
    ) -> LineRead:
        """Read one line crop (see ``vision.ocr_types`` for its convention).

        The other segmentation is read only when the likelier one leaves a character below
        ``min_confidence`` (``None``: ``self.min_confidence``), the threshold the line will be
        judged at.

        Raises
        ------
        ValueError
            If ``crop`` is not a non-empty 2-D uint8 array, ``px_per_mm`` is not positive, or the
            crop is too short to hold its margins and capitals of at least 8 px.
        """
        if not (isinstance(px_per_mm, int | float) and math.isfinite(px_per_mm) and px_per_mm > 0):
            raise ValueError(f"px_per_mm is {px_per_mm!r}, expected a positive finite number")
        height = getattr(crop, "shape", (0,))[0]
        text_height_mm = height / px_per_mm - 2 * LINE_MARGIN_Y_MM
        if text_height_mm * px_per_mm < 8:
            raise ValueError(
                f"crop is {height} px tall: at px_per_mm {px_per_mm} its capitals would be "
                f"{text_height_mm * px_per_mm:.1f} px (margins {LINE_MARGIN_Y_MM} mm), expected >= 8"
            )
        cap = text_height_mm * px_per_mm
        stop_at = self.min_confidence if min_confidence is None else min_confidence
        best: _Reading | None = None
        for reading in segmentation_readings(crop, px_per_mm=px_per_mm, text_height_mm=text_height_mm):
            read = self._read(crop, reading(), cap)
            if best is None or read.score > best.score:
                best = read
            if read.min_confidence >= stop_at:
                break  # the likelier reading is read with confidence throughout: keep it
        assert best is not None  # segmentation_readings returns at least one
        return best.line(self._classifier.classes)

    def _read(self, crop: npt.NDArray[np.uint8], segmentation: Segmentation, cap: float) -> _Reading:
        """The line as read from one segmentation, its characters not yet made."""
        boxes = segmentation.boxes
        if not boxes:
            return _Reading(boxes=(), indices=[], confidences=[], gaps=[], score=0.0)
        features = char_features(crop, boxes, levels=segmentation.levels)
        indices, confidences = self._classifier.classify(features)
        cut = np.array([y + h >= crop.shape[0] for _, y, _, h in boxes]) & (indices == self._letter_o)
        confidences = np.where(cut, np.minimum(confidences, _CUT_O_CONFIDENCE), confidences)
        score = reading_score(confidences)
        return _Reading(
            boxes=boxes,
            indices=indices.tolist(),
            confidences=confidences.tolist(),
            gaps=_gap_reads(boxes, segmentation, cap),
            score=score,
        )


@dataclass(frozen=True, slots=True)
class _Reading:
    """One segmentation's read as plain numbers: its ``LineRead`` is made only for the one kept."""

    boxes: tuple[Box, ...]
    indices: list[int]
    """The class of each box."""
    confidences: list[float]
    """The confidence of each box's class."""
    gaps: list[tuple[float, Box] | None]
    """The word gap after each box but the last: (confidence, box), or None."""
    score: float
    """The mean log-confidence of the boxes (0 without)."""

    @property
    def min_confidence(self) -> float:
        """``LineRead.min_confidence`` of the line: the least of the characters' and the gaps'."""
        gaps = (gap[0] for gap in self.gaps if gap is not None)
        return min(itertools.chain(self.confidences, gaps), default=1.0)

    def line(self, classes: str) -> LineRead:
        """The line read, the class indices named by ``classes``."""
        chars: list[CharRead] = []
        for index, box in enumerate(self.boxes):
            gap = self.gaps[index - 1] if index else None
            if gap is not None:
                chars.append(CharRead(char=" ", confidence=gap[0], box=gap[1]))
            chars.append(
                CharRead(char=classes[self.indices[index]], confidence=self.confidences[index], box=box)
            )
        return LineRead(chars=tuple(chars))


def _gaps(boxes: tuple[Box, ...], segmentation: Segmentation, cap: float) -> list[CharRead | None]:
    """The word gap after each box but the last, or None where the next character follows directly."""
    return [
        None if gap is None else CharRead(char=" ", confidence=gap[0], box=gap[1])
        for gap in _gap_reads(boxes, segmentation, cap)
    ]


def _gap_reads(
    boxes: tuple[Box, ...], segmentation: Segmentation, cap: float
) -> list[tuple[float, Box] | None]:
    """``_gaps`` as (confidence, box) pairs."""
    widths = [(right[0] - left[0] - left[2]) / cap for left, right in itertools.pairwise(boxes)]
    narrow = sorted(width for width in widths if width < _NARROWER_THAN_SPACES)
    usual = narrow[(len(narrow) - 1) // 4] if narrow else _USUAL_GAP
    cells, advance = segmentation.cells, segmentation.advance
    gaps: list[tuple[float, Box] | None] = []
    for index, (left, right) in enumerate(itertools.pairwise(boxes)):
        if cells is not None and advance is not None:
            if cells[index + 1] - cells[index] <= 1:
                gaps.append(None)
                continue
            bare = (right[0] - left[0] - left[2]) / advance
            confidence = min(max((bare - _CELL_GAP_FROM) / (_CELL_GAP_SURE - _CELL_GAP_FROM), 0.0), 1.0)
        else:
            excess = widths[index] - usual
            if excess <= _SPACE_FROM:
                gaps.append(None)
                continue
            confidence = min((excess - _SPACE_FROM) / (_SPACE_SURE - _SPACE_FROM), 1.0)
        start = left[0] + left[2]
        top = min(left[1], right[1])
        box = (start, top, max(right[0] - start, 0), max(left[1] + left[3], right[1] + right[3]) - top)
        gaps.append((confidence, box))
    return gaps


def make_reader(name: str) -> LineReader:
    """The reader called ``name``, built on first use and shared by every caller in the process.

    Parameters
    ----------
    name : str
        One of ``READERS``: ``"classical"`` (this module), ``"dl"``, ``"combination1"`` or
        ``"combination2"`` (``vision.ocr_dl``).

    Returns
    -------
    LineReader

    Raises
    ------
    ValueError
        If ``name`` is not one of ``READERS``.
    FileNotFoundError
        If the reader's model file is missing.
    """
    if name not in READERS:
        raise ValueError(f"no OCR reader called {name!r}; known readers: {', '.join(READERS)}")
    with _readers_lock:
        reader = _readers.get(name)
        if reader is None:
            reader = _build(name)
            _readers[name] = reader
        return reader


def _build(name: str) -> LineReader:
    if name == "classical":
        return ClassicalReader.from_model(CLASSICAL_MODEL)
    from vision import ocr_dl  # onnxruntime only for the readers that need it

    builders: dict[str, Callable[[], LineReader]] = {
        "dl": ocr_dl.make_dl_reader,
        "combination1": ocr_dl.make_combination1_reader,
        "combination2": ocr_dl.make_combination2_reader,
    }
    return builders[name]()
