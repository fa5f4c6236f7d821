"""PLC link over OPC UA (asyncua client): the signal contract mapped onto variables of the PLC's server.

Each signal is one variable; by default `ns=<namespace_uri>;s=<prefix><SignalName>`, and any
signal's node id can be overridden. All inputs are read with one Read request per cycle and
all outputs of a cycle go out in one Write request, in contract order (strobe last).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Mapping
from typing import TypeVar

from asyncua import Client, ua

from drivers.errors import Disconnected, DriverError, DriverTimeout, TagError
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
        subscribe_ms: float | None = 5.0,
    ) -> None:
        """`subscribe_ms`: publishing interval of a subscription to the PLC inputs; None polls them."""
        self.url = url
        self.subscribe_ms = subscribe_ms
        self._latest: dict[Signal, SignalValue] = {}
        self._bad: TagError | None = None
        self._last_notice = 0.0
        self._by_node: dict[ua.NodeId, Signal] = {}
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
        first = await self._read(client, params)
        if self.subscribe_ms is not None:
            await self._subscribe(client, first)

    async def _subscribe(self, client: Client, first: dict[Signal, SignalValue]) -> None:
        """Have the server push input changes instead of polling them every cycle.

        The server queues a change when the PLC writes it and sends it at the next publishing
        interval, so a read costs nothing and the CPU of both sides is spent on changes only.
        The PLC heartbeat changes every 50 ms, so a subscription silent for `timeout_s` means
        the link is gone (asyncua does not tell a data-change handler about a dead socket).
        """
        self._latest = dict(first)
        self._by_node = {self._ids[s]: s for s in PLC_INPUTS}
        self._last_notice = time.monotonic()
        try:
            subscription = await self._call(
                client.create_subscription(self.subscribe_ms, _Notifications(self)), "subscribe"
            )
            nodes = [client.get_node(self._ids[s]) for s in PLC_INPUTS]
            await self._call(subscription.subscribe_data_change(nodes, sampling_interval=0.0), "subscribe")
        except TagError:
            raise
        except DriverError as exc:
            raise Disconnected(f"{self.url}: cannot subscribe to the PLC inputs: {exc}") from exc

    def _notify(self, node_id: ua.NodeId, value: object) -> None:
        signal = self._by_node.get(node_id)
        if signal is None:
            return
        try:
            self._latest[signal] = _coerce(signal, value)
        except TagError as exc:
            # Raised here it would vanish in asyncua's callback; the next read reports it.
            self._bad = exc
        self._last_notice = time.monotonic()

    async def close(self) -> None:
        """Close the session; never raises."""
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client)

    async def read_inputs(self) -> PlcInputs:
        """All PLC-to-node signals: the subscription's latest values, or one Read request."""
        client, params = self._require()
        if self.subscribe_ms is None:
            values = await self._read(client, params)
        else:
            if time.monotonic() - self._last_notice > self.timeout_s:
                await self.close()
                raise Disconnected(f"{self.url}: no data from the PLC's subscription for {self.timeout_s} s")
            if self._bad is not None:
                bad, self._bad = self._bad, None
                raise bad
            values = self._latest
        try:
            return PlcInputs.from_values(values)
        except ValueError as exc:
            raise TagError(f"{self.url}: {exc}") from exc

    async def _read(self, client: Client, params: ua.ReadParameters) -> dict[Signal, SignalValue]:
        results = await self._call(client.uaclient.read(params), "read")
        values: dict[Signal, SignalValue] = {}
        for signal, dv in zip(PLC_INPUTS, results, strict=True):
            if not dv.StatusCode.is_good():
                raise TagError(f"{self.url}: {signal.spec.name} ({self._ids[signal]}): {dv.StatusCode.name}")
            values[signal] = _coerce(signal, dv.Value.Value)
        return values

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


class _Notifications:
    """asyncua's subscription handler: hands each data change to the driver."""

    def __init__(self, driver: OpcUaDriver) -> None:
        self.driver = driver

    def datachange_notification(self, node: object, value: object, data: object) -> None:
        """One monitored input changed."""
        self.driver._notify(node.nodeid, value)  # type: ignore[attr-defined]  # asyncua Node


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
