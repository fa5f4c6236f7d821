"""The four OCR pipelines side by side on one held-back set of simulated frames, and the full unit.

The set is drawn with seeds the training scripts never use (>= 5000; training uses < 1000), as
whole 1280×1024 frames through the node's own path: decode the code, cut the lines out by its
corners, read them, check them field by field against the code. Good units are in-spec print of
all four fonts; wrong prints are the simulator's text defects (a field printed other than the code
holds, a partly missing character, smeared ink), each of which must be rejected.

Columns: character accuracy (top-1 read against the printed truth, edit distance, good units),
field accuracy (fields read exactly and with confidence, good units), rejects of good units,
accepted wrong prints (must be 0), and the reading time per unit (line extraction + four lines read
+ check). A second table times the full per-unit pipeline (decode + GS1 + grade + OCR) per
pipeline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bench.tables import BenchTable, ms
from node.job import Job
from recipes.loader import RecipeBook
from recipes.schema import OCR_PIPELINES, PrintLayout, Recipe
from simulator.camera import render_unit
from simulator.level4 import SERIAL_ALPHABET, generate_serials
from simulator.printer import Printer
from simulator.report import percentiles
from simulator.units import Defect, Unit
from vision.datamatrix import CodeRead, read_datamatrix
from vision.gs1 import parse_element_string
from vision.ocr import make_reader
from vision.ocr_types import LineRead, LineReader
from vision.pipeline import inspect_unit, read_print
from vision.print_check import PrintCheck, check_print
from vision.print_completeness import CharCompleteness
from vision.print_text import print_lines
from vision.training.align import edit_distance

__all__ = [
    "HELD_BACK_SEED",
    "OPERATING_THRESHOLD",
    "OcrPlan",
    "Sample",
    "SampleRead",
    "expected_lines",
    "held_back_set",
    "ocr_tables",
    "read_sample",
]

HELD_BACK_SEED = 5000
FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex")
WRONG_PRINTS = (Defect.PRINT_MISMATCH, Defect.PARTIAL_CHARACTER, Defect.SMUDGED_PRINT)
_EXPIRY = "280430"
# Lots of the simulator's form (SIM26A01), letters and digits, I and 1, O and 0 included.
_LOT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class OcrPlan:
    """How many frames per font."""

    good_per_font: int = 100
    wrong_per_font: int = 30


@dataclass(frozen=True, slots=True)
class Sample:
    """One held-back frame, its truth and the code the node reads on it."""

    frame: npt.NDArray[np.uint8]
    unit: Unit
    recipe: Recipe
    code: CodeRead | None


def _recipe(font: str, index: int) -> Recipe:
    base = RecipeBook.embedded().select(1)
    # Both printed date forms: every other font prints DD.MM.YYYY.
    expiry = "EXP {expiry_dd_mm_yyyy}" if index % 2 else "EXP {expiry_yyyy_mm}"
    lines = (*base.print_layout.lines[:3], expiry)
    layout = base.print_layout.model_copy(update={"font": font, "lines": lines})
    return base.model_copy(update={"print_layout": layout})


def held_back_set(
    plan: OcrPlan, *, seed: int = HELD_BACK_SEED, wrong_prints: Sequence[Defect] = WRONG_PRINTS
) -> list[Sample]:
    """Render the set: per font, good units then wrong prints, each decoded once. Another ``seed``
    (below 1000: a training-side one) draws a calibration set the same way."""
    samples = []
    for index, font in enumerate(FONTS):
        recipe = _recipe(font, index)
        px_per_mm = recipe.inspection.px_per_mm
        for wrong, count in ((False, plan.good_per_font), (True, plan.wrong_per_font)):
            font_seed = seed + 10 * index + int(wrong)
            serials = generate_serials(
                random.Random(font_seed), count + 1, length=12, alphabet=SERIAL_ALPHABET, exclude=set()
            )
            draw = random.Random(font_seed)
            lot = (
                "".join(draw.choices(_LOT_ALPHABET, k=3))
                + f"{draw.randrange(100):02d}"
                + "".join(draw.choices(_LOT_ALPHABET, k=3))
            )
            printer = Printer(
                seed=font_seed,
                gtin=recipe.gtin,
                lot=lot,
                expiry_yymmdd=_EXPIRY,
                serials=serials,
                defect_rate=1.0 if wrong else 0.0,
                defects=tuple(wrong_prints),
            )
            rng = np.random.default_rng(font_seed)
            for n in range(count):
                unit = printer.next_unit(n + 1)
                frame = render_unit(unit, recipe.print_layout, px_per_mm=px_per_mm, rng=rng)
                region = recipe.positions[0].code_region
                reads = read_datamatrix(frame, region=region)
                code = next((r for r in reads if r.is_gs1), None)
                samples.append(Sample(frame=frame, unit=unit, recipe=recipe, code=code))
    return samples


OPERATING_THRESHOLD = 0.5
"""The confidence threshold the example recipes run at (``min_confidence``): with the print's
completeness measured, no misprint or smear is accepted down to 0.3 on the calibration frames
(``bench.ocr_thresholds``), while the model cards' thresholds (no wrong character on clean line
crops) reject most good units."""


@dataclass(frozen=True, slots=True)
class SampleRead:
    """What the node finds on a sample's print: expected lines, reads and completeness."""

    expected: tuple[str, ...]
    reads: tuple[LineRead, ...]
    completeness: tuple[tuple[CharCompleteness, ...], ...] | None

    def check(self, layout: PrintLayout, min_confidence: float) -> PrintCheck:
        """The node's check of the print at ``min_confidence``."""
        return check_print(
            self.reads,
            layout=layout,
            expected_lines=self.expected,
            min_confidence=min_confidence,
            completeness=self.completeness,
        )


def expected_lines(sample: Sample) -> tuple[str, ...]:
    """What the sample's lines must say by its code's data (``sample.code`` must be set)."""
    assert sample.code is not None
    ais = dict(parse_element_string(sample.code.text).ais)
    return print_lines(
        sample.recipe.print_layout, gtin=ais["01"], serial=ais["21"], lot=ais["10"], expiry_yymmdd=ais["17"]
    )


def read_sample(sample: Sample, reader: LineReader, *, min_confidence: float | None = None) -> SampleRead:
    """What the sample's lines must say by its code, what ``reader`` reads on them as the node cuts
    them out, and how complete each character is (as the recipe measures it; ``sample.code`` must
    be set). ``min_confidence``: the threshold the reads will be judged at (``LineReader.read_line``;
    ``None``: the reader's own)."""
    assert sample.code is not None
    recipe = sample.recipe
    expected = expected_lines(sample)
    reads, completeness = read_print(
        sample.frame,
        sample.code.corners,
        recipe.print_layout,
        expected,
        px_per_mm=recipe.inspection.px_per_mm,
        reader=reader,
        completeness=recipe.inspection.ocr.completeness,
        min_confidence=min_confidence,
    )
    return SampleRead(expected=expected, reads=reads, completeness=completeness)


@dataclass(slots=True)
class _Score:
    chars: int = 0
    char_errors: int = 0
    fields: int = 0
    fields_ok: int = 0
    good_units: int = 0
    good_rejected: dict[float, int] = field(default_factory=dict)
    wrong_units: int = 0
    wrong_accepted: dict[float, int] = field(default_factory=dict)
    unread: int = 0  # frames whose code did not decode (no OCR possible)


def _score_pipeline(name: str, samples: Sequence[Sample]) -> tuple[_Score, list[float]]:
    """Reads and field verdicts at the model card's threshold; units at it and at the operating one."""
    reader = make_reader(name)
    thresholds = (reader.min_confidence, OPERATING_THRESHOLD)
    score = _Score(good_rejected=dict.fromkeys(thresholds, 0), wrong_accepted=dict.fromkeys(thresholds, 0))
    times: list[float] = []
    for sample in samples:
        recipe, unit = sample.recipe, sample.unit
        if sample.code is None:
            score.unread += 1
            continue
        # Read as the node reads at each threshold: a two-pass reader stops at the threshold.
        checks = {}
        for t in thresholds:
            t0 = time.perf_counter()
            read_at = read_sample(sample, reader, min_confidence=t)
            checks[t] = read_at.check(recipe.print_layout, t)
            if t == OPERATING_THRESHOLD:  # what the line runs
                times.append((time.perf_counter() - t0) * 1000)
            if t == reader.min_confidence:
                found = read_at
        if unit.defect is None:
            printed = print_lines(recipe.print_layout, **unit.printed_fields)
            for read, truth in zip(found.reads, printed, strict=True):
                want = [c for c in truth if c != " "]
                got = [c.char for c in read.chars if c.char != " "]
                score.chars += len(want)
                score.char_errors += edit_distance(got, want)
            data_fields = [c for c in checks[reader.min_confidence].fields if c.field != "label"]
            score.fields += len(data_fields)
            score.fields_ok += sum(c.verdict == "ok" for c in data_fields)
            score.good_units += 1
            for t, check in checks.items():
                score.good_rejected[t] += not check.ok
        else:
            score.wrong_units += 1
            for t, check in checks.items():
                score.wrong_accepted[t] += check.ok
    return score, times


def _job(sample: Sample, pipeline: str) -> Job:
    """The node's job for the sample, its recipe reading with ``pipeline`` at the operating threshold."""
    recipe = sample.recipe
    ocr = recipe.inspection.ocr.model_copy(
        update={"pipeline": pipeline, "min_confidence": OPERATING_THRESHOLD}
    )
    inspection = recipe.inspection.model_copy(update={"ocr": ocr})
    return Job(
        request=0,
        recipe=recipe.model_copy(update={"inspection": inspection}),
        lot=sample.unit.lot,
        expiry=_EXPIRY,
        issued=frozenset(),
    )


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "-"


def ocr_tables(plan: OcrPlan) -> list[BenchTable]:
    """The pipeline comparison and the full per-unit timing, on one held-back set."""
    samples = held_back_set(plan)
    rows = []
    for name in OCR_PIPELINES:
        score, times = _score_pipeline(name, samples)
        card, operating = make_reader(name).min_confidence, OPERATING_THRESHOLD
        rows.append(
            (
                name,
                _pct(score.chars - score.char_errors, score.chars),
                _pct(score.fields_ok, score.fields),
                f"{score.good_rejected[card]} / {score.good_units} (at {card:g})",
                f"{score.wrong_accepted[card]} / {score.wrong_units}",
                f"{score.good_rejected[operating]} / {score.good_units}",
                f"{score.wrong_accepted[operating]} / {score.wrong_units}",
                ms(percentiles(times)["p50"]),
                ms(percentiles(times)["p99"]),
            )
        )
    unread = sum(s.code is None for s in samples)
    comparison = BenchTable(
        title="OCR pipelines on the held-back set",
        columns=(
            "pipeline",
            "char accuracy",
            "field accuracy",
            "good rejected, card",
            "wrong accepted, card",
            f"good rejected, {OPERATING_THRESHOLD:g}",
            f"wrong accepted, {OPERATING_THRESHOLD:g}",
            "median ms/unit",
            "p99 ms/unit",
        ),
        rows=tuple(rows),
        notes=(
            f"{len(samples)} frames (seed {HELD_BACK_SEED}+, never used in training): per font "
            f"({', '.join(FONTS)}) {plan.good_per_font} in-spec units and {plan.wrong_per_font} wrong "
            f"prints ({', '.join(d.value for d in WRONG_PRINTS)}); {unread} code(s) not decoded. "
            "Lots are random letters and digits (I/1 and O/0 included); dot5x7 and tij_sans print "
            "the expiry as DD.MM.YYYY, the others as YYYY-MM.",
            "Time per unit, at the operating threshold: cutting the lines out of the frame, reading "
            "all four, measuring each character's completeness, checking the fields.",
            "Units judged as the node judges them (fields, confidence, completeness) at two confidence "
            "thresholds: the model card's (no wrong character on clean validation crops) and "
            f"{OPERATING_THRESHOLD:g}, the example recipes'. Field accuracy at the card's.",
        ),
    )
    # The pipelines take turns frame by frame, so a burst of load on this shared machine falls on
    # all four alike rather than on whichever ran through it.
    full_times: dict[str, list[float]] = {name: [] for name in OCR_PIPELINES}
    for sample in samples:
        for name in OCR_PIPELINES:
            job = _job(sample, name)
            t0 = time.perf_counter()
            inspect_unit(sample.frame, job)
            full_times[name].append((time.perf_counter() - t0) * 1000)
    full_rows = []
    for name, times in full_times.items():
        spread = percentiles(times)
        full_rows.append((name, ms(spread["p50"]), ms(spread["p99"]), ms(spread["max"])))
    full = BenchTable(
        title="Full per-unit pipeline on 1280×1024 frames",
        columns=("pipeline", "median ms", "p99 ms", "max ms"),
        rows=tuple(full_rows),
        notes=(
            "decode (zxing-cpp, libdmtx fallback) + GS1 + indicative ISO/IEC 15415 grade + OCR + field "
            "check at the operating threshold, one thread, the same frames as above, the four pipelines "
            "taking turns frame by frame; target p99 <= 30 ms.",
        ),
    )
    return [comparison, full]


if __name__ == "__main__":
    from rich.console import Console

    console = Console()
    for table in ocr_tables(OcrPlan()):
        console.print(table.rich())
