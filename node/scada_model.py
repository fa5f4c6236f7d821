"""The OPC UA address space that SCADA and Level 4 read, declared as data and built into an asyncua server.

Names follow OPC 40100 Machine Vision (a VisionSystem-like object with RecipeManagement and
ResultManagement) and PackML (ProdProcessedCount, ProdDefectiveCount), so the full companion model
of a later issue can take the same places.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from asyncua import Node, Server, ua

from node.reasons import Reason
from node.states import NodeState

NAMESPACE_URI = "http://tracenode.org/UA/"
ROOT = "Tracenode"
RESET_COUNTERS = "ResetCounters"
RESET_CONSECUTIVE_FAILURES = "ResetConsecutiveFailures"

MethodHandler = Callable[[ua.NodeId], Awaitable[ua.StatusCode]]
"""An async method handler as asyncua calls it: with the NodeId of the object the method was called on."""


@dataclass(frozen=True, slots=True, eq=False)
class Variable:
    """One read-only variable: where it sits below Tracenode and the wire type of its values.

    Compared by identity: each variable is declared once, and identity hashing keeps publishing cheap.
    """

    path: tuple[str, ...]
    vtype: ua.VariantType
    description: str
    is_array: bool = False
    initial: object = None  # the value before the first publish; None: the type's zero
    # True where no honest value exists before the first publish (no result yet): clients then read
    # BadWaitingForInitialData instead of a made-up zero.
    awaits_first_value: bool = False


STATE = Variable(
    ("State",),
    ua.VariantType.String,
    "Operating state: STARTING, NO_JOB, READY, ALARM or FAULT.",
    initial=NodeState.STARTING.name,
)
STATE_NUMBER = Variable(
    ("StateNumber",),
    ua.VariantType.UInt16,
    "Operating state as the PLC's NodeState number.",
    initial=int(NodeState.STARTING),
)

_RECIPE = ("RecipeManagement", "ActiveRecipe")
RECIPE_NUMBER = Variable(
    (*_RECIPE, "Number"), ua.VariantType.UInt16, "Recipe number the PLC selected; 0: no job."
)
RECIPE_NAME = Variable((*_RECIPE, "Name"), ua.VariantType.String, "Product name of the active recipe.")
RECIPE_VERSION = Variable((*_RECIPE, "Version"), ua.VariantType.UInt32, "Version of the active recipe.")
RECIPE_LOT = Variable((*_RECIPE, "Lot"), ua.VariantType.String, "Batch/lot of the active job (GS1 AI 10).")
RECIPE_EXPIRY = Variable(
    (*_RECIPE, "Expiry"), ua.VariantType.String, "Expiry of the active job, YYMMDD (AI 17)."
)

PROCESSED = Variable(
    ("Counters", "ProdProcessedCount"), ua.VariantType.UInt32, "Units judged (good + rejected)."
)
GOOD = Variable(("Counters", "ProdGoodCount"), ua.VariantType.UInt32, "Units judged good.")
DEFECTIVE = Variable(
    ("Counters", "ProdDefectiveCount"), ua.VariantType.UInt32, "Units rejected, for any reason."
)
LATE = Variable(
    ("Counters", "Late"), ua.VariantType.UInt32, "Units rejected because no verdict was ready in time."
)
CONSECUTIVE_REJECTS = Variable(
    ("Counters", "ConsecutiveRejects"), ua.VariantType.UInt32, "Rejects in a row since the last good unit."
)
CONSECUTIVE_ALARM = Variable(
    ("Counters", "ConsecutiveAlarm"),
    ua.VariantType.Boolean,
    "Consecutive-reject alarm: the PLC stops the line until an operator resets it.",
)

_REASONS = ("Counters", "RejectedByReason")
REJECTED_BY_REASON: Mapping[Reason, Variable] = {
    reason: Variable(
        (*_REASONS, reason.value),
        ua.VariantType.UInt32,
        f"Units rejected for {reason.value} (PLC ResultCode {reason.code}); a unit counts under each reason.",
    )
    for reason in Reason
}

_LAST = ("ResultManagement", "LastResult")


def _result(name: str, vtype: ua.VariantType, description: str, *, is_array: bool = False) -> Variable:
    return Variable((*_LAST, name), vtype, description, is_array=is_array, awaits_first_value=True)


RESULT_TRACKING_ID = _result("TrackingId", ua.VariantType.UInt32, "PLC tracking id of the unit.")
RESULT_SERIAL = _result(
    "Serial", ua.VariantType.String, "Serial number read (GS1 AI 21); empty when none was read."
)
RESULT_VERDICT = _result("Verdict", ua.VariantType.String, "good or rejected.")
RESULT_REASONS = _result("Reasons", ua.VariantType.String, "Reject reasons; empty when good.", is_array=True)
RESULT_TIMESTAMP = _result("Timestamp", ua.VariantType.DateTime, "When the verdict was decided (UTC).")
RESULT_LATENCY_MS = _result("LatencyMs", ua.VariantType.Double, "Trigger to verdict, in milliseconds.")
RESULT_POSITION = _result("Position", ua.VariantType.String, "Inspection position of the unit.")

_FIXED: tuple[Variable, ...] = (
    STATE,
    STATE_NUMBER,
    RECIPE_NUMBER,
    RECIPE_NAME,
    RECIPE_VERSION,
    RECIPE_LOT,
    RECIPE_EXPIRY,
    PROCESSED,
    GOOD,
    DEFECTIVE,
    LATE,
    CONSECUTIVE_REJECTS,
    CONSECUTIVE_ALARM,
    *REJECTED_BY_REASON.values(),
    RESULT_TRACKING_ID,
    RESULT_SERIAL,
    RESULT_VERDICT,
    RESULT_REASONS,
    RESULT_TIMESTAMP,
    RESULT_LATENCY_MS,
    RESULT_POSITION,
)
_FOLDERS = frozenset({_REASONS, ("Counters", "Positions")})
_INITIAL: Mapping[ua.VariantType, object] = {
    ua.VariantType.String: "",
    ua.VariantType.UInt16: 0,
    ua.VariantType.UInt32: 0,
    ua.VariantType.Double: 0.0,
    ua.VariantType.Boolean: False,
    ua.VariantType.DateTime: datetime(1601, 1, 1, tzinfo=UTC),  # OPC UA's null DateTime
}
_UNSET = object()


@dataclass(frozen=True, slots=True)
class PositionVariables:
    """The counters of one inspection position, under Counters/Positions/<name>."""

    processed: Variable
    good: Variable
    defective: Variable
    grade: Variable
    smoothed_grade: Variable
    grade_warning: Variable
    units_to_limit: Variable

    @property
    def all(self) -> tuple[Variable, ...]:
        """Every variable of the position."""
        return (
            self.processed,
            self.good,
            self.defective,
            self.grade,
            self.smoothed_grade,
            self.grade_warning,
            self.units_to_limit,
        )

    @classmethod
    def named(cls, name: str) -> PositionVariables:
        """The variables of position `name`, with the same counter names as the line totals."""
        base = ("Counters", "Positions", name)
        quality = ("PrintQuality", name)
        return cls(
            grade=Variable(
                (*quality, "LastGrade"),
                ua.VariantType.Double,
                f"Continuous ISO/IEC 15415 grade (indicative) of the last code graded at {name}: 4 A .. 0 F.",
                awaits_first_value=True,
            ),
            smoothed_grade=Variable(
                (*quality, "SmoothedGrade"),
                ua.VariantType.Double,
                f"Moving average of the grade at {name} (about the last 50 units).",
                awaits_first_value=True,
            ),
            grade_warning=Variable(
                (*quality, "Warning"),
                ua.VariantType.String,
                f"Empty, near_limit or heading_for_limit: the printer at {name} needs attention before "
                "codes fail.",
            ),
            units_to_limit=Variable(
                (*quality, "UnitsToLimit"),
                ua.VariantType.Double,
                f"Units until the grade's trend at {name} reaches the limit; -1 when it is not falling.",
                awaits_first_value=True,
            ),
            processed=Variable(
                (*base, PROCESSED.path[-1]), ua.VariantType.UInt32, f"Units judged at {name}."
            ),
            good=Variable((*base, GOOD.path[-1]), ua.VariantType.UInt32, f"Units judged good at {name}."),
            defective=Variable(
                (*base, DEFECTIVE.path[-1]), ua.VariantType.UInt32, f"Units rejected at {name}."
            ),
        )


class ScadaModel:
    """The built address space: adds nodes and writes values, each only when it changed."""

    def __init__(self, server: Server, namespace: int, method_ids: Mapping[str, ua.NodeId]) -> None:
        """Use `build`; this only holds what it made."""
        self._server = server
        self._namespace = namespace
        self._containers: dict[tuple[str, ...], Node] = {}
        self._node_ids: dict[Variable, ua.NodeId] = {}
        self._last: dict[Variable, object] = {}
        self.method_ids: Mapping[str, ua.NodeId] = method_ids
        """NodeId of each method on Tracenode, by browse name."""
        self.positions: dict[str, PositionVariables] = {}
        """Variables of every position in the address space, by position name."""

    @classmethod
    async def build(
        cls, server: Server, *, positions: Iterable[str], methods: Mapping[str, MethodHandler]
    ) -> ScadaModel:
        """Add Objects/Tracenode with all variables, positions and methods to an initialised server."""
        namespace = await server.register_namespace(NAMESPACE_URI)
        root = await server.nodes.objects.add_object(
            _node_id(namespace, ()), ua.QualifiedName(ROOT, namespace)
        )
        method_ids: dict[str, ua.NodeId] = {}
        for name, handler in methods.items():
            # No input or output arguments: both methods act on the node's own state.
            method = await root.add_method(
                _node_id(namespace, (name,)), ua.QualifiedName(name, namespace), handler, [], []
            )
            method_ids[name] = method.nodeid
        model = cls(server, namespace, method_ids)
        model._containers[()] = root
        for variable in _FIXED:
            await model._add_variable(variable)
        for name in positions:
            await model.add_position(name)
        return model

    async def add_position(self, name: str) -> PositionVariables:
        """Add the counters of position `name` (zero), or return them if they exist."""
        if name not in self.positions:
            variables = PositionVariables.named(name)
            for variable in variables.all:
                await self._add_variable(variable)
            self.positions[name] = variables
        return self.positions[name]

    async def write(self, values: Mapping[Variable, object]) -> None:
        """Write every value that differs from the last one written, all with one timestamp.

        Writes go straight into the server's address space (no session, no encoding) and never
        suspend, so a client never sees half of one publish. Each written value still costs asyncua a
        deep copy per client subscription watching it.
        """
        now: datetime | None = None
        for variable, value in values.items():
            if self._last.get(variable, _UNSET) == value:
                continue
            if now is None:
                now = datetime.now(UTC)
            data = ua.DataValue(_variant(variable, value), SourceTimestamp=now, ServerTimestamp=now)
            await self._write_data_value(variable, data)
            self._last[variable] = value

    async def _write_data_value(self, variable: Variable, data: ua.DataValue) -> None:
        # The address-space call, unlike Server.write_attribute_value, returns the status: a refused
        # write (a wrong variant type) is a bug here and must not leave SCADA a silently stale value.
        status = await self._server.iserver.aspace.write_attribute_value(
            self._node_ids[variable], ua.AttributeIds.Value, data
        )
        status.check()

    async def _add_variable(self, variable: Variable) -> None:
        parent = await self._container(variable.path[:-1])
        name = variable.path[-1]
        if variable.initial is not None:
            initial = variable.initial
        else:
            initial = () if variable.is_array else _INITIAL[variable.vtype]
        node = await parent.add_variable(
            _node_id(self._namespace, variable.path),
            ua.QualifiedName(name, self._namespace),
            _variant(variable, initial),
        )
        # asyncua already makes the variable read-only for clients (AccessLevel CurrentRead); it leaves
        # an array's ValueRank open, and SCADA tag browsers need it to offer the tag as an array.
        await node.write_attribute(
            ua.AttributeIds.Description,
            ua.DataValue(ua.Variant(ua.LocalizedText(variable.description), ua.VariantType.LocalizedText)),
        )
        if variable.is_array:
            await node.write_attribute(
                ua.AttributeIds.ValueRank,
                ua.DataValue(ua.Variant(ua.ValueRank.OneDimension, ua.VariantType.Int32)),
            )
            await node.write_attribute(
                ua.AttributeIds.ArrayDimensions, ua.DataValue(ua.Variant([0], ua.VariantType.UInt32))
            )
        self._node_ids[variable] = node.nodeid
        if variable.awaits_first_value:
            await self._write_data_value(
                variable, ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData))
            )
        else:
            self._last[variable] = initial

    async def _container(self, path: tuple[str, ...]) -> Node:
        if path not in self._containers:
            parent = await self._container(path[:-1])
            node_id = _node_id(self._namespace, path)
            name = ua.QualifiedName(path[-1], self._namespace)
            if path in _FOLDERS:
                self._containers[path] = await parent.add_folder(node_id, name)
            else:
                self._containers[path] = await parent.add_object(node_id, name)
        return self._containers[path]


def _variant(variable: Variable, value: object) -> ua.Variant:
    # Array values are kept as tuples so they compare by value; asyncua encodes lists.
    return ua.Variant(list(value) if isinstance(value, tuple) else value, variable.vtype)


def _node_id(namespace: int, path: tuple[str, ...]) -> ua.NodeId:
    # String NodeIds spelled like the browse path stay the same across restarts and builds, so
    # SCADA tags bound to them survive a node update.
    return ua.NodeId(".".join((ROOT, *path)), namespace)
