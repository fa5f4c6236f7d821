"""Two-pass readers stop at the threshold the line is judged at, and the node passes them its own.

The classical reader and combination 1 may segment a line two ways (dot grid and solid) and
combination 2 may box a line two ways; each reads the second only when the first leaves a
character below the threshold (``LineReader.read_line``'s ``min_confidence``). Counting the
classifier's (or the CNN's) calls shows which ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from node.job import Job
from recipes.loader import RecipeBook
from simulator.text_samples import LineSample, line_samples
from vision import pipeline
from vision.feature_classifier import FeatureClassifier
from vision.ocr import ClassicalReader, make_reader
from vision.ocr_dl import CharCnnReader, SegNetReader
from vision.ocr_types import LineRead, LineReader
from vision.onnx_models import load_model, recommended_threshold

PX_PER_MM = 10.0


class _CountingClassifier:
    """The shipped feature classifier, counting its ``classify`` calls."""

    def __init__(self, inner: FeatureClassifier) -> None:
        self._inner = inner
        self.calls = 0

    def classify(self, features: npt.NDArray[np.float32]) -> Any:
        self.calls += 1
        return self._inner.classify(features)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingModel:
    """An ONNX model, counting its ``run`` calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls = 0

    def run(self, inputs: Any) -> Any:
        self.calls += 1
        return self._inner.run(inputs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(scope="module")
def dot_lines() -> list[LineSample]:
    """Dot-matrix lines (the print that takes a second reading most), from a seed training never draws."""
    return line_samples(np.random.default_rng(1207), 24, fonts=("dot5x7", "dot7x9"), px_per_mm=PX_PER_MM)


def _classical(counter: _CountingClassifier) -> ClassicalReader:
    reader = make_reader("classical")
    assert isinstance(reader, ClassicalReader)
    return ClassicalReader(counter, min_confidence=reader.min_confidence)  # type: ignore[arg-type]


def _combination2(counter: _CountingClassifier) -> SegNetReader:
    return SegNetReader(
        load_model("segnet"),
        counter,  # type: ignore[arg-type]
        min_confidence=recommended_threshold("segnet"),
    )


def _reads(reader: LineReader, lines: list[LineSample], stop: float | None) -> list[LineRead]:
    return [reader.read_line(s.image, px_per_mm=PX_PER_MM, min_confidence=stop) for s in lines]


def _combination1(counter: _CountingModel) -> CharCnnReader:
    return CharCnnReader(counter, min_confidence=recommended_threshold("charcnn"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build", [_classical, _combination1, _combination2], ids=["classical", "combination1", "combination2"]
)
def test_a_low_threshold_stops_after_the_first_reading(build: Any, dot_lines: list[LineSample]) -> None:
    """At a threshold every first reading clears, no line is read a second way; at 1.0 some are."""
    low: _CountingClassifier | _CountingModel
    high: _CountingClassifier | _CountingModel
    if build is _combination1:
        low, high = _CountingModel(load_model("charcnn")), _CountingModel(load_model("charcnn"))
    else:
        inner = make_reader("classical")
        assert isinstance(inner, ClassicalReader)
        low, high = _CountingClassifier(inner.classifier), _CountingClassifier(inner.classifier)
    first = _reads(build(low), dot_lines, 1e-9)
    both = _reads(build(high), dot_lines, 1.0)
    # combination2 also asks the classifier once per line when two neighbours may be one glyph.
    assert low.calls <= (2 if build is _combination2 else 1) * len(dot_lines)
    assert high.calls > low.calls
    # Reading on can only keep the likelier reading, so the characters can differ but not the count
    # of lines read.
    assert len(first) == len(both) == len(dot_lines)


@pytest.mark.parametrize("name", ["classical", "combination1", "combination2"])
def test_no_threshold_is_the_readers_own(name: str, dot_lines: list[LineSample]) -> None:
    """``min_confidence=None`` reads exactly as the reader's own threshold does."""
    reader = make_reader(name)
    assert _reads(reader, dot_lines, None) == _reads(reader, dot_lines, reader.min_confidence)


def test_the_node_reads_at_the_recipes_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """``inspect_unit`` hands the reader the threshold the recipe judges the print at."""
    recipe = RecipeBook.embedded().select(1)
    assert recipe.inspection.ocr.min_confidence is not None
    seen: list[float | None] = []
    real = make_reader(recipe.inspection.ocr.pipeline)

    class Recording:
        name = real.name
        min_confidence = real.min_confidence

        def read_line(
            self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
        ) -> LineRead:
            seen.append(min_confidence)
            return real.read_line(crop, px_per_mm=px_per_mm, min_confidence=min_confidence)

    monkeypatch.setattr(pipeline, "make_reader", lambda _name: Recording())
    job = Job(request=0, recipe=recipe, lot="LOT42", expiry="280430", issued=frozenset())
    frame = pipeline._warm_up_frame(job, recipe.positions[0])
    (result,) = pipeline.inspect_unit(frame, job)
    assert result.print_check is not None
    assert seen == [recipe.inspection.ocr.min_confidence] * len(recipe.print_layout.lines)
