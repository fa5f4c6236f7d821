"""`python -m bench` (`make bench`): run the benchmarks and print their tables, optionally as Markdown too."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.grading import FULL as GRADING_FULL
from bench.grading import QUICK as GRADING_QUICK
from bench.grading import GradingPlan, grading_tables
from bench.latency import latency_table
from bench.ocr import OcrPlan, ocr_tables
from bench.protocols import protocol_table
from bench.rate import rate_table
from bench.readers import ReaderPlan, reader_tables
from bench.sim import LineRuns
from bench.tables import BenchTable, load, markdown_document
from node.logs import configure_logging

SECTIONS = ("readers", "ocr", "grading", "latency", "rate", "protocols")


@dataclass(frozen=True, slots=True)
class Plan:
    """The size of every benchmark in one run of the suite."""

    readers: ReaderPlan
    ocr: OcrPlan
    grading: GradingPlan
    latency_units: int
    rate_units: int
    rates: tuple[float, ...]  # the first one is also the latency split's rate, so that run is shared
    protocol_units: int


FULL = Plan(
    readers=ReaderPlan(
        frames=200, no_code_frames=5, slow_frames=20, slow_budget_s=45.0, slow_no_code_frames=1
    ),
    ocr=OcrPlan(good_per_font=100, wrong_per_font=30),
    grading=GRADING_FULL,
    latency_units=300,
    rate_units=300,
    rates=(600.0, 900.0, 1200.0, 1500.0, 1800.0, 2400.0),
    protocol_units=200,
)
"""About 5 minutes on a 2-core machine."""

QUICK = Plan(
    readers=ReaderPlan(
        frames=60, no_code_frames=3, slow_frames=20, slow_budget_s=10.0, slow_no_code_frames=1
    ),
    ocr=OcrPlan(good_per_font=30, wrong_per_font=10),
    grading=GRADING_QUICK,
    latency_units=150,
    rate_units=150,
    rates=(600.0, 900.0, 1200.0, 1800.0, 2400.0),
    protocol_units=100,
)
"""About 2 minutes: fewer frames and units, coarser rate steps."""


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer frames and units (about 2 minutes)")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the tables here, as Markdown"
    )
    parser.add_argument("--only", choices=SECTIONS, help="run one benchmark only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; 1 if one of them failed, else 0."""
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    # Piped or logged output gets room for the widest table; a terminal keeps its own width.
    console = Console(width=None if sys.stdout.isatty() else 120)
    log_path = Path(tempfile.gettempdir()) / "tracenode-bench.log"
    started = time.monotonic()
    load_before = load()
    tables: list[BenchTable] = []
    failed = False
    with log_path.open("w") as log_file, _progress(console) as progress:
        # The node logs a line per unit, as in production; the terminal is for the tables.
        configure_logging(stream=log_file, json=True)
        console.print(f"node log of the simulated runs: {log_path}")
        runs = LineRuns(progress=progress)
        sections: dict[str, Callable[[], list[BenchTable]]] = {
            "readers": lambda: reader_tables(plan.readers, progress=progress),
            "ocr": lambda: ocr_tables(plan.ocr),
            "grading": lambda: grading_tables(plan.grading, progress=progress),
            "latency": lambda: [latency_table(runs, units=plan.latency_units, rate_per_min=plan.rates[0])],
            "rate": lambda: [rate_table(runs, rates=plan.rates, units=plan.rate_units)],
            "protocols": lambda: [protocol_table(units=plan.protocol_units, rate_per_min=plan.rates[0])],
        }
        for name in SECTIONS:
            if args.only not in (None, name):
                continue
            section_start = time.monotonic()
            try:
                done = sections[name]()
            except Exception as exc:  # report it and go on: the other benchmarks still mean something
                console.print(f"[red]benchmark {name} failed: {type(exc).__name__}: {exc}[/]")
                failed = True
                continue
            for table in done:
                console.print(table.rich())
            console.print(f"[dim]{name}: {time.monotonic() - section_start:.0f} s[/]\n")
            tables += done
    took = f"{time.monotonic() - started:.0f} s"
    console.print(f"all benchmarks: {took}")
    if args.markdown is not None:
        command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
        date = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        args.markdown.write_text(
            markdown_document(tables, date=date, command=command, took=took, load_before=load_before)
        )
        console.print(f"Markdown written to {args.markdown}")
    return 1 if failed else 0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


# The simulated line runs in a spawned process, which imports this module again: only the main
# process may run the suite.
if __name__ == "__main__":
    sys.exit(main())
