"""`tracenode ocr IMAGE --recipe R`: one frame inspected as the line would, explained as JSON."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from node.cli_ocr import ocr_command
from recipes.loader import RecipeBook
from recipes.schema import OCR_PIPELINES
from simulator.camera import render_unit
from simulator.level4 import SERIAL_ALPHABET, generate_serials
from simulator.printer import Printer
from simulator.units import Defect

RECIPE = RecipeBook.embedded().select(1)
LOT, EXPIRY = "CLI26B02", "280531"


def _frame(tmp_path: Path, defect: Defect | None, seed: int = 1001) -> tuple[Path, Any]:
    serials = generate_serials(random.Random(seed), 4, length=12, alphabet=SERIAL_ALPHABET, exclude=set())
    printer = Printer(
        seed=seed,
        gtin=RECIPE.gtin,
        lot=LOT,
        expiry_yymmdd=EXPIRY,
        serials=serials,
        defect_rate=0.0 if defect is None else 1.0,
        defects=() if defect is None else (defect,),
    )
    unit = printer.next_unit(1)
    frame = render_unit(
        unit, RECIPE.print_layout, px_per_mm=RECIPE.inspection.px_per_mm, rng=np.random.default_rng(seed)
    )
    path = tmp_path / f"unit-{seed}.png"
    Image.fromarray(frame).save(path)
    return path, unit


def _run(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    status = ocr_command(*args, out, **kwargs)
    return status, json.loads(out.getvalue())


class TestOcrCommand:
    """What a line engineer sees for one image."""

    @pytest.mark.parametrize("pipeline", OCR_PIPELINES)
    def test_good_unit_reads_every_field(self, tmp_path: Path, pipeline: str) -> None:
        """A good print: every field read as the code says, with confidences, and a grade per parameter."""
        path, unit = _frame(tmp_path, None)
        status, report = _run(str(path), "1", pipeline=pipeline, lot=LOT, expiry=EXPIRY)
        # The verdict follows the reasons. The recipe's own pipeline passes this good print; another
        # one may still be unsure of a character (a false reject, never a wrong field).
        assert report["pipeline"] == pipeline
        if pipeline == RECIPE.inspection.ocr.pipeline:
            assert report["reasons"] == [], report["reasons"]
        assert set(report["reasons"]) <= {"print_illegible"}, report["reasons"]
        assert (status, report["verdict"]) == ((1, "rejected") if report["reasons"] else (0, "good"))
        (position,) = report["positions"]
        assert position["code"]["gs1"]["21"] == unit.serial
        fields = {f["field"]: f for f in position["text"]["fields"]}
        assert {"gtin", "serial", "lot", "expiry"} <= fields.keys()
        assert fields["serial"]["read"] == unit.serial
        assert fields["serial"]["verdict"] in {"ok", "illegible"}
        assert all(0.0 <= f["confidence"] <= 1.0 for f in fields.values())
        grade = position["grade"]
        assert grade["overall"] >= RECIPE.inspection.grading.min_grade
        assert grade["overall"] == pytest.approx(min(grade["parameters"].values()), abs=0.01)

    def test_misprinted_field_is_named(self, tmp_path: Path) -> None:
        """Text that says another value than the code is rejected with that field's reason."""
        path, unit = _frame(tmp_path, Defect.PRINT_MISMATCH, seed=1002)
        status, report = _run(str(path), "1", lot=LOT, expiry=EXPIRY)
        assert status == 1
        assert f"ocv_{unit.misprinted_field}" in report["reasons"] or "print_illegible" in report["reasons"]

    def test_partly_printed_character_is_named(self, tmp_path: Path) -> None:
        """A character with part of it missing is rejected as incomplete, and the field says which."""
        path, _ = _frame(tmp_path, Defect.PARTIAL_CHARACTER, seed=1003)
        status, report = _run(str(path), "1", lot=LOT, expiry=EXPIRY)
        assert status == 1 and "print_incomplete" in report["reasons"], report["reasons"]
        (position,) = report["positions"]
        assert [f for f in position["text"]["fields"] if f["incomplete"]], position["text"]["fields"]

    def test_wrong_batch_is_a_reject(self, tmp_path: Path) -> None:
        """Given a batch, a code of another lot is rejected for its lot."""
        path, _ = _frame(tmp_path, None)
        status, report = _run(str(path), "1", lot="OTHER1", expiry=EXPIRY)
        assert status == 1 and "wrong_lot" in report["reasons"]

    def test_unknown_recipe_names_it(self, tmp_path: Path) -> None:
        """A recipe that does not exist is an error that says which."""
        path, _ = _frame(tmp_path, None)
        status, report = _run(str(path), "999")
        assert status == 2 and "999" in report["error"]

    def test_not_an_image(self, tmp_path: Path) -> None:
        """A file that is no image is an error, not a reject."""
        path = tmp_path / "x.png"
        path.write_text("hello")
        status, report = _run(str(path), "1")
        assert status == 2 and "not an image" in report["error"]
