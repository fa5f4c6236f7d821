"""Parse GS1 element strings (the content of a GS1 DataMatrix) and validate them against GS1's rules.

GS1's Barcode Syntax Dictionary is the authority: it drives how the string is split into AIs and
what each value must look like.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from biip.checksums import gs1_standard_check_digit

from vision.gs1_dictionary import AIEntry, Component, ai_matches, load_dictionary

__all__ = [
    "CSET82",
    "PHARMA_AIS",
    "UNCHECKED_LINTERS",
    "GS1Data",
    "GS1Error",
    "check_ai_value",
    "gs1_check_digit",
    "is_pharma",
    "missing_pharma_ais",
    "parse_element_string",
    "to_bracketed",
    "to_element_string",
]

# Why not biip's parser: biip carries its own AI table (a regex per AI), checks dates by mapping YY
# to a century with the current clock, and knows nothing of the dictionary's per-component linters
# or its req/ex associations. GS1 publishes the dictionary as the machine-readable rule set, so it
# drives parsing and validation here; biip supplies the mod-10 check-digit arithmetic.

PHARMA_AIS = ("01", "21", "10", "17")
"""AIs a pharmaceutical unit pack must carry (EU FMD / DSCSA): GTIN, serial, batch/lot, expiry."""

UNCHECKED_LINTERS = frozenset(
    {
        # Code lists (ISO 3166 countries, ISO 4217 currencies, GS1 package and media types) and
        # IBAN country formats are not shipped with the node; none of these AIs is on a pharma pack.
        "iso3166",
        "iso3166999",
        "iso3166alpha2",
        "iso4217",
        "iban",
        "packagetype",
        "mediatype",
        # North American coupon structures (AIs 8110, 8112): out of scope for a packaging line.
        "couponcode",
        "couponposoffer",
    }
)
"""Dictionary linters this module does not run; the components they guard are still checked for
character set and length."""

GS = "\x1d"
_FNC1 = frozenset({GS, "^"})
_GS1_SYMBOLOGY_IDENTIFIERS = ("]C1", "]d2", "]e0", "]J1", "]Q3")
_DIGITS = frozenset("0123456789")
CSET82 = frozenset("!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CSET64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_CHARSET_NAMES = {
    "N": "a digit",
    "X": "in GS1 character set 82",
    "Y": "in GS1 character set 39",
    "Z": "in GS1 character set 64 (base64url)",
}


class GS1Error(ValueError):
    """GS1 data that breaks a rule of the GS1 General Specifications.

    ``rule`` is one of: ``syntax`` (not an element string), ``symbology`` (a non-GS1 symbology
    identifier), ``unknown_ai``, ``length``, ``separator`` (a variable-length field overruns, i.e. an
    FNC1/GS is missing), ``charset``, ``check_digit``, ``date``, ``time``, ``content`` (another
    dictionary linter), ``repeat`` (an AI twice with different values), ``requires``, ``excludes``.
    """

    def __init__(self, message: str, *, ai: str | None, rule: str) -> None:
        super().__init__(message)
        self.ai = ai
        """The AI the rule applies to, without brackets; None when no AI could be read."""
        self.rule = rule
        """Which kind of rule was broken (see the class docstring)."""


@dataclass(frozen=True, slots=True)
class GS1Data:
    """The AIs of a GS1 element string and their values, in the order they appeared."""

    ais: Mapping[str, str]
    """AI -> value, read-only, in input order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ais", MappingProxyType(dict(self.ais)))

    def __hash__(self) -> int:
        return hash(tuple(self.ais.items()))

    @property
    def gtin(self) -> str | None:
        """AI (01), the GTIN-14, or None."""
        return self.ais.get("01")

    @property
    def serial(self) -> str | None:
        """AI (21), the serial number, or None."""
        return self.ais.get("21")

    @property
    def lot(self) -> str | None:
        """AI (10), the batch/lot number, or None."""
        return self.ais.get("10")

    @property
    def expiry(self) -> str | None:
        """AI (17), the expiry date as YYMMDD (DD may be 00), or None."""
        return self.ais.get("17")


def gs1_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits`` (the payload without its check digit).

    Raises
    ------
    ValueError
        If ``digits`` is empty or holds anything but ASCII digits.
    """
    # biip accepts any Unicode decimal digit; GS1 keys are ASCII only.
    if not digits or not set(digits) <= _DIGITS:
        raise ValueError(f"check digit input {digits!r} must be one or more ASCII digits")
    return int(gs1_standard_check_digit(digits))


def parse_element_string(text: str) -> GS1Data:
    """Parse and validate a GS1 element string.

    Accepted forms, each optionally led by a GS1 symbology identifier (``]d2``, ``]C1``, ``]Q3``,
    ``]e0``, ``]J1``):

    - unbracketed with GS (0x1D) separators, as a decoder reports it;
    - unbracketed with ``^`` for FNC1 (a leading ``^`` is FNC1 in first position, later ones separate);
    - bracketed, ``(01)09501101020917(17)271231``, with ``\\(`` for a ``(`` inside a value.

    Raises
    ------
    GS1Error
        If the string breaks a rule; the message names the AI and the rule.
    """
    body = text
    if body.startswith("]"):
        identifier = body[:3]
        if identifier not in _GS1_SYMBOLOGY_IDENTIFIERS:
            raise GS1Error(
                f"symbology identifier {identifier!r} does not mark GS1 data, "
                f"expected one of {', '.join(_GS1_SYMBOLOGY_IDENTIFIERS)}",
                ai=None,
                rule="symbology",
            )
        body = body[3:]
    bracketed = body.startswith("(")
    if bracketed:
        elements = list(_split_bracketed(body))
    else:
        if body[:1] in _FNC1:
            body = body[1:]
        elements = list(_split_unbracketed(body))
    if not elements:
        raise GS1Error(f"{text!r} holds no element string, expected at least one AI", ai=None, rule="syntax")
    return GS1Data(_validate(elements))


def missing_pharma_ais(data: GS1Data) -> list[str]:
    """The AIs of :data:`PHARMA_AIS` that ``data`` lacks, in that order (empty when complete)."""
    return [ai for ai in PHARMA_AIS if ai not in data.ais]


def is_pharma(data: GS1Data) -> bool:
    """Whether ``data`` carries all the AIs a pharmaceutical unit pack needs (01, 21, 10, 17)."""
    return not missing_pharma_ais(data)


def to_element_string(ais: Mapping[str, str]) -> str:
    """Format AIs as an unbracketed element string, GS (0x1D) only after variable-length fields.

    Only the structure is checked (known AI, length of predefined-length fields, no FNC1/GS inside a
    value), so the result parses back to the same AIs; content rules such as check digits and dates
    are :func:`parse_element_string`'s job, which lets the simulator encode deliberately bad data.

    Raises
    ------
    GS1Error
        If an AI is unknown or a value cannot be represented.
    """
    parts: list[str] = []
    items = list(ais.items())
    for index, (ai, value) in enumerate(items):
        entry = _structural_entry(ai, value)
        for character in value:
            if character in _FNC1:
                raise GS1Error(
                    f"AI ({ai}): character {character!r} is FNC1/GS and cannot be part of a value",
                    ai=ai,
                    rule="charset",
                )
        parts.append(ai + value)
        if not entry.predefined_length and index < len(items) - 1:
            parts.append(GS)
    return "".join(parts)


def to_bracketed(ais: Mapping[str, str]) -> str:
    """Format AIs in bracketed form, ``(01)...(21)...``, escaping ``(`` in values as ``\\(``.

    This is the input zxing-cpp (zint) takes to encode a GS1 DataMatrix. Checks only the structure,
    as :func:`to_element_string` does.

    Raises
    ------
    GS1Error
        If an AI is unknown or a value cannot be represented.
    """
    parts: list[str] = []
    for ai, value in ais.items():
        _structural_entry(ai, value)
        escaped = value.replace("(", "\\(")
        parts.append(f"({ai}){escaped}")
    return "".join(parts)


# --- splitting ---------------------------------------------------------------------------------

_Element = tuple[str, str, bool]
"""(AI, value, open_ended): open_ended when the value ran to the next FNC1 or the end of the data,
so an overlong value may mean a missing separator."""


def _split_unbracketed(body: str) -> Iterator[_Element]:
    dictionary = load_dictionary()
    pos = 0
    while pos < len(body):
        ai = _read_ai(body, pos)
        entry = dictionary[ai]
        pos += len(ai)
        if entry.predefined_length:
            value = body[pos : pos + entry.max_length]
            for offset, character in enumerate(value):
                if character in _FNC1:
                    value = value[:offset]
                    break
            pos += len(value)
            # A separator after a predefined-length field is superfluous but harmless; some
            # encoders emit one, so it is accepted.
            if pos < len(body) and body[pos] in _FNC1:
                pos += 1
            yield ai, value, False
        else:
            end = pos
            while end < len(body) and body[end] not in _FNC1:
                end += 1
            yield ai, body[pos:end], True
            # FNC1 after the last field is not required; a trailing one is tolerated.
            pos = end + 1


def _read_ai(body: str, pos: int) -> str:
    dictionary = load_dictionary()
    for length in (2, 3, 4):
        candidate = body[pos : pos + length]
        if len(candidate) == length and candidate in dictionary:
            return candidate
    digits = ""
    for character in body[pos : pos + 4]:
        if character not in _DIGITS:
            break
        digits += character
    if len(digits) < 2:
        found = body[pos : pos + 4]
        raise GS1Error(f"expected an AI (2 to 4 digits), found {found!r}", ai=None, rule="syntax")
    unknown = digits[: _ai_length_for_prefix(digits[:2])]
    raise GS1Error(f"AI ({unknown}) is not a known GS1 Application Identifier", ai=unknown, rule="unknown_ai")


def _ai_length_for_prefix(prefix: str) -> int:
    # GS1 fixes an AI's length by its first two digits; the dictionary has one length per prefix.
    lengths = {len(ai) for ai in load_dictionary() if ai.startswith(prefix)}
    return lengths.pop() if len(lengths) == 1 else 2


def _split_bracketed(body: str) -> Iterator[_Element]:
    pos = 0
    while pos < len(body):
        close = body.find(")", pos)
        if body[pos] != "(" or close == -1:
            raise GS1Error(
                f"expected '(AI)' at position {pos} of the bracketed string, found {body[pos : pos + 6]!r}",
                ai=None,
                rule="syntax",
            )
        ai = body[pos + 1 : close]
        if not (2 <= len(ai) <= 4 and set(ai) <= _DIGITS):
            raise GS1Error(
                f"'({ai})' is not an AI, expected 2 to 4 digits in brackets", ai=None, rule="syntax"
            )
        if ai not in load_dictionary():
            raise GS1Error(f"AI ({ai}) is not a known GS1 Application Identifier", ai=ai, rule="unknown_ai")
        value: list[str] = []
        pos = close + 1
        while pos < len(body) and body[pos] != "(":
            if body[pos] == "\\" and body[pos + 1 : pos + 2] in ("(", ")"):
                pos += 1
            value.append(body[pos])
            pos += 1
        yield ai, "".join(value), False


def _structural_entry(ai: str, value: str) -> AIEntry:
    entry = load_dictionary().get(ai)
    if entry is None:
        raise GS1Error(f"AI ({ai}) is not a known GS1 Application Identifier", ai=ai, rule="unknown_ai")
    if not value or (entry.predefined_length and len(value) != entry.max_length):
        raise GS1Error(
            f"AI ({ai}): value {value!r} is {len(value)} characters, expected {_length_text(entry)}",
            ai=ai,
            rule="length",
        )
    return entry


# --- validation --------------------------------------------------------------------------------


def check_ai_value(ai: str, value: str) -> None:
    """Check one AI's value on its own (length, character set, check digit, date...).

    For data that arrives field by field, such as the batch's lot and expiry from the PLC;
    associations between AIs are not checked here. Raises GS1Error naming the AI and the rule.
    """
    entry = load_dictionary().get(ai)
    if entry is None:
        raise GS1Error(f"AI ({ai}) is not in the GS1 syntax dictionary", ai=ai, rule="unknown_ai")
    _check_value(entry, value, separator_hint=False)


def _validate(elements: list[_Element]) -> dict[str, str]:
    dictionary = load_dictionary()
    ais: dict[str, str] = {}
    for ai, value, open_ended in elements:
        _check_value(dictionary[ai], value, separator_hint=open_ended)
        if ai in ais and ais[ai] != value:
            raise GS1Error(
                f"AI ({ai}) appears twice with different values {ais[ai]!r} and {value!r}",
                ai=ai,
                rule="repeat",
            )
        ais[ai] = value
    _check_associations(ais, dictionary)
    return ais


def _check_value(entry: AIEntry, value: str, *, separator_hint: bool) -> None:
    ai = entry.ai
    if not entry.min_length <= len(value) <= entry.max_length:
        message = f"AI ({ai}): value {value!r} is {len(value)} characters, expected {_length_text(entry)}"
        if separator_hint and len(value) > entry.max_length:
            raise GS1Error(
                f"{message}; a variable-length field must end with FNC1 (GS) unless it is last",
                ai=ai,
                rule="separator",
            )
        raise GS1Error(message, ai=ai, rule="length")
    pos = 0
    for number, component in enumerate(entry.components, start=1):
        if pos == len(value) and component.optional:
            break
        part = value[pos : pos + component.max_length]
        if len(part) < component.min_length:
            raise GS1Error(
                f"AI ({ai}): component {number} {part!r} is {len(part)} characters, "
                f"expected {_component_length_text(component)}",
                ai=ai,
                rule="length",
            )
        pos += len(part)
        _check_charset(ai, component, part)
        for name in component.linters:
            linter = _LINTERS.get(name)
            if linter is None:
                continue  # one of UNCHECKED_LINTERS
            rule, check = linter
            problem = check(part)
            if problem is not None:
                raise GS1Error(f"AI ({ai}): {problem}", ai=ai, rule=rule)


def _check_charset(ai: str, component: Component, part: str) -> None:
    allowed = {"N": _DIGITS, "X": CSET82, "Y": _CSET39, "Z": _CSET64}[component.charset]
    body = part
    if component.charset == "Z":
        # CSET 64 allows up to two '=' of padding at the end (GS1 reference linter cset64).
        body = part.rstrip("=")
        pads = len(part) - len(body)
        if pads > 2 or (pads and len(part) % 3):
            raise GS1Error(
                f"AI ({ai}): padding {part[len(body) :]!r} is not valid base64url padding",
                ai=ai,
                rule="charset",
            )
    for character in body:
        if character not in allowed:
            raise GS1Error(
                f"AI ({ai}): character {character!r} is not {_CHARSET_NAMES[component.charset]}",
                ai=ai,
                rule="charset",
            )


def _check_associations(ais: Mapping[str, str], dictionary: Mapping[str, AIEntry]) -> None:
    present = list(ais)
    for ai in present:
        entry = dictionary[ai]
        for alternatives in entry.requires:
            if not any(
                all(any(ai_matches(other, pattern) for other in present) for pattern in group)
                for group in alternatives
            ):
                wanted = [" with ".join(f"({pattern})" for pattern in group) for group in alternatives]
                listed = wanted[0] if len(wanted) == 1 else f"{', '.join(wanted[:-1])} or {wanted[-1]}"
                raise GS1Error(f"AI ({ai}) requires AI {listed} in the same data", ai=ai, rule="requires")
        for pattern in entry.excludes:
            for other in present:
                # An AI never excludes itself, even when it matches the pattern (e.g. 3103 and 310n).
                if other != ai and ai_matches(other, pattern):
                    raise GS1Error(
                        f"AI ({ai}) must not appear together with AI ({other})", ai=ai, rule="excludes"
                    )


def _length_text(entry: AIEntry) -> str:
    if entry.min_length == entry.max_length:
        return f"{entry.max_length}"
    return f"{entry.min_length} to {entry.max_length}"


def _component_length_text(component: Component) -> str:
    if component.min_length == component.max_length:
        return f"{component.max_length}"
    return f"{component.min_length} to {component.max_length}"


# --- linters -----------------------------------------------------------------------------------
# Python versions of GS1's reference linters (gs1-syntax-dictionary, src/lint_*.c). Each takes a
# component that already passed its character-set and length checks and returns what is wrong,
# or None.

_Linter = Callable[[str], str | None]


def _csum(part: str) -> str | None:
    expected = gs1_check_digit(part[:-1])
    if int(part[-1]) != expected:
        return f"check digit {part[-1]} is wrong, expected {expected}"
    return None


_CSUMALPHA_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193,
    197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307,
    311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421,
    431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509,
)  # fmt: skip
_CSET82_ORDER = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_CSET32_ORDER = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _csumalpha(part: str) -> str | None:
    # GS1 General Specifications, "Check character calculation (for alphanumeric keys)": CSET 82
    # values weighted by primes increasing from the right, modulo 1021, split into two CSET 32 chars.
    data, pair = part[:-2], part[-2:]
    if len(part) < 2 or len(data) > len(_CSUMALPHA_PRIMES):
        return f"value {part!r} cannot carry a check character pair"
    weights = _CSUMALPHA_PRIMES[: len(data)][::-1]
    total = sum(_CSET82_ORDER.index(c) * w for c, w in zip(data, weights, strict=True)) % 1021
    expected = _CSET32_ORDER[total >> 5] + _CSET32_ORDER[total & 31]
    if pair != expected:
        return f"check character pair {pair!r} is wrong, expected {expected!r}"
    return None


def _gcppos1(part: str) -> str | None:
    # Without a GS1 Company Prefix register, the reference linter checks the shortest possible GCP
    # (4 digits) is there.
    if len(part) < 4 or not set(part[:4]) <= _DIGITS:
        return f"value {part!r} does not start with a GS1 Company Prefix (at least 4 digits)"
    return None


def _gcppos2(part: str) -> str | None:
    return _gcppos1(part[1:])


def _date(part: str, *, day_zero: bool) -> str | None:
    if len(part) == 8:
        year = int(part[:4])
    else:
        # GS1's reference linters map YY to a year with a horizon fixed at 2021 (19YY from 72),
        # which keeps the check free of a clock; every leap year in that span is YY % 4 == 0.
        yy = int(part[:2])
        year = 1900 + yy if yy >= 72 else 2000 + yy
    month, day = int(part[-4:-2]), int(part[-2:])
    if not 1 <= month <= 12:
        return f"month {part[-4:-2]} is not a valid date, expected 01 to 12"
    if day == 0:
        return None if day_zero else "day 00 is not a valid date, this AI needs a day of the month"
    days = calendar.monthrange(year, month)[1]
    if day > days:
        return f"day {part[-2:]} is not a valid date, {year}-{month:02d} has {days} days"
    return None


def _number_in_range(name: str, last: int) -> _Linter:
    def check(part: str) -> str | None:
        if int(part) > last:
            return f"{name} {part} is not valid, expected {0:0{len(part)}d} to {last:0{len(part)}d}"
        return None

    return check


_hh = _number_in_range("hour", 23)
_mi = _number_in_range("minute", 59)
_ss = _number_in_range("second", 59)


def _hhmi(part: str) -> str | None:
    return _hh(part[:2]) or _mi(part[2:])


def _one_of(name: str, allowed: tuple[str, ...]) -> _Linter:
    def check(part: str) -> str | None:
        if part not in allowed:
            return f"{name} {part!r} is not valid, expected one of {', '.join(allowed)}"
        return None

    return check


def _nonzero(part: str) -> str | None:
    return f"value {part} must not be zero" if set(part) == {"0"} else None


def _hyphen(part: str) -> str | None:
    return f"value {part!r} is not valid, expected '-'" if set(part) != {"-"} else None


def _nozeroprefix(part: str) -> str | None:
    return f"value {part} must not start with 0" if part.startswith("0") else None


def _hasnondigit(part: str) -> str | None:
    return f"value {part!r} must contain at least one non-digit" if set(part) <= _DIGITS else None


def _pieceoftotal(part: str) -> str | None:
    half = len(part) // 2
    piece, total = part[:half], part[half:]
    if len(part) % 2 or int(piece) == 0 or int(total) == 0 or int(piece) > int(total):
        return f"piece {piece} of total {total} is not valid, expected 1 <= piece <= total"
    return None


def _posinseqslash(part: str) -> str | None:
    position, slash, end = part.partition("/")
    if (
        not slash
        or not position
        or not end
        or not set(position + end) <= _DIGITS
        or position.startswith("0")
        or end.startswith("0")
        or int(position) > int(end)
    ):
        return f"position {part!r} is not valid, expected '<position>/<end>' with 1 <= position <= end"
    return None


def _importeridx(part: str) -> str | None:
    if part not in _CSET64:
        return f"importer index {part!r} is not valid, expected one of 0-9, A-Z, a-z, '-', '_'"
    return None


def _pcenc(part: str) -> str | None:
    pos = part.find("%")
    while pos != -1:
        hex_digits = part[pos + 1 : pos + 3]
        if len(hex_digits) != 2 or not set(hex_digits) <= set("0123456789ABCDEFabcdef"):
            return f"percent sequence {part[pos : pos + 3]!r} is not valid, expected '%' and two hex digits"
        pos = part.find("%", pos + 3)
    return None


_LINTERS: dict[str, tuple[str, _Linter]] = {
    "csum": ("check_digit", _csum),
    "csumalpha": ("check_digit", _csumalpha),
    "gcppos1": ("content", _gcppos1),
    "gcppos2": ("content", _gcppos2),
    "yymmdd": ("date", lambda part: _date(part, day_zero=False)),
    "yymmd0": ("date", lambda part: _date(part, day_zero=True)),
    "yyyymmdd": ("date", lambda part: _date(part, day_zero=False)),
    "hh": ("time", _hh),
    "mi": ("time", _mi),
    "ss": ("time", _ss),
    "hhmi": ("time", _hhmi),
    "nonzero": ("content", _nonzero),
    "zero": ("content", _one_of("value", ("0",))),
    "yesno": ("content", _one_of("flag", ("0", "1"))),
    "winding": ("content", _one_of("winding direction", ("0", "1", "9"))),
    "iso5218": ("content", _one_of("sex code", ("0", "1", "2", "9"))),
    "hyphen": ("content", _hyphen),
    "nozeroprefix": ("content", _nozeroprefix),
    "hasnondigit": ("content", _hasnondigit),
    "pieceoftotal": ("content", _pieceoftotal),
    "posinseqslash": ("content", _posinseqslash),
    "importeridx": ("content", _importeridx),
    "latitude": ("content", _number_in_range("latitude", 1_800_000_000)),
    "longitude": ("content", _number_in_range("longitude", 3_599_999_999)),
    "pcenc": ("content", _pcenc),
}
