"""Reads recipe TOML files into validated `Recipe` models, kept as a book the PLC selects from by number.

A broken file never stops the book from loading: its error is kept and reported when the PLC selects it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from recipes.schema import Recipe


class RecipeErrorCode(IntEnum):
    """Why a recipe or batch selection failed; the value is the PLC's RecipeError (never renumber one)."""

    UNKNOWN_RECIPE = 1
    INVALID_RECIPE = 2
    INVALID_BATCH = 3
    LEVEL4_UNAVAILABLE = 4


class RecipeError(Exception):
    """A recipe could not be loaded or selected; `code` goes to the PLC, the message to the engineer.

    `field` is the dotted path of the offending field (e.g. ``inspection.px_per_mm``), or None when the
    problem is not one field's (unreadable file, unknown number, duplicate number).
    """

    def __init__(self, code: RecipeErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def load_recipe(path: Path) -> Recipe:
    """Read and validate one recipe file; raise `RecipeError` (INVALID_RECIPE) naming file, field, value."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError(RecipeErrorCode.INVALID_RECIPE, f"{path}: cannot read: {exc.strerror}") from exc
    return _parse_recipe(_parse_toml(data, str(path)), str(path))


def recipe_digest(recipe: Recipe) -> str:
    """The sha256 (hex) of the recipe's canonical JSON, recorded for audit.

    It covers the effective content, defaults included, so two files that mean the same recipe have
    the same digest and a changed default in code shows up as a changed digest.
    """
    canonical = json.dumps(
        recipe.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RecipeBook:
    """Every recipe of one directory, by number, with the errors of the files that did not load.

    `errors` holds the error of each recipe number whose file is invalid or duplicated, so selecting it
    reports the real problem; `file_errors` holds, by file, the errors of files whose number could not
    even be read.
    """

    recipes: Mapping[int, Recipe] = field(default_factory=lambda: MappingProxyType({}))
    errors: Mapping[int, RecipeError] = field(default_factory=lambda: MappingProxyType({}))
    file_errors: Mapping[str, RecipeError] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def load(cls, directory: Path) -> RecipeBook:
        """Load every ``*.toml`` in `directory` (not recursive); raise NotADirectoryError if it is missing."""
        if not directory.is_dir():
            raise NotADirectoryError(f"recipe directory {directory} does not exist or is not a directory")
        return cls._from_sources((str(path), path.read_bytes) for path in sorted(directory.glob("*.toml")))

    @classmethod
    def embedded(cls) -> RecipeBook:
        """The example recipes shipped inside the package, for the simulator's products."""
        examples = files("recipes.examples")
        return cls._from_sources(
            (f"recipes/examples/{entry.name}", entry.read_bytes)
            for entry in sorted(examples.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".toml")
        )

    @classmethod
    def _from_sources(cls, sources: Iterable[tuple[str, Callable[[], bytes]]]) -> RecipeBook:
        """Build the book from (source name, reader of the file's bytes) pairs."""
        recipes: dict[int, Recipe] = {}
        errors: dict[int, RecipeError] = {}
        file_errors: dict[str, RecipeError] = {}
        sources_by_number: dict[int, list[str]] = {}
        for source, read in sources:
            try:
                data = _parse_toml(read(), source)
            except OSError as exc:
                file_errors[source] = RecipeError(
                    RecipeErrorCode.INVALID_RECIPE, f"{source}: cannot read: {exc.strerror}"
                )
                continue
            except RecipeError as exc:
                file_errors[source] = exc
                continue
            try:
                recipe = _parse_recipe(data, source)
            except RecipeError as exc:
                number = data.get("number")
                # bool is an int in Python; a TOML `number = true` has no number to file the error under.
                if not isinstance(number, int) or isinstance(number, bool):
                    file_errors[source] = exc
                    continue
                errors[number] = exc
            else:
                number = recipe.number
                recipes[number] = recipe
            sources_by_number.setdefault(number, []).append(source)
        for number, numbered_sources in sources_by_number.items():
            if len(numbered_sources) > 1:
                # Neither file wins: the PLC would otherwise get whichever sorted last.
                recipes.pop(number, None)
                errors[number] = RecipeError(
                    RecipeErrorCode.INVALID_RECIPE,
                    f"recipe {number} is defined in more than one file: {', '.join(numbered_sources)}",
                    field="number",
                )
        return cls(MappingProxyType(recipes), MappingProxyType(errors), MappingProxyType(file_errors))

    def select(self, number: int) -> Recipe:
        """The recipe with this number; raise `RecipeError` (INVALID_RECIPE or UNKNOWN_RECIPE) otherwise."""
        recipe = self.recipes.get(number)
        if recipe is not None:
            return recipe
        error = self.errors.get(number)
        if error is not None:
            raise error
        known = ", ".join(str(n) for n in sorted(self.recipes)) or "none"
        raise RecipeError(
            RecipeErrorCode.UNKNOWN_RECIPE, f"recipe {number} is not in the recipe book (known: {known})"
        )


def _parse_toml(data: bytes, source: str) -> dict[str, Any]:
    """Decode TOML, turning a syntax or encoding error into a RecipeError naming the file."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecipeError(
            RecipeErrorCode.INVALID_RECIPE, f"{source}: not UTF-8 text (byte {exc.start}): {exc.reason}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(RecipeErrorCode.INVALID_RECIPE, f"{source}: not valid TOML: {exc}") from exc


def _parse_recipe(data: dict[str, Any], source: str) -> Recipe:
    """Validate decoded TOML as a Recipe; every problem is listed, the first one's field is `.field`."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        fields = [".".join(str(part) for part in problem["loc"]) for problem in problems]
        lines = [
            f"{source}: {name}: {problem['msg']}{_got(problem)}"
            for name, problem in zip(fields, problems, strict=True)
        ]
        raise RecipeError(RecipeErrorCode.INVALID_RECIPE, "; ".join(lines), field=fields[0]) from exc


def _got(problem: Mapping[str, Any]) -> str:
    """The offending value for the message; a missing field has none, only the surrounding table."""
    if problem["type"] == "missing":
        return ""
    return f" (got {problem['input']!r})"
