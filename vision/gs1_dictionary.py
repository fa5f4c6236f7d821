"""Load GS1's Barcode Syntax Dictionary (vision/data/gs1-syntax-dictionary.txt) into per-AI entries.

The dictionary is GS1's machine-readable statement of every Application Identifier: its components,
character sets, lengths, linters and required/excluded AI associations. It is read once per process.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, cast

__all__ = ["AIEntry", "Component", "ai_matches", "load_dictionary", "parse_dictionary"]

Charset = Literal["N", "X", "Y", "Z"]

_DICTIONARY_FILE = "gs1-syntax-dictionary.txt"
# "[N3],iso3166": the brackets wrap the type only; linters follow them.
_COMPONENT = re.compile(r"(?P<open>\[?)(?P<charset>[NXYZ])(?:(?P<fixed>\d+)|\.\.(?P<max>\d+))(?P<close>\]?)")
_AI_OR_RANGE = re.compile(r"(?P<first>\d{2,4})(?:-(?P<last>\d{2,4}))?")
_FLAG_CHARACTERS = frozenset("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")


@dataclass(frozen=True, slots=True)
class Component:
    """One component of an AI's data field, e.g. ``N6,yymmd0`` or ``[X..17]``."""

    charset: Charset
    """``N`` digits, ``X`` GS1 character set 82, ``Y`` set 39, ``Z`` set 64 (base64url)."""
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]
    """Names of GS1's reference linters that check the component's content, in dictionary order."""


@dataclass(frozen=True, slots=True)
class AIEntry:
    """What the dictionary says about one Application Identifier."""

    ai: str
    title: str
    predefined_length: bool
    """Flag ``*``: the length is fixed by the AI, so no FNC1 separator follows it."""
    components: tuple[Component, ...]
    requires: tuple[tuple[tuple[str, ...], ...], ...]
    """One item per ``req=`` attribute; each holds alternatives, each alternative the AI patterns
    (``n`` = any digit) that must all be present. Every ``req=`` attribute must be satisfied."""
    excludes: tuple[str, ...]
    """AI patterns that must not appear together with this AI."""

    @property
    def min_length(self) -> int:
        """Shortest valid data field (the mandatory components at their shortest)."""
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        """Longest valid data field."""
        return sum(c.max_length for c in self.components)


def ai_matches(ai: str, pattern: str) -> bool:
    """Whether ``ai`` matches a dictionary AI pattern such as ``"01"`` or ``"31nn"`` (``n`` = any digit)."""
    return len(ai) == len(pattern) and all(p in ("n", a) for a, p in zip(ai, pattern, strict=True))


@functools.cache
def load_dictionary() -> Mapping[str, AIEntry]:
    """The shipped syntax dictionary, parsed on first use and shared afterwards (read-only)."""
    text = importlib.resources.files("vision.data").joinpath(_DICTIONARY_FILE).read_text(encoding="utf-8")
    return parse_dictionary(text)


def parse_dictionary(text: str) -> Mapping[str, AIEntry]:
    """Parse the syntax dictionary format into entries keyed by AI, ranges expanded.

    Raises
    ------
    ValueError
        If a line does not follow the dictionary syntax; the message names the line.
    """
    entries: dict[str, AIEntry] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            for entry in _parse_line(line):
                if entry.ai in entries:
                    raise ValueError(f"AI ({entry.ai}) is defined twice")
                entries[entry.ai] = entry
        except ValueError as error:
            raise ValueError(f"GS1 syntax dictionary line {number}: {error}: {line.strip()!r}") from error
    return MappingProxyType(entries)


def _parse_line(line: str) -> list[AIEntry]:
    body, _, title = line.partition("#")
    tokens = body.split()
    ai_match = _AI_OR_RANGE.fullmatch(tokens[0])
    if ai_match is None:
        raise ValueError(f"{tokens[0]!r} is not an AI or AI range")
    rest = tokens[1:]
    predefined_length = False
    if rest and _COMPONENT.match(rest[0]) is None and set(rest[0]) <= _FLAG_CHARACTERS:
        predefined_length = "*" in rest[0]
        rest = rest[1:]
    components: list[Component] = []
    while rest and (component := _parse_component(rest[0])) is not None:
        components.append(component)
        rest = rest[1:]
    if not components:
        raise ValueError("no specification components")
    requires: list[tuple[tuple[str, ...], ...]] = []
    excludes: list[str] = []
    for attribute in rest:
        key, _, value = attribute.partition("=")
        if key == "req":
            requires.append(tuple(tuple(group.split("+")) for group in value.split(",")))
        elif key == "ex":
            excludes.extend(value.split(","))
    first, last = ai_match["first"], ai_match["last"] or ai_match["first"]
    if len(first) != len(last) or int(last) < int(first):
        raise ValueError(f"AI range {tokens[0]!r} is malformed")
    return [
        AIEntry(
            ai=str(number).zfill(len(first)),
            title=title.strip(),
            predefined_length=predefined_length,
            components=tuple(components),
            requires=tuple(requires),
            excludes=tuple(excludes),
        )
        for number in range(int(first), int(last) + 1)
    ]


def _parse_component(token: str) -> Component | None:
    spec, *linters = token.split(",")
    match = _COMPONENT.fullmatch(spec)
    if match is None:
        return None
    if bool(match["open"]) != bool(match["close"]):
        raise ValueError(f"component {token!r} has unbalanced brackets")
    charset = cast(Charset, match["charset"])  # the regex admits only N, X, Y, Z
    if match["fixed"] is not None:
        min_length = max_length = int(match["fixed"])
    else:
        min_length, max_length = 1, int(match["max"])
    return Component(
        charset=charset,
        min_length=min_length,
        max_length=max_length,
        optional=bool(match["open"]),
        linters=tuple(linters),
    )
