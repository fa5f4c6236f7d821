"""Line crops of printed pharma text with their truth, for training and benchmarking the OCR readers.

Each sample is one printed line cut out exactly as the node cuts it (``vision.ocr_types``): what the
simulator's printer and camera would show, without rendering a whole frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from recipes.schema import PrintLayout
from simulator.camera import carton_levels, carton_texture, sample_appearance, smear_text
from vision.gs1 import gs1_check_digit
from vision.ocr_types import CHARSET
from vision.print_text import (
    IN_SPEC,
    SIDES,
    LineInk,
    MissingInk,
    PrintQuality,
    line_crop_box,
    render_printed_line,
)

__all__ = ["DEFAULT_FONTS", "LineSample", "SampleDefect", "line_samples", "pharma_line"]

DEFAULT_FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex")
"""The coder fonts a line sample is drawn in unless told otherwise."""

SampleDefect = Literal["smudge", "partial"]
"""A defect a sample can carry: a smear over 3-5 characters, or 30-60 % of one character missing."""

# Residual error of the node's crop: the code's corners place it within a few pixels, and its
# angle, together with the print's own skew, within 1.5 degrees.
_RESIDUAL_SHIFT_PX = 3.0
_RESIDUAL_ROTATION_DEG = 1.5
# Serials skip I and O, which people misread as 1 and 0 (common Level 4 serial alphabets do).
_SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, slots=True)
class LineSample:
    """One line crop and what is printed on it."""

    image: npt.NDArray[np.uint8]
    """(h, w) the crop: upright, dark ink on a light carton, at the recipe scale (``vision.ocr_types``)."""
    text: str
    """What the coder was told to print (with ``defect``, what it should have printed)."""
    boxes: tuple[tuple[int, int, int, int], ...]
    """x, y, width, height in crop pixels of each character of ``text``, spaces included: the
    character's cell (its advance, neighbouring cells abut) across the capitals' height, as the
    print and the crop's residual error moved it, clipped to the crop."""
    font: str
    """``PrintLayout.font`` the line is printed in."""
    defect: SampleDefect | None = None
    """The defect printed, if any."""


def line_samples(
    rng: np.random.Generator,
    count: int,
    *,
    fonts: Sequence[str] = DEFAULT_FONTS,
    px_per_mm: float = 10.0,
    text_height_mm: tuple[float, float] = (2.0, 3.2),
    quality: PrintQuality = IN_SPEC,
    defect: SampleDefect | None = None,
) -> list[LineSample]:
    """Draw ``count`` printed line crops as the node would cut them from a line in specification.

    Each sample draws a font from ``fonts``, a cap height from ``text_height_mm``, a text
    (``pharma_line``), the print's variation within ``quality`` (``render_printed_line``), the
    camera's look as ``simulator.camera.sample_appearance`` draws it (blur 0.3..1.2 px, sensor noise
    1..6 grey levels, contrast 0.55..1 times the print's density 0.65..1, one in ten laser-marked
    light-on-dark and inverted as the node inverts it), carton texture and uneven light, and the
    crop's residual error: ±3 px shift, and a rotation about the crop's centre that leaves the print
    within ±1.5 degrees of upright.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of everything; the same state gives the same samples.
    count : int
        How many samples (>= 0).
    fonts : sequence of str
        ``PrintLayout.font`` names to draw from.
    px_per_mm : float
        The recipe's scale (``Inspection.px_per_mm``).
    text_height_mm : (low, high)
        Range of the capitals' height.
    quality : PrintQuality
        Limits of the print's variation (default: in specification).
    defect : {"smudge", "partial"}, optional
        Print every sample with this defect: a smear over three to five characters
        (``simulator.camera.smear_text``), or 30 to 60 % of one character missing from one side.
        The defect has its own random draws, so the same ``rng`` state draws the same samples
        with and without it, apart from the defect.

    Returns
    -------
    list of LineSample

    Raises
    ------
    ValueError
        If ``count`` is negative, ``fonts`` is empty or names an unknown font, or the height range is
        not one a ``PrintLayout`` takes.
    """
    if count < 0:
        raise ValueError(f"count is {count}, expected >= 0")
    if not fonts:
        raise ValueError("no fonts to draw from")
    layouts = {font: PrintLayout.model_validate({"font": font}) for font in fonts}  # validates the names
    for height in text_height_mm:
        PrintLayout(text_height_mm=height)
    if text_height_mm[0] > text_height_mm[1]:
        raise ValueError(f"text_height_mm {text_height_mm} is not a (low, high) range")
    samples = []
    for _ in range(count):
        font = fonts[int(rng.integers(len(fonts)))]
        # Heights to 0.1 mm, as recipes give them, so the ideal lines repeat and cache.
        height = round(float(rng.uniform(*text_height_mm)), 1)
        stroke = round(float(rng.uniform(0.1, 0.4)), 2)
        layout = layouts[font].model_copy(update={"text_height_mm": height, "stroke_mm": stroke})
        samples.append(_sample(rng, pharma_line(rng), layout, px_per_mm, quality, defect))
    return samples


def pharma_line(rng: np.random.Generator) -> str:
    """Draw the text of one line: a GTIN, serial, lot or expiry line as coders print them, or (two
    times in five) a random string over ``CHARSET`` with the odd space, so every class shows up often.
    """
    kind = int(rng.integers(10))
    if kind < 4:
        length = int(rng.integers(4, 21))
        chars = rng.choice(list(CHARSET + " "), size=length, p=[0.97 / len(CHARSET)] * len(CHARSET) + [0.03])
        return " ".join("".join(chars).split()) or "0"
    label_colon = ":" if rng.random() < 0.3 else ""
    if kind == 4:
        body = "".join(str(d) for d in rng.integers(10, size=13))
        return f"{'GTIN' if rng.random() < 0.7 else 'PC'}{label_colon} {body}{gs1_check_digit(body)}"
    if kind == 5:
        serial = "".join(rng.choice(list(_SERIAL_ALPHABET), size=int(rng.integers(8, 17))))
        return f"{'SN' if rng.random() < 0.8 else 'S/N'}{label_colon} {serial}"
    if kind == 6:
        return f"LOT{label_colon} {_lot(rng)}"
    year, month, day = int(rng.integers(2025, 2036)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    label = ("EXP", "EXP", "MFG", "USE BY")[int(rng.integers(4))]
    date = (
        f"{year}-{month:02d}",
        f"{day:02d}.{month:02d}.{year}",
        f"{month:02d}/{year}",
        f"{month:02d}.{year}",
        f"{_MONTHS[month - 1]} {year}",
        f"{day:02d} {_MONTHS[month - 1]} {year}",
    )[int(rng.integers(6))]
    return f"{label}{label_colon} {date}"


def _lot(rng: np.random.Generator) -> str:
    """A batch number in one of the shapes plants use: SIM26A01, B24-0815, 4711, AB12345."""
    digits = "0123456789"

    def pick(alphabet: str, size: int) -> str:
        return "".join(rng.choice(list(alphabet), size=size))

    shape = int(rng.integers(4))
    if shape == 0:
        return pick(_LETTERS, 3) + pick(digits, 2) + pick(_LETTERS, 1) + pick(digits, 2)
    if shape == 1:
        return pick(_LETTERS, 1) + pick(digits, 2) + "-" + pick(digits, 4)
    if shape == 2:
        return pick(digits, int(rng.integers(4, 9)))
    return pick(_LETTERS, int(rng.integers(1, 3))) + pick(digits, int(rng.integers(4, 7)))


def _sample(
    rng: np.random.Generator,
    text: str,
    layout: PrintLayout,
    px_per_mm: float,
    quality: PrintQuality,
    defect: SampleDefect | None,
) -> LineSample:
    """Print ``text``, photograph it and cut its crop as the node does."""
    cap_px = layout.text_height_mm * px_per_mm
    # The defect draws from its own stream, seeded either way, so a sample with a defect is its
    # defect-free twin plus the defect.
    defect_rng = np.random.default_rng(int(rng.integers(2**63)))
    missing = None
    if defect == "partial":
        inked = [i for i, char in enumerate(text) if char != " "]
        side = SIDES[int(defect_rng.integers(len(SIDES)))]
        missing = MissingInk(
            inked[int(defect_rng.integers(len(inked)))], float(defect_rng.uniform(0.3, 0.6)), side
        )
    line = render_printed_line(text, layout, px_per_mm=px_per_mm, rng=rng, quality=quality, missing=missing)
    x, y, width, height = line_crop_box(line, cap_px=cap_px, px_per_mm=px_per_mm)
    # The photographed patch: the crop plus room for its residual shift and rotation and the blur.
    # The crop turns by ``turn`` against the patch, so the print, skewed by its own angle, shows at
    # their difference: drawn directly, so that difference stays within the residual rotation.
    turn = line.skew_deg - float(rng.uniform(-_RESIDUAL_ROTATION_DEG, _RESIDUAL_ROTATION_DEG))
    shift = rng.uniform(-_RESIDUAL_SHIFT_PX, _RESIDUAL_SHIFT_PX, 2)
    room = math.ceil(_RESIDUAL_SHIFT_PX + abs(math.sin(math.radians(turn))) * width / 2 + 6)
    left, top = x - room, y - room
    shape = (height + 2 * room, width + 2 * room)
    ink = np.zeros(shape, np.float32)
    # Paste the line's ink at its place, as much of it as falls in the patch.
    ix0, iy0 = max(0, left), max(0, top)
    ix1, iy1 = min(line.ink.shape[1], left + shape[1]), min(line.ink.shape[0], top + shape[0])
    if ix1 > ix0 and iy1 > iy0:
        ink[iy0 - top : iy1 - top, ix0 - left : ix1 - left] = line.ink[iy0:iy1, ix0:ix1]
    if defect == "smudge":
        smear_text(ink, (-left, -top), line, text, defect_rng)
    look = sample_appearance(rng)
    level, ink_level = carton_levels(look, rng)
    texture_gain = float(rng.uniform(1.5, 4.0))
    texture = carton_texture(rng, shape)
    # Uneven light across a line is gentler than across the frame: a 2 x 2 gain grid, spread.
    light = cv2.resize(rng.uniform(0.93, 1.05, (2, 2)).astype(np.float32), (shape[1], shape[0]))
    noise = rng.standard_normal(shape, dtype=np.float32)
    if look.blur_sigma > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), look.blur_sigma).astype(np.float32, copy=False)
    lit = light * np.float32(level)
    patch = lit + texture * np.float32(texture_gain)
    patch += ink * lit * np.float32((ink_level - level) / level)
    patch += noise * np.float32(look.noise_sigma)
    # Crop pixel -> patch pixel: the crop's centre, turned by ``turn`` and shifted.
    centre = np.array([width / 2 - 0.5, height / 2 - 0.5])
    angle = math.radians(turn)
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]])
    offset = centre + room + shift - rotation @ centre
    matrix = np.hstack([rotation, offset[:, None]])
    crop = cv2.warpAffine(
        patch,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    image = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    if look.light_on_dark:
        image = np.uint8(255) - image
    return LineSample(
        image=image,
        text=text,
        boxes=_boxes(line, matrix, (x - room, y - room), (width, height), cap_px),
        font=layout.font,
        defect=defect,
    )


def _boxes(
    line: LineInk,
    matrix: npt.NDArray[np.float64],
    patch_origin: tuple[int, int],
    size: tuple[int, int],
    cap_px: float,
) -> tuple[tuple[int, int, int, int], ...]:
    """Each cell across the capitals, skewed with the print and mapped into the crop, as a clipped box."""
    ax, ay = line.anchor
    angle = math.radians(line.skew_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    # Ink pixel edges sit half a pixel before the pixel centres the cells and anchor count.
    forward = np.array([[cos, sin], [-sin, cos]])
    inverse = np.linalg.inv(matrix[:, :2])
    cells = np.array(line.cells, np.float64)
    top, bottom = np.full(len(cells), ay), np.full(len(cells), ay + cap_px)
    # (cells, 4 corners, x y), in pixel-edge coordinates of the ink.
    corners = (
        np.stack(
            [
                np.stack([cells[:, 0], top], axis=1),
                np.stack([cells[:, 1], top], axis=1),
                np.stack([cells[:, 0], bottom], axis=1),
                np.stack([cells[:, 1], bottom], axis=1),
            ],
            axis=1,
        )
        - 0.5
    )
    # Skew about the capitals' corner, into patch pixels, then into crop pixels.
    pivot = np.array([ax - 0.5, ay - 0.5])
    skewed = (corners - pivot) @ forward.T + pivot
    crop = (skewed - patch_origin - matrix[:, 2]) @ inverse.T + 0.5
    low = np.clip(np.floor(crop.min(axis=1)), 0, size).astype(np.int64)
    high = np.clip(np.ceil(crop.max(axis=1)), 0, size).astype(np.int64)
    boxes = [
        (int(x0), int(y0), int(x1 - x0), int(y1 - y0)) for (x0, y0), (x1, y1) in zip(low, high, strict=True)
    ]
    return tuple(boxes)
