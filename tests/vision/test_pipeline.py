"""The per-unit pipeline on whole frames: decode, GS1, grade, OCR by the recipe's pipeline, positions."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from node.job import Job
from node.reasons import Reason
from node.rules import judge
from recipes.loader import RecipeBook
from recipes.schema import OCR_PIPELINES, Recipe
from simulator.camera import render_unit
from simulator.level4 import SERIAL_ALPHABET, generate_serials
from simulator.printer import Printer
from simulator.units import Appearance, Defect, Unit
from vision.pipeline import inspect_unit, warm_up

BASE = RecipeBook.embedded().select(1)
LOT, EXPIRY = "PIP26C03", "280630"
# Seeds >= 1000: never used in training (see the model cards).
SEED = 2000


def _recipe(pipeline: str, **changes: object) -> Recipe:
    data = BASE.model_dump()
    data["inspection"]["ocr"]["pipeline"] = pipeline
    data.update(changes)
    return Recipe.model_validate(data)


def _units(count: int, *, defect: Defect | None = None, seed: int = SEED) -> list[Unit]:
    serials = generate_serials(
        random.Random(seed), count + 2, length=12, alphabet=SERIAL_ALPHABET, exclude=set()
    )
    printer = Printer(
        seed=seed,
        gtin=BASE.gtin,
        lot=LOT,
        expiry_yymmdd=EXPIRY,
        serials=serials,
        defect_rate=0.0 if defect is None else 1.0,
        defects=() if defect is None else (defect,),
    )
    return [printer.next_unit(n + 1) for n in range(count)]


def _frame(unit: Unit, recipe: Recipe, seed: int) -> npt.NDArray[np.uint8]:
    return render_unit(
        unit, recipe.print_layout, px_per_mm=recipe.inspection.px_per_mm, rng=np.random.default_rng(seed)
    )


def _job(recipe: Recipe, units: list[Unit]) -> Job:
    return Job(request=1, recipe=recipe, lot=LOT, expiry=EXPIRY, issued=frozenset(u.serial for u in units))


class TestEveryPipeline:
    """Each of the four pipelines, selected by the recipe alone."""

    @pytest.mark.parametrize("pipeline", OCR_PIPELINES)
    def test_good_units_are_read(self, pipeline: str) -> None:
        """In-spec print is read field by field as printed (best guesses; seeds never trained on).

        A reader may still be unsure of a good character (a false reject: classical and
        combination2 often are on dot matrix, docs/benchmarks.md); nothing else may reject.
        """
        recipe = _recipe(pipeline)
        units = _units(4)
        job = _job(recipe, units)
        fields = right = 0
        for n, unit in enumerate(units):
            (result,) = inspect_unit(_frame(unit, recipe, SEED + n), job)
            assert result.print_check is not None and result.grade is not None
            assert not judge(result, job, set()) - {Reason.PRINT_ILLEGIBLE}, "only unsure print may reject"
            for check in result.print_check.fields:
                fields += 1
                right += check.read == check.expected
        assert right >= 0.8 * fields, f"{pipeline}: {right} of {fields} fields read as printed"

    @pytest.mark.parametrize("pipeline", OCR_PIPELINES)
    @pytest.mark.parametrize(
        "defect", [Defect.PRINT_MISMATCH, Defect.PARTIAL_CHARACTER, Defect.SMUDGED_PRINT]
    )
    def test_no_pipeline_accepts_a_wrong_print(self, pipeline: str, defect: Defect) -> None:
        """Text that differs from the code, or that cannot be read with confidence, is rejected."""
        recipe = _recipe(pipeline)
        units = _units(3, defect=defect, seed=SEED + 100)
        job = _job(recipe, units)
        for n, unit in enumerate(units):
            (result,) = inspect_unit(_frame(unit, recipe, SEED + 100 + n), job)
            reasons = judge(result, job, set())
            assert reasons, f"{pipeline} accepted {defect} on unit {n}"
            if defect is Defect.PRINT_MISMATCH:
                field_reason = {
                    "gtin": Reason.OCV_GTIN,
                    "serial": Reason.OCV_SERIAL,
                    "lot": Reason.OCV_LOT,
                    "expiry": Reason.OCV_EXPIRY,
                }[unit.misprinted_field or ""]
                # The misprinted field is named, unless the reader could not read it with confidence.
                assert field_reason in reasons or Reason.PRINT_ILLEGIBLE in reasons, reasons


class TestCompleteness:
    """A character printed with part of it missing is rejected whatever the reader makes of it."""

    @pytest.mark.parametrize("font", ["dot5x7", "dot7x9", "tij_sans", "hershey_simplex"])
    def test_a_partial_character_is_incomplete_even_when_read_right(self, font: str) -> None:
        """With the reader's threshold out of the way (0.01), the completeness check alone rejects."""
        data = BASE.model_dump()
        data["print_layout"]["font"] = font
        data["inspection"]["ocr"]["min_confidence"] = 0.01
        recipe = Recipe.model_validate(data)
        units = _units(3, defect=Defect.PARTIAL_CHARACTER, seed=SEED + 300)
        job = _job(recipe, units)
        for n, unit in enumerate(units):
            (result,) = inspect_unit(_frame(unit, recipe, SEED + 300 + n), job)
            assert result.print_check is not None
            assert Reason.PRINT_INCOMPLETE in judge(result, job, set()), (font, n, result.print_check)

    def test_the_recipe_can_leave_it_out(self) -> None:
        """``completeness = false``: nothing is measured, nothing is charged to it."""
        data = BASE.model_dump()
        data["inspection"]["ocr"]["completeness"] = False
        recipe = Recipe.model_validate(data)
        units = _units(2, defect=Defect.PARTIAL_CHARACTER, seed=SEED + 300)
        job = _job(recipe, units)
        for n, unit in enumerate(units):
            (result,) = inspect_unit(_frame(unit, recipe, SEED + 300 + n), job)
            assert result.print_check is not None and not result.print_check.incomplete


class TestPositions:
    """Two packs in one image: each read in its own code region and judged on its own."""

    def test_two_packs_are_read_separately(self) -> None:
        """The top pack's serial comes from the top region, the bottom's from the bottom."""
        top, bottom = _units(2)
        look = Appearance(module_px=4.5, blur_sigma=0.6, noise_sigma=2.0, contrast=0.9)
        recipe = _recipe(
            BASE.inspection.ocr.pipeline,
            positions=(
                {"name": "TOP", "code_region": (200, 24, 460, 460)},
                {"name": "BOTTOM", "code_region": (200, 536, 460, 460)},
            ),
        )
        frames = [_frame(replace(u, appearance=look), recipe, SEED + i) for i, u in enumerate((top, bottom))]
        # Each pack's frame centred on its own half of the image.
        frame = np.concatenate([frames[0][256:768], frames[1][256:768]])
        job = _job(recipe, [top, bottom])
        results = inspect_unit(frame, job)
        assert [r.position for r in results] == ["TOP", "BOTTOM"]
        assert [r.gs1["21"] if r.gs1 else None for r in results] == [top.serial, bottom.serial]
        for result in results:
            assert result.print_check is not None
            assert [c.read for c in result.print_check.fields] == [
                c.expected for c in result.print_check.fields
            ]


def test_warm_up_runs_every_stage() -> None:
    """Warm-up inspects a synthetic unit with the job's recipe and raises nothing."""
    for pipeline in OCR_PIPELINES:
        warm_up(_job(_recipe(pipeline), _units(1)))
