"""Feeds the SCADA OPC UA server from the runner, off the control cycle.

The runner calls the observer hooks synchronously; this keeps only the latest values and a
background task publishes them at most every `period_s`, so a burst of units never queues
OPC UA writes behind the cycle.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog

from node.core import Core
from node.counters import CounterSnapshot
from node.events import Decision
from node.job import Job
from node.print_trend import TrendState
from node.scada_server import ActiveJob, LastResult, ScadaServer
from node.states import NodeState
from node.store import UnitRecord

log = structlog.get_logger("tracenode.scada")


class ScadaPublisher:
    """Runner observer that mirrors state, job, counters and the last result into the SCADA model."""

    def __init__(self, server: ScadaServer, *, period_s: float = 0.1) -> None:
        self.server = server
        self.period_s = period_s
        self._counters: CounterSnapshot | None = None
        self._state: NodeState | None = None
        self._job: Job | None = None
        self._result: LastResult | None = None
        self._trends: tuple[TrendState, ...] = ()
        self._published: tuple[object, object, object, object, object] = (None, None, None, None, ())
        self._task: asyncio.Task[None] | None = None

    def on_decision(self, decision: Decision, record: UnitRecord) -> None:
        """Keep the newest result."""
        self._result = LastResult(
            tracking_id=decision.tracking_id,
            serial=record.serial or "",
            verdict=decision.verdict,
            reasons=record.reasons,
            decided_at=dt.datetime.fromtimestamp(record.decided_at, dt.UTC),
            latency_ms=record.latency_ms,
            position=decision.position,
        )
        self._wake()

    def on_state(self, core: Core) -> None:
        """Keep the newest counters, state and job."""
        self._counters = core.snapshot()
        self._state = core.state
        self._job = core.job
        self._trends = core.print_trends()
        self._wake()

    def _wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        while True:
            current = (self._state, self._job, self._counters, self._result, self._trends)
            if current == self._published:
                return
            state, job, counters, result, trends = current
            try:
                if state is not None and state is not self._published[0]:
                    await self.server.publish_state(state)
                if job is not None and job is not self._published[1]:
                    await self.server.publish_job(
                        ActiveJob(
                            recipe_number=job.recipe.number,
                            recipe_name=job.recipe.name,
                            recipe_version=job.recipe.version,
                            lot=job.lot,
                            expiry=job.expiry,
                        )
                    )
                if counters is not None and counters is not self._published[2]:
                    await self.server.publish_counters(counters)
                if result is not None and result is not self._published[3]:
                    await self.server.publish_result(result)
                if trends and trends != self._published[4]:
                    await self.server.publish_trends(trends)
            except Exception:  # SCADA must never take the node down; say so and carry on
                log.exception("SCADA publish failed")
            self._published = current
            await asyncio.sleep(self.period_s)
