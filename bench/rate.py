"""The highest line rate this machine sustains: simulated runs at rising rates until a verdict is late."""

from __future__ import annotations

from collections.abc import Sequence

from bench.sim import DECIDE_MARGIN_MS, REGISTER_LENGTH, LineRun, LineRuns, decide_by_ms
from bench.tables import BenchTable, ms
from simulator.report import percentiles

_COLUMNS = (
    "rate /min",
    "due ms",
    "late",
    "lost",
    "escapes",
    "false rejects",
    "latency p50 ms",
    "latency p99 ms",
    "capture p99 ms",
    "inspect p99 ms",
    "jitter p99 ms",
    "CPU busy",
)


def _row(rate: float, run: LineRun) -> tuple[str, ...]:
    outcome = run.outcome
    report = outcome.report
    inspect_ms = [sum(d.result.timings_ms.values()) for d in outcome.decisions if d.result is not None]
    return (
        f"{rate:g}",
        ms(decide_by_ms(rate)),
        str(report.late),
        str(report.lost),
        str(report.escapes),
        str(report.false_rejects),
        ms(report.latency_ms["p50"]),
        ms(report.latency_ms["p99"]),
        ms(percentiles(outcome.capture_ms)["p99"]),
        ms(percentiles(inspect_ms)["p99"]),
        ms(report.jitter_ms["p99"]),
        "-" if run.cpu_busy is None else f"{run.cpu_busy:.0%}",
    )


def rate_table(runs: LineRuns, *, rates: Sequence[float], units: int) -> BenchTable:
    """Run ``units`` units at each rate in turn; stop after the first run with a late, lost or escaped unit.

    A run that fails ends the sweep too and is reported in the notes.
    """
    shared = runs.done(units, rates[0])
    rows: list[tuple[str, ...]] = []
    sustained: float | None = None
    stopped = ""
    for rate in rates:
        try:
            run = runs.run(units, rate)
        except Exception as exc:  # a run that breaks down at a rate is a finding, not a crash of the bench
            rows.append((f"{rate:g}", ms(decide_by_ms(rate)), *["-"] * (len(_COLUMNS) - 2)))
            stopped = f"the run at {rate:g}/min failed: {type(exc).__name__}: {exc}"
            break
        rows.append(_row(rate, run))
        report = run.outcome.report
        if report.late or report.lost or report.escapes:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.rejected_by_reason.items()))
            stopped = (
                f"at {rate:g}/min: {report.late} late, {report.lost} lost, {report.escapes} escapes; "
                f"rejects by reason: {reasons or 'none'}; higher rates not run"
            )
            break
        sustained = rate
    if sustained is None:
        verdict = f"No measured rate ran with 0 late, 0 lost and 0 escapes ({stopped})."
    elif not stopped:
        verdict = f"Every measured rate ran clean; highest measured: {sustained:g}/min (higher not measured)."
    else:
        verdict = f"Highest rate with 0 late, 0 lost and 0 escapes: {sustained:g}/min ({stopped})."
    notes = [
        verdict,
        f"{units} units a run, defects {runs.defect_rate:.0%}. due: the node must decide within "
        f"{REGISTER_LENGTH} pitches (the register's length) less its {DECIDE_MARGIN_MS:g} ms margin "
        "after the trigger, so the budget shrinks as the rate rises.",
        "late: units rejected because no verdict came in time; false rejects: good units rejected "
        "(late ones included). latency: trigger → verdict in the PLC's register. capture: every capture, "
        "waiting for the simulated camera included; inspect: decode + GS1 + OCV of the units whose "
        "result came before their verdict. jitter: the node's cycle lateness.",
        "CPU busy: all of this machine's CPUs (simulated line, node and anything else running) while "
        "units ran; 100 % means every core saturated.",
    ]
    if shared:
        notes.append(f"The {rates[0]:g}/min row is the run of the latency split above.")
    return BenchTable(
        title="Highest sustainable line rate", columns=_COLUMNS, rows=tuple(rows), notes=tuple(notes)
    )
