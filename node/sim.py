"""`tracenode sim`: a simulated line in one process, the node in this one, over real loopback sockets.

The node is built exactly as in production (OPC UA PLC link, shared-memory camera, Level 4
client, SQLite store, SCADA server); only the far side of each link is simulated.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from node.assembly import build_node
from node.config import (
    CameraConfig,
    Level4Config,
    LineTiming,
    NodeConfig,
    PlcConfig,
    ScadaConfig,
    StoreConfig,
)
from node.events import Decision
from node.runner import Collector, CycleStats
from simulator.line import SimSettings, UnitTruth, run_line
from simulator.net import free_port
from simulator.plc import PhysicalCounts
from simulator.plc_servers import PlcProtocol
from simulator.report import Report, score


@dataclass(frozen=True, slots=True)
class SimRun:
    """Settings of the node side of a simulated run."""

    settings: SimSettings
    db_path: Path | None = None  # None: a fresh database in a temporary folder
    cycle_ms: float = 4.0
    decide_margin_ms: float = 30.0
    scada: bool = True


ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SimOutcome:
    """A finished run: the scored report plus the raw material for benchmarks."""

    report: Report
    stats: CycleStats
    decisions: tuple[Decision, ...]
    capture_ms: tuple[float, ...]


async def run_sim(run: SimRun, *, progress: ProgressFn | None = None) -> SimOutcome:
    """Run the line and the node until every unit passed the reject station; score the result."""
    settings = run.settings
    ring = f"tracenode-{os.getpid()}-{int(time.time() * 1000) % 1_000_000}"
    settings = SimSettings(
        **{**_fields(settings), "plc_port": free_port(), "level4_port": free_port(), "ring_name": ring}
    )
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=run_line, args=(settings, child), name="tracenode-sim-line", daemon=True)
    proc.start()
    try:
        ready = await _receive(parent, "ready", timeout_s=120.0, alive=proc.is_alive)
        return await _run_node(run, settings, ready, parent, progress)
    finally:
        if proc.is_alive():
            parent.send("stop")
            await asyncio.to_thread(proc.join, 15.0)
        if proc.is_alive():
            proc.terminate()


async def _run_node(
    run: SimRun,
    settings: SimSettings,
    urls: dict[str, str],
    conn: Connection,
    progress: ProgressFn | None,
) -> SimOutcome:
    with tempfile.TemporaryDirectory(prefix="tracenode-sim-") as tmp:
        config = NodeConfig(
            plc=plc_config(settings.plc, urls["plc_url"]),
            line=LineTiming(
                register_length=settings.register_length,
                pitch_ms=60_000.0 / settings.rate_per_min,
                decide_margin_ms=run.decide_margin_ms,
            ),
            camera=CameraConfig(source="shared_memory", ring=settings.ring_name),
            level4=Level4Config(url=urls["level4_url"]),
            store=StoreConfig(path=run.db_path or Path(tmp) / "serials.db"),
            scada=ScadaConfig(enabled=run.scada, endpoint=f"opc.tcp://127.0.0.1:{free_port()}"),
            cycle_ms=run.cycle_ms,
        )
        collector = Collector()
        node = build_node(config, observers=(collector,))
        stop = asyncio.Event()
        task = asyncio.create_task(node.run(stop))
        try:
            truth, counts = await _follow_line(conn, task, settings.units, progress)
            # Every unit has left the register; give the node a moment to read the last acks.
            deadline = time.monotonic() + 2.0
            while node.runner.core.pending and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await task
    stats = node.runner.stats
    return SimOutcome(
        report=score(truth, collector.decisions, counts, stats.jitter_s),
        stats=stats,
        decisions=tuple(collector.decisions),
        capture_ms=tuple(node.runner.capture_ms),
    )


def plc_config(protocol: PlcProtocol, url: str) -> PlcConfig:
    """The node's PLC settings for the simulated line's server at `url`."""
    if protocol == "opcua":
        return PlcConfig(protocol="opcua", url=url)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if protocol == "s7":
        return PlcConfig(
            protocol="s7",
            host=parts.hostname or "127.0.0.1",
            port=parts.port,
            db=int(query.get("db", 100)),
            rack=int(query.get("rack", 0)),
            slot=int(query.get("slot", 1)),
        )
    return PlcConfig(
        protocol="modbus",
        host=parts.hostname or "127.0.0.1",
        port=parts.port,
        unit_id=int(query.get("unit", 1)),
    )


async def _follow_line(
    conn: Connection, task: asyncio.Task[None], units: int, progress: ProgressFn | None
) -> tuple[list[UnitTruth], PhysicalCounts]:
    """Start the line and relay its progress until it reports the truth and its counts."""
    conn.send("start")
    truth: list[UnitTruth] = []
    while True:
        message = await _next(conn, task)
        kind = message[0]
        if kind == "progress" and progress is not None:
            progress(message[1], units)
        elif kind == "done":
            truth = message[1]
        elif kind == "counts":
            return truth, message[1]
        elif kind == "error":
            raise RuntimeError(f"simulated line failed: {message[1]}")


async def _receive(conn: Connection, kind: str, *, timeout_s: float, alive: Callable[[], bool]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive() and not conn.poll():
            raise RuntimeError("simulated line process exited before it was ready")
        if conn.poll():
            message = conn.recv()
            if message[0] == kind:
                return message[1]
            if message[0] == "error":
                raise RuntimeError(f"simulated line failed: {message[1]}")
        await asyncio.sleep(0.02)
    raise TimeoutError(f"simulated line did not send {kind!r} within {timeout_s} s")


async def _next(conn: Connection, task: asyncio.Task[None]) -> Any:
    """The next message from the line; fail if the node's runner died meanwhile."""
    while not conn.poll():
        if task.done():
            task.result()
            raise RuntimeError("node runner stopped before the line finished")
        await asyncio.sleep(0.02)
    return conn.recv()


def _fields(settings: SimSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
