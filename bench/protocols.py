"""The three PLC links side by side: trigger to verdict in the PLC, with vision stubbed to a fixed time.

Each link runs the same in-process line (simulator/inprocess.py: PLC logic, its server, a node)
so only the transport differs; the stub replaces decode/GS1/OCV by a fixed sleep and a good read.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from bench.tables import BenchTable, ms
from node.job import Job
from simulator.inprocess import EXPIRY, LOT, Link, run_line
from simulator.plc_servers import PROTOCOLS
from simulator.report import percentiles
from vision.print_check import PrintCheck
from vision.result import InspectionResult

VISION_MS = 5.0


class StubVision:
    """Sleeps a fixed time and reads the next issued serial: a perfect, constant-time pipeline."""

    def __init__(self, vision_ms: float) -> None:
        self.vision_s = vision_ms / 1000
        self._serials: Iterator[str] | None = None
        self._lock = threading.Lock()

    def __call__(self, frame: npt.NDArray[np.uint8], job: Job) -> tuple[InspectionResult, ...]:
        """The stubbed inspection of one unit."""
        time.sleep(self.vision_s)
        with self._lock:
            if self._serials is None:
                # Level 4 issues the pool in random order; the printer prints it in issue order,
                # which the job does not keep: any issued serial not yet used is as good.
                self._serials = iter(sorted(job.issued))
            serial = next(self._serials)
        ais = {"01": job.recipe.gtin, "17": EXPIRY, "10": LOT, "21": serial}
        return (
            InspectionResult(
                position="P1",
                code_found=True,
                gs1=MappingProxyType(ais),
                ocv_ok=True,
                grade=4.0,
                # The print read and whole: a result without a print check is a reject (not inspected).
                print_check=PrintCheck(
                    fields=(), lines_read=(), mismatched=frozenset(), illegible=frozenset()
                ),
            ),
        )


def protocol_table(*, units: int, rate_per_min: float) -> BenchTable:
    """One run per link, `units` units each, and the PLC-measured latency percentiles."""
    rows = []
    links = [(str(protocol), Link(protocol)) for protocol in PROTOCOLS]
    links.insert(1, ("opcua, polled (baseline)", Link("opcua", poll=True)))
    for name, link in links:
        with tempfile.TemporaryDirectory(prefix="tracenode-bench-") as tmp:
            run = asyncio.run(
                run_line(Path(tmp), units, link=link, rate=rate_per_min, inspect=StubVision(VISION_MS))
            )
        latencies = [
            (f.verdict_at - f.triggered_at) * 1000 for f in run.plc.fates if f.verdict_at is not None
        ]
        figures = percentiles(latencies)
        stats = run.runner.stats
        read, write = (
            percentiles([s * 1000 for s in stats.read_s]),
            percentiles([s * 1000 for s in stats.write_s]),
        )
        rows.append(
            (
                name,
                str(len(latencies)),
                ms(figures["p50"]),
                ms(figures["p99"]),
                ms(figures["max"]),
                ms(read["p50"]),
                ms(write["p50"]),
                str(run.plc.counts.passed),
            )
        )
    return BenchTable(
        title=f"PLC links side by side: {units} units at {rate_per_min:g}/min, vision stub {VISION_MS:g} ms",
        columns=("link", "verdicts", "p50 ms", "p99 ms", "max ms", "read p50 ms", "write p50 ms", "passed"),
        rows=tuple(rows),
        notes=(
            "Trigger → verdict taken into the PLC's register, measured by the simulated PLC. The line, its "
            "server and the node share one process and event loop here (simulator/inprocess.py), the same "
            "for every link, so the rows differ by the transport only.",
            "read: one snapshot of all PLC inputs per node cycle (OPC UA: from its subscription; polled: "
            "one Read request); write: one write of a cycle's outputs.",
            f"The vision stub sleeps {VISION_MS:g} ms and returns a good read: link + cycles + stub.",
        ),
    )
