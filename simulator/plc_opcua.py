"""The simulated PLC's OPC UA server: the signal image exposed as variables, as on an S7-1500 or TwinCAT.

Node ids follow drivers/opcua_plc.py's default map (`ns=urn:tracenode:plc;s=Tracenode.<Signal>`).
The node may write only its own outputs; PLC inputs are read-only to clients.
"""

from __future__ import annotations

from asyncua import Server, ua

from drivers.memory import SignalImage
from drivers.opcua_plc import DEFAULT_NAMESPACE, DEFAULT_PREFIX, VARIANT_TYPES, signal_node_id
from drivers.signals import NODE_OUTPUTS, PLC_INPUTS, Signal, SignalValue


class PlcOpcUaServer:
    """Serves a SignalImage over OPC UA on a loopback endpoint."""

    def __init__(self, image: SignalImage, *, host: str = "127.0.0.1", port: int = 4840) -> None:
        if not host.startswith("127."):
            raise ValueError(f"host: the simulator serves loopback only, got {host!r}")
        self.image = image
        self.url = f"opc.tcp://{host}:{port}"
        self._server = Server()
        self._ids: dict[Signal, ua.NodeId] = {}
        self._pushed: dict[Signal, SignalValue] = {}

    async def start(self) -> None:
        """Build the address space (once) and start listening; a stopped server starts again."""
        if self._ids:
            # A restart (a PLC's comms coming back) keeps the address space and its values.
            await self._server.start()
            return
        server = self._server
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("tracenode simulated line PLC")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(DEFAULT_NAMESPACE)
        folder = await server.nodes.objects.add_object(
            ua.NodeId("Tracenode", ns), ua.QualifiedName("Tracenode", ns)
        )
        for signal in Signal:
            node_id = signal_node_id(signal, ns, prefix=DEFAULT_PREFIX)
            value = ua.Variant(self.image.get(signal), VARIANT_TYPES[signal.spec.type])
            var = await folder.add_variable(node_id, ua.QualifiedName(signal.spec.name, ns), value)
            if signal in NODE_OUTPUTS:
                await var.set_writable(True)
            self._ids[signal] = node_id
        self._pushed = {s: self.image.get(s) for s in PLC_INPUTS}
        await server.start()

    async def stop(self) -> None:
        """Stop listening; sessions are dropped."""
        await self._server.stop()

    def pull(self) -> None:
        """Copy what the node wrote into the image (a local read, no I/O)."""
        for signal in NODE_OUTPUTS:
            dv = self._server.read_attribute_value(self._ids[signal])
            if dv.Value is not None and dv.Value.Value is not None:
                self.image.values[signal] = dv.Value.Value

    async def push(self) -> None:
        """Publish the PLC's changed signals to the address space."""
        for signal in PLC_INPUTS:
            value = self.image.get(signal)
            if self._pushed.get(signal) != value:
                dv = ua.DataValue(ua.Variant(value, VARIANT_TYPES[signal.spec.type]))
                await self._server.write_attribute_value(self._ids[signal], dv)
                self._pushed[signal] = value
