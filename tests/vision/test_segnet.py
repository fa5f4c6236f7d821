"""Combination 2 (``vision.ocr_dl.SegNetReader``): its boxes, and confidences that mean what they say.

The classical feature classifier names the characters the segmentation net finds, and is calibrated
on glyphs boxed as ``vision.segment`` boxes them: boxed any other way, right reads come out unsure.
Every sample here is drawn with a seed from 1000 up, which training never uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from simulator.text_samples import LineSample, line_samples
from vision._segnet_kernels import float32_mean_kernel
from vision.binarize import otsu_threshold
from vision.char_features import char_features
from vision.components import label_components
from vision.ocr_dl import (
    SEGNET_CHARACTER,
    SEGNET_GAP,
    SEGNET_SPACE,
    SEGNET_STRIDE,
    LineInput,
    Segments,
    SegNetReader,
    _cut_blob,
    _LineFeatures,
    cut_segments,
    glyph_boxes,
    line_input,
    make_combination2_reader,
)
from vision.ocr_types import CharRead, LineRead
from vision.onnx_models import load_model, recommended_threshold
from vision.segment import _CORE_LEVEL, _DROP_LEVEL, _speck_area, ink_levels, segment_line

PX_PER_MM = 10.0
NODE_FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex")
"""The fonts the recipes print (``bench.ocr``'s), each checked on its own."""
SURE_SHARE = {"dot5x7": 0.7, "dot7x9": 0.7, "tij_sans": 0.9, "hershey_simplex": 0.8}
"""Least share of the characters of lines read right at or above the card threshold, per font. The
feature classifier is less sure of dot-matrix glyphs (drop placement scatters them): the classical
reader, the same classifier on the classical segmenter's boxes, has about 0.75 of them there too."""


@pytest.fixture(scope="module")
def reader() -> SegNetReader:
    """The reader as the node builds it."""
    return make_combination2_reader()


def _font_lines(index: int, font: str, count: int = 12) -> list[LineSample]:
    return line_samples(np.random.default_rng(1010 + index), count, fonts=(font,), px_per_mm=PX_PER_MM)


class TestConfidence:
    """High when the read is right, low when the glyph is unclear, as the other readers'."""

    def test_card_threshold(self, reader: SegNetReader) -> None:
        """The card's threshold is one validation supports below 1: lines can pass at all."""
        assert reader.min_confidence == recommended_threshold("segnet")
        assert 0.5 <= reader.min_confidence < 1.0

    @pytest.mark.parametrize(("index", "font"), list(enumerate(NODE_FONTS)), ids=NODE_FONTS)
    def test_right_reads_are_sure(self, reader: SegNetReader, index: int, font: str) -> None:
        """In each font, in-spec lines read as printed, most characters at or above the card threshold
        (as the classical reader's); a line read wrong is never sure."""
        samples = _font_lines(index, font)
        reads = [reader.read_line(sample.image, px_per_mm=PX_PER_MM) for sample in samples]
        right = [read for sample, read in zip(samples, reads, strict=True) if read.text == sample.text]
        assert len(right) >= 10
        confidences = np.array([char.confidence for read in right for char in read.chars])
        assert np.median(confidences) >= 0.98
        assert (confidences >= reader.min_confidence).mean() >= SURE_SHARE[font]
        assert not any(
            read.text != sample.text and read.min_confidence >= reader.min_confidence
            for sample, read in zip(samples, reads, strict=True)
        )

    @pytest.mark.parametrize("font", ["tij_sans", "hershey_simplex"])
    def test_solid_lines_pass(self, reader: SegNetReader, font: str) -> None:
        """Most in-spec lines of the solid fonts pass whole at the card threshold."""
        samples = _font_lines(NODE_FONTS.index(font), font)
        reads = [reader.read_line(sample.image, px_per_mm=PX_PER_MM) for sample in samples]
        passed = sum(
            read.text == sample.text and read.min_confidence >= reader.min_confidence
            for sample, read in zip(samples, reads, strict=True)
        )
        assert passed >= 7

    def test_split_glyph_is_unsure(self, reader: SegNetReader) -> None:
        """A glyph the net cuts in two reads unsure, though each half may look like a glyph."""
        model = load_model("segnet")
        checked = 0
        for sample in _font_lines(2, "tij_sans", 6):
            line = line_input(sample.image, px_per_mm=PX_PER_MM)
            probs = model.run({"image": line.image})[0].copy()
            labels = probs[0].argmax(axis=0)
            runs = np.flatnonzero(np.diff(np.concatenate(([0], labels == SEGNET_CHARACTER, [0]))))
            wide = [(a, b) for a, b in runs.reshape(-1, 2).tolist() if b - a >= 7]
            if not wide:
                continue
            first, stop = wide[0]
            probs[0, :, (first + stop) // 2] = 0.0
            probs[0, SEGNET_GAP, (first + stop) // 2] = 1.0
            split = SegNetReader(
                _FixedOutput(probs), reader._classifier, min_confidence=reader.min_confidence
            )
            read = split.read_line(sample.image, px_per_mm=PX_PER_MM)
            assert read.text != sample.text
            assert read.min_confidence < reader.min_confidence, (sample.text, read.text)
            checked += 1
        assert checked >= 3


@dataclass(frozen=True)
class _FixedOutput:
    """A stand-in for the net that answers every line with the same posteriors."""

    probs: npt.NDArray[np.float32]

    def run(self, inputs: dict[str, Any]) -> list[npt.NDArray[np.float32]]:
        return [self.probs]


class TestBoxes:
    """Each span is boxed around its ink as the classical segmenter boxes a glyph."""

    @pytest.mark.parametrize(("index", "font"), list(enumerate(NODE_FONTS)), ids=NODE_FONTS)
    def test_boxes_match_classical(self, reader: SegNetReader, index: int, font: str) -> None:
        """Where both find the same characters, the reader's boxes are the classical segmenter's to
        a pixel or two (the classical feature classifier is calibrated on those)."""
        compared = same = 0
        for sample in _font_lines(index, font, 8):
            line = line_input(sample.image, px_per_mm=PX_PER_MM)
            read = reader.read_line(sample.image, px_per_mm=PX_PER_MM)
            cap = line.cap_box[1]
            classical = segment_line(sample.image, px_per_mm=PX_PER_MM, text_height_mm=cap / PX_PER_MM).boxes
            boxes = [char.box for char in read.chars if char.char != " "]
            if len(boxes) != len(classical):
                continue
            for box, other in zip(boxes, classical, strict=True):
                compared += 1
                same += max(abs(a - b) for a, b in zip(box, other, strict=True)) <= 2
        assert compared >= 50
        assert same >= 0.9 * compared

    def test_neighbour_ink_stays_out(self) -> None:
        """A span reaching into its neighbour's ink does not take it, and a blob shared by two spans
        is cut between them; a span with no ink keeps its fallback box."""
        crop = np.full((30, 60), 200, np.uint8)
        crop[5:25, 4:14] = 40  # glyph 1
        crop[5:25, 18:28] = 40  # glyph 2
        crop[5:25, 34:54] = 40  # two glyphs touching: one blob
        crop[12:16, 43:45] = 200  # ... thinnest at columns 43-44
        spans = [(3, 16), (15, 29), (33, 44), (45, 55)]
        fallback = [(0, 0, 1, 1)] * 4
        boxes = glyph_boxes(crop, spans, 20.0, threshold=otsu_threshold(crop), reach=None, fallback=fallback)
        assert boxes[0] == (4, 5, 10, 20)
        assert boxes[1] == (18, 5, 10, 20)
        assert boxes[2][0] == 34 and 42 <= boxes[2][0] + boxes[2][2] <= 45
        assert 43 <= boxes[3][0] <= 45 and boxes[3][0] + boxes[3][2] == 54
        # Ink more than 0.15 cap heights (3 px) beside every span is no span's.
        assert glyph_boxes(crop, [(58, 60)], 20.0, threshold=100, reach=None, fallback=[(58, 5, 2, 20)]) == [
            (58, 5, 2, 20)
        ]


class TestCutSegments:
    """The net's posteriors to character spans and their confidences."""

    def test_core_steps(self) -> None:
        """A character's confidence is its run's mean "character" posterior less the two edge steps,
        which straddle the edge of its ink; a word space is the highest "space" posterior in its gap."""
        crop = np.full((38, 120), 200, np.uint8)
        line = line_input(crop, px_per_mm=PX_PER_MM)
        steps = 40
        probs = np.zeros((3, steps), np.float32)
        probs[SEGNET_GAP] = 1.0

        def mark(first: int, last: int, cls: int, edge: float) -> None:
            probs[:, first : last + 1] = 0.0
            probs[cls, first : last + 1] = 1.0
            for step in (first, last):
                probs[:, step] = (1.0 - edge) / 2
                probs[cls, step] = edge

        mark(2, 9, SEGNET_CHARACTER, 0.55)
        mark(12, 19, SEGNET_CHARACTER, 0.6)
        mark(20, 23, SEGNET_SPACE, 0.9)
        mark(25, 26, SEGNET_CHARACTER, 0.8)
        cut = cut_segments(line, probs)
        assert cut.confidences == pytest.approx([1.0, 1.0, 0.8])
        assert cut.space_after == pytest.approx([0.0, 1.0, 0.0])
        assert [span[0] for span in cut.spans] == [line.to_crop_x(2 * SEGNET_STRIDE)] + [
            line.to_crop_x(first * SEGNET_STRIDE) for first in (12, 25)
        ]
        assert all(w >= 1 and h >= 1 for _, _, w, h in cut.boxes)  # no ink: the spans' fallback boxes


def _cut_segments_per_run(line: LineInput, probs: npt.NDArray[np.float32]) -> Segments:
    """``cut_segments`` written run by run in numpy, as it was before its kernel."""
    labels = probs.argmax(axis=0)
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate(([0], edges)).tolist()
    stops = (np.concatenate((edges, [labels.size])) - 1).tolist()
    y, cap_px = line.cap_box
    width = int(line.crop.shape[1])
    cut = Segments(boxes=[], spans=[], confidences=[], space_after=[])
    for first, last in zip(starts, stops, strict=True):
        if labels[first] == SEGNET_CHARACTER:
            x0 = line.to_crop_x(first * SEGNET_STRIDE)
            x1 = line.to_crop_x((last + 1) * SEGNET_STRIDE)
            left, right = max(x0 - 1, 0), min(x1 + 1, width)
            cut.boxes.append(
                line.ink_box(left, right) or (min(left, width - 1), y, max(right - left, 1), cap_px)
            )
            cut.spans.append((x0, x1))
            core = probs[SEGNET_CHARACTER, first : last + 1]
            cut.confidences.append(float((core[1:-1] if core.size > 2 else core).mean()))
            cut.space_after.append(0.0)
        elif cut.boxes and last + 1 < labels.size:
            cut.space_after[-1] = max(cut.space_after[-1], float(probs[SEGNET_SPACE, first : last + 1].max()))
    if cut.space_after:
        cut.space_after[-1] = 0.0
    return cut


class TestSharedWork:
    """The reader's compiled and shared steps give, to the bit, what their plain definitions give."""

    @pytest.mark.parametrize(("index", "font"), list(enumerate(NODE_FONTS)), ids=NODE_FONTS)
    def test_cut_segments_is_per_run(self, index: int, font: str) -> None:
        """Spans, ink boxes, confidences (numpy's float32 mean) and spaces, on the net's posteriors
        and on noise that makes runs of every length."""
        model = load_model("segnet")
        rng = np.random.default_rng(2000 + index)
        for sample in _font_lines(index, font, 4):
            line = line_input(sample.image, px_per_mm=PX_PER_MM)
            probs = model.run({"image": line.image})[0][0]
            noise = rng.random(probs.shape).astype(np.float32) ** 3
            for posteriors in (probs, noise):
                assert cut_segments(line, posteriors) == _cut_segments_per_run(line, posteriors)

    def test_core_mean_is_numpys(self) -> None:
        """The kernel's mean is numpy's float32 mean (pairwise sums), whatever the length."""
        rng = np.random.default_rng(2010)
        for length in [*range(1, 40), 127, 128, 129, 255, 256, 1000]:
            values = rng.random(length + 3).astype(np.float32)
            assert float32_mean_kernel(values, 3, length + 3) == float(values[3:].mean())

    @pytest.mark.parametrize(("index", "font"), list(enumerate(NODE_FONTS)), ids=NODE_FONTS)
    def test_line_features_are_char_features(self, index: int, font: str) -> None:
        """Features of one line's boxes, of its merged neighbours among them, and again (the blurred
        ink reused) are ``char_features``' of the same boxes."""
        model = load_model("segnet")
        for sample in _font_lines(index, font, 3):
            line = line_input(sample.image, px_per_mm=PX_PER_MM)
            cut = cut_segments(line, model.run({"image": line.image})[0][0])
            levels = ink_levels(sample.image)
            assert levels is not None and len(cut.boxes) >= 2
            (x0, y0, _, h0), (x1, y1, w1, h1) = cut.boxes[:2]
            top = min(y0, y1)
            merged = [*cut.boxes, (x0, top, x1 + w1 - x0, max(y0 + h0, y1 + h1) - top)]
            features = _LineFeatures(sample.image, levels)
            for _ in range(2):
                assert np.array_equal(
                    features.of(cut.boxes), char_features(sample.image, cut.boxes, levels=levels)
                )
                assert np.array_equal(
                    features.of(merged, first=len(cut.boxes)),
                    char_features(sample.image, merged, levels=levels)[len(cut.boxes) :],
                )

    @pytest.mark.parametrize(("index", "font"), list(enumerate(NODE_FONTS)), ids=NODE_FONTS)
    def test_glyph_boxes_are_per_blob(self, index: int, font: str) -> None:
        """Both inkings' boxes are those of the ownership rule written in numpy over all blobs."""
        model = load_model("segnet")
        for sample in _font_lines(index, font, 4):
            crop = sample.image
            line = line_input(crop, px_per_mm=PX_PER_MM)
            cut = cut_segments(line, model.run({"image": line.image})[0][0])
            cap = float(line.cap_box[1])
            threshold = otsu_threshold(crop)
            levels = ink_levels(crop, threshold=threshold)
            assert levels is not None
            ground, ink = levels
            drops = (threshold, round(ground - _DROP_LEVEL * (ground - ink)))
            core = (min(max(round(ground - _CORE_LEVEL * (ground - ink)), 0), threshold), None)
            for level, reach in (drops, core):
                boxes = glyph_boxes(crop, cut.spans, cap, threshold=level, reach=reach, fallback=cut.boxes)
                assert boxes == _glyph_boxes_numpy(crop, cut.spans, cap, level, reach, cut.boxes)


def _glyph_boxes_numpy(
    crop: npt.NDArray[np.uint8],
    spans: list[tuple[int, int]],
    cap: float,
    threshold: int,
    reach: int | None,
    fallback: list[tuple[int, int, int, int]],
) -> list[tuple[int, int, int, int]]:
    """``glyph_boxes`` in numpy, as it was before its kernel."""
    labels, stats = label_components((crop <= threshold).astype(np.uint8))
    kept = stats[:, 4] >= _speck_area(cap)
    kept[0] = False
    if reach is not None:
        reaching = np.zeros(kept.size, bool)
        reaching[labels[crop <= reach]] = True
        kept &= reaching
    blobs = np.flatnonzero(kept)
    left = stats[blobs, 0].astype(np.int64)
    right = left + stats[blobs, 2]
    span_left = np.array([x0 for x0, _ in spans])
    span_right = np.array([x1 for _, x1 in spans])
    overlap = np.clip(
        np.minimum(right[:, None], span_right[None, :]) - np.maximum(left[:, None], span_left[None, :]),
        0,
        None,
    )
    distance = np.maximum(span_left[None, :] - right[:, None], left[:, None] - span_right[None, :])
    shared = (overlap >= 0.25 * cap).sum(axis=1) > 1
    near = distance.min(axis=1) <= 0.15 * cap
    owner = np.where(
        overlap.max(axis=1) > 0, overlap.argmax(axis=1), np.where(near, distance.argmin(axis=1), -1)
    )
    owner[shared] = -1
    extent = [[crop.shape[1], crop.shape[0], -1, -1] for _ in spans]
    for row in np.flatnonzero(owner >= 0).tolist():
        x, y, w, h = stats[blobs[row], :4].tolist()
        box = extent[owner[row]]
        box[:] = [min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
    for row in np.flatnonzero(shared).tolist():
        blob = int(blobs[row])
        bx, by, bw, bh = stats[blob, :4].tolist()
        owners = np.flatnonzero(overlap[row] >= 0.25 * cap).tolist()
        for span, cut0, cut1 in _cut_blob(labels, blob, (bx, by, bw, bh), owners, spans, cap):
            mask = labels[by : by + bh, cut0:cut1] == blob
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            if rows.size:
                box = extent[span]
                box[:] = [
                    min(box[0], cut0 + int(cols[0])),
                    min(box[1], by + int(rows[0])),
                    max(box[2], cut0 + int(cols[-1]) + 1),
                    max(box[3], by + int(rows[-1]) + 1),
                ]
    return [
        (x0, y0, x1 - x0, y1 - y0) if x1 > x0 else fallback[i] for i, (x0, y0, x1, y1) in enumerate(extent)
    ]


def test_reads_are_line_reads(reader: SegNetReader) -> None:
    """Words and spaces come out as ``CharRead``s in reading order, spaces boxed between their words."""
    sample = next(s for s in _font_lines(3, "hershey_simplex") if " " in s.text)
    read = reader.read_line(sample.image, px_per_mm=PX_PER_MM)
    assert isinstance(read, LineRead) and all(isinstance(char, CharRead) for char in read.chars)
    for index, char in enumerate(read.chars):
        if char.char == " ":
            before, after = read.chars[index - 1].box, read.chars[index + 1].box
            assert char.box[0] == before[0] + before[2] and char.box[0] + char.box[2] <= after[0] + 1


class TestValidationScoring:
    """The card's threshold: the lowest at which no validation character is read wrong."""

    def test_extra_character_is_the_misplaced_one(self) -> None:
        """Of two equal neighbours, the one read where the other was printed is the extra one, so a
        sure first half of a split glyph, read right, does not count as read wrong."""
        pytest.importorskip("torch")
        from vision.training import train_dl

        # "LOT" read as "LL:T": the O cut into an L and a colon, both unsure; the first L is sure.
        read = LineRead(
            chars=(
                CharRead("L", 1.0, (0, 0, 8, 10)),
                CharRead("L", 0.01, (10, 0, 4, 10)),
                CharRead(":", 0.01, (15, 0, 3, 10)),
                CharRead("T", 1.0, (20, 0, 8, 10)),
            )
        )
        truth = _Truth(text="LOT", ink_boxes=((0, 0, 8, 10), (10, 0, 8, 10), (20, 0, 8, 10)))
        pairs = train_dl.align_in_place(read, truth)  # type: ignore[arg-type]
        assert pairs[0] == (0, 0) and pairs[-1] == (3, 2)  # both halves lie on the O: either is the extra
        # Text alone (``align``) would blame the sure L.
        from vision.training.align import align

        assert align(read.text, truth.text) == [(0, None), (1, 0), (2, 1), (3, 2)]


@dataclass(frozen=True)
class _Truth:
    """What ``align_in_place`` reads of a ``TrainingLine``."""

    text: str
    ink_boxes: tuple[tuple[int, int, int, int] | None, ...]
