"""The print's completeness check on its own, font by font: good units flagged against partly
printed characters caught, whatever a reader makes of them.

`python -m bench.completeness [--markdown FILE]` draws frames as `bench.ocr` draws them (in-spec
units and units with 30-60 % of one character missing), cuts the lines out as the node does and
measures every expected character (`vision.print_completeness`). Seeds 300 and 310 are
calibration seeds (the thresholds were chosen on them), not the benchmark's held-back 5000.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from bench import ocr
from bench.tables import BenchTable, ms
from simulator.report import percentiles
from simulator.units import Defect
from vision.print_completeness import extra_rows, line_completeness
from vision.text_region import extract_lines

__all__ = ["completeness_table"]

SEEDS = (300, 310)


@dataclass(slots=True)
class _Tally:
    good: int = 0
    good_flagged: int = 0
    partial: int = 0
    partial_caught: int = 0
    times: list[float] = field(default_factory=list)


def _measure(samples: Sequence[ocr.Sample], tallies: dict[str, _Tally]) -> None:
    for sample in samples:
        if sample.code is None:
            continue
        recipe = sample.recipe
        layout, px_per_mm = recipe.print_layout, recipe.inspection.px_per_mm
        expected = ocr.expected_lines(sample)
        extra = extra_rows(px_per_mm)
        t0 = time.perf_counter()
        crops = extract_lines(
            sample.frame,
            corners=sample.code.corners,
            layout=layout,
            expected_lines=expected,
            px_per_mm=px_per_mm,
            extra_rows=extra,
        )
        found = [
            c
            for crop, text in zip(crops, expected, strict=True)
            for c in line_completeness(crop, text, layout, px_per_mm=px_per_mm, extra=extra)
        ]
        tally = tallies.setdefault(layout.font, _Tally())
        tally.times.append((time.perf_counter() - t0) * 1000)
        flagged = not all(c.complete for c in found)
        if sample.unit.defect is None:
            tally.good += 1
            tally.good_flagged += flagged
        else:
            tally.partial += 1
            tally.partial_caught += flagged


def completeness_table(*, per_font: Sequence[int] = (40, 100)) -> BenchTable:
    """One row per font: in-spec units flagged, partial characters caught, time per unit."""
    tallies: dict[str, _Tally] = {}
    for seed, count in zip(SEEDS, per_font, strict=True):
        plan = ocr.OcrPlan(good_per_font=count, wrong_per_font=count)
        _measure(ocr.held_back_set(plan, seed=seed, wrong_prints=(Defect.PARTIAL_CHARACTER,)), tallies)
    rows = []
    for font, tally in tallies.items():
        spread = percentiles(tally.times)
        rows.append(
            (
                font,
                f"{tally.good_flagged} / {tally.good}",
                f"{tally.partial_caught} / {tally.partial}",
                ms(spread["p50"]),
                ms(spread["p99"]),
            )
        )
    return BenchTable(
        title="Print completeness against the font, by font",
        columns=(
            "font",
            "in-spec units flagged",
            "partial characters caught",
            "median ms/unit",
            "p99 ms/unit",
        ),
        rows=tuple(rows),
        notes=(
            f"Seeds {', '.join(map(str, SEEDS))} ({' and '.join(map(str, per_font))} in-spec units and as "
            "many units with 30-60 % of one character missing, per font and seed); the frames of bench.ocr.",
            "Time per unit: cutting the four lines out (0.5 mm taller) and measuring every character.",
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; ``--markdown FILE`` also writes it as Markdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.completeness", description=__doc__)
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table here")
    args = parser.parse_args(argv)
    table = completeness_table()
    Console(width=140).print(table.rich())
    if args.markdown is not None:
        args.markdown.write_text(table.markdown() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
