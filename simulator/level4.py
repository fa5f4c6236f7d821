"""The simulated Level 4 (site serialization server): issues randomised serial numbers per batch, serves them
over OPC UA, and keeps what it issued as ground truth.

Serials follow EU FMD Delegated Regulation 2016/161 art. 4(b): drawn at random from a space so large that the
chance of guessing a valid one stays below 1 in 10,000.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from asyncua import Server, ua

from drivers.level4 import ARGUMENT_NAMES, ISSUED_METHOD_NAME, METHOD_NAME, NAMESPACE_URI, PROVIDER_NAME
from recipes.batch import GS1_CSET82, BatchError, parse_lot
from simulator.net import LOOPBACK
from vision.gs1 import gs1_check_digit

# Digits and capitals without I and O, which a printed code's reader or a person confuses with 1 and 0.
SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SERIAL_LENGTH = 12  # 34**12 ≈ 2.4e18 serials per GTIN: the 1/10,000 guess limit is never near
MAX_REQUEST = 1_000_000
GUESS_FACTOR = 10_000  # art. 4(b): serial space / serials issued must exceed this


def generate_serials(
    rng: random.Random, count: int, *, length: int, alphabet: str, exclude: Set[str]
) -> list[str]:
    """Draw `count` distinct random serials of `length` characters from `alphabet`, none of them in `exclude`.

    Raises ValueError if the alphabet is not distinct GS1 character set 82 characters, or if the space of
    possible serials is not more than GUESS_FACTOR times the serials issued (`exclude` plus `count`), which
    art. 4(b) requires so that guessing a valid serial has a probability below 1/10,000.
    """
    if not alphabet or len(set(alphabet)) != len(alphabet) or not set(alphabet) <= GS1_CSET82:
        raise ValueError(f"alphabet must be distinct GS1 character set 82 characters, got {alphabet!r}")
    issued = len(exclude) + count
    if len(alphabet) ** length <= GUESS_FACTOR * issued:
        raise ValueError(
            f"{len(alphabet)}**{length} possible serials is not more than {GUESS_FACTOR} x {issued} issued"
        )
    drawn: dict[str, None] = {}  # a dict keeps the draw order, so a seed gives the same list every time
    while (missing := count - len(drawn)) > 0:
        # One choices() call for all missing serials is several times faster than one per serial;
        # the rare collision is drawn again in the next round.
        chars = "".join(rng.choices(alphabet, k=missing * length))
        for start in range(0, len(chars), length):
            serial = chars[start : start + length]
            if serial not in exclude:
                drawn[serial] = None
    return list(drawn)


def _gtin_problem(value: str) -> str | None:
    """Why a GTIN is not a GTIN-14 with the right check digit, or None."""
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        return "must be 14 digits (GTIN-14)"
    expected = gs1_check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"has a wrong check digit (expected {expected})"
    return None


def _lot_problem(value: str) -> str | None:
    """Why a lot breaks the AI (10) rules, or None."""
    try:
        parse_lot(value)
    except BatchError as exc:
        return exc.rule
    return None


def _count_problem(value: int) -> str | None:
    """Why a request size is refused, or None."""
    return None if 1 <= value <= MAX_REQUEST else f"must be 1..{MAX_REQUEST}"


@dataclass(frozen=True, slots=True)
class _Input:
    """One method input: its declaration in the address space and its check."""

    name: str
    variant_type: ua.VariantType
    description: str
    problem: Callable[[Any], str | None]


_GTIN_NAME, _LOT_NAME, _COUNT_NAME = ARGUMENT_NAMES
_GTIN = _Input(_GTIN_NAME, ua.VariantType.String, "GTIN-14 with a valid check digit", _gtin_problem)
_LOT = _Input(_LOT_NAME, ua.VariantType.String, "Batch/lot, 1..20 characters of GS1 CSET 82", _lot_problem)
_COUNT = _Input(_COUNT_NAME, ua.VariantType.UInt32, f"Number of serials, 1..{MAX_REQUEST}", _count_problem)


class Level4Server:
    """An OPC UA server on loopback whose SerialNumberProvider issues serials and lists a batch's serials.

    `seed` makes a simulation reproducible. That is acceptable only in a simulator: `random.Random` is
    predictable from its output, so a real Level 4 must draw from a cryptographic source (`secrets`)
    or anyone who saw enough serials could compute the next valid ones.
    """

    def __init__(self, *, port: int = 0, seed: int | None = None) -> None:
        self._port = port
        self._rng = random.Random(seed)
        # issue() runs on the event loop (in-process callers) and in a worker thread (OPC UA requests):
        # a draw must see every serial issued before it.
        self._lock = threading.Lock()
        self._issued: dict[str, set[str]] = {}
        self._batches: dict[tuple[str, str], list[str]] = {}
        self._server: Server | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The endpoint, with the port actually bound (port 0 picks a free one); only while started."""
        if self._url is None:
            raise RuntimeError("Level4Server is not started")
        return self._url

    def issue(self, gtin: str, lot: str, count: int) -> list[str]:
        """Issue `count` new serials for this batch, as Level 4 hands a pool to the line's printer.

        Raises ValueError naming the argument, its value and the rule when one is refused.
        """
        for spec, value in ((_GTIN, gtin), (_LOT, lot), (_COUNT, count)):
            problem = spec.problem(value)
            if problem is not None:
                raise ValueError(f"{spec.name}: {problem} (got {value!r})")
        with self._lock:
            issued = self._issued.setdefault(gtin, set())
            serials = generate_serials(
                self._rng, count, length=SERIAL_LENGTH, alphabet=SERIAL_ALPHABET, exclude=issued
            )
            issued.update(serials)
            self._batches.setdefault((gtin, parse_lot(lot)), []).extend(serials)
        return serials

    def issued(self, gtin: str) -> frozenset[str]:
        """Every serial issued for this GTIN so far, any lot (the truth the simulator scores against)."""
        with self._lock:
            return frozenset(self._issued.get(gtin, ()))

    def issued_for_batch(self, gtin: str, lot: str) -> list[str]:
        """The serials issued for this GTIN and lot, in issue order."""
        with self._lock:
            return list(self._batches.get((gtin, parse_lot(lot)), ()))

    async def start(self) -> None:
        """Build the address space and listen."""
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{LOOPBACK}:{self._port}/")
        server.set_server_name("tracenode simulated Level 4")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        namespace = await server.register_namespace(NAMESPACE_URI)
        provider = await server.nodes.objects.add_object(namespace, PROVIDER_NAME)
        serials_out = [_argument("SerialNumbers", ua.VariantType.String, "Serial numbers", array=True)]
        await provider.add_method(
            namespace,
            METHOD_NAME,
            self._on_request,
            [_argument(spec.name, spec.variant_type, spec.description) for spec in (_GTIN, _LOT, _COUNT)],
            serials_out,
        )
        await provider.add_method(
            namespace,
            ISSUED_METHOD_NAME,
            self._on_issued,
            [_argument(spec.name, spec.variant_type, spec.description) for spec in (_GTIN, _LOT)],
            serials_out,
        )
        await server.start()
        self._server = server
        self._url = f"opc.tcp://{LOOPBACK}:{server.bserver.port}"

    async def stop(self) -> None:
        """Stop listening; the issued serials stay readable."""
        if self._server is not None:
            server, self._server, self._url = self._server, None, None
            await server.stop()

    async def __aenter__(self) -> Self:
        """Start the server for an `async with` block."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server at the end of the block."""
        await self.stop()

    async def _on_request(self, parent: ua.NodeId, *arguments: ua.Variant) -> ua.CallMethodResult:
        """RequestSerialNumbers(Gtin, Lot, Count) -> SerialNumbers: new serials for the batch."""

        async def issue(gtin: str, lot: str, count: int) -> list[str]:
            # A million draws take over a second: off the event loop, so the simulated PLC keeps its cycle.
            return await asyncio.to_thread(self.issue, gtin, lot, count)

        return await _answer(arguments, (_GTIN, _LOT, _COUNT), issue)

    async def _on_issued(self, parent: ua.NodeId, *arguments: ua.Variant) -> ua.CallMethodResult:
        """GetIssuedSerialNumbers(Gtin, Lot) -> SerialNumbers: every serial issued for the batch so far."""

        async def listed(gtin: str, lot: str) -> list[str]:
            return self.issued_for_batch(gtin, lot)

        return await _answer(arguments, (_GTIN, _LOT), listed)


async def _answer(
    arguments: Sequence[ua.Variant],
    inputs: Sequence[_Input],
    action: Callable[..., Awaitable[list[str]]],
) -> ua.CallMethodResult:
    """Check the arguments, run the action, and answer with the serials or with per-argument Bad codes.

    Refusals are returned, not raised: asyncua turns any exception into BadUnexpectedError, and the
    per-argument codes tell the client which argument was wrong.
    """
    result = ua.CallMethodResult()
    if len(arguments) != len(inputs):
        code = ua.StatusCodes.BadArgumentsMissing
        if len(arguments) > len(inputs):
            code = ua.StatusCodes.BadTooManyArguments
        result.StatusCode = ua.StatusCode(code)
        return result
    checks = [_check(argument, spec) for argument, spec in zip(arguments, inputs, strict=True)]
    result.InputArgumentResults = checks
    if any(check.is_bad() for check in checks):
        result.StatusCode = ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        return result
    serials = await action(*(argument.Value for argument in arguments))
    result.OutputArguments = [ua.Variant(serials, ua.VariantType.String)]
    return result


def _check(argument: ua.Variant, spec: _Input) -> ua.StatusCode:
    """The status of one argument: BadTypeMismatch, BadOutOfRange or Good."""
    if argument.VariantType != spec.variant_type or argument.is_array or argument.Value is None:
        return ua.StatusCode(ua.StatusCodes.BadTypeMismatch)
    if spec.problem(argument.Value) is not None:
        return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
    return ua.StatusCode(ua.StatusCodes.Good)


def _argument(
    name: str, variant_type: ua.VariantType, description: str, *, array: bool = False
) -> ua.Argument:
    """A method argument with an explicit built-in data type (asyncua would otherwise guess from a value)."""
    argument = ua.Argument()
    argument.Name = name
    # The built-in data types' NodeIds in namespace 0 carry the same numbers as their VariantTypes.
    argument.DataType = ua.NodeId(variant_type.value)
    argument.ValueRank = 1 if array else -1
    argument.ArrayDimensions = [0] if array else []
    argument.Description = ua.LocalizedText(description)
    return argument
