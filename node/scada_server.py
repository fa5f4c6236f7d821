"""The node's OPC UA server for SCADA and Level 4: serves node.scada_model and runs its methods.

Publishing writes straight into the server's address space and only what changed, because it runs in
the same event loop as the 5 ms control cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import structlog
from asyncua import Server, ua
from asyncua.common.utils import Buffer
from asyncua.crypto.permission_rules import SimpleRoleRuleset, User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.user_managers import UserManager
from asyncua.ua.ua_binary import struct_from_binary

from node import scada_model as model
from node.counters import CounterSnapshot, PositionCounts
from node.print_trend import TrendState
from node.states import NodeState

APPLICATION_URI = "urn:tracenode:node"
_UINT16_MAX = 0xFFFF
_UINT32_MAX = 0xFFFF_FFFF
_NO_COUNTS = PositionCounts()
_CALL_REQUEST = ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveJob:
    """The recipe and batch the PLC selected, as SCADA sees them under RecipeManagement/ActiveRecipe."""

    recipe_number: int
    recipe_name: str
    recipe_version: int
    lot: str
    expiry: str  # YYMMDD, GS1 AI 17

    def __post_init__(self) -> None:
        """Refuse values the OPC UA types cannot carry, naming the field."""
        if not 0 <= self.recipe_number <= _UINT16_MAX:
            raise ValueError(f"recipe_number {self.recipe_number} is outside 0..{_UINT16_MAX} (UInt16)")
        if not 0 <= self.recipe_version <= _UINT32_MAX:
            raise ValueError(f"recipe_version {self.recipe_version} is outside 0..{_UINT32_MAX} (UInt32)")
        if not (len(self.expiry) == 6 and self.expiry.isascii() and self.expiry.isdigit()):
            raise ValueError(f"expiry {self.expiry!r} is not YYMMDD")


@dataclass(frozen=True, slots=True)
class LastResult:
    """The verdict on one unit, as SCADA sees it under ResultManagement/LastResult."""

    tracking_id: int
    serial: str
    verdict: Literal["good", "rejected"]
    reasons: tuple[str, ...]
    decided_at: datetime  # UTC
    latency_ms: float
    position: str

    def __post_init__(self) -> None:
        """Refuse a result SCADA would misread: bad id, unknown verdict, contradicting reasons, naive time."""
        if not 0 <= self.tracking_id <= _UINT32_MAX:
            raise ValueError(f"tracking_id {self.tracking_id} is outside 0..{_UINT32_MAX} (UInt32)")
        if self.verdict not in ("good", "rejected"):
            raise ValueError(f"verdict {self.verdict!r} is neither 'good' nor 'rejected'")
        if (self.verdict == "good") != (not self.reasons):
            raise ValueError(f"verdict {self.verdict!r} does not fit reasons {self.reasons!r}")
        if self.decided_at.utcoffset() is None:
            raise ValueError(f"decided_at {self.decided_at.isoformat()} has no time zone; give it in UTC")


class ScadaServer:
    """OPC UA server with the Tracenode object that SCADA reads and operators call methods on.

    Clients can only read variables. `operator_users` names the users who may call ResetCounters and
    ResetConsecutiveFailures; None lets anyone, anonymous included, call them (the simulator).
    asyncua does not tell a method handler who called it, so the check runs where asyncua does see
    the session user: its per-request permission hook, which here looks inside Call requests.

    Limitation: only the unencrypted endpoint (SecurityPolicy None) is served, and a user name is taken
    from the session's token as given: no password is checked yet. Until a credential store exists,
    the role check keeps honest clients from resetting by mistake; it does not stop an attacker.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        positions: Sequence[str],
        on_reset_counters: Callable[[], Awaitable[None]],
        on_reset_alarm: Callable[[], Awaitable[None]],
        operator_users: Collection[str] | None = None,
    ) -> None:
        """Prepare a server for `endpoint` (opc.tcp://host:port/path; port 0 picks a free one)."""
        self._endpoint = endpoint
        self._positions = tuple(positions)
        self._on_reset_counters = on_reset_counters
        self._on_reset_alarm = on_reset_alarm
        self._operator_users = None if operator_users is None else frozenset(operator_users)
        self._server: Server | None = None
        self._model: model.ScadaModel | None = None

    @property
    def url(self) -> str:
        """The endpoint clients connect to; once started, with the port actually bound."""
        if self._server is None or self._server.bserver is None:
            return self._endpoint
        parts = urlsplit(self._endpoint)
        netloc = f"{parts.hostname}:{self._server.bserver.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    async def start(self) -> None:
        """Build the address space and listen on the endpoint."""
        server = Server(user_manager=_SessionUsers())
        await server.init()
        server.set_endpoint(self._endpoint)
        server.set_server_name("tracenode")
        await server.set_application_uri(APPLICATION_URI)
        built = await model.ScadaModel.build(
            server,
            positions=self._positions,
            methods={
                model.RESET_COUNTERS: self._reset_counters,
                model.RESET_CONSECUTIVE_FAILURES: self._reset_consecutive_failures,
            },
        )
        guarded = {node_id: name for name, node_id in built.method_ids.items()}
        server.set_security_policy(
            [ua.SecurityPolicyType.NoSecurity],
            permission_ruleset=_OperatorMethods(guarded, self._operator_users),
        )
        server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
        await server.start()
        self._server, self._model = server, built
        _log.info("scada_server_started", url=self.url, positions=list(self._positions))

    async def stop(self) -> None:
        """Close all client sessions and stop listening."""
        if self._server is not None:
            await self._server.stop()
            self._server, self._model = None, None

    async def publish_counters(self, counters: CounterSnapshot) -> None:
        """Show the counters; reasons and positions missing from the snapshot read 0."""
        built = self._started()
        values: dict[model.Variable, object] = {
            model.PROCESSED: _count(counters.total),
            model.GOOD: _count(counters.good),
            model.DEFECTIVE: _count(counters.rejected),
            model.LATE: _count(counters.late),
            model.CONSECUTIVE_REJECTS: _count(counters.consecutive_rejects),
            model.CONSECUTIVE_ALARM: counters.alarm_active,
        }
        for reason, variable in model.REJECTED_BY_REASON.items():
            values[variable] = _count(counters.by_reason.get(reason, 0))
        for name in sorted(counters.by_position.keys() - built.positions.keys()):
            # A recipe switch may bring positions the server was not started with: show them too.
            await built.add_position(name)
        for name, variables in built.positions.items():
            counts = counters.by_position.get(name, _NO_COUNTS)
            values[variables.processed] = _count(counts.total)
            values[variables.good] = _count(counts.good)
            values[variables.defective] = _count(counts.rejected)
        await built.write(values)

    async def publish_trends(self, trends: Sequence[TrendState]) -> None:
        """Show each position's print-quality trend (positions not graded keep their values)."""
        built = self._started()
        values: dict[model.Variable, object] = {}
        for trend in trends:
            variables = await built.add_position(trend.position)
            values[variables.grade] = float(trend.value)
            values[variables.smoothed_grade] = float(trend.smoothed)
            values[variables.grade_warning] = trend.warning.value if trend.warning is not None else ""
            values[variables.units_to_limit] = (
                -1.0 if trend.units_to_limit is None else float(trend.units_to_limit)
            )
        await built.write(values)

    async def publish_state(self, state: NodeState) -> None:
        """Show the node's operating state."""
        await self._started().write({model.STATE: state.name, model.STATE_NUMBER: int(state)})

    async def publish_job(self, job: ActiveJob | None) -> None:
        """Show the active recipe and batch; None (no job) shows number 0 and empty texts."""
        number, name, version, lot, expiry = (
            (0, "", 0, "", "")
            if job is None
            else (job.recipe_number, job.recipe_name, job.recipe_version, job.lot, job.expiry)
        )
        await self._started().write(
            {
                model.RECIPE_NUMBER: number,
                model.RECIPE_NAME: name,
                model.RECIPE_VERSION: version,
                model.RECIPE_LOT: lot,
                model.RECIPE_EXPIRY: expiry,
            }
        )

    async def publish_result(self, result: LastResult) -> None:
        """Show the verdict on the last unit."""
        await self._started().write(
            {
                model.RESULT_TRACKING_ID: result.tracking_id,
                model.RESULT_SERIAL: result.serial,
                model.RESULT_VERDICT: result.verdict,
                model.RESULT_REASONS: result.reasons,
                model.RESULT_TIMESTAMP: result.decided_at,
                model.RESULT_LATENCY_MS: float(result.latency_ms),
                model.RESULT_POSITION: result.position,
            }
        )

    def _started(self) -> model.ScadaModel:
        if self._model is None:
            raise RuntimeError("ScadaServer is not running: call start() before publishing")
        return self._model

    async def _reset_counters(self, _object: ua.NodeId) -> ua.StatusCode:
        return await _run_operator_action(model.RESET_COUNTERS, self._on_reset_counters)

    async def _reset_consecutive_failures(self, _object: ua.NodeId) -> ua.StatusCode:
        return await _run_operator_action(model.RESET_CONSECUTIVE_FAILURES, self._on_reset_alarm)


async def _run_operator_action(method: str, action: Callable[[], Awaitable[None]]) -> ua.StatusCode:
    try:
        await action()
    except Exception:
        # The action is the node's; its failure must reach the operator as a clear status and land in
        # the node's log, instead of asyncua's BadUnexpectedError in asyncua's log.
        _log.exception("scada_method_failed", method=method)
        return ua.StatusCode(ua.StatusCodes.BadInternalError)
    _log.info("scada_method_done", method=method)
    return ua.StatusCode(ua.StatusCodes.Good)


def _count(value: int) -> int:
    # A counter past UInt32 would break every read of it; stopping at the top, as PLC counters do,
    # keeps it readable and obviously full.
    return min(value, _UINT32_MAX)


class _SessionUsers(UserManager):
    """Names each session's user from its identity token, never as Admin.

    asyncua's default manager makes a client that logs in as "admin" an Admin, who may write any
    variable and change the address space; SCADA must only read.
    """

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        """The user the session runs as: role User, named after the token (None when anonymous)."""
        return User(role=UserRole.User, name=username)


class _OperatorMethods(SimpleRoleRuleset):
    """asyncua's role rules, plus: only operators may call guarded methods (anyone, if operators is None)."""

    def __init__(self, guarded: Mapping[ua.NodeId, str], operators: frozenset[str] | None) -> None:
        """Guard the methods `guarded` (NodeId to browse name) for the users `operators`."""
        super().__init__()
        self._guarded = guarded
        self._operators = operators

    def check_validity(self, user: User, action_type_id: ua.NodeId, body: Buffer) -> bool:
        """Whether `user` may send this request; each guarded call is logged with its user (audit trail)."""
        if not super().check_validity(user, action_type_id, body):
            return False
        if action_type_id != _CALL_REQUEST:
            return True
        try:
            # A copy, because the request processor decodes the same body after this check.
            calls = struct_from_binary(ua.CallParameters, body.copy()).MethodsToCall
        except Exception:
            # Undecodable here means undecodable for the processor too, which answers it with its own error.
            return True
        for call in calls:
            method = self._guarded.get(call.MethodId)
            if method is None:
                continue
            allowed = self._operators is None or user.name in self._operators
            _log.info("scada_method_call", method=method, user=user.name, allowed=allowed)
            if not allowed:
                return False
        return True
