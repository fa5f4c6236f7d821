"""Train the classical reader's feature classifier and write its model card, reproducibly from a seed.

    python -m vision.training.train_classical --seed 0 --samples 6000

Training lines come from ``simulator.text_samples.line_samples`` seeded with ``--seed`` (0..499), in
every font a recipe may print; validation lines, in-spec and with a smudged or partly missing
character, from ``--seed + 500``. The confidence is calibrated on held-out line samples and on lines
cut out of whole simulated frames as the node cuts them (``frame_lines``: each coder font at each
scale the embedded recipes inspect at), so that it is right for what the node actually reads. Seeds
from 1000 up are never drawn here: tests and benchmarks hold them back. Each training line is
segmented as the reader segments it; a line whose segmentation does not match its truth character
for character is left out (the classifier learns whole glyphs; fragments and merged pairs must stay
far from every class). numpy only: no torch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recipes.loader import RecipeBook
from recipes.schema import PrintLayout
from simulator.camera import render_unit
from simulator.level4 import SERIAL_ALPHABET, generate_serials
from simulator.printer import Printer
from simulator.text_samples import DEFAULT_FONTS, LineSample, SampleDefect, line_samples
from vision.char_features import GRID_COLUMNS, GRID_ROWS, N_FEATURES, char_features
from vision.datamatrix import read_datamatrix
from vision.feature_classifier import FeatureClassifier
from vision.ocr import CLASSICAL_MODEL, ClassicalReader
from vision.ocr_types import CHARSET, LINE_MARGIN_Y_MM, LineRead
from vision.print_text import print_lines
from vision.segment import Box, segmentations
from vision.text_region import extract_lines
from vision.training.align import align

__all__ = [
    "FONTS",
    "MAX_DEFACED_ACCEPTED",
    "FrameLine",
    "evaluate",
    "frame_glyphs",
    "frame_lines",
    "glyphs",
    "main",
    "recipe_scales",
    "recommend",
    "train",
]

FONTS: tuple[str, ...] = typing.get_args(PrintLayout.model_fields["font"].annotation)
"""Every font a recipe may print."""

PX_PER_MM = 10.0
VALIDATION_SEED_OFFSET = 500
RESERVED_SEEDS_FROM = 1000
"""Seeds at or above this are held back for tests and benchmarks: never used to train."""
FRAME_UNITS = 25
"""Good units per coder font and recipe scale whose frame-cut lines calibrate the confidence."""
_EXPIRY = "280430"
_LOT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_THRESHOLDS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))
MAX_DEFACED_ACCEPTED = 0.005
"""The recommended threshold lets at most this share of defaced validation lines (a smudge over
three to five characters, or 30 to 60 % of one character missing) pass with their text right. Some
pass at any threshold: a hyphen, full stop or 1 with a third of it missing is still read as itself
(every such line in validation is a partial hyphen, stop, colon or 1). The card's
``threshold_curve`` gives the trade-off for a recipe that sets its own threshold: at 0.50, for
instance, 91 % of in-spec lines pass, 8 of some 20000 in-spec characters are read wrong (which the
node's comparison with the expected text rejects) and 2 % of defaced lines pass."""


@dataclass(frozen=True, slots=True)
class Glyphs:
    """Feature vectors of the correctly segmented characters of some lines, and of non-characters."""

    features: npt.NDArray[np.float32]
    """(n, N_FEATURES)"""
    labels: npt.NDArray[np.int64]
    """(n,) index into ``vision.ocr_types.CHARSET``."""
    fonts: npt.NDArray[np.int64]
    """(n,) index into ``FONTS``: the subclass."""
    rejects: npt.NDArray[np.float32]
    """(k, N_FEATURES): parts of glyphs (60 % from one side) and neighbouring glyphs merged."""
    lines_used: int
    lines_left_out: int


def glyphs(samples: Sequence[LineSample], *, px_per_mm: float = PX_PER_MM) -> Glyphs:
    """Segment each sample as the reader does and describe the characters of those that segment right.

    A line counts when one of its segmentations has exactly one box per printed character, each
    box's centre within that character's cell (±1 px). Of each such line, one glyph in three also
    gives a reject: 60 % of its box from a side drawn in turn, or its box merged with the next
    glyph's when no word gap lies between them.
    """
    return _collect(
        [
            (
                sample.image,
                sample.text,
                sample.font,
                px_per_mm,
                [box for box, char in zip(sample.boxes, sample.text, strict=True) if char != " "],
            )
            for sample in samples
        ]
    )


def _collect(
    lines: Sequence[tuple[npt.NDArray[np.uint8], str, str, float, Sequence[Box] | None]],
) -> Glyphs:
    """The glyphs of (image, text, font, px_per_mm, cells of the printed characters or None) lines:
    the first segmentation with one box per printed character (each within its cell ±1 px, when
    the cells are known) gives them, and one in three a reject (``_rejects``)."""
    features, labels, fonts, rejects = [], [], [], []
    used = 0
    for number, (image, text, font, px_per_mm, cells) in enumerate(lines):
        text_height_mm = image.shape[0] / px_per_mm - 2 * LINE_MARGIN_Y_MM
        printed = [char for char in text if char != " "]
        for segmentation in segmentations(image, px_per_mm=px_per_mm, text_height_mm=text_height_mm):
            boxes = segmentation.boxes
            if len(boxes) == len(printed) and (
                cells is None
                or all(
                    cell[0] - 1 <= box[0] + box[2] / 2 <= cell[0] + cell[2] + 1
                    for box, cell in zip(boxes, cells, strict=True)
                )
            ):
                features.append(char_features(image, boxes, levels=segmentation.levels))
                labels += [CHARSET.index(char) for char in printed]
                fonts += [FONTS.index(font)] * len(printed)
                parts = _rejects(boxes, _word_ends(text), number)
                if parts:
                    rejects.append(char_features(image, parts, levels=segmentation.levels))
                used += 1
                break
    empty = np.zeros((0, N_FEATURES), np.float32)
    return Glyphs(
        features=np.concatenate(features) if features else empty,
        labels=np.array(labels, np.int64),
        fonts=np.array(fonts, np.int64),
        rejects=np.concatenate(rejects) if rejects else empty,
        lines_used=used,
        lines_left_out=len(lines) - used,
    )


@dataclass(frozen=True, slots=True)
class FrameLine:
    """One line cut out of a simulated frame as the node cuts it, and what is printed on it."""

    image: npt.NDArray[np.uint8]
    text: str
    font: str
    px_per_mm: float


def recipe_scales() -> list[tuple[float, float, float]]:
    """The distinct (px_per_mm, text_height_mm, stroke_mm) of the embedded recipes, sorted."""
    recipes = RecipeBook.embedded().recipes.values()
    return sorted(
        {(r.inspection.px_per_mm, r.print_layout.text_height_mm, r.print_layout.stroke_mm) for r in recipes}
    )


def frame_lines(seed: int, units: int, *, fonts: Sequence[str] = DEFAULT_FONTS) -> list[FrameLine]:
    """Lines cut out of whole frames of good units, as ``bench.ocr.read_sample`` and the node cut them.

    For each embedded recipe's scale (``recipe_scales``) and each of ``fonts``, ``units`` in-spec
    units with a random lot are printed and rendered (``simulator.camera.render_unit``: frame blur,
    noise, light, rotation), their code decoded, and their lines cut out by its corners
    (``vision.text_region.extract_lines``: warpAffine resampling). A frame whose code does not
    decode is skipped. Reproducible from ``seed`` (numpy ``SeedSequence([seed, 2])``, one stream per
    scale and font), which must be below ``RESERVED_SEEDS_FROM``.

    Raises
    ------
    ValueError
        If ``seed`` is negative or reserved.
    """
    if not 0 <= seed < RESERVED_SEEDS_FROM:
        raise ValueError(f"seed is {seed}, expected 0..{RESERVED_SEEDS_FROM - 1}")
    book = RecipeBook.embedded()
    lines: list[FrameLine] = []
    streams = np.random.SeedSequence([seed, 2]).spawn(len(recipe_scales()) * len(fonts))
    for (px_per_mm, height, stroke), stream_group in zip(
        recipe_scales(), np.array_split(np.arange(len(streams)), len(recipe_scales())), strict=True
    ):
        base = next(
            r
            for r in book.recipes.values()
            if (r.inspection.px_per_mm, r.print_layout.text_height_mm, r.print_layout.stroke_mm)
            == (px_per_mm, height, stroke)
        )
        for font, stream in zip(fonts, stream_group.tolist(), strict=True):
            layout = base.print_layout.model_copy(update={"font": font})
            rng = np.random.default_rng(streams[stream])
            draw = random.Random(int(rng.integers(2**31)))
            serials = generate_serials(draw, units + 1, length=12, alphabet=SERIAL_ALPHABET, exclude=set())
            lot = "".join(draw.choices(_LOT_ALPHABET, k=3)) + f"{draw.randrange(100):02d}"
            lot += "".join(draw.choices(_LOT_ALPHABET, k=3))
            printer = Printer(
                seed=int(rng.integers(2**31)),
                gtin=base.gtin,
                lot=lot,
                expiry_yymmdd=_EXPIRY,
                serials=serials,
                defect_rate=0.0,
            )
            for n in range(units):
                unit = printer.next_unit(n + 1)
                frame = render_unit(unit, layout, px_per_mm=px_per_mm, rng=rng)
                reads = read_datamatrix(frame, region=base.positions[0].code_region)
                code = next((c for c in reads if c.is_gs1), None)
                if code is None:
                    continue
                printed = print_lines(layout, **unit.printed_fields)
                crops = extract_lines(
                    frame, corners=code.corners, layout=layout, expected_lines=printed, px_per_mm=px_per_mm
                )
                lines += [
                    FrameLine(image=crop, text=text, font=font, px_per_mm=px_per_mm)
                    for crop, text in zip(crops, printed, strict=True)
                ]
    return lines


def frame_glyphs(lines: Sequence[FrameLine]) -> Glyphs:
    """``glyphs`` of frame-cut lines, whose cells are not known: a line counts when one of its
    segmentations has exactly one box per printed character (the reader's characters are right
    99.9 % of the time on such lines, so a box matched to the wrong character is rare)."""
    return _collect([(line.image, line.text, line.font, line.px_per_mm, None) for line in lines])


def _word_ends(text: str) -> set[int]:
    """Indices, among the printed characters of ``text``, of those followed by a word gap."""
    ends = set()
    printed = -1
    for char in text:
        if char == " ":
            ends.add(printed)
        else:
            printed += 1
    return ends


def _rejects(boxes: Sequence[Box], word_ends: set[int], number: int) -> list[Box]:
    """Non-characters made of a line's glyph boxes: every third glyph, cut or merged in turn."""
    made: list[Box] = []
    for index in range(number % 3, len(boxes), 3):
        x, y, w, h = boxes[index]
        kind = (number + index) % 5
        if kind == 4:
            if index + 1 < len(boxes) and index not in word_ends:
                nx, ny, nw, nh = boxes[index + 1]
                top, bottom = min(y, ny), max(y + h, ny + nh)
                made.append((x, top, nx + nw - x, bottom - top))
            continue
        part_w, part_h = max(1, round(0.6 * w)), max(1, round(0.6 * h))
        made.append(
            [
                (x, y, part_w, h),
                (x + w - part_w, y, part_w, h),
                (x, y, w, part_h),
                (x, y + h - part_h, w, part_h),
            ][kind]
        )
    return made


def train(
    seed: int, samples: int, *, frame_units: int = FRAME_UNITS, log: Callable[[str], None] = print
) -> tuple[FeatureClassifier, Glyphs, Glyphs]:
    """Fit the classifier on ``samples`` training lines from ``seed``, and its confidence on a third as
    many calibration lines from a second stream of the same seed together with the lines of
    ``frame_units`` frames per coder font and recipe scale (``frame_lines`` from ``seed``).

    Returns
    -------
    model : FeatureClassifier
    data : Glyphs
        What it was fitted on.
    frames : Glyphs
        The frame-cut part of what it was calibrated on.

    Raises
    ------
    ValueError
        If ``seed`` is not in 0..499 or ``samples`` is below 3.
    """
    if not 0 <= seed < RESERVED_SEEDS_FROM - VALIDATION_SEED_OFFSET:
        raise ValueError(f"seed is {seed}, expected 0..{RESERVED_SEEDS_FROM - VALIDATION_SEED_OFFSET - 1}")
    if samples < 3:
        raise ValueError(f"samples is {samples}, expected >= 3")
    start = time.perf_counter()
    lines = line_samples(np.random.default_rng(seed), samples, fonts=FONTS, px_per_mm=PX_PER_MM)
    held = line_samples(np.random.default_rng([seed, 1]), samples // 3, fonts=FONTS, px_per_mm=PX_PER_MM)
    cut = frame_lines(seed, frame_units)
    log(
        f"drew {samples} training and {len(held)} + {len(cut)} frame-cut calibration lines "
        f"in {time.perf_counter() - start:.0f} s"
    )
    start = time.perf_counter()
    data = glyphs(lines)
    calibration = glyphs(held)
    frames = frame_glyphs(cut)
    log(
        f"{data.features.shape[0]} glyphs from {data.lines_used} lines "
        f"({data.lines_left_out} left out: segmentation off), {calibration.features.shape[0]} + "
        f"{frames.features.shape[0]} glyphs and {calibration.rejects.shape[0]} + {frames.rejects.shape[0]} "
        f"rejects to calibrate, in {time.perf_counter() - start:.0f} s"
    )
    model = FeatureClassifier.fit(data.features, data.labels, classes=CHARSET, groups=data.fonts)
    model = model.calibrated(
        np.concatenate([calibration.features, frames.features]),
        np.concatenate([calibration.labels, frames.labels]),
        np.concatenate([calibration.rejects, frames.rejects]),
    )
    return model, data, frames


def evaluate(
    reader: ClassicalReader,
    lines: Sequence[LineSample],
    defaced: Sequence[LineSample],
    *,
    threshold: float | None = None,
    max_defaced_accepted: float = MAX_DEFACED_ACCEPTED,
) -> dict[str, Any]:
    """Read validation lines as the node does and score the reads against their truth.

    Reads are aligned to the truth (Levenshtein, word gaps included); a read character that is
    not the truth's is wrong. In-spec lines give the character accuracy, and the recommended
    threshold: the lowest of 0.50..0.99 that no wrong character of theirs reaches and at which at
    most ``max_defaced_accepted`` of the defaced lines pass with their text right. With it come the
    shares of in-spec lines and characters it rejects, and for the defaced lines the share it
    accepts with their text right (the defect went unnoticed: must be 0) and how many of their
    printed characters read wrong reach it. Those cannot all be unsure, since part of a character
    can be a whole other one (an 8 without its left half is a 3); the node's comparison with the
    expected text rejects such a line, as it does a line that lost a character entirely.
    """
    reads = []
    elapsed = 0.0
    for sample in (*lines, *defaced):
        start = time.perf_counter()
        reads.append(reader.read_line(sample.image, px_per_mm=PX_PER_MM))
        elapsed += time.perf_counter() - start
    in_spec, damaged = reads[: len(lines)], reads[len(lines) :]
    right, wrong, right_confidences = _score(in_spec, lines)
    _, wrong_defaced, _ = _score(damaged, defaced)
    wrong_defaced = [wrong for wrong in wrong_defaced if wrong[1] != " "]
    if threshold is None:

        def unnoticed(t: float) -> float:
            passed = sum(
                r.min_confidence >= t and r.text == s.text for r, s in zip(damaged, defaced, strict=True)
            )
            return passed / max(len(damaged), 1)

        threshold = next(
            (
                t
                for t in _THRESHOLDS
                if all(c < t for c, _, _ in wrong) and unnoticed(t) <= max_defaced_accepted
            ),
            1.0,
        )
    chars = sum(len(sample.text) for sample in lines)
    curve = {
        f"{t:.2f}": {
            "wrong_chars": sum(c >= t for c, _, _ in wrong),
            "right_chars_below": round(sum(c < t for c in right_confidences) / max(chars, 1), 4),
            "in_spec_lines_accepted": round(
                sum(r.min_confidence >= t for r in in_spec) / max(len(in_spec), 1), 4
            ),
            "defaced_lines_accepted": round(
                sum(r.min_confidence >= t and r.text == s.text for r, s in zip(damaged, defaced, strict=True))
                / max(len(damaged), 1),
                4,
            ),
        }
        for t in _THRESHOLDS[::5]
    }
    by_font: dict[str, list[bool]] = {}
    for read, sample in zip(in_spec, lines, strict=True):
        by_font.setdefault(sample.font, []).append(read.text == sample.text)

    def accepted(read: LineRead) -> bool:
        return read.min_confidence >= threshold

    pairs = list(zip(in_spec, lines, strict=True))
    return {
        "lines": {"in_spec": len(lines), "defaced": len(defaced)},
        "in_spec_chars": chars,
        "char_accuracy": right / max(chars, 1),
        "wrong_chars": len(wrong),
        "line_accuracy": sum(r.text == s.text for r, s in pairs) / max(len(lines), 1),
        "line_accuracy_by_font": {font: sum(ok) / len(ok) for font, ok in sorted(by_font.items())},
        "recommended_threshold": threshold,
        "wrong_chars_at_or_above_threshold": int(sum(c >= threshold for c, _, _ in wrong)),
        "highest_wrong_confidence": max((c for c, _, _ in wrong), default=0.0),
        "wrong_examples": [f"{truth!r} read {char!r} at {c:.3f}" for c, char, truth in sorted(wrong)[-10:]],
        "right_chars_below_threshold": sum(c < threshold for c in right_confidences) / max(chars, 1),
        "in_spec_lines_accepted": sum(accepted(r) for r in in_spec) / max(len(in_spec), 1),
        "in_spec_lines_accepted_and_right": sum(accepted(r) and r.text == s.text for r, s in pairs)
        / max(len(in_spec), 1),
        "defaced_wrong_printed_chars_at_or_above_threshold": int(
            sum(c >= threshold for c, _, _ in wrong_defaced)
        ),
        "highest_defaced_wrong_printed_confidence": max((c for c, _, _ in wrong_defaced), default=0.0),
        "defaced_lines_accepted": sum(
            accepted(r) and r.text == s.text for r, s in zip(damaged, defaced, strict=True)
        )
        / max(len(damaged), 1),
        "mean_read_ms_one_thread": 1e3 * elapsed / max(len(reads), 1),
        "threshold_curve": curve,
    }


def recommend(
    model: FeatureClassifier, lines: Sequence[LineSample], defaced: Sequence[LineSample]
) -> dict[str, Any]:
    """``evaluate`` of a reader of ``model`` that uses its own recommended threshold.

    The reader stops after the first segmentation when each of its characters clears its
    threshold, so its reads depend on the threshold: the threshold is first recommended for a
    reader that always weighs both segmentations, then again for a reader with that threshold
    until no higher one is recommended; the last evaluation, at the threshold read with, is returned.
    """
    threshold = evaluate(ClassicalReader(model, min_confidence=1.0), lines, defaced)["recommended_threshold"]
    while True:
        reader = ClassicalReader(model, min_confidence=threshold)
        again = evaluate(reader, lines, defaced)["recommended_threshold"]
        if again <= threshold:
            return evaluate(reader, lines, defaced, threshold=threshold)
        threshold = again


def _score(
    reads: Sequence[LineRead], samples: Sequence[LineSample]
) -> tuple[int, list[tuple[float, str, str]], list[float]]:
    """Characters read right, the wrong ones (confidence, read, truth), the right ones' confidences."""
    right = 0
    wrong: list[tuple[float, str, str]] = []
    confidences: list[float] = []
    for read, sample in zip(reads, samples, strict=True):
        for read_index, truth_index in align(read.text, sample.text):
            if read_index is None:
                continue
            confidence = read.chars[read_index].confidence
            if truth_index is not None and read.text[read_index] == sample.text[truth_index]:
                right += 1
                confidences.append(confidence)
            else:
                truth = sample.text[truth_index] if truth_index is not None else ""
                wrong.append((confidence, read.text[read_index], truth))
    return right, wrong, confidences


def _validation(seed: int, count: int) -> tuple[list[LineSample], list[LineSample]]:
    """In-spec validation lines and as many defaced ones (half smudged, half partly missing)."""
    rng = np.random.default_rng(seed + VALIDATION_SEED_OFFSET)
    lines = line_samples(rng, count, fonts=FONTS, px_per_mm=PX_PER_MM)
    defects: tuple[SampleDefect, ...] = ("smudge", "partial")
    defaced = [
        sample
        for defect in defects
        for sample in line_samples(rng, count // 2, fonts=FONTS, px_per_mm=PX_PER_MM, defect=defect)
    ]
    return lines, defaced


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m vision.training.train_classical", description=__doc__)
    parser.add_argument("--seed", type=int, default=0, help="training seed, 0..499 (validation: seed + 500)")
    parser.add_argument("--samples", type=int, default=6000, help="training lines")
    parser.add_argument("--validation", type=int, default=1500, help="in-spec validation lines")
    parser.add_argument(
        "--frame-units",
        type=int,
        default=FRAME_UNITS,
        help="good units per coder font and recipe scale whose frame-cut lines also calibrate",
    )
    parser.add_argument(
        "--out", type=Path, default=CLASSICAL_MODEL, help="the .npz to write; the card goes beside it"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model, data, frames = train(args.seed, args.samples, frame_units=args.frame_units)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    trained_s = time.perf_counter() - started
    lines, defaced = _validation(args.seed, args.validation)
    validation = recommend(FeatureClassifier.load(args.out), lines, defaced)
    print(json.dumps(validation, indent=2))
    card = {
        "name": "classical_features",
        "file": args.out.name,
        "size_bytes": args.out.stat().st_size,
        "model": " ".join((FeatureClassifier.__doc__ or "").split()),
        "features": f"vision.char_features: {GRID_ROWS} x {GRID_COLUMNS} grid + 4 geometry = {N_FEATURES}",
        "subclasses": int(model.centres.shape[0]),
        "calibration": {
            FONTS[int(font)]: dict(zip(("bias", "distance_weight", "margin_weight"), row, strict=True))
            for font, row in zip(np.unique(data.fonts), model.calibration, strict=True)
        },
        "training": {
            "command": (
                f"python -m vision.training.train_classical --seed {args.seed} --samples {args.samples}"
                + ("" if args.frame_units == FRAME_UNITS else f" --frame-units {args.frame_units}")
            ),
            "seed": args.seed,
            "lines": args.samples,
            "lines_used": data.lines_used,
            "lines_left_out": data.lines_left_out,
            "glyphs": int(data.features.shape[0]),
            "calibration_lines": args.samples // 3,
            "calibration_seed": f"[{args.seed}, 1] (numpy SeedSequence)",
            "calibration_frames": {
                "generator": (
                    "vision.training.train_classical.frame_lines: whole frames "
                    "(simulator.camera.render_unit) of good units, code decoded, lines cut out by its "
                    "corners (vision.text_region.extract_lines)"
                ),
                "seed": f"[{args.seed}, 2] (numpy SeedSequence)",
                "fonts": list(DEFAULT_FONTS),
                "scales": [
                    {"px_per_mm": ppm, "text_height_mm": height, "stroke_mm": stroke}
                    for ppm, height, stroke in recipe_scales()
                ],
                "units_per_font_and_scale": args.frame_units,
                "lines_used": frames.lines_used,
                "lines_left_out": frames.lines_left_out,
                "glyphs": int(frames.features.shape[0]),
            },
            "misread_cost": "a misread calibration glyph weighs 10 read right (FeatureClassifier.calibrated)",
            "time_s": round(trained_s),
        },
        "data": {
            "generator": "simulator.text_samples.line_samples (in-spec print, IN_SPEC quality)",
            "fonts": list(FONTS),
            "px_per_mm": PX_PER_MM,
            "text_height_mm": [2.0, 3.2],
            "validation_seed": args.seed + VALIDATION_SEED_OFFSET,
            "validation_lines": len(lines),
            "validation_defaced_lines": f"{len(defaced)}, line_samples defects 'smudge' and 'partial'",
            "reserved_seeds": f">= {RESERVED_SEEDS_FROM}: held back for tests and benchmarks",
        },
        "date": dt.date.today().isoformat(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "validation": validation,
    }
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
