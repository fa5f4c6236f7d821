"""The end-of-run report of `tracenode sim`: the node's verdicts scored against the simulator's truth.

Pure functions: the figures come from the truth list, the node's decisions and the PLC's
physical counts; rendering to a rich table or JSON is separate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from node.events import Decision
from node.reasons import Reason
from simulator.line import UnitTruth
from simulator.plc import PhysicalCounts


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max, in the samples' unit; zeros for no samples."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    arr = np.asarray(samples, dtype=float)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(arr.max())}


@dataclass(frozen=True, slots=True)
class Report:
    """What a line engineer wants to know after a run."""

    units: int
    good: int
    rejected: int
    rejected_by_reason: dict[str, int]
    escapes: int
    false_rejects: int
    lost: int
    late: int
    latency_ms: dict[str, float]
    jitter_ms: dict[str, float] = field(default_factory=dict)
    defects_injected: dict[str, int] = field(default_factory=dict)
    physical_passed: int = 0
    physical_rejected: int = 0
    counts_match: bool = False
    no_verdict_at_plc: int = 0
    plc_max_scan_gap_ms: float = 0.0
    false_rejects_by_reason: dict[str, int] = field(default_factory=dict)
    """Why the good units that were rejected were rejected (a unit counts once per reason)."""

    def as_json(self) -> dict[str, Any]:
        """The figures with exactly the keys of the `--json` contract."""
        return {
            "units": self.units,
            "good": self.good,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "escapes": self.escapes,
            "false_rejects": self.false_rejects,
            "lost": self.lost,
            "late": self.late,
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
        }


def score(
    truth: Sequence[UnitTruth],
    decisions: Iterable[Decision],
    counts: PhysicalCounts,
    jitter_s: Sequence[float] = (),
) -> Report:
    """Score the node against the truth.

    escapes: defective units that physically passed. false rejects: good units that were
    rejected. lost: PLC triggers for which the node has no final verdict. Latency is the
    PLC's: trigger to the verdict taken into its shift register.
    """
    decided = list(decisions)
    good = sum(1 for d in decided if d.verdict == "good")
    by_reason: Counter[str] = Counter(r.value for d in decided for r in d.reasons)
    escapes = sum(1 for t in truth if t.defect is not None and t.passed)
    false_rejects = sum(1 for t in truth if t.defect is None and not t.passed)
    reasons_of = {d.tracking_id: d.reasons for d in decided}
    false_by_reason: Counter[str] = Counter(
        r.value
        for t in truth
        if t.defect is None and not t.passed
        for r in reasons_of.get(t.tracking_id, frozenset())
    )
    latencies = [t.latency_ms for t in truth if t.latency_ms is not None]
    return Report(
        units=len(truth),
        good=good,
        rejected=len(decided) - good,
        rejected_by_reason=dict(by_reason),
        escapes=escapes,
        false_rejects=false_rejects,
        lost=max(0, len(truth) - len(decided)),
        late=by_reason.get(Reason.LATE.value, 0),
        latency_ms=percentiles(latencies),
        jitter_ms=percentiles([j * 1000 for j in jitter_s]),
        defects_injected=dict(Counter(t.defect for t in truth if t.defect is not None)),
        physical_passed=counts.passed,
        physical_rejected=counts.rejected,
        counts_match=(counts.passed == good and counts.rejected == len(decided) - good),
        no_verdict_at_plc=sum(1 for t in truth if t.verdict_code is None),
        plc_max_scan_gap_ms=counts.max_scan_gap_ms,
        false_rejects_by_reason=dict(false_by_reason),
    )


def report_table(report: Report) -> Table:
    """The report as a rich table for the terminal."""
    table = Table(title="tracenode sim: run report", show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("note")
    ok = "[green]ok[/]"
    bad = "[red]CHECK[/]"
    table.add_row("units triggered", str(report.units), "")
    table.add_row("good", str(report.good), f"PLC passed {report.physical_passed}")
    table.add_row("rejected", str(report.rejected), f"PLC rejected {report.physical_rejected}")
    for reason, n in sorted(report.rejected_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  rejected: {reason}", str(n), "")
    injected = ", ".join(f"{k} {v}" for k, v in sorted(report.defects_injected.items())) or "none"
    table.add_row("defects injected", str(sum(report.defects_injected.values())), injected)
    table.add_row("escapes (defective passed)", str(report.escapes), ok if report.escapes == 0 else bad)
    table.add_row("false rejects (good rejected)", str(report.false_rejects), "")
    for reason, n in sorted(report.false_rejects_by_reason.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  for {reason}", str(n), "good units rejected")
    table.add_row("lost (trigger without verdict)", str(report.lost), ok if report.lost == 0 else bad)
    table.add_row("late verdicts", str(report.late), ok if report.late == 0 else bad)
    table.add_row(
        "node counters = PLC counts",
        "yes" if report.counts_match else "no",
        ok if report.counts_match else bad,
    )
    lat = report.latency_ms
    table.add_row("latency p50 / p95 ms", f"{lat['p50']:.1f} / {lat['p95']:.1f}", "trigger → verdict in PLC")
    table.add_row("latency p99 / max ms", f"{lat['p99']:.1f} / {lat['max']:.1f}", "")
    if report.jitter_ms:
        jit = report.jitter_ms
        table.add_row(
            "cycle jitter p99 / max ms", f"{jit['p99']:.2f} / {jit['max']:.2f}", "node cycle start lateness"
        )
    table.add_row("simulated PLC longest scan gap ms", f"{report.plc_max_scan_gap_ms:.1f}", "")
    return table
