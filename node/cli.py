"""The `tracenode` command line: `sim`, `run`, `read`, `ocr`, `gs1`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from node.cli_tools import gs1_command, read_command
from node.logs import configure_logging
from recipes.schema import OCR_PIPELINES


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 1 <= value <= 3000:
        raise argparse.ArgumentTypeError(f"must be within 1..3000 units/min, got {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return value


def _outage(text: str) -> tuple[float, float]:
    try:
        at, seconds = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AT:SECONDS like 10:2, got {text!r}") from None
    if at < 0 or seconds <= 0:
        raise argparse.ArgumentTypeError(f"AT must be >= 0 and SECONDS > 0, got {text!r}")
    return at, seconds


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs)."""
    parser = argparse.ArgumentParser(prog="tracenode", description="Inspection and serialization node")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="run a simulated packaging line with the node in the loop")
    sim.add_argument("--units", type=_positive_int, default=600, help="units to produce (default 600)")
    sim.add_argument("--rate", type=_rate, default=600.0, help="line rate in units/min (default 600)")
    sim.add_argument("--seed", type=int, default=1, help="random seed of the simulated line")
    sim.add_argument("--defects", type=_fraction, default=0.05, help="fraction of units with a defect")
    sim.add_argument(
        "--register", type=_positive_int, default=4, help="pitches from camera to reject station"
    )
    sim.add_argument(
        "--plc", choices=["opcua", "s7", "modbus"], default="opcua", help="PLC link (default opcua)"
    )
    sim.add_argument(
        "--plc-outage",
        type=_outage,
        metavar="AT:SECONDS",
        help="stop the simulated PLC's server AT seconds into the run for SECONDS, then restart it",
    )
    sim.add_argument(
        "--recipe",
        type=_positive_int,
        default=1,
        help="product the PLC selects (embedded recipes: 1 TIJ/dl, 2 CIJ 7x9/combination1, "
        "3 CIJ 5x7/combination1, 4 stroke font/classical, 5 TIJ/combination2)",
    )
    sim.add_argument("--json", type=Path, help="write the report figures to this file")
    sim.add_argument("--db", type=Path, help="serial store (SQLite); default: a temporary file")
    sim.add_argument("--log", type=Path, help="write the JSON log (one line per unit) here")
    run = sub.add_parser("run", help="run the node on a line (as the systemd service does)")
    run.add_argument("--config", type=Path, required=True, help="node configuration (TOML)")
    read = sub.add_parser("read", help="decode GS1 DataMatrix codes in image files; one JSON line each")
    read.add_argument("images", nargs="+")
    ocr = sub.add_parser(
        "ocr", help="inspect one image as the line would: fields read, confidences, grade, verdict (JSON)"
    )
    ocr.add_argument("image", help="a frame (PNG, TIFF, BMP, JPEG; 8 or 16 bit mono or colour)")
    ocr.add_argument("--recipe", required=True, help="recipe file (.toml) or recipe number")
    ocr.add_argument("--recipes", type=Path, help="folder of recipe files for a recipe number")
    ocr.add_argument(
        "--pipeline",
        choices=list(OCR_PIPELINES),
        help="read with this pipeline instead of the recipe's",
    )
    ocr.add_argument("--lot", help="batch lot to check the code against (default: the code's own)")
    ocr.add_argument(
        "--expiry", help="batch expiry YYMMDD to check the code against (default: the code's own)"
    )
    gs1 = sub.add_parser("gs1", help="validate GS1 element strings, one per line; '-' reads stdin")
    gs1.add_argument("source", choices=["-"], help="'-' for standard input")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tracenode` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "read":
        return read_command(args.images, sys.stdout)
    if args.command == "gs1":
        return gs1_command(sys.stdin, sys.stdout)
    if args.command == "ocr":
        from node.cli_ocr import ocr_command

        return ocr_command(
            args.image,
            args.recipe,
            sys.stdout,
            pipeline=args.pipeline,
            lot=args.lot,
            expiry=args.expiry,
            recipes_dir=args.recipes,
        )
    if args.command == "run":
        return _run(args.config)
    return _sim(args)


def _run(config_path: Path) -> int:
    from node.assembly import build_node
    from node.config import ConfigError, load_config

    configure_logging()
    log = structlog.get_logger("tracenode")
    try:
        config = load_config(config_path)
        node = build_node(config)
    except (ConfigError, ValueError) as exc:
        log.error("configuration refused", error=str(exc))
        return 2

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("node starting", plc=config.plc.url, store=str(config.store.path))
        await node.run(stop)
        log.info("node stopped")

    asyncio.run(serve())
    return 0


def _sim(args: argparse.Namespace) -> int:
    from node.sim import SimRun, run_sim
    from simulator.line import SimSettings
    from simulator.report import report_table

    console = Console(stderr=True)
    log_path: Path = args.log or Path("tracenode-sim.log")
    with log_path.open("w") as log_file:
        configure_logging(stream=log_file, json=True)
        settings = SimSettings(
            units=args.units,
            rate_per_min=args.rate,
            seed=args.seed,
            defect_rate=args.defects,
            register_length=args.register,
            recipe_number=args.recipe,
            plc=args.plc,
            plc_outage=args.plc_outage,
        )
        console.print(
            f"tracenode sim: {args.units} units at {args.rate:g}/min, defects {args.defects:.1%}, "
            f"seed {args.seed}, recipe {args.recipe}, PLC link {args.plc}; log: {log_path}"
        )
        with Progress(
            TextColumn("[bold]units"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("units", total=args.units)
            report = asyncio.run(
                run_sim(
                    SimRun(settings=settings, db_path=args.db),
                    progress=lambda done, total: bar.update(task, completed=done),
                )
            ).report
    Console().print(report_table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    ok = report.escapes == 0 and report.lost == 0 and report.counts_match
    return 0 if ok else 1
