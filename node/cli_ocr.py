"""``tracenode ocr IMAGE --recipe R``: inspect one image as the line would, and say why, as JSON.

For a line engineer setting up a product or chasing a reject: the code's data, each printed field
as read with its confidence, the print grade per parameter and the verdict per position, with the
recipe's pipeline or another one (``--pipeline``) so the OCR modes can be compared on the same image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from node.job import Job
from node.reasons import primary_reason
from node.rules import judge
from recipes.loader import RecipeBook, RecipeError, load_recipe
from recipes.schema import Recipe
from vision.pipeline import inspect_unit
from vision.result import InspectionResult

__all__ = ["GRADE_LETTERS", "ocr_command"]

GRADE_LETTERS = "FDCBA"
"""ISO/IEC 15415 letter of grade 0..4 (a fractional grade takes the letter of its whole part)."""


def ocr_command(
    image: str,
    recipe_ref: str,
    out: TextIO,
    *,
    pipeline: str | None = None,
    lot: str | None = None,
    expiry: str | None = None,
    recipes_dir: Path | None = None,
) -> int:
    """Inspect ``image`` with recipe ``recipe_ref`` and print one JSON document.

    ``recipe_ref`` is a recipe file (TOML) or a recipe number of ``recipes_dir`` (default: the
    embedded example recipes). Without ``lot`` and ``expiry`` the batch is taken from the code
    itself, so only the print against the code, the GTIN against the recipe and the grade can fail;
    the issued serials are never checked here (no Level 4), and the JSON says so.

    Returns
    -------
    int
        0 when every position is good, 1 when one is rejected, 2 when the image or the recipe
        cannot be used (the JSON's ``error`` says why).
    """
    from node.cli_tools import UnreadableImage, load_gray

    try:
        recipe = _recipe(recipe_ref, recipes_dir)
        if pipeline is not None:
            ocr = recipe.inspection.ocr.model_copy(update={"pipeline": pipeline, "enabled": True})
            recipe = Recipe.model_validate(
                recipe.model_dump()
                | {"inspection": recipe.inspection.model_dump() | {"ocr": ocr.model_dump()}}
            )
        frame = load_gray(image)
    except (RecipeError, UnreadableImage, ValueError) as error:
        _write(out, {"file": image, "error": str(error)})
        return 2
    probe = Job(request=0, recipe=recipe, lot=lot or "", expiry=expiry or "", issued=frozenset())
    results = inspect_unit(frame, probe)
    first = next((r.gs1 for r in results if r.gs1 is not None), None)
    batch_given = lot is not None and expiry is not None
    job = Job(
        request=0,
        recipe=recipe,
        lot=lot if lot is not None else (first or {}).get("10", ""),
        expiry=expiry if expiry is not None else (first or {}).get("17", ""),
        # No Level 4 here: every serial read counts as issued, none as seen before.
        issued=frozenset(r.gs1["21"] for r in results if r.gs1 is not None and "21" in r.gs1),
    )
    seen: set[str] = set()
    positions = []
    all_reasons: set[str] = set()
    for result in results:
        reasons = judge(result, job, seen)
        if result.gs1 is not None and "21" in result.gs1:
            seen.add(result.gs1["21"])
        all_reasons |= {r.value for r in reasons}
        positions.append(_position_json(result, sorted(reasons, key=lambda r: r.code)))
    primary = primary_reason({r for p in positions for r in p["_reasons"]})
    for p in positions:
        del p["_reasons"]
    _write(
        out,
        {
            "file": image,
            "recipe": {"number": recipe.number, "name": recipe.name, "version": recipe.version},
            "pipeline": recipe.inspection.ocr.pipeline if recipe.inspection.ocr.enabled else None,
            "checked": {
                "batch": "lot and expiry against the given batch"
                if batch_given
                else "not given: lot and expiry taken from the code",
                "issued_serials": False,
            },
            "verdict": "rejected" if all_reasons else "good",
            "reasons": sorted(all_reasons),
            "primary_reason": primary.value if primary is not None else None,
            "positions": positions,
        },
    )
    return 1 if all_reasons else 0


def _recipe(ref: str, recipes_dir: Path | None) -> Recipe:
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        return load_recipe(path)
    try:
        number = int(ref)
    except ValueError:
        raise ValueError(f"--recipe {ref!r}: expected a recipe file (.toml) or a recipe number") from None
    book = RecipeBook.embedded() if recipes_dir is None else RecipeBook.load(recipes_dir)
    return book.select(number)


def _position_json(result: InspectionResult, reasons: list[Any]) -> dict[str, Any]:
    check = result.print_check
    grade = result.grade
    return {
        "name": result.position,
        "verdict": "rejected" if reasons else "good",
        "reasons": [r.value for r in reasons],
        "_reasons": reasons,
        "code": {
            "found": result.code_found,
            "gs1": dict(result.gs1) if result.gs1 is not None else None,
            "error": result.gs1_error,
            "decoder": result.decoder or None,
        },
        "text": None
        if check is None
        else {
            "lines": list(check.lines_read),
            "fields": [
                {
                    "field": c.field,
                    "line": c.line,
                    "expected": c.expected,
                    "read": c.read,
                    "confidence": round(c.confidence, 4),
                    "verdict": c.verdict,
                    "incomplete": list(c.incomplete),
                }
                for c in check.fields
            ],
        },
        "ocv": None if result.ocv_ok is None else {"ok": result.ocv_ok, "detail": result.ocv_detail},
        "grade": None
        if grade is None
        else {
            "overall": round(grade, 2),
            "letter": GRADE_LETTERS[min(4, max(0, int(grade)))],
            "score": None if result.grade_score is None else round(result.grade_score, 2),
            "parameters": {name: round(value, 2) for name, value in result.grade_parameters.items()},
            "values": {name: round(value, 4) for name, value in result.grade_values.items()},
        },
        "timings_ms": dict(result.timings_ms),
    }


def _write(out: TextIO, record: dict[str, Any]) -> None:
    out.write(json.dumps(record, indent=2) + "\n")
