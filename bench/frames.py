"""Production frames with known truth, made one unit at a time by the simulated printer and camera."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recipes.loader import RecipeBook
from recipes.schema import Recipe
from simulator.camera import render_unit
from simulator.level4 import SERIAL_ALPHABET, SERIAL_LENGTH, generate_serials
from simulator.line import SimSettings
from simulator.printer import Printer
from simulator.units import Defect
from vision.gs1 import to_element_string

Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class ProductionFrame:
    """One camera frame and what its code says."""

    image: Frame
    """(1024, 1280) uint8 mono frame."""
    truth: bytes | None
    """The encoded element string, FNC1 separators as GS (0x1D), no leading FNC1; None: no code printed."""


@functools.cache
def production_recipe() -> Recipe:
    """The recipe `tracenode sim` produces by default: its product, print layout and inspection settings."""
    return RecipeBook.embedded().select(SimSettings().recipe_number)


def production_frames(count: int, *, seed: int, no_code: bool = False) -> Iterator[ProductionFrame]:
    """Render ``count`` frames of the sim's batch (recipe 1, its lot and expiry, Level 4-style serials).

    Every unit is good (``no_code`` False) or has no code printed (True); the look of each frame is
    drawn as on the simulated line, so module size, skew, blur, noise and contrast vary.
    """
    settings = SimSettings(seed=seed)
    recipe = production_recipe()
    expiry = settings.batch_expiry()
    serials = generate_serials(
        random.Random(seed), count, length=SERIAL_LENGTH, alphabet=SERIAL_ALPHABET, exclude=set()
    )
    printer = Printer(
        seed=seed,
        gtin=recipe.gtin,
        lot=settings.lot,
        expiry_yymmdd=expiry,
        serials=serials,
        defect_rate=1.0 if no_code else 0.0,
        defects=(Defect.NO_CODE,),
    )
    rng = np.random.default_rng(seed)
    for tracking_id in range(1, count + 1):
        unit = printer.next_unit(tracking_id)
        image = render_unit(unit, recipe.print_layout, px_per_mm=recipe.inspection.px_per_mm, rng=rng)
        truth = None
        if unit.defect is not Defect.NO_CODE:
            ais = {"01": unit.gtin, "17": unit.expiry_yymmdd, "10": unit.lot, "21": unit.serial}
            truth = to_element_string(ais).encode("ascii")
        yield ProductionFrame(image=image, truth=truth)
