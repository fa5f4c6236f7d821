"""The one small protocol every PLC link implements (OPC UA, S7, Modbus, in-memory)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from drivers.signals import PlcInputs, Signal, SignalValue


class SignalDriver(Protocol):
    """A link to the line PLC carrying the signal contract (drivers/signals.py).

    Every method raises only drivers.errors.DriverError subclasses.
    """

    async def connect(self) -> None:
        """Open the link; raise Disconnected if the PLC cannot be reached."""

    async def close(self) -> None:
        """Close the link; never raises."""

    async def read_inputs(self) -> PlcInputs:
        """Read all PLC-to-node signals as one snapshot."""

    async def write_outputs(self, values: Mapping[Signal, SignalValue]) -> None:
        """Write node-to-PLC signals in the given order, as one request where the protocol allows."""
