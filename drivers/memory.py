"""An in-memory PLC link: the signal image is a dict, for tests of the node shell without sockets."""

from __future__ import annotations

from collections.abc import Mapping

from drivers.errors import Disconnected
from drivers.signals import NODE_OUTPUTS, PlcInputs, Signal, SignalValue, check_value, default_value


class SignalImage:
    """The PLC's copy of every contract signal, as one dict."""

    def __init__(self) -> None:
        self.values: dict[Signal, SignalValue] = {s: default_value(s) for s in Signal}

    def set(self, signal: Signal, value: SignalValue) -> None:
        """Write one signal after checking its type."""
        self.values[signal] = check_value(signal, value)

    def get(self, signal: Signal) -> SignalValue:
        """Read one signal."""
        return self.values[signal]


class MemoryDriver:
    """SignalDriver over a SignalImage in the same process; `online=False` simulates a cut link."""

    def __init__(self, image: SignalImage) -> None:
        self.image = image
        self.online = True
        self.connected = False

    async def connect(self) -> None:
        """Connect unless the simulated link is down."""
        if not self.online:
            raise Disconnected("memory PLC is offline")
        self.connected = True

    async def close(self) -> None:
        """Drop the connection."""
        self.connected = False

    async def read_inputs(self) -> PlcInputs:
        """Snapshot the PLC inputs."""
        self._check()
        return PlcInputs.from_values(self.image.values)

    async def write_outputs(self, values: Mapping[Signal, SignalValue]) -> None:
        """Write node outputs; refuse PLC inputs."""
        self._check()
        for signal, value in values.items():
            if signal not in NODE_OUTPUTS:
                raise ValueError(f"{signal.spec.name} is written by the PLC, not the node")
            self.image.set(signal, value)

    def _check(self) -> None:
        if not (self.online and self.connected):
            self.connected = False
            raise Disconnected("memory PLC link is down")
