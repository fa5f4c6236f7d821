"""Recipe files to models: every broken file gives an error that names file, field, value and rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipes.loader import RecipeBook, RecipeError, RecipeErrorCode, load_recipe, recipe_digest
from recipes.schema import Recipe

AMOX = """\
number = 1
name = "Amoxicillin 500 mg 20 caps"
gtin = "09506000134352"
"""
IBU = """\
number = 2
name = "Ibuprofen 400 mg 30 tabs"
gtin = "09506000134369"
"""


def write(directory: Path, name: str, text: str) -> Path:
    """Write one recipe file and return its path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


class TestLoadRecipe:
    """load_recipe reads one file and explains exactly what is wrong with a bad one."""

    def test_valid_file_loads_with_defaults(self, tmp_path: Path) -> None:
        """A minimal file becomes a Recipe whose unspecified fields take the schema defaults."""
        recipe = load_recipe(write(tmp_path, "amox.toml", AMOX))
        assert (recipe.number, recipe.gtin, recipe.position_names, recipe.version) == (
            1,
            "09506000134352",
            ("P1",),
            1,
        )

    def test_out_of_range_value_names_file_field_value_and_rule(self, tmp_path: Path) -> None:
        """A value outside its limits is reported as file: dotted field: rule (got value)."""
        path = write(tmp_path, "amox.toml", AMOX + "[inspection]\npx_per_mm = 0\n")
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.code is RecipeErrorCode.INVALID_RECIPE
        assert caught.value.field == "inspection.px_per_mm"
        assert str(caught.value) == f"{path}: inspection.px_per_mm: Input should be greater than 1 (got 0)"

    def test_malformed_toml_names_the_file_and_line(self, tmp_path: Path) -> None:
        """A TOML syntax error is reported with the file and the line, and no field."""
        path = write(tmp_path, "amox.toml", AMOX + "version = = 2\n")
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field is None
        assert str(caught.value).startswith(f"{path}: not valid TOML:")
        assert "line 4" in str(caught.value)

    def test_unknown_key_is_refused(self, tmp_path: Path) -> None:
        """A misspelt key is an error, not silently ignored."""
        path = write(tmp_path, "amox.toml", AMOX + "[inspection]\npx_per_m = 12.0\n")
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field == "inspection.px_per_m"
        assert "Extra inputs are not permitted (got 12.0)" in str(caught.value)

    def test_wrong_gtin_check_digit_names_the_expected_digit(self, tmp_path: Path) -> None:
        """A GTIN with a wrong check digit is refused, and the message says which digit was expected."""
        path = write(tmp_path, "amox.toml", AMOX.replace("09506000134352", "09506000134353"))
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field == "gtin"
        assert "expected 2" in str(caught.value)
        assert "(got '09506000134353')" in str(caught.value)

    def test_missing_field_is_named_without_a_value(self, tmp_path: Path) -> None:
        """A required field that is absent is named, with no misleading 'got'."""
        path = write(tmp_path, "amox.toml", AMOX.replace('gtin = "09506000134352"\n', ""))
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field == "gtin"
        assert str(caught.value) == f"{path}: gtin: Field required"

    def test_every_problem_is_listed(self, tmp_path: Path) -> None:
        """Several bad fields are all reported, the first one as `field`."""
        path = write(tmp_path, "amox.toml", AMOX.replace("number = 1", "number = 0") + "version = 0\n")
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field == "number"
        assert "number:" in str(caught.value) and "version:" in str(caught.value)

    def test_missing_file_is_a_recipe_error(self, tmp_path: Path) -> None:
        """A file that cannot be read is reported like any other broken recipe."""
        with pytest.raises(RecipeError, match="cannot read") as caught:
            load_recipe(tmp_path / "absent.toml")
        assert caught.value.code is RecipeErrorCode.INVALID_RECIPE

    def test_non_utf8_file_is_a_recipe_error(self, tmp_path: Path) -> None:
        """A file saved in a legacy encoding is refused with the offending byte's position."""
        path = tmp_path / "amox.toml"
        path.write_bytes(AMOX.replace("Amoxicillin", "Amoxicillin \xe4").encode("latin-1"))
        with pytest.raises(RecipeError, match="not UTF-8"):
            load_recipe(path)

    @settings(max_examples=60, deadline=None)
    @given(text=st.text(max_size=200))
    def test_any_text_is_a_recipe_or_a_recipe_error(
        self, tmp_path_factory: pytest.TempPathFactory, text: str
    ) -> None:
        """Whatever a file holds, loading it yields a Recipe or a RecipeError, never another exception."""
        path = tmp_path_factory.mktemp("any") / "any.toml"
        path.write_text(AMOX + text, encoding="utf-8")
        try:
            assert isinstance(load_recipe(path), Recipe)
        except RecipeError as error:
            assert error.code is RecipeErrorCode.INVALID_RECIPE
            assert str(path) in str(error)


class TestRecipeBook:
    """The book loads what it can, keeps every error, and answers the PLC's selection by number."""

    def test_selects_by_number(self, tmp_path: Path) -> None:
        """Every valid file is in the book under its number."""
        write(tmp_path, "amox.toml", AMOX)
        write(tmp_path, "ibu.toml", IBU)
        book = RecipeBook.load(tmp_path)
        assert book.select(2).name == "Ibuprofen 400 mg 30 tabs"
        assert sorted(book.recipes) == [1, 2]
        assert not book.errors and not book.file_errors

    def test_broken_file_does_not_stop_the_book(self, tmp_path: Path) -> None:
        """A file with a bad value leaves the others loadable and its error waiting under its number."""
        write(tmp_path, "amox.toml", AMOX + "consecutive_reject_limit = 0\n")
        write(tmp_path, "ibu.toml", IBU)
        book = RecipeBook.load(tmp_path)
        assert book.select(2).number == 2
        with pytest.raises(RecipeError) as caught:
            book.select(1)
        assert caught.value.code is RecipeErrorCode.INVALID_RECIPE
        assert caught.value.field == "consecutive_reject_limit"
        assert "amox.toml" in str(caught.value)

    def test_file_without_a_number_is_kept_by_file(self, tmp_path: Path) -> None:
        """Malformed TOML, or no usable number, is kept under the file's name."""
        broken = write(tmp_path, "broken.toml", "number = = 3\n")
        numberless = write(tmp_path, "numberless.toml", AMOX.replace("number = 1", 'number = "one"'))
        write(tmp_path, "ibu.toml", IBU)
        book = RecipeBook.load(tmp_path)
        assert set(book.file_errors) == {str(broken), str(numberless)}
        assert book.file_errors[str(numberless)].field == "number"
        assert list(book.recipes) == [2]

    def test_number_written_as_text_still_counts(self, tmp_path: Path) -> None:
        """A number pydantic can read from text ("2") files the recipe under that number."""
        write(tmp_path, "ibu.toml", IBU.replace("number = 2", 'number = "2"'))
        assert RecipeBook.load(tmp_path).select(2).number == 2

    def test_invalid_file_still_claims_its_number(self, tmp_path: Path) -> None:
        """An invalid file and a valid one with the same number are a duplicate, not a silent winner."""
        write(tmp_path, "amox.toml", AMOX)
        write(tmp_path, "amox_old.toml", AMOX + "version = 0\n")
        with pytest.raises(RecipeError, match="more than one file"):
            RecipeBook.load(tmp_path).select(1)

    def test_duplicate_number_is_an_error_of_both_files(self, tmp_path: Path) -> None:
        """Two files claiming one number make that number unselectable, naming both files."""
        first = write(tmp_path, "amox.toml", AMOX)
        second = write(tmp_path, "amox_copy.toml", AMOX.replace("Amoxicillin", "Amoxicillin copy"))
        book = RecipeBook.load(tmp_path)
        assert 1 not in book.recipes
        with pytest.raises(RecipeError) as caught:
            book.select(1)
        assert caught.value.code is RecipeErrorCode.INVALID_RECIPE
        assert caught.value.field == "number"
        assert str(first) in str(caught.value) and str(second) in str(caught.value)

    def test_unknown_number_lists_the_known_ones(self, tmp_path: Path) -> None:
        """Selecting a number no file has is UNKNOWN_RECIPE, with the numbers that do exist."""
        write(tmp_path, "amox.toml", AMOX)
        with pytest.raises(RecipeError) as caught:
            RecipeBook.load(tmp_path).select(7)
        assert caught.value.code is RecipeErrorCode.UNKNOWN_RECIPE
        assert "recipe 7" in str(caught.value) and "known: 1" in str(caught.value)

    def test_missing_directory_is_refused(self, tmp_path: Path) -> None:
        """A recipe directory that does not exist stops start-up with its path."""
        with pytest.raises(NotADirectoryError, match="absent"):
            RecipeBook.load(tmp_path / "absent")

    def test_embedded_book_loads_the_example_recipes(self) -> None:
        """The examples shipped in the package all load, with distinct GTINs."""
        book = RecipeBook.embedded()
        assert not book.errors and not book.file_errors
        assert {1, 2} <= set(book.recipes)
        assert len({recipe.gtin for recipe in book.recipes.values()}) == len(book.recipes)


class TestRecipeErrorCode:
    """The codes are part of the PLC contract."""

    def test_numbers_are_fixed(self) -> None:
        """The PLC sees these exact numbers."""
        assert [(code.name, int(code)) for code in RecipeErrorCode] == [
            ("UNKNOWN_RECIPE", 1),
            ("INVALID_RECIPE", 2),
            ("INVALID_BATCH", 3),
            ("LEVEL4_UNAVAILABLE", 4),
        ]


class TestRecipeDigest:
    """The audit digest identifies a recipe's effective content."""

    def test_same_content_same_digest(self, tmp_path: Path) -> None:
        """Key order and spelled-out defaults do not change the digest."""
        plain = load_recipe(write(tmp_path, "a.toml", AMOX))
        reordered = load_recipe(
            write(
                tmp_path,
                "b.toml",
                'gtin = "09506000134352"\nversion = 1\nnumber = 1\nname = "Amoxicillin 500 mg 20 caps"\n',
            )
        )
        assert recipe_digest(plain) == recipe_digest(reordered)

    def test_changed_content_changes_the_digest(self, tmp_path: Path) -> None:
        """Any changed value gives another digest."""
        plain = load_recipe(write(tmp_path, "a.toml", AMOX))
        changed = load_recipe(write(tmp_path, "b.toml", AMOX + "[inspection.ocr]\nmin_confidence = 0.7\n"))
        assert recipe_digest(plain) != recipe_digest(changed)

    def test_digest_is_sha256_hex(self, tmp_path: Path) -> None:
        """The digest is 64 lowercase hex characters."""
        digest = recipe_digest(load_recipe(write(tmp_path, "a.toml", AMOX)))
        assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
