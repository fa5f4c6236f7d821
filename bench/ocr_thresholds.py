"""The confidence threshold's trade-off per OCR pipeline, on whole frames: good units passed
against wrong prints accepted, threshold by threshold.

`python -m bench.ocr_thresholds [--markdown FILE] [PIPELINE ...]` prints one table per pipeline.
The frames are drawn like the held-back set of `bench.ocr` but from seed 300 (a training-side seed, so a
threshold chosen here is not tuned on the benchmark's own frames). A unit passes at a threshold
when every line reads as the code says, no character is below it and every character is printed
whole (``vision.print_completeness``, as the recipe measures it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench import ocr
from bench.tables import BenchTable
from recipes.schema import OCR_PIPELINES
from vision.ocr import make_reader

__all__ = ["CALIBRATION_SEED", "threshold_tables"]

CALIBRATION_SEED = 300
THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.94, 0.99)


@dataclass(frozen=True, slots=True)
class _Unit:
    read_as_printed: bool
    min_confidence: float
    complete: bool
    defect: str | None


def _units(name: str, samples: Sequence[ocr.Sample]) -> list[_Unit]:
    reader = make_reader(name)
    units = []
    for sample in samples:
        if sample.code is None:
            continue
        found = ocr.read_sample(sample, reader)
        as_printed = all(
            "".join(c.char for c in read.chars if c.char != " ") == line.replace(" ", "")
            for read, line in zip(found.reads, found.expected, strict=True)
        )
        complete = found.completeness is None or all(c.complete for line in found.completeness for c in line)
        defect = sample.unit.defect.value if sample.unit.defect is not None else None
        units.append(_Unit(as_printed, min(read.min_confidence for read in found.reads), complete, defect))
    return units


def threshold_tables(
    pipelines: Sequence[str], *, good_per_font: int = 40, wrong_per_font: int = 40
) -> list[BenchTable]:
    """One table per pipeline: for each threshold, good units passed and wrong prints accepted by kind."""
    plan = ocr.OcrPlan(good_per_font=good_per_font, wrong_per_font=wrong_per_font)
    samples = ocr.held_back_set(plan, seed=CALIBRATION_SEED)
    tables = []
    for name in pipelines:
        units = _units(name, samples)
        good = [u for u in units if u.defect is None]
        wrong = [u for u in units if u.defect is not None]
        kinds = sorted({u.defect for u in wrong if u.defect is not None})
        rows = []
        card = make_reader(name).min_confidence
        for threshold in sorted({*THRESHOLDS, card}):
            passed = [u for u in units if u.read_as_printed and u.complete and u.min_confidence >= threshold]
            row = [
                f"{threshold:g}" + (" (model card)" if threshold == card else ""),
                f"{sum(u.defect is None for u in passed)} / {len(good)}",
            ]
            row += [f"{sum(u.defect == kind for u in passed)}" for kind in kinds]
            rows.append(tuple(row))
        tables.append(
            BenchTable(
                title=f"Confidence threshold trade-off: {name}",
                columns=("threshold", "good units passed", *(f"{k} accepted" for k in kinds)),
                rows=tuple(rows),
                notes=(
                    f"{len(good)} good units and {len(wrong)} wrong prints over four fonts, seed "
                    f"{CALIBRATION_SEED}; a unit passes when read as printed, no character below the "
                    "threshold and every character printed whole (completeness). Lines are read once, "
                    "as at the model card's threshold: classical, combination1 and combination2 read "
                    "their second segmentation unless the first clears the card's (the node stops at "
                    "its own).",
                ),
            )
        )
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables; ``--markdown FILE`` also writes them as Markdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.ocr_thresholds", description=__doc__)
    parser.add_argument(
        "pipelines", nargs="*", metavar="PIPELINE", help=f"{', '.join(OCR_PIPELINES)} (default: all)"
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the tables here")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.pipelines) - set(OCR_PIPELINES))
    if unknown:
        parser.error(f"unknown pipeline(s) {', '.join(unknown)}; known: {', '.join(OCR_PIPELINES)}")
    tables = threshold_tables(args.pipelines or list(OCR_PIPELINES))
    console = Console(width=140)
    for table in tables:
        console.print(table.rich())
    if args.markdown is not None:
        args.markdown.write_text("\n\n".join(table.markdown() for table in tables) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
