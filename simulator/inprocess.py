"""A line and a node in one process, for tests and benchmarks: the real PLC logic, printer, camera
renderer, Level 4 logic, SQLite store, vision and runner, over any PLC link (in-memory, OPC UA,
S7, Modbus).

Faults are injected where a line has them: the link drops, the PLC's server dies and comes
back, the node stops and restarts, the PLC stalls. `tracenode sim` runs the line in its own
process instead; this one trades that realism for control.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from drivers.base import SignalDriver
from drivers.camera import CaptureError
from drivers.memory import MemoryDriver, SignalImage
from node.assembly import make_driver
from node.core import Core, CoreConfig, resume_point
from node.counters import CounterSnapshot
from node.jobs import JobLoader
from node.runner import Collector, Inspect, Runner, RunnerConfig
from node.sim import plc_config
from node.store_sqlite import SqliteSerialStore
from recipes.loader import RecipeBook
from simulator.camera import render_unit
from simulator.level4 import Level4Server
from simulator.net import free_port
from simulator.plc import LineConfig, LinePlc
from simulator.plc_servers import PlcProtocol, PlcServer, make_plc_server
from simulator.printer import Printer
from simulator.units import Defect
from vision.pipeline import inspect_unit, warm_up

LOT, EXPIRY = "RUN01", "281200"


class RenderedCamera:
    """The simulated camera without its shared-memory transport: frames appear at the trigger."""

    def __init__(self, frames: dict[int, npt.NDArray[np.uint8]]) -> None:
        self.frames = frames
        self.exposed: set[int] = set()

    async def capture(self, tracking_id: int, *, timeout_s: float) -> npt.NDArray[np.uint8]:
        """The frame, once the PLC's trigger exposed it."""
        deadline = time.monotonic() + timeout_s
        while tracking_id not in self.exposed:
            if time.monotonic() > deadline:
                raise CaptureError(f"no frame for {tracking_id}")
            await asyncio.sleep(0.0005)
        return self.frames[tracking_id]

    def close(self) -> None:
        """Nothing to release."""


class InProcessLevel4:
    """Level 4's real serial logic, asked in-process."""

    def __init__(self, server: Level4Server) -> None:
        self.server = server

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Serials issued for the batch."""
        return self.server.issued_for_batch(gtin, lot)


@dataclass
class Link:
    """The PLC side of one link and how the node reaches it."""

    protocol: PlcProtocol | None  # None: in-memory
    poll: bool = False  # OPC UA: read every cycle instead of subscribing
    image: SignalImage = field(default_factory=SignalImage)
    server: PlcServer | None = None
    port: int = 0
    memory: MemoryDriver | None = None
    stopped: PlcServer | None = None

    @property
    def up(self) -> bool:
        """Whether the PLC's side of the link is serving."""
        if self.memory is not None:
            return self.memory.online
        return self.server is not None

    async def start(self) -> None:
        """Start the PLC's server, or start the stopped one again (same port, same address space)."""
        if self.protocol is None:
            if self.memory is None:
                self.memory = MemoryDriver(self.image)
            self.memory.online = True
            return
        self.port = self.port or free_port()
        server = self.stopped or make_plc_server(self.protocol, self.image, port=self.port)
        await server.start()
        self.server, self.stopped = server, None

    async def kill(self) -> None:
        """The PLC's server goes away (the line keeps running on the PLC's own logic)."""
        if self.memory is not None:
            self.memory.online = False
        elif self.server is not None:
            server, self.server = self.server, None
            await server.stop()
            self.stopped = server

    def driver(self) -> SignalDriver:
        """A fresh node-side driver for this link."""
        if self.memory is not None:
            return self.memory
        assert self.server is not None and self.protocol is not None
        changes: dict[str, object] = {"timeout_ms": 500}
        if self.poll:
            changes["subscribe_ms"] = None
        return make_driver(plc_config(self.protocol, self.server.url).model_copy(update=changes))


@dataclass
class LineRun:
    """What a run left behind."""

    plc: LinePlc
    collector: Collector
    runner: Runner
    db: Path


@dataclass
class Node:
    """A running node over one link and one store file."""

    runner: Runner
    task: asyncio.Task[None]
    stop: asyncio.Event
    store: SqliteSerialStore

    async def close(self) -> None:
        """Stop the node as a service stop does, draining its store writes."""
        self.stop.set()
        await self.task
        self.store.close()


def start_node(
    driver: SignalDriver,
    camera: RenderedCamera,
    level4: Level4Server,
    db: Path,
    collector: Collector,
    rate: float,
    inspect: Inspect = inspect_unit,
) -> Node:
    """A node as build_node wires it (counters and resume point from the store), running."""
    store = SqliteSerialStore(db)
    totals = store.totals()
    core = Core(
        CoreConfig(register_length=4, pitch_s=60 / rate, decide_margin_s=0.03, heartbeat_timeout_s=0.5),
        counters=CounterSnapshot(total=totals.total, good=totals.good, rejected=totals.rejected),
        resume=resume_point(store.recent_trigger_counts(256)),
    )
    runner = Runner(
        core=core,
        driver=driver,
        camera=camera,
        inspect=inspect,
        warm_up=warm_up if inspect is inspect_unit else None,
        load_job=lambda command: loader(command),
        store=store,
        config=RunnerConfig(cycle_s=0.004, reconnect_min_s=0.05, reconnect_max_s=0.4),
        observers=(collector,),
    )
    loader = JobLoader(
        book=RecipeBook.embedded(),
        level4=InProcessLevel4(level4),
        store=store,
        in_store_thread=runner.run_in_store_thread,
    )
    stop = asyncio.Event()
    return Node(runner=runner, task=asyncio.create_task(runner.run(stop)), stop=stop, store=store)


Fault = Callable[["LineSession", float], object]


@dataclass
class LineSession:
    """Handles a fault hook may use while the line runs."""

    link: Link
    plc: LinePlc
    node: Node | None
    started: float


async def run_line(
    tmp_path: Path,
    units: int,
    *,
    link: Link | None = None,
    rate: float = 1200.0,
    defect_rate: float = 0.0,
    defects: tuple[Defect, ...] = tuple(Defect),
    outage: tuple[float, float] | None = None,
    restart: tuple[float, float] | None = None,
    plc_stall: tuple[float, float] | None = None,
    recipe_number: int = 1,
    inspect: Inspect = inspect_unit,
) -> LineRun:
    """Produce `units` units at `rate`/min. Faults, each (from, to) seconds after the conveyor starts:
    `outage` kills the PLC's server, `restart` stops the node and starts a new one on the same
    store, `plc_stall` freezes the PLC's scan (its next scan triggers every unit it owed at once).
    `inspect` replaces the vision pipeline (benchmarks stub it to a fixed time).
    """
    link = link or Link(protocol=None)
    await link.start()
    recipe = RecipeBook.embedded().select(1)
    level4 = Level4Server(seed=7)
    serials = level4.issue(recipe.gtin, LOT, units + 10)
    printer = Printer(
        seed=7,
        gtin=recipe.gtin,
        lot=LOT,
        expiry_yymmdd=EXPIRY,
        serials=serials,
        defect_rate=defect_rate,
        defects=defects,
    )
    rng = np.random.default_rng(7)
    frames = {
        tid: render_unit(
            printer.next_unit(tid), recipe.print_layout, px_per_mm=recipe.inspection.px_per_mm, rng=rng
        )
        for tid in range(1, units + 1)
    }
    camera = RenderedCamera(frames)
    plc = LinePlc(link.image, LineConfig(rate_per_min=rate, register_length=4, units=units))
    db = tmp_path / "serials.db"
    collector = Collector()
    first = start_node(link.driver(), camera, level4, db, collector, rate, inspect)
    node: Node | None = first
    runner = first.runner

    async def scan() -> None:
        if link.server is not None:
            link.server.pull()
        camera.exposed.update(plc.scan(time.monotonic()))
        if link.server is not None:
            await link.server.push()
        await asyncio.sleep(0.001)

    plc.request_recipe(recipe_number, LOT, EXPIRY)
    deadline = time.monotonic() + 30
    while plc.recipe_answer is None and time.monotonic() < deadline:
        await scan()
    if plc.recipe_answer != 0:
        await first.close()
        await link.kill()
        raise RecipeRefused(plc.recipe_answer)
    start = time.monotonic()
    plc.start(start)
    killed = restarted = stalled = False
    while not plc.done:
        t = time.monotonic() - start
        if outage is not None and not killed and t >= outage[0]:
            killed = True
            await link.kill()
        if outage is not None and killed and not link.up and t >= outage[1]:
            await link.start()
        if restart is not None and node is not None and not restarted and t >= restart[0]:
            await node.close()
            node = None
        if restart is not None and node is None and t >= restart[1]:
            restarted = True
            node = start_node(link.driver(), camera, level4, db, collector, rate, inspect)
            runner = node.runner
        if plc_stall is not None and not stalled and t >= plc_stall[0]:
            stalled = True
            await asyncio.sleep(plc_stall[1] - plc_stall[0])
        await scan()
    end = time.monotonic() + 3.0
    while runner.core.pending and time.monotonic() < end:
        await scan()
    if node is not None:
        await node.close()
    await link.kill()
    return LineRun(plc=plc, collector=collector, runner=runner, db=db)


class RecipeRefused(Exception):
    """The node answered the PLC's recipe request with an error code."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"RecipeError {code}")
        self.code = code
