"""Builds a running node from its configuration: the one place that picks the implementations."""

from __future__ import annotations

import asyncio
import gc
import sys
from dataclasses import dataclass

from drivers.base import SignalDriver
from drivers.camera import FolderCamera, SharedMemoryCamera
from drivers.level4 import OpcUaLevel4Client
from drivers.opcua_plc import OpcUaDriver
from drivers.signals import Signal
from node.config import NodeConfig, PlcConfig
from node.core import Core, CoreConfig, resume_point
from node.counters import CounterSnapshot
from node.events import ResetAlarm, ResetCounters
from node.jobs import JobLoader
from node.runner import Observer, Runner, RunnerConfig
from node.scada import ScadaPublisher
from node.scada_server import ScadaServer
from node.store_sqlite import SqliteSerialStore
from recipes.loader import RecipeBook
from vision.pipeline import inspect_unit, warm_up

SIGNALS_BY_NAME = {s.spec.name: s for s in Signal}
SWITCH_INTERVAL_S = 0.001
RESUME_WINDOW = 256  # records checked for in-flight gaps after a restart


@dataclass(slots=True)
class Node:
    """A node ready to run: the runner and what must be started and closed around it."""

    runner: Runner
    store: SqliteSerialStore
    camera: SharedMemoryCamera | FolderCamera
    scada: ScadaServer | None

    async def run(self, stop: asyncio.Event) -> None:
        """Start SCADA, cycle until `stop`, then close everything."""
        try:
            if self.scada is not None:
                await self.scada.start()
            # The OPC UA address spaces are large and live for the whole run: keep them out
            # of the cyclic garbage collector, whose scans otherwise stall the cycle for ms.
            gc.freeze()
            # Vision threads and the cycle share the GIL; CPython hands it over only every 5 ms
            # by default, which a unit's latency would pay several times. 1 ms keeps the wait
            # short at a small cost in switching.
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            await self.runner.run(stop)
        finally:
            # Frozen objects are never collected; hand them back so extension modules
            # (zxing-cpp's nanobind types) are torn down cleanly at exit.
            gc.unfreeze()
            if self.scada is not None:
                await self.scada.stop()
            self.camera.close()
            self.store.close()


def make_driver(plc: PlcConfig) -> SignalDriver:
    """The PLC link the configuration names."""
    timeout_s = plc.timeout_ms / 1000
    # Only the chosen protocol's library is imported.
    if plc.protocol == "s7":
        from drivers.s7_plc import S7Driver

        return S7Driver(
            plc.host, port=plc.port or 102, rack=plc.rack, slot=plc.slot, db=plc.db, timeout_s=timeout_s
        )
    if plc.protocol == "modbus":
        from drivers.modbus_plc import ModbusDriver

        return ModbusDriver(
            plc.host,
            port=plc.port or 502,
            unit_id=plc.unit_id,
            word_order=plc.word_order,
            timeout_s=timeout_s,
        )
    return OpcUaDriver(
        plc.url,
        namespace_uri=plc.namespace_uri,
        node_ids={SIGNALS_BY_NAME[name]: node_id for name, node_id in plc.node_ids.items()},
        timeout_s=timeout_s,
        subscribe_ms=plc.subscribe_ms,
    )


def build_node(config: NodeConfig, *, observers: tuple[Observer, ...] = ()) -> Node:
    """Wire a node from its configuration; nothing is started yet."""
    unknown = sorted(set(config.plc.node_ids) - set(SIGNALS_BY_NAME))
    if unknown:
        raise ValueError(f"plc.node_ids: unknown signal(s) {', '.join(unknown)}")
    store = SqliteSerialStore(config.store.path)
    totals = store.totals()
    line = config.line
    core = Core(
        CoreConfig(
            register_length=line.register_length,
            pitch_s=line.pitch_ms / 1000,
            decide_margin_s=line.decide_margin_ms / 1000,
            ack_timeout_s=line.ack_timeout_ms / 1000,
            heartbeat_timeout_s=line.heartbeat_timeout_ms / 1000,
        ),
        # Counters continue across restarts: total = good + rejected over the store's life,
        # and triggers the PLC counted while the node was down are recorded as missed.
        counters=CounterSnapshot(total=totals.total, good=totals.good, rejected=totals.rejected),
        resume=resume_point(store.recent_trigger_counts(RESUME_WINDOW)),
    )
    camera: SharedMemoryCamera | FolderCamera
    if config.camera.source == "folder":
        if config.camera.folder is None:
            raise ValueError("camera.folder: required when camera.source = 'folder'")
        camera = FolderCamera(config.camera.folder)
    else:
        camera = SharedMemoryCamera(config.camera.ring)
    book = RecipeBook.embedded() if config.recipes is None else RecipeBook.load(config.recipes)
    scada: ScadaServer | None = None

    # The closures below refer to `runner` and `loader`, bound further down (late binding).
    async def reset_counters() -> None:
        runner.post(ResetCounters())

    async def reset_alarm() -> None:
        runner.post(ResetAlarm())

    if config.scada.enabled:
        scada = ScadaServer(
            endpoint=config.scada.endpoint,
            # Every position any recipe of the book defines, so SCADA's model is complete from start.
            positions=tuple(
                dict.fromkeys(name for recipe in book.recipes.values() for name in recipe.position_names)
            )
            or ("P1",),
            on_reset_counters=reset_counters,
            on_reset_alarm=reset_alarm,
            operator_users=config.scada.operator_users,
        )
        observers = (*observers, ScadaPublisher(scada))
    driver = make_driver(config.plc)
    runner = Runner(
        core=core,
        driver=driver,
        camera=camera,
        inspect=inspect_unit,
        warm_up=warm_up,
        load_job=lambda command: loader(command),
        store=store,
        config=RunnerConfig(
            cycle_s=config.cycle_ms / 1000,
            capture_timeout_s=config.camera.capture_timeout_ms / 1000,
            vision_workers=config.vision_workers,
        ),
        observers=observers,
    )
    loader = JobLoader(
        book=book,
        level4=OpcUaLevel4Client(config.level4.url, timeout_s=config.level4.timeout_ms / 1000),
        store=store,
        in_store_thread=runner.run_in_store_thread,
    )
    return Node(runner=runner, store=store, camera=camera, scada=scada)
