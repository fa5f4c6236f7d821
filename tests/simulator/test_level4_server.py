"""The simulated Level 4: random serial generation, and its OPC UA provider on a real loopback server."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua
from hypothesis import given
from hypothesis import strategies as st

from drivers.level4 import ISSUED_METHOD_NAME, METHOD_NAME, NAMESPACE_URI, PROVIDER_NAME
from recipes.batch import GS1_CSET82
from simulator.level4 import (
    GUESS_FACTOR,
    SERIAL_ALPHABET,
    SERIAL_LENGTH,
    Level4Server,
    generate_serials,
)

GTIN = "09506000134352"


class TestGenerateSerials:
    """generate_serials draws distinct random serials from a space art. 4(b) allows."""

    def test_count_length_alphabet_and_uniqueness(self) -> None:
        """The serials are as many as asked, distinct, of fixed length, from the alphabet."""
        serials = generate_serials(
            random.Random(1), 5000, length=SERIAL_LENGTH, alphabet=SERIAL_ALPHABET, exclude=set()
        )
        assert len(serials) == len(set(serials)) == 5000
        assert all(len(serial) == SERIAL_LENGTH and set(serial) <= set(SERIAL_ALPHABET) for serial in serials)

    def test_alphabet_is_cset82_without_look_alikes(self) -> None:
        """The default alphabet is GS1 CSET 82 and has no I or O to misread as 1 or 0."""
        assert set(SERIAL_ALPHABET) <= GS1_CSET82
        assert not {"I", "O"} & set(SERIAL_ALPHABET)

    def test_same_seed_same_serials(self) -> None:
        """A seed reproduces a simulation's serials exactly."""
        first = generate_serials(random.Random(7), 100, length=8, alphabet=SERIAL_ALPHABET, exclude=set())
        again = generate_serials(random.Random(7), 100, length=8, alphabet=SERIAL_ALPHABET, exclude=set())
        assert first == again

    def test_space_too_small_for_the_guess_limit_is_refused(self) -> None:
        """Two digits give 100 serials: not more than 10,000 times even one issued serial."""
        with pytest.raises(ValueError, match=f"not more than {GUESS_FACTOR}"):
            generate_serials(random.Random(1), 1, length=2, alphabet="0123456789", exclude=set())

    @pytest.mark.parametrize("alphabet", ["", "AAB", "AB#", "ab c"])
    def test_bad_alphabet_is_refused(self, alphabet: str) -> None:
        """An empty, repeating or non-CSET-82 alphabet is refused."""
        with pytest.raises(ValueError, match="alphabet"):
            generate_serials(random.Random(1), 1, length=40, alphabet=alphabet, exclude=set())

    @given(seed=st.integers(), count=st.integers(min_value=1, max_value=300))
    def test_never_issues_an_excluded_serial(self, seed: int, count: int) -> None:
        """With one seed the first draws are exactly the excluded serials, and none of them comes back."""
        first = generate_serials(
            random.Random(seed), count, length=8, alphabet=SERIAL_ALPHABET, exclude=set()
        )
        excluded = set(first[: (count + 1) // 2])
        again = generate_serials(
            random.Random(seed), count, length=8, alphabet=SERIAL_ALPHABET, exclude=excluded
        )
        assert len(set(again)) == count
        assert not set(again) & excluded


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def level4() -> AsyncIterator[Level4Server]:
    """One simulated Level 4 on a free loopback port for the whole module (starting one takes seconds)."""
    async with Level4Server(seed=42) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def provider(level4: Level4Server) -> AsyncIterator[Node]:
    """A plain asyncua client's view of the provider object."""
    async with Client(level4.url, timeout=5) as client:
        namespace = await client.get_namespace_index(NAMESPACE_URI)
        yield await client.nodes.objects.get_child(f"{namespace}:{PROVIDER_NAME}")


async def call(provider: Node, method_name: str, *arguments: ua.Variant) -> ua.CallMethodResult:
    """Call one of the provider's methods and return the raw result, per-argument codes included."""
    namespace = provider.nodeid.NamespaceIndex
    method = await provider.get_child(f"{namespace}:{method_name}")
    request = ua.CallMethodRequest(
        ObjectId=provider.nodeid, MethodId=method.nodeid, InputArguments=list(arguments)
    )
    (result,) = await provider.session.call([request])
    return result


def request(gtin: str, lot: str, count: int) -> list[ua.Variant]:
    """Arguments with the types the method declares."""
    return [
        ua.Variant(gtin, ua.VariantType.String),
        ua.Variant(lot, ua.VariantType.String),
        ua.Variant(count, ua.VariantType.UInt32),
    ]


@pytest.mark.asyncio(loop_scope="module")
class TestLevel4Server:
    """SerialNumberProvider.RequestSerialNumbers over a real OPC UA connection."""

    async def test_declares_typed_arguments(self, provider: Node) -> None:
        """The method's arguments carry explicit names and built-in data types."""
        method = await provider.get_child(f"{provider.nodeid.NamespaceIndex}:{METHOD_NAME}")
        inputs = await (await method.get_child("0:InputArguments")).read_value()
        outputs = await (await method.get_child("0:OutputArguments")).read_value()
        assert [(a.Name, a.DataType.Identifier, a.ValueRank) for a in inputs] == [
            ("Gtin", ua.ObjectIds.String, -1),
            ("Lot", ua.ObjectIds.String, -1),
            ("Count", ua.ObjectIds.UInt32, -1),
        ]
        assert [(a.Name, a.DataType.Identifier, a.ValueRank) for a in outputs] == [
            ("SerialNumbers", ua.ObjectIds.String, 1)
        ]

    async def test_issues_serials_and_keeps_the_truth(self, level4: Level4Server, provider: Node) -> None:
        """Issued serials are returned as String[] and remembered per GTIN."""
        gtin = "09506000134369"
        result = await call(provider, METHOD_NAME, *request(gtin, "L1", 50))
        assert result.StatusCode.is_good()
        serials = result.OutputArguments[0].Value
        assert len(serials) == 50
        assert level4.issued(gtin) == frozenset(serials)

    @pytest.mark.parametrize(
        ("arguments", "bad_index", "bad_code"),
        [
            (request("09506000134353", "L1", 5), 0, ua.StatusCodes.BadOutOfRange),  # wrong check digit
            (request("9506000134352", "L1", 5), 0, ua.StatusCodes.BadOutOfRange),  # GTIN-13
            (request(GTIN, "L 1", 5), 1, ua.StatusCodes.BadOutOfRange),  # space is not CSET 82
            (request(GTIN, "", 5), 1, ua.StatusCodes.BadOutOfRange),
            (request(GTIN, "L1", 0), 2, ua.StatusCodes.BadOutOfRange),
            (request(GTIN, "L1", 1_000_001), 2, ua.StatusCodes.BadOutOfRange),
            (
                [*request(GTIN, "L1", 5)[:2], ua.Variant(5, ua.VariantType.Int64)],
                2,
                ua.StatusCodes.BadTypeMismatch,
            ),
            (
                [ua.Variant([GTIN], ua.VariantType.String), *request(GTIN, "L1", 5)[1:]],
                0,
                ua.StatusCodes.BadTypeMismatch,
            ),
        ],
    )
    async def test_bad_argument_is_a_bad_status_not_a_crash(
        self,
        level4: Level4Server,
        provider: Node,
        arguments: list[ua.Variant],
        bad_index: int,
        bad_code: int,
    ) -> None:
        """A refused request answers BadInvalidArgument, marks the wrong argument, and issues nothing."""
        before = level4.issued(GTIN)
        result = await call(provider, METHOD_NAME, *arguments)
        assert result.StatusCode.value == ua.StatusCodes.BadInvalidArgument
        codes = [code.value for code in result.InputArgumentResults]
        assert codes == [bad_code if index == bad_index else ua.StatusCodes.Good for index in range(3)]
        assert level4.issued(GTIN) == before

    async def test_wrong_argument_count_is_refused(self, provider: Node) -> None:
        """Too few or too many arguments are Bad statuses too."""
        too_few = await call(provider, METHOD_NAME, *request(GTIN, "L1", 5)[:2])
        too_many = await call(
            provider, METHOD_NAME, *request(GTIN, "L1", 5), ua.Variant("x", ua.VariantType.String)
        )
        assert too_few.StatusCode.value == ua.StatusCodes.BadArgumentsMissing
        assert too_many.StatusCode.value == ua.StatusCodes.BadTooManyArguments

    async def test_lists_a_batch_issued_in_process(self, level4: Level4Server, provider: Node) -> None:
        """Serials issued in-process (the printer's pool) are listed per batch over OPC UA, in issue order."""
        gtin = "09506000134376"
        pool = level4.issue(gtin, "L7", 20)
        more = level4.issue(gtin, "L7", 5)
        other_lot = level4.issue(gtin, "L8", 5)
        listed = await call(provider, ISSUED_METHOD_NAME, *request(gtin, "L7", 1)[:2])
        assert listed.StatusCode.is_good()
        assert listed.OutputArguments[0].Value == pool + more
        assert level4.issued(gtin) == frozenset(pool + more + other_lot)

    async def test_lists_nothing_for_an_unknown_batch(self, provider: Node) -> None:
        """A batch nothing was issued for has an empty list, not an error."""
        listed = await call(provider, ISSUED_METHOD_NAME, *request(GTIN, "NEVER", 1)[:2])
        assert listed.StatusCode.is_good()
        assert not listed.OutputArguments[0].Value

    async def test_listing_refuses_a_bad_gtin(self, provider: Node) -> None:
        """The listing checks its arguments like the request does."""
        listed = await call(provider, ISSUED_METHOD_NAME, *request("123", "L1", 1)[:2])
        assert listed.StatusCode.value == ua.StatusCodes.BadInvalidArgument
        assert [code.value for code in listed.InputArgumentResults] == [
            ua.StatusCodes.BadOutOfRange,
            ua.StatusCodes.Good,
        ]

    async def test_url_names_the_bound_port(self, level4: Level4Server) -> None:
        """Port 0 binds a free loopback port and the url says which."""
        assert level4.url.startswith("opc.tcp://127.0.0.1:")
        assert not level4.url.endswith(":0")


class TestLevel4ServerIssue:
    """In-process issuing, as Level 4 hands the printer its pool, with no server running."""

    def test_issues_unique_serials_per_gtin(self) -> None:
        """Serials never repeat within a GTIN, across lots, and a seed reproduces them."""
        level4 = Level4Server(seed=5)
        first = level4.issue(GTIN, "L1", 300)
        second = level4.issue(GTIN, "L2", 300)
        assert len(set(first) | set(second)) == 600
        assert Level4Server(seed=5).issue(GTIN, "L1", 300) == first
        assert level4.issued_for_batch(GTIN, "L2") == second

    def test_plc_padding_in_the_lot_is_the_same_batch(self) -> None:
        """A lot padded by a PLC STRING names the same batch."""
        level4 = Level4Server(seed=5)
        pool = level4.issue(GTIN, "L1\x00\x00", 3)
        assert level4.issued_for_batch(GTIN, "L1") == pool

    @pytest.mark.parametrize(
        ("gtin", "lot", "count", "message"),
        [
            ("09506000134353", "L1", 1, "Gtin: has a wrong check digit (expected 2) (got '09506000134353')"),
            ("0950600013435", "L1", 1, "Gtin: must be 14 digits (GTIN-14) (got '0950600013435')"),
            (GTIN, "L#1", 1, "Lot: AI (10): character '#' is not in GS1 character set 82 (got 'L#1')"),
            (GTIN, "L1", 0, "Count: must be 1..1000000 (got 0)"),
        ],
    )
    def test_bad_argument_names_itself(self, gtin: str, lot: str, count: int, message: str) -> None:
        """A refused argument is named with its value and the rule it breaks."""
        with pytest.raises(ValueError) as caught:
            Level4Server().issue(gtin, lot, count)
        assert str(caught.value) == message


class TestLevel4ServerLifecycle:
    """The server's url exists only while it runs."""

    def test_url_before_start_is_an_error(self) -> None:
        """Asking a stopped server for its url is a programming error, said plainly."""
        with pytest.raises(RuntimeError, match="not started"):
            _ = Level4Server().url
