"""What the simulated printer put on each unit, and what is wrong with it: the ground truth."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

MISPRINTABLE_FIELDS = ("gtin", "serial", "lot", "expiry")
"""The fields a PRINT_MISMATCH can hit."""
_FIELD_ARGUMENTS = {"gtin": "gtin", "serial": "serial", "lot": "lot", "expiry": "expiry_yymmdd"}


class Defect(StrEnum):
    """A fault the simulator injects into one unit. Each one must end in a reject."""

    NO_CODE = "no_code"
    """No DataMatrix printed; the text is."""
    DAMAGED_CODE = "damaged_code"
    """A blot or abrasion over most of the symbol: no decoder reads it."""
    WRONG_LOT = "wrong_lot"
    """Another valid lot, in code and text alike."""
    WRONG_EXPIRY = "wrong_expiry"
    """Another valid expiry date, in code and text alike."""
    DUPLICATE_SERIAL = "duplicate_serial"
    """The serial of an earlier readable unit."""
    SERIAL_NOT_ISSUED = "serial_not_issued"
    """A serial of the issued format that Level 4 did not issue."""
    SMUDGED_PRINT = "smudged_print"
    """Wet ink smeared over three to five characters of one text line."""
    PARTIAL_CHARACTER = "partial_character"
    """30 to 60 % of one character of one text line not printed (blocked nozzle, head lifted)."""
    PRINT_MISMATCH = "print_mismatch"
    """The text of one field says one character other than the (correct, issued) code holds."""
    POOR_CODE_PRINT = "poor_code_print"
    """The symbol decodes but is printed faint (ISO/IEC 15415 symbol contrast below 20 %, grade F);
    the text is in specification."""


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
    misprinted_field: str | None = None
    """PRINT_MISMATCH: which field's text differs from the code, one of ``MISPRINTABLE_FIELDS``."""
    printed_value: str | None = None
    """PRINT_MISMATCH: the value the text shows for that field (expiry as YYMMDD)."""

    def __post_init__(self) -> None:
        """Refuse a misprint without its field and value, or of an unknown field.

        Raises
        ------
        ValueError
            If only one of ``misprinted_field`` and ``printed_value`` is set, or the field is unknown.
        """
        if (self.misprinted_field is None) != (self.printed_value is None):
            raise ValueError("misprinted_field and printed_value go together")
        if self.misprinted_field is not None and self.misprinted_field not in MISPRINTABLE_FIELDS:
            raise ValueError(
                f"misprinted_field is {self.misprinted_field!r}, expected one of {MISPRINTABLE_FIELDS}"
            )

    @property
    def expiry_yymmdd(self) -> str:
        """AI (17) value."""
        if isinstance(self.expiry, str):
            return self.expiry
        return self.expiry.strftime("%y%m%d")

    @property
    def printed_fields(self) -> dict[str, str]:
        """What the text shows, as ``vision.print_text.print_lines`` takes it: the code's data
        except a misprinted field."""
        fields = {
            "gtin": self.gtin,
            "serial": self.serial,
            "lot": self.lot,
            "expiry_yymmdd": self.expiry_yymmdd,
        }
        if self.misprinted_field is not None and self.printed_value is not None:
            fields[_FIELD_ARGUMENTS[self.misprinted_field]] = self.printed_value
        return fields

    @property
    def should_reject(self) -> bool:
        """The truth: any injected defect means this unit must not pass."""
        return self.defect is not None
