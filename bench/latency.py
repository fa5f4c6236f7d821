"""Where a unit's time goes: capture, decode, GS1, OCV, the verdict, the PLC read and write, end to end."""

from __future__ import annotations

from collections.abc import Sequence

from bench.sim import REGISTER_LENGTH, LineRuns, decide_by_ms
from bench.tables import BenchTable, ms
from simulator.report import percentiles


def _row(stage: str, samples: int, figures: dict[str, float]) -> tuple[str, ...]:
    return (stage, str(samples), *(ms(figures[key]) for key in ("p50", "p95", "p99", "max")))


def _stage(stage: str, samples_ms: Sequence[float]) -> tuple[str, ...]:
    return _row(stage, len(samples_ms), percentiles(samples_ms))


def latency_table(runs: LineRuns, *, units: int, rate_per_min: float) -> BenchTable:
    """One simulated run and the percentiles of each step of a unit's way from trigger to verdict."""
    outcome = runs.run(units, rate_per_min).outcome
    report, stats = outcome.report, outcome.stats
    timings = [d.result.timings_ms for d in outcome.decisions if d.result is not None]
    verdicts = units - report.no_verdict_at_plc
    rows = (
        _stage("capture", outcome.capture_ms),
        _stage("decode", [t["decode"] for t in timings if "decode" in t]),
        _stage("GS1", [t["gs1"] for t in timings if "gs1" in t]),
        _stage("grade", [t["grade"] for t in timings if "grade" in t]),
        _stage("OCR + field check", [t["ocr"] for t in timings if "ocr" in t]),
        _stage("verdict (core, per cycle)", [s * 1000 for s in stats.core_s]),
        _stage("PLC read (per cycle)", [s * 1000 for s in stats.read_s]),
        _stage("PLC write", [s * 1000 for s in stats.write_s]),
        _row("trigger → verdict in PLC", verdicts, report.latency_ms),
        _stage("cycle jitter", [s * 1000 for s in stats.jitter_s]),
    )
    return BenchTable(
        title=f"Per-unit latency split: {units} units at {rate_per_min:g}/min",
        columns=("step", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms"),
        rows=rows,
        notes=(
            f"One `tracenode sim` run, defects {runs.defect_rate:.0%}, register {REGISTER_LENGTH} pitches: "
            f"the verdict is due {decide_by_ms(rate_per_min):.0f} ms after the trigger. Result: "
            f"{report.good} good, {report.rejected} rejected, {report.escapes} escapes, "
            f"{report.false_rejects} false rejects, {report.lost} lost, {report.late} late.",
            "capture: from the node's capture request to the frame in hand (shared-memory ring; includes "
            "waiting for the simulator to render it). decode, GS1, OCV: the vision pipeline's own timings "
            "per inspected unit (decode includes the libdmtx fallback on units with no readable code).",
            "verdict: the core handling one cycle's events (every cycle, most with nothing to decide). "
            "PLC read: one OPC UA read of all inputs per cycle; PLC write: one write per cycle with outputs.",
            "trigger → verdict in PLC: measured by the simulated PLC, from its trigger to the verdict taken "
            "into its shift register. cycle jitter: lateness of each 4 ms cycle start against its schedule.",
        ),
    )
