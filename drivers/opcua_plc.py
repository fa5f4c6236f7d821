"""PLC link over OPC UA (asyncua client): the signal contract mapped onto variables of the PLC's server.

Each signal is one variable; by default `ns=<namespace_uri>;s=<prefix><SignalName>`, and any
signal's node id can be overridden. All inputs are read with one Read request per cycle and
all outputs of a cycle go out in one Write request, in contract order (strobe last).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from asyncua import Client, ua

from drivers.errors import Disconnected, DriverTimeout, TagError
from drivers.signals import PLC_INPUTS, Direction, PlcInputs, Signal, SignalType, SignalValue, check_value

T = TypeVar("T")

DEFAULT_NAMESPACE = "urn:tracenode:plc"
DEFAULT_PREFIX = "Tracenode."

VARIANT_TYPES: dict[SignalType, ua.VariantType] = {
    SignalType.BOOL: ua.VariantType.Boolean,
    SignalType.UINT16: ua.VariantType.UInt16,
    SignalType.UINT32: ua.VariantType.UInt32,
    SignalType.STRING: ua.VariantType.String,
}


def signal_node_id(signal: Signal, ns_index: int, *, prefix: str = DEFAULT_PREFIX) -> ua.NodeId:
    """The default node id of a signal in the PLC's namespace."""
    return ua.NodeId(f"{prefix}{signal.spec.name}", ns_index)


class OpcUaDriver:
    """SignalDriver over an OPC UA server on the PLC (S7-1500, TwinCAT, Codesys...)."""

    def __init__(
        self,
        url: str,
        *,
        namespace_uri: str = DEFAULT_NAMESPACE,
        prefix: str = DEFAULT_PREFIX,
        node_ids: Mapping[Signal, str] | None = None,
        timeout_s: float = 1.0,
    ) -> None:
        self.url = url
        self.namespace_uri = namespace_uri
        self.prefix = prefix
        self.overrides = dict(node_ids or {})
        self.timeout_s = timeout_s
        self._client: Client | None = None
        self._ids: dict[Signal, ua.NodeId] = {}
        self._read_params: ua.ReadParameters | None = None

    async def connect(self) -> None:
        """Open a session and resolve every signal's node id."""
        client = Client(self.url, timeout=self.timeout_s)
        try:
            await asyncio.wait_for(client.connect(), self.timeout_s * 2)
            ns = await client.get_namespace_index(self.namespace_uri)
        except ValueError as exc:
            await _quiet_disconnect(client)
            raise TagError(f"{self.url}: namespace {self.namespace_uri!r} not on the server") from exc
        except (TimeoutError, OSError, ua.UaError, ConnectionError) as exc:
            await _quiet_disconnect(client)
            raise Disconnected(f"{self.url}: cannot connect: {exc!r}") from exc
        self._ids = {
            s: (
                ua.NodeId.from_string(self.overrides[s])
                if s in self.overrides
                else signal_node_id(s, ns, prefix=self.prefix)
            )
            for s in Signal
        }
        params = ua.ReadParameters()
        for s in PLC_INPUTS:
            rv = ua.ReadValueId()
            rv.NodeId = self._ids[s]
            rv.AttributeId = ua.AttributeIds.Value
            params.NodesToRead.append(rv)
        self._read_params = params
        self._client = client
        # Check the whole map once so a wrong node id is a clear error now, not a fault later.
        await self.read_inputs()

    async def close(self) -> None:
        """Close the session; never raises."""
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client)

    async def read_inputs(self) -> PlcInputs:
        """One Read request for all PLC-to-node signals."""
        client, params = self._require()
        results = await self._call(client.uaclient.read(params), "read")
        values: dict[Signal, SignalValue] = {}
        for signal, dv in zip(PLC_INPUTS, results, strict=True):
            if not dv.StatusCode.is_good():
                raise TagError(f"{self.url}: {signal.spec.name} ({self._ids[signal]}): {dv.StatusCode.name}")
            values[signal] = _coerce(signal, dv.Value.Value)
        try:
            return PlcInputs.from_values(values)
        except ValueError as exc:
            raise TagError(f"{self.url}: {exc}") from exc

    async def write_outputs(self, values: Mapping[Signal, SignalValue]) -> None:
        """One Write request for the given node outputs, in order."""
        client, _ = self._require()
        params = ua.WriteParameters()
        order = list(values)
        for signal in order:
            if signal.spec.direction is not Direction.NODE_TO_PLC:
                raise TagError(f"{signal.spec.name} is written by the PLC, not the node")
            try:
                value = check_value(signal, values[signal])
            except ValueError as exc:
                raise TagError(f"{self.url}: {exc}") from exc
            wv = ua.WriteValue()
            wv.NodeId = self._ids[signal]
            wv.AttributeId = ua.AttributeIds.Value
            wv.Value = ua.DataValue(ua.Variant(value, VARIANT_TYPES[signal.spec.type]))
            params.NodesToWrite.append(wv)
        results = await self._call(client.uaclient.write(params), "write")
        for signal, status in zip(order, results, strict=True):
            if not status.is_good():
                raise TagError(f"{self.url}: writing {signal.spec.name} ({self._ids[signal]}): {status.name}")

    def _require(self) -> tuple[Client, ua.ReadParameters]:
        if self._client is None or self._read_params is None:
            raise Disconnected(f"{self.url}: not connected")
        return self._client, self._read_params

    async def _call(self, request: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(request, self.timeout_s)
        except TimeoutError as exc:
            await self.close()
            raise DriverTimeout(f"{self.url}: {what} took longer than {self.timeout_s} s") from exc
        except (OSError, ConnectionError, ua.UaError) as exc:
            await self.close()
            raise Disconnected(f"{self.url}: {what} failed: {exc!r}") from exc


def _coerce(signal: Signal, raw: object) -> SignalValue:
    """Map a variant's Python value onto the contract type; a wrong type is a TagError."""
    t = signal.spec.type
    if t is SignalType.STRING:
        return "" if raw is None else str(raw)
    if t is SignalType.BOOL and isinstance(raw, bool):
        return raw
    if t in (SignalType.UINT16, SignalType.UINT32) and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise TagError(f"{signal.spec.name}: expected {t.value}, got {raw!r}")


async def _quiet_disconnect(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), 1.0)
    except Exception:  # closing a broken session must never raise
        with contextlib.suppress(Exception):
            client.disconnect_socket()
