"""The node's operating state as the PLC and SCADA see it (NodeState signal)."""

from __future__ import annotations

from enum import IntEnum


class NodeState(IntEnum):
    """Numeric values are part of the PLC signal contract."""

    STARTING = 0
    NO_JOB = 1  # connected, no recipe/batch active: every trigger is rejected
    READY = 2  # recipe and batch active, inspecting
    ALARM = 3  # consecutive-reject alarm active: PLC stops the line until reset
    FAULT = 4  # link or internal fault
