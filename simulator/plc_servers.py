"""The simulated PLC's three links, all serving one signal image: pick one by protocol name."""

from __future__ import annotations

from typing import Literal, Protocol

from drivers.memory import SignalImage

PlcProtocol = Literal["opcua", "s7", "modbus"]
PROTOCOLS: tuple[PlcProtocol, ...] = ("opcua", "s7", "modbus")


class PlcServer(Protocol):
    """What the line needs from a link server: start, stop, and the two copies per scan."""

    @property
    def url(self) -> str:
        """Where the node connects (protocol-specific form)."""
        ...

    async def start(self) -> None:
        """Listen on loopback."""

    async def stop(self) -> None:
        """Stop listening; sessions are dropped."""

    def pull(self) -> None:
        """Copy what the node wrote into the image."""

    async def push(self) -> None:
        """Publish the PLC's changed signals."""


def make_plc_server(protocol: PlcProtocol, image: SignalImage, *, port: int) -> PlcServer:
    """The server for `protocol` on 127.0.0.1:`port`, over `image`."""
    if protocol == "opcua":
        from simulator.plc_opcua import PlcOpcUaServer

        return PlcOpcUaServer(image, port=port)
    if protocol == "s7":
        from simulator.plc_s7 import PlcS7Server

        return PlcS7Server(image, port=port)
    if protocol == "modbus":
        from simulator.plc_modbus import PlcModbusServer

        return PlcModbusServer(image, port=port)
    raise ValueError(f"plc: unknown protocol {protocol!r}, expected one of {', '.join(PROTOCOLS)}")
