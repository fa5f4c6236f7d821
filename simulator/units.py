"""What the simulated printer put on each unit, and what is wrong with it: the ground truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Defect(StrEnum):
    """A fault the simulator injects into one unit. Each one must end in a reject."""

    NO_CODE = "no_code"
    DAMAGED_CODE = "damaged_code"
    WRONG_LOT = "wrong_lot"
    WRONG_EXPIRY = "wrong_expiry"
    DUPLICATE_SERIAL = "duplicate_serial"
    SERIAL_NOT_ISSUED = "serial_not_issued"
    SMUDGED_PRINT = "smudged_print"


@dataclass(frozen=True, slots=True)
class Appearance:
    """How the camera sees this unit: the realistic variation of a good line."""

    module_px: float = 4.0  # DataMatrix module size in pixels
    rotation_deg: float = 0.0  # whole carton rotation in the image
    offset_px: tuple[float, float] = (0.0, 0.0)  # carton shift from nominal
    blur_sigma: float = 0.6
    noise_sigma: float = 3.0
    contrast: float = 1.0  # 1.0 = dark ink on a light carton at full contrast
    light_on_dark: bool = False


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit as printed: the data in its code and text, its look, and its injected defect."""

    index: int  # 0-based position in the run
    tracking_id: int  # the PLC's id for the unit (starts at 1)
    gtin: str
    serial: str
    lot: str
    expiry: dt.date | str  # YYMMDD string when the printed date uses DD=00
    defect: Defect | None = None
    appearance: Appearance = field(default_factory=Appearance)

    @property
    def expiry_yymmdd(self) -> str:
        """AI (17) value."""
        if isinstance(self.expiry, str):
            return self.expiry
        return self.expiry.strftime("%y%m%d")

    @property
    def should_reject(self) -> bool:
        """The truth: any injected defect means this unit must not pass."""
        return self.defect is not None
