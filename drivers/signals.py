"""The PLC signal contract v1: every signal between the line PLC and the node, protocol-neutral.

docs/plc-interface.md is the human-readable form of this table (handshakes, timing diagram).
Drivers map these signals onto OPC UA nodes, S7 data block offsets or Modbus registers; the
rest of the node only ever sees `PlcInputs` snapshots and `Signal -> value` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum


class SignalType(StrEnum):
    """Wire-neutral value types of the contract."""

    BOOL = "Bool"
    UINT16 = "UInt16"
    UINT32 = "UInt32"
    STRING = "String"


class Direction(StrEnum):
    """Who writes the signal."""

    PLC_TO_NODE = "plc_to_node"
    NODE_TO_PLC = "node_to_plc"


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One signal of the contract."""

    name: str
    type: SignalType
    direction: Direction
    max_length: int = 0  # strings only: the PLC STRING[n] capacity
    doc: str = ""


_P, _N = Direction.PLC_TO_NODE, Direction.NODE_TO_PLC
_U16, _U32, _BOOL, _STR = SignalType.UINT16, SignalType.UINT32, SignalType.BOOL, SignalType.STRING


class Signal(Enum):
    """The contract's signals; `.value` is the SignalSpec."""

    # PLC -> node. Each strobe comes after the data it announces (TriggerId before TriggerCount,
    # the ack status before ResultAck, the batch before RecipeRequest): a server that publishes
    # the signals one by one, in this order, never shows a new strobe with stale data.
    TRIGGER_ID = SignalSpec("TriggerId", _U32, _P, doc="tracking id of the unit of the latest trigger")
    TRIGGER_COUNT = SignalSpec("TriggerCount", _U32, _P, doc="+1 per unit under the camera (wraps at 2^32)")
    PLC_HEARTBEAT = SignalSpec("PlcHeartbeat", _U32, _P, doc="+1 at least every heartbeat period")
    RESULT_ACK_STATUS = SignalSpec(
        "ResultAckStatus", _U16, _P, doc="1 = applied to the unit in time, 2 = too late or unknown id"
    )
    RESULT_ACK = SignalSpec("ResultAck", _U32, _P, doc="echo of ResultCount once the PLC took the verdict")
    RECIPE_NUMBER = SignalSpec("RecipeNumber", _U16, _P)
    BATCH_LOT = SignalSpec("BatchLot", _STR, _P, max_length=20, doc="AI (10) of the batch")
    BATCH_EXPIRY = SignalSpec("BatchExpiry", _STR, _P, max_length=6, doc="AI (17) of the batch, YYMMDD")
    RECIPE_REQUEST = SignalSpec(
        "RecipeRequest", _U32, _P, doc="+1 to ask for RecipeNumber with the batch data"
    )
    ALARM_RESET_REQUEST = SignalSpec("AlarmResetRequest", _U32, _P, doc="+1 to reset the consecutive alarm")
    # node -> PLC
    NODE_HEARTBEAT = SignalSpec("NodeHeartbeat", _U32, _N, doc="+1 every heartbeat period")
    NODE_STATE = SignalSpec("NodeState", _U16, _N, doc="node.states.NodeState")
    RESULT_ID = SignalSpec("ResultId", _U32, _N, doc="tracking id the verdict is for")
    RESULT_CODE = SignalSpec("ResultCode", _U16, _N, doc="0 = good, else the primary reject reason code")
    RESULT_REASONS = SignalSpec("ResultReasons", _U32, _N, doc="bit mask of all reject reasons")
    RESULT_COUNT = SignalSpec("ResultCount", _U32, _N, doc="+1 per verdict; written last (the strobe)")
    RECIPE_ACK = SignalSpec("RecipeAck", _U32, _N, doc="echo of RecipeRequest once handled")
    RECIPE_ERROR = SignalSpec("RecipeError", _U16, _N, doc="0 = loaded, else recipes.loader.RecipeErrorCode")
    ACTIVE_RECIPE = SignalSpec("ActiveRecipe", _U16, _N, doc="0 = none")
    ALARM_ACTIVE = SignalSpec("AlarmActive", _BOOL, _N, doc="consecutive-reject alarm: stop the line")
    ALARM_RESET_ACK = SignalSpec("AlarmResetAck", _U32, _N, doc="echo of AlarmResetRequest once handled")

    @property
    def spec(self) -> SignalSpec:
        """The signal's name, type and direction."""
        spec: SignalSpec = self.value
        return spec


PLC_INPUTS: tuple[Signal, ...] = tuple(s for s in Signal if s.spec.direction is Direction.PLC_TO_NODE)
NODE_OUTPUTS: tuple[Signal, ...] = tuple(s for s in Signal if s.spec.direction is Direction.NODE_TO_PLC)

# Verdict fields go out in this order, strobe last, so a PLC that reads ResultCount
# changed always finds the matching id and code (one write request / one block write).
VERDICT_SIGNALS: tuple[Signal, ...] = (
    Signal.RESULT_ID,
    Signal.RESULT_CODE,
    Signal.RESULT_REASONS,
    Signal.RESULT_COUNT,
)

SignalValue = int | bool | str
UINT32_MOD = 1 << 32

ACK_APPLIED = 1
ACK_TOO_LATE = 2


def default_value(signal: Signal) -> SignalValue:
    """The power-on value of a signal."""
    t = signal.spec.type
    if t is SignalType.BOOL:
        return False
    if t is SignalType.STRING:
        return ""
    return 0


def check_value(signal: Signal, value: SignalValue) -> SignalValue:
    """Validate a value against the signal's type; raise ValueError naming the signal."""
    spec = signal.spec
    if spec.type is SignalType.BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"{spec.name}: expected Bool, got {value!r}")
        return value
    if spec.type is SignalType.STRING:
        if not isinstance(value, str) or len(value) > spec.max_length:
            raise ValueError(f"{spec.name}: expected String[{spec.max_length}], got {value!r}")
        return value
    limit = 0xFFFF if spec.type is SignalType.UINT16 else 0xFFFFFFFF
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{spec.name}: expected {spec.type.value} (0..{limit}), got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class PlcInputs:
    """One consistent snapshot of everything the PLC writes, read once per node cycle."""

    trigger_count: int = 0
    trigger_id: int = 0
    plc_heartbeat: int = 0
    result_ack: int = 0
    result_ack_status: int = 0
    recipe_request: int = 0
    recipe_number: int = 0
    batch_lot: str = ""
    batch_expiry: str = ""
    alarm_reset_request: int = 0

    @classmethod
    def from_values(cls, values: Mapping[Signal, SignalValue]) -> PlcInputs:
        """Build from a driver's raw read; every PLC input must be present and well typed."""
        missing = [s.spec.name for s in PLC_INPUTS if s not in values]
        if missing:
            raise ValueError(f"PLC inputs missing: {', '.join(missing)}")
        v = {s: check_value(s, values[s]) for s in PLC_INPUTS}
        return cls(
            trigger_count=int(v[Signal.TRIGGER_COUNT]),
            trigger_id=int(v[Signal.TRIGGER_ID]),
            plc_heartbeat=int(v[Signal.PLC_HEARTBEAT]),
            result_ack=int(v[Signal.RESULT_ACK]),
            result_ack_status=int(v[Signal.RESULT_ACK_STATUS]),
            recipe_request=int(v[Signal.RECIPE_REQUEST]),
            recipe_number=int(v[Signal.RECIPE_NUMBER]),
            batch_lot=str(v[Signal.BATCH_LOT]),
            batch_expiry=str(v[Signal.BATCH_EXPIRY]),
            alarm_reset_request=int(v[Signal.ALARM_RESET_REQUEST]),
        )


def counter_delta(new: int, old: int) -> int:
    """Steps from `old` to `new` of a UInt32 counter that wraps."""
    return (new - old) % UINT32_MOD
