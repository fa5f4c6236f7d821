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

from drivers.camera import SharedMemoryCamera

from drivers.level4 import OpcUaLevel4Client
from drivers.opcua_plc import OpcUaDriver
from node.core import Core, CoreConfig
from node.events import Decision, ResetAlarm, ResetCounters
from node.jobs import JobLoader
from node.runner import Runner, RunnerConfig
from node.scada import ScadaPublisher
from node.scada_server import ScadaServer
from node.store import UnitRecord
from node.store_sqlite import SqliteSerialStore
from recipes.loader import RecipeBook
from simulator.line import SimSettings, UnitTruth, run_line
from simulator.net import free_port
from simulator.plc import PhysicalCounts
from simulator.report import Report, score
from vision.pipeline import inspect_unit


@dataclass(frozen=True, slots=True)
class SimRun:
    """Settings of the node side of a simulated run."""

    settings: SimSettings
    db_path: Path | None = None  # None: a fresh database in a temporary folder
    cycle_s: float = 0.004
    decide_margin_s: float = 0.03
    scada: bool = True


ProgressFn = Callable[[int, int], None]


class _Collector:
    """Observer that keeps every decision for the report."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def on_decision(self, decision: Decision, record: UnitRecord) -> None:
        self.decisions.append(decision)

    def on_state(self, core: Core) -> None:
        pass


async def run_sim(run: SimRun, *, progress: ProgressFn | None = None) -> Report:
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
        ready = await _receive(parent, "ready", timeout_s=120.0)
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
) -> Report:
    tmp = None
    db_path = run.db_path
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="tracenode-sim-")
        db_path = Path(tmp.name) / "serials.db"
    store = SqliteSerialStore(db_path)
    core = Core(
        CoreConfig(
            register_length=settings.register_length,
            pitch_s=60.0 / settings.rate_per_min,
            decide_margin_s=run.decide_margin_s,
        )
    )
    collector = _Collector()
    camera = SharedMemoryCamera(settings.ring_name)
    scada: ScadaServer | None = None
    observers: list[Any] = [collector]
    runner_box: list[Runner] = []
    if run.scada:

        async def reset_counters() -> None:
            runner_box[0].post(ResetCounters())

        async def reset_alarm() -> None:
            runner_box[0].post(ResetAlarm())

        scada = ScadaServer(
            endpoint=f"opc.tcp://127.0.0.1:{free_port()}",
            positions=("P1",),
            on_reset_counters=reset_counters,
            on_reset_alarm=reset_alarm,
        )
        observers.append(ScadaPublisher(scada))
    runner = Runner(
        core=core,
        driver=OpcUaDriver(urls["plc_url"]),
        camera=camera,
        inspect=inspect_unit,
        load_job=lambda command: loader(command),
        store=store,
        config=RunnerConfig(cycle_s=run.cycle_s, capture_timeout_s=0.15),
        observers=tuple(observers),
    )
    runner_box.append(runner)
    loader = JobLoader(
        book=RecipeBook.embedded(),
        level4=OpcUaLevel4Client(urls["level4_url"]),
        store=store,
        in_store_thread=runner.run_in_store_thread,
    )
    stop = asyncio.Event()
    try:
        if scada is not None:
            await scada.start()
        task = asyncio.create_task(runner.run(stop))
        conn.send("start")
        truth: list[UnitTruth] = []
        counts = PhysicalCounts()
        while True:
            message = await _next(conn, task)
            kind = message[0]
            if kind == "progress" and progress is not None:
                progress(message[1], settings.units)
            elif kind == "done":
                truth = message[1]
            elif kind == "counts":
                counts = message[1]
                break
            elif kind == "error":
                raise RuntimeError(f"simulated line failed: {message[1]}")
        # Every unit has left the register; give the node a moment to read the last acks.
        deadline = time.monotonic() + 2.0
        while core.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await task
    finally:
        stop.set()
        if scada is not None:
            await scada.stop()
        camera.close()
        store.close()
        if tmp is not None:
            tmp.cleanup()
    return score(truth, collector.decisions, counts, runner.stats.jitter_s)


async def _receive(conn: Connection, kind: str, *, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
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
