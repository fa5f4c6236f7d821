"""The OCR contract every reading pipeline keeps: what a line crop is and what a reader returns.

A *line crop* is one printed text line cut out of the frame by ``vision.text_region`` (or drawn
directly by ``simulator.text_samples`` for training), always in the same convention, so that a
reader trained on one source reads the other:

- upright (the code's rotation removed), at the recipe's scale (``Inspection.px_per_mm``);
- polarity normalised: dark ink on a light background, uint8, whatever the carton was;
- the line's cap-height box plus ``LINE_MARGIN_Y_MM`` above and below, and from
  ``LINE_MARGIN_X_MM`` left of the first character to ``LINE_EXTRA_CHARS`` character advances
  beyond the expected last character (so text that runs on is seen, not cut off).

A reader never guesses: each character carries a confidence in 0..1, and the verifier rejects a
field with any character below the recipe's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHARSET",
    "LINE_EXTRA_CHARS",
    "LINE_MARGIN_X_MM",
    "LINE_MARGIN_Y_MM",
    "CharRead",
    "LineRead",
    "LineReader",
]

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-./:"
"""Characters the readers know: what pharma coding prints (GTIN, serial, lot, dates, labels).

Space is not a class: readers report word gaps as ``" "`` in ``LineRead.text`` from geometry."""

LINE_MARGIN_X_MM = 1.0
LINE_MARGIN_Y_MM = 0.6
LINE_EXTRA_CHARS = 2


@dataclass(frozen=True, slots=True)
class CharRead:
    """One character as read: the best class, how sure, and where in the line crop."""

    char: str
    """One character of ``CHARSET`` or ``" "`` for a word gap."""
    confidence: float
    """0..1; for a gap, how sure the reader is that nothing is printed there."""
    box: tuple[int, int, int, int]
    """x, y, width, height in line-crop pixels (a gap spans the space between its neighbours)."""


@dataclass(frozen=True, slots=True)
class LineRead:
    """What a reader found on one line crop, characters left to right."""

    chars: tuple[CharRead, ...]

    @property
    def text(self) -> str:
        """The characters joined, word gaps as single spaces."""
        return "".join(c.char for c in self.chars)

    @property
    def min_confidence(self) -> float:
        """The least sure character's confidence (1.0 for an empty line)."""
        return min((c.confidence for c in self.chars), default=1.0)


class LineReader(Protocol):
    """A reading pipeline (classical, DL end-to-end, combination 1 or 2).

    Implementations load their tables or models once, are safe to call from several threads at
    once (the node runs two vision workers), and release the GIL in their heavy stages.
    """

    name: str
    min_confidence: float
    """The confidence threshold its validation set supports (no wrong character at or above it);
    the node applies it unless the recipe sets its own (``Ocr.min_confidence``)."""

    def read_line(
        self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
    ) -> LineRead:
        """Read one line crop (see the module docstring for its convention).

        ``min_confidence`` is the threshold the line will be judged at (``None``: the reader's own).
        A reader that can read a line more than one way stops at the first reading whose every
        character clears it; a single-pass reader ignores it.
        """
        ...
