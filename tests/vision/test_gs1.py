"""GS1 element strings: dictionary loading, parsing in every accepted form, validation and formatting."""

from __future__ import annotations

import calendar
import importlib.resources
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.gs1 import (
    UNCHECKED_LINTERS,
    GS1Data,
    GS1Error,
    gs1_check_digit,
    is_pharma,
    missing_pharma_ais,
    parse_element_string,
    to_bracketed,
    to_element_string,
)
from vision.gs1_dictionary import ai_matches, load_dictionary, parse_dictionary

GS = "\x1d"
# GS1 AI encodable character set 82, written out independently of the module under test.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
GTIN = "09501101020917"
PHARMA = f"(01){GTIN}(17)271231(10)LOT42(21)ABC123"
PHARMA_AIS = {"01": GTIN, "17": "271231", "10": "LOT42", "21": "ABC123"}


def mod10(payload: str) -> str:
    """Check digit by the textbook GS1 rule (weights 3, 1 from the right), as a test oracle."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str((10 - total % 10) % 10)


def gs1_error(text: str) -> GS1Error:
    """The GS1Error that parsing ``text`` raises."""
    with pytest.raises(GS1Error) as info:
        parse_element_string(text)
    return info.value


class TestDictionary:
    """The shipped GS1 Barcode Syntax Dictionary and its loader."""

    def test_shipped_copy_keeps_the_licence_header(self) -> None:
        """The packaged dictionary still carries GS1's Apache-2.0 notice."""
        text = importlib.resources.files("vision.data").joinpath("gs1-syntax-dictionary.txt").read_text()
        assert "Licensed under the Apache License, Version 2.0" in text
        assert "Copyright (c) 2021-2026 GS1 AISBL" in text

    def test_pharma_ais_are_described(self) -> None:
        """01, 21, 10 and 17 have the lengths, character sets and linters of the General Specifications."""
        entries = load_dictionary()
        gtin, serial, lot, expiry = entries["01"], entries["21"], entries["10"], entries["17"]
        assert gtin.predefined_length and (gtin.min_length, gtin.max_length) == (14, 14)
        assert "csum" in gtin.components[0].linters
        assert not serial.predefined_length and (serial.min_length, serial.max_length) == (1, 20)
        assert serial.components[0].charset == "X" and lot.components[0].charset == "X"
        assert expiry.components[0].linters == ("yymmd0",)

    def test_ranges_are_expanded(self) -> None:
        """An AI range line yields one entry per AI, keeping leading digits."""
        entries = load_dictionary()
        assert {"3100", "3105", "91", "99"} <= set(entries)
        assert "3106" not in entries

    def test_ai_length_follows_from_its_first_two_digits(self) -> None:
        """No AI is a prefix of another, so unbracketed data splits without lookahead."""
        ais = list(load_dictionary())
        assert not [(a, b) for a in ais for b in ais if a != b and b.startswith(a)]
        lengths: dict[str, set[int]] = {}
        for ai in ais:
            lengths.setdefault(ai[:2], set()).add(len(ai))
        assert all(len(found) == 1 for found in lengths.values())

    def test_every_linter_is_implemented_or_listed_as_unchecked(self) -> None:
        """A linter that a new dictionary release adds cannot be skipped silently."""
        from vision.gs1 import _LINTERS

        used = {name for e in load_dictionary().values() for c in e.components for name in c.linters}
        assert used <= set(_LINTERS) | UNCHECKED_LINTERS
        assert not set(_LINTERS) & UNCHECKED_LINTERS

    def test_unchecked_linters_are_the_code_list_ones(self) -> None:
        """The linters left out are exactly those needing external code lists or coupon rules."""
        assert sorted(UNCHECKED_LINTERS) == [
            "couponcode", "couponposoffer", "iban", "iso3166", "iso3166999", "iso3166alpha2",
            "iso4217", "mediatype", "packagetype",
        ]  # fmt: skip

    def test_optional_components_and_attributes_are_parsed(self) -> None:
        """Brackets mark optional components; req/ex attributes keep their groups."""
        entries = parse_dictionary(
            "8030  ?  Z..90  req=00,01+21 ex=310n  # DIGSIG\n4330 ? N6 [X1],hyphen req=00 ex=4331\n"
        )
        assert entries["8030"].requires == ((("00",), ("01", "21")),)
        assert entries["8030"].excludes == ("310n",)
        assert entries["8030"].title == "DIGSIG"
        optional = entries["4330"].components[1]
        assert optional.optional and optional.linters == ("hyphen",)
        assert (entries["4330"].min_length, entries["4330"].max_length) == (6, 7)

    def test_malformed_line_names_its_line(self) -> None:
        """A broken entry is reported with its line number."""
        with pytest.raises(ValueError, match="line 2"):
            parse_dictionary("01 *? N14,csum\n0x  N3\n")

    def test_patterns_match_digit_wildcards(self) -> None:
        """'n' in a pattern stands for any digit; lengths must agree."""
        assert ai_matches("3103", "310n") and ai_matches("3512", "35nn")
        assert not ai_matches("3113", "310n") and not ai_matches("310", "310n")


class TestCheckDigit:
    """gs1_check_digit, the GS1 mod-10 check digit."""

    @pytest.mark.parametrize(
        ("payload", "digit"), [("0950110102091", 7), ("950110153100", 0), ("9501234", 6), ("0", 0)]
    )
    def test_known_keys(self, payload: str, digit: int) -> None:
        """GTIN-14, GTIN-13 and GTIN-8 examples from the GS1 General Specifications."""
        assert gs1_check_digit(payload) == digit

    @pytest.mark.parametrize("payload", ["", "12a4", "١٢٣"])
    def test_non_digits_are_refused(self, payload: str) -> None:
        """Empty input and anything but ASCII digits raise ValueError."""
        with pytest.raises(ValueError, match="ASCII digits"):
            gs1_check_digit(payload)

    @given(st.text(alphabet="0123456789", min_size=1, max_size=30))
    def test_agrees_with_the_textbook_rule(self, payload: str) -> None:
        """Any payload gets the check digit of the weights-3-1 rule."""
        assert str(gs1_check_digit(payload)) == mod10(payload)


class TestParseForms:
    """parse_element_string on each accepted way of writing the same data."""

    @pytest.mark.parametrize(
        "text",
        [
            f"01{GTIN}1727123110LOT42{GS}21ABC123",
            f"]d201{GTIN}1727123110LOT42{GS}21ABC123",
            f"]d2{GS}01{GTIN}1727123110LOT42{GS}21ABC123",
            f"^01{GTIN}1727123110LOT42^21ABC123",
            f"]C101{GTIN}1727123110LOT42{GS}21ABC123",
            f"]Q301{GTIN}1727123110LOT42{GS}21ABC123",
            f"]e001{GTIN}1727123110LOT42{GS}21ABC123",
            PHARMA,
            f"]d2{PHARMA}",
        ],
    )
    def test_all_forms_give_the_same_ais(self, text: str) -> None:
        """GS, '^', symbology identifiers and brackets are notations of one element string."""
        assert dict(parse_element_string(text).ais) == PHARMA_AIS

    def test_input_order_is_kept(self) -> None:
        """AIs come back in the order they were written, not sorted."""
        data = parse_element_string(f"21ABC123{GS}01{GTIN}")
        assert list(data.ais) == ["21", "01"]

    def test_convenience_properties(self) -> None:
        """gtin, serial, lot and expiry read AIs 01, 21, 10 and 17."""
        data = parse_element_string(PHARMA)
        assert (data.gtin, data.serial, data.lot, data.expiry) == (GTIN, "ABC123", "LOT42", "271231")
        assert parse_element_string(f"(01){GTIN}").serial is None

    def test_ais_are_read_only(self) -> None:
        """The AI mapping cannot be changed after parsing."""
        data = parse_element_string(PHARMA)
        with pytest.raises(TypeError):
            data.ais["21"] = "OTHER"  # type: ignore[index]

    def test_equal_data_is_equal_and_hashable(self) -> None:
        """Two parses of the same data compare equal and hash alike."""
        a, b = parse_element_string(PHARMA), parse_element_string(f"^01{GTIN}1727123110LOT42^21ABC123")
        assert a == b and hash(a) == hash(b)
        assert a == GS1Data(PHARMA_AIS)

    def test_escaped_bracket_inside_a_value(self) -> None:
        """'\\(' in bracketed input is a literal '(' of the value."""
        data = parse_element_string(f"(01){GTIN}(10)A\\(B)(21)1")
        assert data.lot == "A(B)"

    def test_superfluous_separator_after_fixed_field(self) -> None:
        """A GS after a predefined-length field is tolerated."""
        assert parse_element_string(f"01{GTIN}{GS}21X").serial == "X"

    def test_trailing_separator(self) -> None:
        """A GS after the last field is tolerated."""
        assert parse_element_string(f"01{GTIN}21X{GS}").serial == "X"

    def test_repeated_identical_ai_is_one(self) -> None:
        """An AI repeated with the same value is kept once."""
        assert dict(parse_element_string(f"(01){GTIN}(21)X(21)X").ais) == {"01": GTIN, "21": "X"}


class TestValidation:
    """Known good and bad vectors against the rules of the GS1 General Specifications."""

    def test_wrong_check_digit(self) -> None:
        """A GTIN whose check digit is off names the digit found and the one expected."""
        error = gs1_error(f"(01){GTIN[:-1]}8(21)X")
        assert (error.ai, error.rule) == ("01", "check_digit")
        assert str(error) == "AI (01): check digit 8 is wrong, expected 7"

    def test_32nd_day(self) -> None:
        """Day 32 is no date."""
        error = gs1_error(f"(01){GTIN}(17)270132")
        assert (error.ai, error.rule) == ("17", "date")
        assert str(error).startswith("AI (17): day 32 is not a valid date")

    def test_february_29_in_a_common_year(self) -> None:
        """29 February exists only in leap years."""
        assert "2027-02 has 28 days" in str(gs1_error(f"(01){GTIN}(17)270229"))
        assert parse_element_string(f"(01){GTIN}(17)280229").expiry == "280229"

    def test_month_13(self) -> None:
        """Months run from 01 to 12."""
        error = gs1_error(f"(01){GTIN}(17)271301")
        assert (error.rule, str(error)) == (
            "date",
            "AI (17): month 13 is not a valid date, expected 01 to 12",
        )

    def test_day_00_only_where_the_linter_allows(self) -> None:
        """Expiry (17, yymmd0) accepts DD=00; first freeze date (7006, yymmdd) does not."""
        assert parse_element_string(f"(01){GTIN}(17)271200").expiry == "271200"
        error = gs1_error(f"(01){GTIN}(7006)271200")
        assert (error.ai, error.rule) == ("7006", "date")
        assert "day 00" in str(error)

    def test_serial_too_long(self) -> None:
        """A serial has at most 20 characters."""
        error = gs1_error(f"(01){GTIN}(21){'A' * 21}")
        assert (error.ai, error.rule) == ("21", "length")
        assert "is 21 characters, expected 1 to 20" in str(error)

    def test_gtin_too_short(self) -> None:
        """A predefined-length field cut short by a separator is reported with its length."""
        error = gs1_error(f"01{GTIN[:8]}{GS}21X")
        assert (error.ai, error.rule) == ("01", "length")
        assert str(error) == f"AI (01): value '{GTIN[:8]}' is 8 characters, expected 14"

    def test_unknown_ai(self) -> None:
        """AI (23) does not exist; its length follows from its prefix."""
        error = gs1_error(f"01{GTIN}2391")
        assert (error.ai, error.rule) == ("239", "unknown_ai")
        assert str(error) == "AI (239) is not a known GS1 Application Identifier"
        assert gs1_error(f"(01){GTIN}(2345)1").rule == "unknown_ai"

    def test_missing_separator_after_variable_field(self) -> None:
        """Without GS the expiry is swallowed by a full-length serial, which then overruns."""
        error = gs1_error(f"01{GTIN}21{'S' * 20}17271231")
        assert (error.ai, error.rule) == ("21", "separator")
        assert "must end with FNC1 (GS) unless it is last" in str(error)

    def test_character_outside_set_82(self) -> None:
        """'~' is not in GS1 character set 82."""
        error = gs1_error(f"(01){GTIN}(21)AB~1")
        assert (error.ai, error.rule) == ("21", "charset")
        assert str(error) == "AI (21): character '~' is not in GS1 character set 82"

    def test_letter_in_numeric_field(self) -> None:
        """N fields take digits only."""
        assert str(gs1_error("(01)0950110102091A")) == "AI (01): character 'A' is not a digit"

    def test_empty_variable_field(self) -> None:
        """A variable-length field needs at least one character."""
        error = gs1_error(f"01{GTIN}10{GS}21X")
        assert (error.ai, error.rule) == ("10", "length")

    @pytest.mark.parametrize("text", ["", "]d2", "^", "(", "(01", "(1)2", "AB", "0"])
    def test_no_element_string(self, text: str) -> None:
        """Empty or malformed input is a syntax error without an AI."""
        error = gs1_error(text)
        assert (error.ai, error.rule) == (None, "syntax")

    def test_non_gs1_symbology_identifier(self) -> None:
        """A ]d1 (plain DataMatrix) identifier does not introduce GS1 data."""
        error = gs1_error(f"]d101{GTIN}")
        assert (error.ai, error.rule) == (None, "symbology")

    def test_conflicting_repeat(self) -> None:
        """The same AI twice with different values is refused."""
        error = gs1_error(f"(01){GTIN}(21)A(21)B")
        assert (error.ai, error.rule) == ("21", "repeat")

    def test_required_association(self) -> None:
        """A lot needs a GTIN (or another trade item key) beside it."""
        error = gs1_error("(10)LOT42")
        assert (error.ai, error.rule) == ("10", "requires")
        assert str(error) == "AI (10) requires AI (01), (02), (03), (8006) or (8026) in the same data"

    def test_exclusive_association(self) -> None:
        """A GTIN (01) and a count of trade items (37) exclude each other."""
        error = gs1_error(f"(00)106141411234567897(01){GTIN}(37)5")
        assert error.rule == "excludes"

    def test_ai_does_not_exclude_itself(self) -> None:
        """3103 lists 310n as exclusive but does not exclude itself."""
        assert parse_element_string(f"(01){GTIN}(3103)001250").ais["3103"] == "001250"
        assert gs1_error(f"(01){GTIN}(3103)001250(3102)012500").rule == "excludes"

    def test_time_component(self) -> None:
        """Expiry date and time (7003) checks the hour."""
        error = gs1_error(f"(01){GTIN}(7003)2712312460")
        assert (error.ai, error.rule) == ("7003", "time")

    def test_alphanumeric_check_pair(self) -> None:
        """GMN (8013) carries a check character pair (GS1 reference vector)."""
        assert parse_element_string("(8013)1987654Ad4X4bL5ttr2310c2K").ais["8013"].endswith("2K")
        error = gs1_error("(8013)1987654Ad4X4bL5ttr2310cXK")
        assert (error.ai, error.rule) == ("8013", "check_digit")

    def test_unchecked_linter_still_checks_format(self) -> None:
        """Country of origin (422) is not matched to ISO 3166, but stays N3."""
        assert parse_element_string(f"(01){GTIN}(422)999").ais["422"] == "999"
        assert gs1_error(f"(01){GTIN}(422)12A").rule == "charset"


class TestPharma:
    """missing_pharma_ais and is_pharma."""

    def test_complete_pack(self) -> None:
        """A code with 01, 21, 10 and 17 is a pharma pack code."""
        data = parse_element_string(PHARMA)
        assert missing_pharma_ais(data) == [] and is_pharma(data)

    def test_missing_ais_in_fixed_order(self) -> None:
        """Missing AIs are listed as 01, 21, 10, 17."""
        data = parse_element_string(f"(10)L(01){GTIN}")
        assert missing_pharma_ais(data) == ["21", "17"]
        assert not is_pharma(data)


class TestFormatting:
    """to_element_string and to_bracketed."""

    def test_separator_only_after_variable_fields(self) -> None:
        """No GS after 01 and 17, one after the lot, none at the end."""
        assert to_element_string(PHARMA_AIS) == f"01{GTIN}1727123110LOT42{GS}21ABC123"

    def test_bracketed(self) -> None:
        """Bracketed form writes AIs in order, with '(' in values escaped."""
        assert to_bracketed(PHARMA_AIS) == PHARMA
        assert to_bracketed({"01": GTIN, "10": "A(B)"}) == f"(01){GTIN}(10)A\\(B)"

    def test_content_is_not_judged(self) -> None:
        """A wrong check digit is formatted as given, so the simulator can print bad codes."""
        assert to_bracketed({"01": GTIN[:-1] + "8"}) == f"(01){GTIN[:-1]}8"

    def test_unknown_ai_is_refused(self) -> None:
        """Only AIs of the dictionary can be formatted."""
        with pytest.raises(GS1Error) as info:
            to_element_string({"23": "1"})
        assert info.value.rule == "unknown_ai"

    def test_wrong_length_fixed_field_is_refused(self) -> None:
        """A predefined-length field of another length would shift every later AI."""
        with pytest.raises(GS1Error) as info:
            to_element_string({"01": GTIN[:-1], "21": "X"})
        assert (info.value.ai, info.value.rule) == ("01", "length")

    def test_separator_inside_a_value_is_refused(self) -> None:
        """A GS inside a value would split it into two elements."""
        with pytest.raises(GS1Error) as info:
            to_element_string({"01": GTIN, "21": f"A{GS}21B"})
        assert info.value.rule == "charset"


def _yymmdd(day: date, unspecified_day: bool) -> str:
    return day.strftime("%y%m") + ("00" if unspecified_day else day.strftime("%d"))


pharma_ais = st.builds(
    lambda payload, serial, lot, expiry, order: dict(
        sorted(
            {"01": payload + mod10(payload), "21": serial, "10": lot, "17": expiry}.items(),
            key=lambda item: order.index(item[0]),
        )
    ),
    st.text(alphabet="0123456789", min_size=13, max_size=13),
    st.text(alphabet=CSET82, min_size=1, max_size=20),
    st.text(alphabet=CSET82, min_size=1, max_size=20),
    st.builds(_yymmdd, st.dates(date(2000, 1, 1), date(2071, 12, 31)), st.booleans()),
    st.permutations(["01", "21", "10", "17"]),
)


class TestRoundTrip:
    """Random valid pharma data survives formatting and parsing in every form."""

    def test_character_set_oracle(self) -> None:
        """The test's own CSET 82 has 82 distinct characters."""
        assert len(set(CSET82)) == 82

    @given(pharma_ais)
    def test_unbracketed_with_gs(self, ais: dict[str, str]) -> None:
        """to_element_string then parse gives the same AIs, in order."""
        data = parse_element_string(to_element_string(ais))
        assert list(data.ais.items()) == list(ais.items())
        assert is_pharma(data)

    @given(pharma_ais)
    def test_unbracketed_with_caret(self, ais: dict[str, str]) -> None:
        """The same string with '^' for FNC1, led by FNC1 in first position, parses the same."""
        text = "^" + to_element_string(ais).replace(GS, "^")
        assert list(parse_element_string(text).ais.items()) == list(ais.items())

    @given(pharma_ais)
    def test_bracketed(self, ais: dict[str, str]) -> None:
        """to_bracketed then parse gives the same AIs, brackets in values included."""
        assert list(parse_element_string(to_bracketed(ais)).ais.items()) == list(ais.items())

    @given(st.dates(date(2000, 1, 1), date(2071, 12, 31)))
    def test_every_real_date_is_an_expiry(self, day: date) -> None:
        """Every calendar day (and its month with DD=00) is a valid AI (17)."""
        for expiry in (_yymmdd(day, False), _yymmdd(day, True)):
            assert parse_element_string(f"(01){GTIN}(17){expiry}").expiry == expiry

    @given(st.integers(0, 99), st.integers(1, 12), st.integers(29, 31))
    def test_end_of_month_follows_the_calendar(self, yy: int, month: int, day: int) -> None:
        """Days past the month's end are refused, leap years included."""
        year = 1900 + yy if yy >= 72 else 2000 + yy
        text = f"(01){GTIN}(17){yy:02d}{month:02d}{day:02d}"
        if day <= calendar.monthrange(year, month)[1]:
            parse_element_string(text)
        else:
            assert gs1_error(text).rule == "date"


gs1ish_text = st.text(alphabet="0123456789()^\\]dCQe" + GS + "AZaz~ !", max_size=60)


class TestRobustness:
    """Whatever the input, parsing either succeeds or raises GS1Error."""

    @settings(max_examples=300)
    @given(st.one_of(st.text(max_size=80), gs1ish_text))
    def test_any_text(self, text: str) -> None:
        """No other exception escapes parse_element_string."""
        try:
            data = parse_element_string(text)
        except GS1Error as error:
            assert error.rule and str(error)
        else:
            assert data.ais

    @settings(max_examples=300)
    @given(st.lists(st.sampled_from(sorted(load_dictionary())), min_size=1, max_size=4), st.data())
    def test_known_ais_with_random_values(self, ais: list[str], data: st.DataObject) -> None:
        """Real AIs followed by arbitrary values exercise every linter without crashing."""
        text = "".join(ai + data.draw(st.text(alphabet=CSET82 + GS, max_size=20)) for ai in ais)
        try:
            parse_element_string(text)
        except GS1Error as error:
            assert error.rule
