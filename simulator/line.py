"""The whole simulated line in its own process: PLC, conveyor, printer, camera and Level 4.

The node runs in another process and meets the line only where it would meet a real one:
the PLC's OPC UA server, the camera's frames (a shared-memory ring, as a GigE camera's
driver hands frames over) and Level 4's OPC UA server. The parent talks to this process
over a pipe: ("ready", urls) → ("start") → ("progress", …)* → ("done", truth) → ("stop").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from drivers.frame_ring import FrameRing
from drivers.memory import SignalImage
from recipes.loader import RecipeBook
from recipes.schema import Recipe
from simulator.camera import render_unit
from simulator.level4 import Level4Server
from simulator.plc import LineConfig, LinePlc
from simulator.plc_servers import PlcProtocol, PlcServer, make_plc_server
from simulator.printer import Printer
from simulator.units import Unit

FRAME_SHAPE = (1024, 1280)
RING_SLOTS = 16
SCAN_S = 0.001
RENDER_AHEAD = 4


@dataclass(frozen=True, slots=True)
class SimSettings:
    """One simulated production run."""

    units: int = 600
    rate_per_min: float = 600.0
    seed: int = 1
    defect_rate: float = 0.05
    register_length: int = 4
    recipe_number: int = 1
    lot: str = "SIM26A01"
    expiry: str = ""  # YYMMDD; empty = two years from today, end of month
    plc: PlcProtocol = "opcua"
    plc_port: int = 0
    plc_outage: tuple[float, float] | None = None  # (start, seconds) after the conveyor starts: server down
    level4_port: int = 0
    ring_name: str = "tracenode-sim"

    def batch_expiry(self) -> str:
        """The batch's AI (17) value."""
        if self.expiry:
            return self.expiry
        return (dt.date.today() + dt.timedelta(days=730)).strftime("%y%m00")


@dataclass(frozen=True, slots=True)
class UnitTruth:
    """What the simulator knows about one unit after the run."""

    tracking_id: int
    defect: str | None
    serial: str
    passed: bool
    verdict_code: int | None
    latency_ms: float | None  # trigger to verdict taken into the PLC's register
    late_verdicts: int


class _Offline:
    """Stands in for a stopped link server: the PLC program keeps scanning, nobody is served."""

    def __init__(self, stopped: PlcServer) -> None:
        self.stopped = stopped
        self.url = stopped.url

    async def start(self) -> None:
        """Never called: the line starts the stopped server again instead."""

    async def stop(self) -> None:
        """Already stopped."""

    def pull(self) -> None:
        """Nothing arrives while the link is down."""

    async def push(self) -> None:
        """Nothing leaves while the link is down."""


def _fresh_ring(name: str) -> FrameRing:
    """The camera's ring; one left behind by a crashed run of the same name is replaced."""
    try:
        return FrameRing.create(name, slots=RING_SLOTS, shape=FRAME_SHAPE)
    except FileExistsError:
        stale = FrameRing.attach(name)
        stale.close()
        stale.unlink()
        return FrameRing.create(name, slots=RING_SLOTS, shape=FRAME_SHAPE)


def run_line(settings: SimSettings, conn: Connection) -> None:
    """Process entry point: serve the line until the parent says stop."""
    # The simulator serves loopback without security on purpose; asyncua's warnings about
    # that would only clutter the user's terminal.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    logging.getLogger("snap7").setLevel(logging.ERROR)
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    try:
        asyncio.run(_Line(settings, conn).run())
    except Exception as exc:  # the parent must hear about a crash, not wait forever
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


class _Line:
    def __init__(self, settings: SimSettings, conn: Connection) -> None:
        self.settings = settings
        self.conn = conn
        self.recipe: Recipe = RecipeBook.embedded().select(settings.recipe_number)
        self.image = SignalImage()
        config = LineConfig(
            rate_per_min=settings.rate_per_min, register_length=settings.register_length, units=settings.units
        )
        self.plc = LinePlc(self.image, config)
        self.plc_server: PlcServer = make_plc_server(settings.plc, self.image, port=settings.plc_port)
        self.level4 = Level4Server(port=settings.level4_port, seed=settings.seed)
        self.ring = _fresh_ring(settings.ring_name)
        self.units: dict[int, Unit] = {}
        self.frames: dict[int, Future[np.ndarray]] = {}
        # One render thread: cv2 and numpy release the GIL, and order keeps the rng reproducible.
        self.render_pool = ThreadPoolExecutor(1, thread_name_prefix="render")
        self.rng = np.random.default_rng(settings.seed)

    async def run(self) -> None:
        try:
            await asyncio.gather(self.plc_server.start(), self.level4.start())
            # Two OPC UA address spaces: keep their objects out of the garbage collector's scans
            # (a full collection stalls the PLC scan by 100s of ms), and let the render thread
            # hand the GIL back to the scan loop quickly.
            gc.freeze()
            sys.setswitchinterval(0.001)
            expiry = self.settings.batch_expiry()
            serials = self.level4.issue(self.recipe.gtin, self.settings.lot, self._pool_size())
            self.printer = Printer(
                seed=self.settings.seed,
                gtin=self.recipe.gtin,
                lot=self.settings.lot,
                expiry_yymmdd=expiry,
                serials=serials,
                defect_rate=self.settings.defect_rate,
            )
            self.conn.send(("ready", {"plc_url": self.plc_server.url, "level4_url": self.level4.url}))
            await self._wait_for("start")
            await self._produce(expiry)
            self.conn.send(("done", [*self._truth()]))
            self.conn.send(("counts", self.plc.counts))
            await self._wait_for("stop")
        finally:
            gc.unfreeze()
            self.render_pool.shutdown(wait=True, cancel_futures=True)
            await asyncio.gather(self.plc_server.stop(), self.level4.stop(), return_exceptions=True)
            self.ring.close()
            self.ring.unlink()

    def _pool_size(self) -> int:
        # Rejected units consume serials too; a real line asks Level 4 for a margin.
        return int(self.settings.units * 1.2) + 50

    async def _wait_for(self, word: str) -> None:
        while True:
            if self.conn.poll():
                message = self.conn.recv()
                if message == word:
                    return
            await asyncio.sleep(0.01)

    async def _produce(self, expiry: str) -> None:
        plc = self.plc
        plc.request_recipe(self.recipe.number, self.settings.lot, expiry)
        deadline = time.monotonic() + 30.0
        while plc.recipe_answer is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the node did not answer the recipe request within 30 s")
            await self._scan()
        if plc.recipe_answer != 0:
            raise RuntimeError(
                f"the node refused recipe {self.recipe.number}: RecipeError {plc.recipe_answer}"
            )
        for tracking_id in range(1, min(RENDER_AHEAD, self.settings.units) + 1):
            self._render(tracking_id)
        # The first renders pay cv2's and zxing-cpp's start-up; the conveyor starts once they are
        # done, so the camera is never behind the first triggers.
        await asyncio.gather(*(asyncio.wrap_future(f) for f in self.frames.values()))
        started = time.monotonic()
        plc.start(started)
        next_progress = 0.0
        outage = self.settings.plc_outage
        down_from, down_until = (outage[0], outage[0] + outage[1]) if outage is not None else (0.0, 0.0)
        down = False
        restart: tuple[PlcServer, asyncio.Task[None]] | None = None
        while not plc.done:
            await self._scan()
            now = time.monotonic()
            if not down and down_from <= now - started < down_until:
                # The PLC's link goes away (a cable, a switch, a CPU in STOP of its comms); its
                # program keeps running and rejects every unit without a verdict.
                down = True
                stopped = self.plc_server
                await stopped.stop()
                self.plc_server = _Offline(stopped)
            elif down and restart is None and now - started >= down_until:
                # Start it again beside the scan loop: the PLC program keeps scanning.
                assert isinstance(self.plc_server, _Offline)
                revived = self.plc_server.stopped
                restart = (revived, asyncio.create_task(revived.start()))
            if restart is not None and restart[1].done():
                restart[1].result()
                self.plc_server, restart, down = restart[0], None, False
            if now >= next_progress:
                next_progress = now + 0.2
                self.conn.send(("progress", plc.counts.triggered, plc.counts.passed, plc.counts.rejected))
        self.conn.send(("progress", plc.counts.triggered, plc.counts.passed, plc.counts.rejected))

    async def _scan(self) -> None:
        self.plc_server.pull()
        for tracking_id in self.plc.scan(time.monotonic()):
            self._expose(tracking_id)
            ahead = tracking_id + RENDER_AHEAD
            if ahead <= self.settings.units:
                self._render(ahead)
        await self.plc_server.push()
        await asyncio.sleep(SCAN_S)

    def _render(self, tracking_id: int) -> None:
        unit = self.printer.next_unit(tracking_id)
        self.units[tracking_id] = unit
        layout = self.recipe.print_layout
        px_per_mm = self.recipe.inspection.px_per_mm
        seed = int(self.rng.integers(0, 2**63))
        self.frames[tracking_id] = self.render_pool.submit(
            lambda: render_unit(unit, layout, px_per_mm=px_per_mm, rng=np.random.default_rng(seed))
        )

    def _expose(self, tracking_id: int) -> None:
        """The trigger fired: the frame goes out as soon as it is rendered."""
        future = self.frames.pop(tracking_id)

        def deliver(done: Future[np.ndarray]) -> None:
            self.ring.write(tracking_id, done.result())

        future.add_done_callback(deliver)

    def _truth(self) -> list[UnitTruth]:
        truth = []
        for fate in self.plc.fates:
            unit = self.units[fate.tracking_id]
            latency = None if fate.verdict_at is None else (fate.verdict_at - fate.triggered_at) * 1000
            truth.append(
                UnitTruth(
                    tracking_id=fate.tracking_id,
                    defect=None if unit.defect is None else unit.defect.value,
                    serial=unit.serial,
                    passed=bool(fate.passed),
                    verdict_code=fate.verdict_code,
                    latency_ms=latency,
                    late_verdicts=fate.late_verdicts,
                )
            )
        return truth
