"""The asyncio runner in real time against the simulated line PLC over the in-memory link.

The PLC logic, printer, camera renderer, Level 4 logic, SQLite store and vision are all the
real ones; only the transports are in-process (the OPC UA transport is covered by
tests/test_sim_e2e.py), so link faults can be injected precisely.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from drivers.camera import CaptureError
from drivers.memory import MemoryDriver, SignalImage
from node.core import Core, CoreConfig, resume_point
from node.counters import CounterSnapshot
from node.events import Decision
from node.jobs import JobLoader
from node.reasons import Reason
from node.runner import Runner, RunnerConfig
from node.store import UnitRecord
from node.store_sqlite import SqliteSerialStore
from recipes.loader import RecipeBook
from simulator.camera import render_unit
from simulator.level4 import Level4Server
from simulator.plc import LineConfig, LinePlc
from simulator.printer import Printer
from vision.pipeline import inspect_unit, warm_up

RATE = 1200.0  # units/min: pitch 50 ms, deadline 200 ms
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


class InProcessLevel4:
    """Level 4's real serial logic, asked in-process."""

    def __init__(self, server: Level4Server) -> None:
        self.server = server

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Serials issued for the batch."""
        return self.server.issued_for_batch(gtin, lot)


class Collector:
    """Keeps every decision."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def on_decision(self, decision: Decision, record: UnitRecord) -> None:
        """Keep it."""
        self.decisions.append(decision)

    def on_state(self, core: Core) -> None:
        """Not needed."""


def start_node(
    driver: MemoryDriver, camera: RenderedCamera, level4: Level4Server, db: Path, collector: Collector
) -> tuple[Runner, asyncio.Task[None], asyncio.Event, SqliteSerialStore]:
    """A node as build_node wires it (counters and resume point from the store), running."""
    store = SqliteSerialStore(db)
    totals = store.totals()
    core = Core(
        CoreConfig(register_length=4, pitch_s=60 / RATE, decide_margin_s=0.03),
        counters=CounterSnapshot(total=totals.total, good=totals.good, rejected=totals.rejected),
        resume=resume_point(store.recent_trigger_counts(256)),
    )
    runner = Runner(
        core=core,
        driver=driver,
        camera=camera,
        inspect=inspect_unit,
        warm_up=warm_up,
        load_job=lambda command: loader(command),
        store=store,
        config=RunnerConfig(cycle_s=0.004, reconnect_min_s=0.05),
        observers=(collector,),
    )
    loader = JobLoader(
        book=RecipeBook.embedded(),
        level4=InProcessLevel4(level4),
        store=store,
        in_store_thread=runner.run_in_store_thread,
    )
    stop = asyncio.Event()
    return runner, asyncio.create_task(runner.run(stop)), stop, store


async def run_line(
    tmp_path: Path,
    units: int,
    *,
    outage: tuple[float, float] | None = None,
    restart: tuple[float, float] | None = None,
) -> tuple[LinePlc, Collector, Runner]:
    """Produce `units` units; optionally cut the link, or stop the node and start a new one, between
    the two times given (seconds after the conveyor started)."""
    recipe = RecipeBook.embedded().select(1)
    level4 = Level4Server(seed=7)
    serials = level4.issue(recipe.gtin, LOT, units + 10)
    printer = Printer(
        seed=7, gtin=recipe.gtin, lot=LOT, expiry_yymmdd=EXPIRY, serials=serials, defect_rate=0.0
    )
    rng = np.random.default_rng(7)
    frames = {
        tid: render_unit(
            printer.next_unit(tid), recipe.print_layout, px_per_mm=recipe.inspection.px_per_mm, rng=rng
        )
        for tid in range(1, units + 1)
    }
    camera = RenderedCamera(frames)
    image = SignalImage()
    plc = LinePlc(image, LineConfig(rate_per_min=RATE, register_length=4, units=units))
    driver = MemoryDriver(image)
    db = tmp_path / "serials.db"
    collector = Collector()
    runner, task, stop, store = start_node(driver, camera, level4, db, collector)
    plc.request_recipe(recipe.number, LOT, EXPIRY)
    while plc.recipe_answer is None:
        plc.scan(time.monotonic())
        await asyncio.sleep(0.001)
    assert plc.recipe_answer == 0
    start = time.monotonic()
    plc.start(start)
    restarted = False
    while not plc.done:
        now = time.monotonic()
        if outage is not None:
            driver.online = not (outage[0] <= now - start < outage[1])
        if restart is not None and not restarted and task is not None and now - start >= restart[0]:
            stop.set()  # the node goes away (service stop); the line keeps running
            await task
            store.close()
            task = None
        if restart is not None and not restarted and now - start >= restart[1]:
            restarted = True
            runner, task, stop, store = start_node(driver, camera, level4, db, collector)
        camera.exposed.update(plc.scan(now))
        await asyncio.sleep(0.001)
    driver.online = True
    deadline = time.monotonic() + 2.0
    while runner.core.pending and time.monotonic() < deadline:
        plc.scan(time.monotonic())
        await asyncio.sleep(0.005)
    stop.set()
    if task is not None:
        await task
    store.close()
    return plc, collector, runner


class TestRunner:
    """A node in the loop of a running line."""

    @pytest.mark.slow
    async def test_every_unit_judged_and_counts_match(self, tmp_path: Path) -> None:
        """Good units pass; the node's verdicts equal what the PLC physically did."""
        plc, collector, runner = await run_line(tmp_path, 40)
        verdicts = [d.verdict for d in collector.decisions]
        assert len(verdicts) == plc.counts.triggered == 40
        assert verdicts.count("good") == plc.counts.passed
        assert verdicts.count("rejected") == plc.counts.rejected
        assert plc.counts.passed >= 38  # good print, a rare unreadable render at most
        assert runner.stats.cycles > 0

    @pytest.mark.slow
    async def test_link_outage_rejects_and_accounts(self, tmp_path: Path) -> None:
        """Units the PLC saw while the link was down are rejected and every trigger is accounted for."""
        plc, collector, _ = await run_line(tmp_path, 60, outage=(0.8, 1.3))
        reasons = [r for d in collector.decisions for r in d.reasons]
        assert len(collector.decisions) == plc.counts.triggered == 60
        assert Reason.MISSED_TRIGGER in reasons or Reason.LATE in reasons
        good = sum(d.verdict == "good" for d in collector.decisions)
        assert good == plc.counts.passed
        assert len(collector.decisions) - good == plc.counts.rejected
        assert plc.counts.rejected >= 5  # ~10 units passed the camera during the 0.5 s outage

    @pytest.mark.slow
    async def test_node_restart_loses_no_trigger(self, tmp_path: Path) -> None:
        """Stop the node mid-batch and start a new one on the same store: totals still equal the PLC's."""
        plc, collector, runner = await run_line(tmp_path, 60, restart=(0.8, 1.4))
        store = SqliteSerialStore(tmp_path / "serials.db")
        totals = store.totals()
        store.close()
        assert totals.total == plc.counts.triggered == 60
        assert totals.good == plc.counts.passed
        assert totals.rejected == plc.counts.rejected
        assert runner.core.snapshot().total == 60  # the second node's counters continue the first's
        missed = [d for d in collector.decisions if Reason.MISSED_TRIGGER in d.reasons]
        assert len(missed) >= 5  # ~12 units passed the camera while no node ran
