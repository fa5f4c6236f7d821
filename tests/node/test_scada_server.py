"""The SCADA OPC UA server against a real asyncua client on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.common.node import Node
from asyncua.ua.uaerrors import BadInternalError, BadUserAccessDenied, BadWaitingForInitialData

from node.counters import CounterSnapshot, PositionCounts
from node.print_trend import TrendState, TrendWarning
from node.reasons import Reason
from node.scada_model import NAMESPACE_URI
from node.scada_server import ActiveJob, LastResult, ScadaServer
from node.states import NodeState

# One server per configuration for the module: an asyncua server takes seconds to build its address space,
# so the async tests share the module's event loop with the server fixtures.
on_module_loop = pytest.mark.asyncio(loop_scope="module")

ENDPOINT = "opc.tcp://127.0.0.1:0/tracenode/"  # port 0: the OS picks a free one, `url` tells which
OPERATOR = "operator"
UINT32_MAX = 0xFFFF_FFFF


@dataclass
class Actions:
    """The node's side of the methods: records each call, or fails when told to."""

    done: list[str] = field(default_factory=list)
    fail: bool = False

    async def reset_counters(self) -> None:
        """Stand-in for the node resetting its counters."""
        self._record("reset_counters")

    async def reset_alarm(self) -> None:
        """Stand-in for the node resetting the consecutive-reject alarm."""
        self._record("reset_alarm")

    def _record(self, action: str) -> None:
        if self.fail:
            raise RuntimeError(f"{action} failed")
        self.done.append(action)


@dataclass
class Line:
    """A started server, its actions and a client connected to it."""

    server: ScadaServer
    actions: Actions
    client: Client
    ns: int

    def tracenode(self) -> Node:
        """The Tracenode object as the client sees it."""
        return self.client.get_node(f"ns={self.ns};s=Tracenode")

    async def node(self, *path: str) -> Node:
        """The node at `path` below Tracenode, found by browse names."""
        return await self.tracenode().get_child([f"{self.ns}:{name}" for name in path])

    async def read(self, *path: str) -> ua.DataValue:
        """The value of the variable at `path` below Tracenode, with its type and status."""
        return await (await self.node(*path)).read_data_value(raise_on_bad_status=False)

    async def typed(self, *path: str) -> tuple[Any, ua.VariantType]:
        """Value and variant type of the variable at `path`."""
        data = await self.read(*path)
        assert data.StatusCode is not None and data.StatusCode.is_good(), data.StatusCode
        assert data.Value is not None
        return data.Value.Value, data.Value.VariantType

    async def variables(self) -> list[Node]:
        """Every variable below Tracenode."""
        found: list[Node] = []
        pending = [self.tracenode()]
        while pending:
            for child in await pending.pop().get_children():
                node_class = await child.read_node_class()
                if node_class == ua.NodeClass.Variable:
                    found.append(child)
                elif node_class == ua.NodeClass.Object:
                    pending.append(child)
        return found


@asynccontextmanager
async def _serve(operator_users: set[str] | None) -> AsyncIterator[Line]:
    actions = Actions()
    server = ScadaServer(
        endpoint=ENDPOINT,
        positions=["P1", "P2"],
        on_reset_counters=actions.reset_counters,
        on_reset_alarm=actions.reset_alarm,
        operator_users=operator_users,
    )
    await server.start()
    client = Client(server.url)
    await client.connect()
    try:
        yield Line(server, actions, client, await client.get_namespace_index(NAMESPACE_URI))
    finally:
        await client.disconnect()
        await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def line() -> AsyncIterator[Line]:
    """A server that lets anyone call its methods (the simulator's setting), with an anonymous client."""
    async with _serve(None) as served:
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def guarded() -> AsyncIterator[Line]:
    """A server where only OPERATOR may call methods, never published to, with an anonymous client."""
    async with _serve({OPERATOR}) as served:
        yield served


@pytest.fixture
def actions(line: Line) -> Actions:
    """The open server's actions, cleared for this test."""
    line.actions.done.clear()
    line.actions.fail = False
    return line.actions


def _result(**changes: Any) -> LastResult:
    fields: dict[str, Any] = {
        "tracking_id": 4_000_000_000,
        "serial": "SN0001",
        "verdict": "rejected",
        "reasons": ("no_read", "late"),
        "decided_at": datetime(2031, 5, 4, 3, 2, 1, 123456, tzinfo=UTC),
        "latency_ms": 12.25,
        "position": "P2",
    }
    return LastResult(**{**fields, **changes})


def _job(**changes: Any) -> ActiveJob:
    fields: dict[str, Any] = {
        "recipe_number": 65535,
        "recipe_name": "Aspirin 100",
        "recipe_version": 3,
        "lot": "LOT-Ä1",
        "expiry": "311200",
    }
    return ActiveJob(**{**fields, **changes})


@on_module_loop
class TestAddressSpace:
    """The shape of Objects/Tracenode as SCADA browses it."""

    async def test_every_reason_has_a_counter(self, line: Line) -> None:
        """RejectedByReason holds one UInt32 per Reason, named after it."""
        folder = await line.node("Counters", "RejectedByReason")
        names = {(await child.read_browse_name()).Name for child in await folder.get_children()}
        assert names == {reason.value for reason in Reason}
        for reason in Reason:
            assert (await line.typed("Counters", "RejectedByReason", reason.value))[
                1
            ] == ua.VariantType.UInt32

    async def test_positions_appear_with_their_counters(self, line: Line) -> None:
        """Each position given at construction has processed, good and defective counts."""
        folder = await line.node("Counters", "Positions")
        names = {(await child.read_browse_name()).Name for child in await folder.get_children()}
        assert {"P1", "P2"} <= names
        for name in ("ProdProcessedCount", "ProdGoodCount", "ProdDefectiveCount"):
            assert (await line.typed("Counters", "Positions", "P1", name))[1] == ua.VariantType.UInt32

    async def test_no_variable_is_int64_or_writable(self, line: Line) -> None:
        """Every variable has its declared type (never a guessed Int64) and is read-only for clients."""
        variables = await line.variables()
        assert len(variables) >= 6 + 5 + 7 + 2 + len(Reason) + 2 * 3
        for variable in variables:
            assert await variable.read_data_type() != ua.NodeId(ua.ObjectIds.Int64)
            access = await variable.read_attribute(ua.AttributeIds.UserAccessLevel)
            assert access.Value is not None
            assert access.Value.Value == ua.AccessLevel.CurrentRead.mask

    async def test_a_client_write_is_refused(self, line: Line) -> None:
        """A client that tries to write a counter is denied and the counter keeps its value."""
        await line.server.publish_counters(CounterSnapshot(total=5, good=5))
        node = await line.node("Counters", "ProdProcessedCount")
        with pytest.raises(BadUserAccessDenied):
            await node.write_value(ua.Variant(0, ua.VariantType.UInt32))
        assert await node.read_value() == 5

    async def test_reasons_is_a_string_array(self, line: Line) -> None:
        """LastResult/Reasons is declared as a one-dimensional String array."""
        node = await line.node("ResultManagement", "LastResult", "Reasons")
        assert await node.read_value_rank() == ua.ValueRank.OneDimension
        assert await node.read_data_type() == ua.NodeId(ua.ObjectIds.String)

    async def test_node_ids_spell_the_browse_path(self, line: Line) -> None:
        """A variable's NodeId is its dotted browse path, so SCADA tags survive restarts."""
        node = await line.node("Counters", "RejectedByReason", "no_read")
        assert node.nodeid == ua.NodeId("Tracenode.Counters.RejectedByReason.no_read", line.ns)

    async def test_url_names_the_bound_port(self, line: Line) -> None:
        """With port 0 in the endpoint, `url` reports the port the OS picked."""
        assert line.server.url.startswith("opc.tcp://127.0.0.1:")
        assert not line.server.url.startswith("opc.tcp://127.0.0.1:0/")


@on_module_loop
class TestInitialValues:
    """What a client reads before the node has published anything."""

    async def test_counters_start_at_zero(self, guarded: Line) -> None:
        """Counters read 0 as UInt32 and the alarm reads False."""
        assert await guarded.typed("Counters", "ProdProcessedCount") == (0, ua.VariantType.UInt32)
        assert await guarded.typed("Counters", "ConsecutiveAlarm") == (False, ua.VariantType.Boolean)

    async def test_state_starts_as_starting(self, guarded: Line) -> None:
        """The state reads STARTING until the node publishes another."""
        assert await guarded.typed("State") == ("STARTING", ua.VariantType.String)
        assert await guarded.typed("StateNumber") == (NodeState.STARTING, ua.VariantType.UInt16)

    async def test_no_job_reads_as_number_zero(self, guarded: Line) -> None:
        """Without a job the active recipe number is 0 and the lot is empty."""
        assert await guarded.typed("RecipeManagement", "ActiveRecipe", "Number") == (0, ua.VariantType.UInt16)
        assert await guarded.typed("RecipeManagement", "ActiveRecipe", "Lot") == ("", ua.VariantType.String)

    async def test_last_result_waits_for_the_first_unit(self, guarded: Line) -> None:
        """Before any verdict the LastResult variables say BadWaitingForInitialData, not a made-up zero."""
        node = await guarded.node("ResultManagement", "LastResult", "TrackingId")
        with pytest.raises(BadWaitingForInitialData):
            await node.read_value()


@on_module_loop
class TestPublishCounters:
    """Counters published by the node, read back by a client with their types."""

    async def test_totals_read_back_as_uint32(self, line: Line) -> None:
        """Processed, good, defective, late and consecutive rejects are UInt32; the alarm is Boolean."""
        await line.server.publish_counters(
            CounterSnapshot(
                total=10,
                good=7,
                rejected=3,
                by_reason=MappingProxyType({Reason.LATE: 2, Reason.NO_READ: 1}),
                consecutive_rejects=2,
                alarm_active=True,
            )
        )
        assert await line.typed("Counters", "ProdProcessedCount") == (10, ua.VariantType.UInt32)
        assert await line.typed("Counters", "ProdGoodCount") == (7, ua.VariantType.UInt32)
        assert await line.typed("Counters", "ProdDefectiveCount") == (3, ua.VariantType.UInt32)
        assert await line.typed("Counters", "Late") == (2, ua.VariantType.UInt32)
        assert await line.typed("Counters", "ConsecutiveRejects") == (2, ua.VariantType.UInt32)
        assert await line.typed("Counters", "ConsecutiveAlarm") == (True, ua.VariantType.Boolean)
        assert await line.typed("Counters", "RejectedByReason", "late") == (2, ua.VariantType.UInt32)
        assert await line.typed("Counters", "RejectedByReason", "no_read") == (1, ua.VariantType.UInt32)

    async def test_reasons_left_out_read_zero(self, line: Line) -> None:
        """A reason missing from the snapshot (after a reset) reads 0, not its last count."""
        await line.server.publish_counters(CounterSnapshot(rejected=4, by_reason={Reason.WRONG_LOT: 4}))
        await line.server.publish_counters(CounterSnapshot())
        assert await line.typed("Counters", "RejectedByReason", "wrong_lot") == (0, ua.VariantType.UInt32)

    async def test_position_counts_read_back(self, line: Line) -> None:
        """Per-position counts land under their position; a position left out reads 0."""
        await line.server.publish_counters(CounterSnapshot(by_position={"P1": PositionCounts(9, 8, 1)}))
        assert await line.typed("Counters", "Positions", "P1", "ProdProcessedCount") == (
            9,
            ua.VariantType.UInt32,
        )
        assert await line.typed("Counters", "Positions", "P1", "ProdGoodCount") == (8, ua.VariantType.UInt32)
        assert await line.typed("Counters", "Positions", "P1", "ProdDefectiveCount") == (
            1,
            ua.VariantType.UInt32,
        )
        await line.server.publish_counters(CounterSnapshot())
        assert await line.typed("Counters", "Positions", "P1", "ProdProcessedCount") == (
            0,
            ua.VariantType.UInt32,
        )

    async def test_print_quality_reads_back_per_position(self, line: Line) -> None:
        """Each position's grade, its moving average and the printer warning, with their types."""
        trend = TrendState(
            position="P2",
            unit_index=900,
            samples=900,
            value=2.25,
            smoothed=2.4,
            slope=-0.001,
            units_to_limit=400.0,
            warning=TrendWarning.HEADING_FOR_LIMIT,
        )
        await line.server.publish_trends([trend])
        quality = ("PrintQuality", "P2")
        assert await line.typed(*quality, "LastGrade") == (2.25, ua.VariantType.Double)
        assert await line.typed(*quality, "SmoothedGrade") == (2.4, ua.VariantType.Double)
        assert await line.typed(*quality, "Warning") == ("heading_for_limit", ua.VariantType.String)
        assert await line.typed(*quality, "UnitsToLimit") == (400.0, ua.VariantType.Double)
        await line.server.publish_trends([TrendState("P2", 901, 901, 3.9, 3.5, 0.0, None, None)])
        assert await line.typed(*quality, "Warning") == ("", ua.VariantType.String)
        assert await line.typed(*quality, "UnitsToLimit") == (-1.0, ua.VariantType.Double)

    async def test_grade_waits_for_the_first_graded_unit(self, guarded: Line) -> None:
        """Before a code was graded the grade says BadWaitingForInitialData, not a made-up F."""
        node = await guarded.node("PrintQuality", "P1", "LastGrade")
        with pytest.raises(BadWaitingForInitialData):
            await node.read_value()

    async def test_a_new_position_is_added(self, line: Line) -> None:
        """A position the server was not started with (after a recipe switch) appears with its counts."""
        await line.server.publish_counters(CounterSnapshot(by_position={"Lane 3": PositionCounts(2, 1, 1)}))
        assert await line.typed("Counters", "Positions", "Lane 3", "ProdDefectiveCount") == (
            1,
            ua.VariantType.UInt32,
        )

    async def test_a_count_past_uint32_stops_at_the_top(self, line: Line) -> None:
        """A count UInt32 cannot hold reads as its maximum instead of breaking every read."""
        await line.server.publish_counters(CounterSnapshot(total=UINT32_MAX + 5))
        assert await line.typed("Counters", "ProdProcessedCount") == (UINT32_MAX, ua.VariantType.UInt32)

    async def test_unchanged_values_are_not_rewritten(self, line: Line) -> None:
        """Publishing the same snapshot again leaves the variable's timestamp as it was."""
        snapshot = CounterSnapshot(total=77, good=77)
        await line.server.publish_counters(snapshot)
        first = await line.read("Counters", "ProdProcessedCount")
        await line.server.publish_counters(snapshot)
        again = await line.read("Counters", "ProdProcessedCount")
        assert again.SourceTimestamp == first.SourceTimestamp

    async def test_publishing_never_yields_to_the_event_loop(self, line: Line) -> None:
        """A publish completes in one step: no client sees half a snapshot and the cycle is not held up."""
        subscription = await line.client.create_subscription(50, _Ignore())
        try:
            await subscription.subscribe_data_change(await line.variables())
            for i in range(3):
                _run_without_loop(line.server.publish_counters(CounterSnapshot(total=i, good=i)))
                _run_without_loop(line.server.publish_result(_result(tracking_id=i)))
        finally:
            await subscription.delete()


@on_module_loop
class TestPublishState:
    """The node's operating state as SCADA reads it."""

    async def test_state_name_and_number(self, line: Line) -> None:
        """State is the state's name; StateNumber is its PLC number as UInt16."""
        await line.server.publish_state(NodeState.ALARM)
        assert await line.typed("State") == ("ALARM", ua.VariantType.String)
        assert await line.typed("StateNumber") == (3, ua.VariantType.UInt16)


@on_module_loop
class TestPublishJob:
    """The active recipe and batch as SCADA reads them."""

    async def test_job_reads_back_with_its_types(self, line: Line) -> None:
        """Number is UInt16, Version UInt32, texts are Strings."""
        await line.server.publish_job(_job())
        recipe = ("RecipeManagement", "ActiveRecipe")
        assert await line.typed(*recipe, "Number") == (65535, ua.VariantType.UInt16)
        assert await line.typed(*recipe, "Name") == ("Aspirin 100", ua.VariantType.String)
        assert await line.typed(*recipe, "Version") == (3, ua.VariantType.UInt32)
        assert await line.typed(*recipe, "Lot") == ("LOT-Ä1", ua.VariantType.String)
        assert await line.typed(*recipe, "Expiry") == ("311200", ua.VariantType.String)

    async def test_no_job_clears_the_recipe(self, line: Line) -> None:
        """Publishing None shows number 0 and empty texts."""
        await line.server.publish_job(_job())
        await line.server.publish_job(None)
        recipe = ("RecipeManagement", "ActiveRecipe")
        assert await line.typed(*recipe, "Number") == (0, ua.VariantType.UInt16)
        assert await line.typed(*recipe, "Name") == ("", ua.VariantType.String)
        assert await line.typed(*recipe, "Version") == (0, ua.VariantType.UInt32)
        assert await line.typed(*recipe, "Expiry") == ("", ua.VariantType.String)


@on_module_loop
class TestPublishResult:
    """The last verdict as SCADA reads it."""

    async def test_result_reads_back_with_its_types(self, line: Line) -> None:
        """Every LastResult field arrives with its declared type and exact value."""
        await line.server.publish_result(_result())
        last = ("ResultManagement", "LastResult")
        assert await line.typed(*last, "TrackingId") == (4_000_000_000, ua.VariantType.UInt32)
        assert await line.typed(*last, "Serial") == ("SN0001", ua.VariantType.String)
        assert await line.typed(*last, "Verdict") == ("rejected", ua.VariantType.String)
        assert await line.typed(*last, "Reasons") == (["no_read", "late"], ua.VariantType.String)
        assert await line.typed(*last, "Timestamp") == (
            datetime(2031, 5, 4, 3, 2, 1, 123456, tzinfo=UTC),
            ua.VariantType.DateTime,
        )
        assert await line.typed(*last, "LatencyMs") == (12.25, ua.VariantType.Double)
        assert await line.typed(*last, "Position") == ("P2", ua.VariantType.String)

    async def test_good_result_has_an_empty_reasons_array(self, line: Line) -> None:
        """A good unit's Reasons is an empty String array."""
        await line.server.publish_result(_result(verdict="good", reasons=()))
        assert await line.typed("ResultManagement", "LastResult", "Reasons") == ([], ua.VariantType.String)

    async def test_integer_latency_is_still_double(self, line: Line) -> None:
        """A latency given as a whole number is sent as Double, never as an integer type."""
        await line.server.publish_result(_result(latency_ms=7))
        assert await line.typed("ResultManagement", "LastResult", "LatencyMs") == (7.0, ua.VariantType.Double)


@on_module_loop
class TestMethods:
    """ResetCounters and ResetConsecutiveFailures called by a client."""

    async def test_reset_counters_runs_the_node_callback(self, line: Line, actions: Actions) -> None:
        """Calling ResetCounters runs on_reset_counters once."""
        await line.tracenode().call_method(f"{line.ns}:ResetCounters")
        assert actions.done == ["reset_counters"]

    async def test_reset_consecutive_failures_runs_the_alarm_callback(
        self, line: Line, actions: Actions
    ) -> None:
        """Calling ResetConsecutiveFailures runs on_reset_alarm once."""
        await line.tracenode().call_method(f"{line.ns}:ResetConsecutiveFailures")
        assert actions.done == ["reset_alarm"]

    async def test_a_failing_callback_is_an_internal_error(self, line: Line, actions: Actions) -> None:
        """When the node's callback raises, the client gets BadInternalError and the server keeps serving."""
        actions.fail = True
        with pytest.raises(BadInternalError):
            await line.tracenode().call_method(f"{line.ns}:ResetCounters")
        assert (await line.typed("State"))[1] == ua.VariantType.String


@on_module_loop
class TestOperatorRole:
    """The per-method role check when operator_users is set."""

    async def test_anonymous_call_is_refused(self, guarded: Line) -> None:
        """An anonymous client may not reset, and the node's callback does not run."""
        with pytest.raises(BadUserAccessDenied):
            await guarded.tracenode().call_method(f"{guarded.ns}:ResetConsecutiveFailures")
        assert guarded.actions.done == []

    async def test_an_operator_may_call(self, guarded: Line) -> None:
        """A client logged in as an operator runs the reset."""
        async with _client_as(guarded, OPERATOR) as client:
            await client.get_node(guarded.tracenode().nodeid).call_method(f"{guarded.ns}:ResetCounters")
        assert guarded.actions.done[-1:] == ["reset_counters"]

    async def test_another_user_is_refused(self, guarded: Line) -> None:
        """A logged-in user who is not an operator may not reset."""
        before = list(guarded.actions.done)
        async with _client_as(guarded, "visitor") as client:
            with pytest.raises(BadUserAccessDenied):
                await client.get_node(guarded.tracenode().nodeid).call_method(f"{guarded.ns}:ResetCounters")
        assert guarded.actions.done == before

    async def test_anonymous_may_still_read(self, guarded: Line) -> None:
        """The role check guards the methods only: an anonymous SCADA client still reads."""
        assert (await guarded.typed("Counters", "ProdProcessedCount"))[1] == ua.VariantType.UInt32


class TestActiveJob:
    """Validation of the job shown under RecipeManagement."""

    @pytest.mark.parametrize(
        ("changes", "field_name"),
        [
            ({"recipe_number": 65536}, "recipe_number"),
            ({"recipe_number": -1}, "recipe_number"),
            ({"recipe_version": UINT32_MAX + 1}, "recipe_version"),
            ({"expiry": "31120"}, "expiry"),
            ({"expiry": "3112OO"}, "expiry"),
        ],
    )
    def test_values_the_wire_cannot_carry_are_refused(self, changes: dict[str, Any], field_name: str) -> None:
        """A value outside its OPC UA type, or an expiry that is not YYMMDD, names the field."""
        with pytest.raises(ValueError, match=field_name):
            _job(**changes)


class TestLastResult:
    """Validation of the result shown under ResultManagement."""

    @pytest.mark.parametrize(
        ("changes", "field_name"),
        [
            ({"tracking_id": UINT32_MAX + 1}, "tracking_id"),
            ({"verdict": "pass"}, "verdict"),
            ({"verdict": "good"}, "verdict"),
            ({"reasons": ()}, "verdict"),
            ({"decided_at": datetime(2031, 1, 1)}, "decided_at"),
        ],
    )
    def test_results_scada_would_misread_are_refused(self, changes: dict[str, Any], field_name: str) -> None:
        """An id outside UInt32, an unknown verdict, contradicting reasons or a naive time name the field."""
        with pytest.raises(ValueError, match=field_name):
            _result(**changes)

    def test_any_time_zone_is_accepted(self) -> None:
        """An aware time in another zone is a valid instant."""
        _result(decided_at=datetime(2031, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))))


@on_module_loop
class TestLifecycle:
    """Start and stop."""

    async def test_publishing_before_start_is_an_error(self) -> None:
        """A publish on a server that was never started says so."""
        server = ScadaServer(
            endpoint=ENDPOINT,
            positions=(),
            on_reset_counters=Actions().reset_counters,
            on_reset_alarm=Actions().reset_alarm,
        )
        with pytest.raises(RuntimeError, match="start"):
            await server.publish_state(NodeState.READY)


class _Ignore:
    """A subscription handler that drops the notifications."""

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        """Drop one data change."""


def _run_without_loop(step: Coroutine[Any, Any, None]) -> None:
    # Driving the coroutine by hand: a publish that awaited anything pending would not finish in one send.
    with pytest.raises(StopIteration):
        step.send(None)


@asynccontextmanager
async def _client_as(line: Line, user: str) -> AsyncIterator[Client]:
    """A client logged in as `user` (any password: the server checks names only)."""
    client = Client(line.server.url)
    client.set_user(user)
    client.set_password("unchecked")
    async with client:
        yield client
