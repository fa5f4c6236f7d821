"""The node's link to Level 4 (the site serialization server): the serial numbers of a batch.

Speaks the minimal provider contract the simulator serves; the full OPEN-SCS (OPC 30260) pool manager
comes later behind the same `Level4Client` protocol. asyncua errors are translated into drivers.errors here.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from asyncua import Client, ua

from drivers.errors import Disconnected, DriverError, DriverTimeout, TagError

# The provider contract, shared with simulator/level4.py so both sides name the same nodes.
NAMESPACE_URI = "urn:tracenode:sim:level4"
PROVIDER_NAME = "SerialNumberProvider"
METHOD_NAME = "RequestSerialNumbers"  # (Gtin, Lot, Count) -> SerialNumbers: new serials
ISSUED_METHOD_NAME = "GetIssuedSerialNumbers"  # (Gtin, Lot) -> SerialNumbers: all issued for the batch
ARGUMENT_NAMES = ("Gtin", "Lot", "Count")

_UINT32_MAX = 0xFFFF_FFFF

# Status codes that mean the link went away rather than that the server refused the request.
_LINK_DOWN = frozenset(
    {
        ua.StatusCodes.BadConnectionClosed,
        ua.StatusCodes.BadSecureChannelClosed,
        ua.StatusCodes.BadSessionClosed,
        ua.StatusCodes.BadServerNotConnected,
        ua.StatusCodes.BadNotConnected,
        ua.StatusCodes.BadCommunicationError,
    }
)
_TIMED_OUT = frozenset({ua.StatusCodes.BadTimeout, ua.StatusCodes.BadRequestTimeout})


class Level4Client(Protocol):
    """Where the node gets serial numbers from. Raises only drivers.errors.DriverError subclasses."""

    async def request_serials(self, gtin: str, lot: str, count: int) -> list[str]:
        """Exactly `count` new serial numbers issued for this GTIN and lot."""

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Every serial number issued so far for this GTIN and lot (empty if none)."""


class OpcUaLevel4Client:
    """`Level4Client` over OPC UA: one connection per call.

    Calls come at batch change only, so a fresh connection each time costs little and never finds a
    stale session. A call raises DriverTimeout when it takes longer than `timeout_s` (a server that hangs
    after connecting holds the caller up to twice that, the second for the goodbye), Disconnected when
    the server cannot be reached, TagError when it refuses the call or answers something unexpected;
    each message names the url and the method.
    """

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self._url = url
        self._timeout_s = timeout_s

    async def request_serials(self, gtin: str, lot: str, count: int) -> list[str]:
        """Exactly `count` new serial numbers issued for this GTIN and lot."""
        if not 0 <= count <= _UINT32_MAX:
            raise TagError(
                f"{self._where(METHOD_NAME)}: Count={count} does not fit UInt32 (0..{_UINT32_MAX})"
            )
        serials = await self._call(
            METHOD_NAME,
            [
                ua.Variant(gtin, ua.VariantType.String),
                ua.Variant(lot, ua.VariantType.String),
                ua.Variant(count, ua.VariantType.UInt32),
            ],
        )
        if len(serials) != count:
            raise TagError(
                f"{self._where(METHOD_NAME)}: asked for {count} serial numbers, got {len(serials)}"
            )
        return serials

    async def issued_serials(self, gtin: str, lot: str) -> list[str]:
        """Every serial number issued so far for this GTIN and lot (empty if none)."""
        return await self._call(
            ISSUED_METHOD_NAME,
            [ua.Variant(gtin, ua.VariantType.String), ua.Variant(lot, ua.VariantType.String)],
        )

    def _where(self, method: str) -> str:
        """The start of every error message: which server, which method."""
        return f"Level 4 at {self._url}, {method}"

    async def _call(self, method: str, arguments: list[ua.Variant]) -> list[str]:
        """Call a provider method and return its String[] answer, translating every failure."""
        where = self._where(method)
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await self._call_once(where, method, arguments)
        except DriverError:
            raise
        # TimeoutError is an OSError: it must be caught before the connection errors.
        except TimeoutError as exc:
            raise DriverTimeout(f"{where}: no answer within {self._timeout_s} s") from exc
        except ua.UaStatusCodeError as exc:
            raise _status_error(where, exc.code) from exc
        except (OSError, ua.UaError) as exc:
            raise Disconnected(f"{where}: {exc}") from exc
        return _serials(where, result, [argument.Value for argument in arguments])

    async def _call_once(self, where: str, method: str, arguments: list[ua.Variant]) -> ua.CallMethodResult:
        """Connect, find the method and call it; the raw CallMethodResult keeps per-argument codes."""
        client = Client(self._url, timeout=self._timeout_s)
        try:
            await client.connect()
        except BaseException:
            # asyncua closes its socket when a connect fails, not when it is cancelled, which is how the
            # timeout in _call ends a connect to a peer that never answers.
            client.disconnect_socket()
            raise
        try:
            try:
                namespace = await client.get_namespace_index(NAMESPACE_URI)
            except ValueError as exc:
                raise TagError(f"{where}: the server has no namespace {NAMESPACE_URI}") from exc
            provider = await client.nodes.objects.get_child(f"{namespace}:{PROVIDER_NAME}")
            method_node = await provider.get_child(f"{namespace}:{method}")
            request = ua.CallMethodRequest(
                ObjectId=provider.nodeid, MethodId=method_node.nodeid, InputArguments=arguments
            )
            # The low-level call keeps InputArgumentResults, which say which argument was refused;
            # Node.call_method would raise on the overall status and lose them.
            (result,) = await client.uaclient.call([request])
            return result
        finally:
            # Never raises (asyncua logs what fails); after a timeout its goodbye waits at most timeout_s.
            await client.disconnect()


def _status_error(where: str, code: int) -> DriverError:
    """The drivers.errors exception for a Bad status from the server or the asyncua stack."""
    name = ua.StatusCode(code).name
    if code in _LINK_DOWN:
        return Disconnected(f"{where}: {name}")
    if code in _TIMED_OUT:
        return DriverTimeout(f"{where}: {name}")
    return TagError(f"{where}: {name}")


def _serials(where: str, result: ua.CallMethodResult, values: list[Any]) -> list[str]:
    """The String[] in a call result, or a TagError naming each refused argument and its value."""
    if result.StatusCode.is_bad():
        refused = [
            f"{name}={value!r} ({code.name})"
            for name, value, code in zip(ARGUMENT_NAMES, values, result.InputArgumentResults, strict=False)
            if code.is_bad()
        ]
        detail = f": refused {', '.join(refused)}" if refused else ""
        raise TagError(f"{where}: {result.StatusCode.name}{detail}")
    outputs = result.OutputArguments or []
    # An empty String[] can arrive as a null array (None).
    serials = outputs[0].Value if len(outputs) == 1 else "missing"
    if serials is None:
        return []
    if not isinstance(serials, list) or not all(isinstance(serial, str) for serial in serials):
        raise TagError(f"{where}: expected serial numbers as String[], got {outputs!r:.200}")
    return serials
