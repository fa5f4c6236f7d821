"""The coder fonts the printer draws and the readers must know: CIJ dot matrices and a TIJ solid sans.

Continuous-inkjet (CIJ) coders print characters as a matrix of round drops, one column per
stroke of the print head; 5 x 7 and 7 x 9 are the two matrices every pharma CIJ coder offers.
The glyph tables below follow their common design (the HD44780 / CIJ 5 x 7 lineage), with the
look-alike pairs of pharma data kept apart: a slashed 0 against O and D, 8 against B, 1 with a
flag against a serifed I, 5 with a flat top against S, 2 with a round top against Z.

Thermal-inkjet (TIJ) and thermal-transfer coders print at 300-600 dpi, finer than a line camera
resolves, so their text is solid strokes: ``tij_sans`` is OpenCV's simplex face drawn heavy (on
OpenCV 4 a rounded Hershey stroke of 14 % of the cap height, on OpenCV 5 the built-in face's bold
weight) and condensed, as TIJ coders print to fit a 12.7 mm head. Nothing here needs a font file.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DOT_DIAMETER",
    "DOT_FONTS",
    "TIJ_CONDENSED",
    "TIJ_STROKE",
    "DotLine",
    "DotMatrixFont",
    "dot_line",
    "draw_dots",
]

DOT_DIAMETER: Final = 0.85
"""Drop diameter on the carton as a fraction of the dot pitch: neighbouring drops nearly touch."""

TIJ_STROKE: Final = 0.14
"""``tij_sans`` stroke width as a fraction of the cap height."""

TIJ_CONDENSED: Final = 0.82
"""``tij_sans`` width as a fraction of the simplex face's."""


@dataclass(frozen=True, slots=True)
class DotMatrixFont:
    """A CIJ dot-matrix font: every glyph is ``rows`` x ``columns`` drop positions."""

    name: str
    columns: int
    rows: int
    glyphs: MappingProxyType[str, npt.NDArray[np.bool_]]
    """Character -> (rows, columns) bool, True where a drop is printed; read-only arrays."""

    def glyph(self, char: str) -> npt.NDArray[np.bool_]:
        """The (rows, columns) drop pattern of ``char``.

        Raises
        ------
        ValueError
            If the font has no glyph for ``char``.
        """
        try:
            return self.glyphs[char]
        except KeyError:
            known = "".join(sorted(self.glyphs))
            raise ValueError(f"font {self.name} has no glyph for {char!r}; it prints {known!r}") from None

    def pitch_px(self, cap_px: float) -> float:
        """Dot pitch (centre to centre, both axes) that makes the capitals ``cap_px`` tall, drops included."""
        return cap_px / (self.rows - 1 + DOT_DIAMETER)

    def advance_px(self, cap_px: float) -> float:
        """Character advance: the glyph's columns plus one empty column, as CIJ coders space them."""
        return (self.columns + 1) * self.pitch_px(cap_px)


def _font(name: str, rows: int, columns: int, table: dict[str, str]) -> DotMatrixFont:
    glyphs = {" ": np.zeros((rows, columns), np.bool_)}
    for char, pattern in table.items():
        lines = pattern.split()
        glyph = np.array([[c == "#" for c in line] for line in lines], np.bool_)
        # The tables are data typed by hand: a wrong row length would silently misalign a glyph.
        assert glyph.shape == (rows, columns), (name, char, glyph.shape)
        glyphs[char] = glyph
    for glyph in glyphs.values():
        glyph.setflags(write=False)
    return DotMatrixFont(name=name, columns=columns, rows=rows, glyphs=MappingProxyType(glyphs))


# One string per glyph, rows top to bottom separated by spaces, "#" = drop.
_DOT5X7 = {
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "A": ".###. #...# #...# #...# ##### #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
}

_DOT7X9 = {
    "0": "..###.. .#...#. #....## #...#.# #..#..# #.#...# ##....# .#...#. ..###..",
    "1": "...#... ..##... .#.#... ...#... ...#... ...#... ...#... ...#... .#####.",
    "2": ".#####. #.....# ......# .....#. ....#.. ...#... ..#.... .#..... #######",
    "3": ".#####. #.....# ......# ......# ..####. ......# ......# #.....# .#####.",
    "4": "....##. ...#.#. ..#..#. .#...#. #....#. ####### .....#. .....#. .....#.",
    "5": "####### #...... #...... ######. ......# ......# ......# #.....# .#####.",
    "6": "..####. .#..... #...... #...... ######. #.....# #.....# #.....# .#####.",
    "7": "####### ......# .....#. ....#.. ...#... ..#.... ..#.... ..#.... ..#....",
    "8": ".#####. #.....# #.....# #.....# .#####. #.....# #.....# #.....# .#####.",
    "9": ".#####. #.....# #.....# #.....# .###### ......# ......# .....#. .####..",
    "A": "..###.. .#...#. #.....# #.....# #.....# ####### #.....# #.....# #.....#",
    "B": "######. #.....# #.....# #.....# ######. #.....# #.....# #.....# ######.",
    "C": ".#####. #.....# #...... #...... #...... #...... #...... #.....# .#####.",
    "D": "#####.. #....#. #.....# #.....# #.....# #.....# #.....# #....#. #####..",
    "E": "####### #...... #...... #...... ######. #...... #...... #...... #######",
    "F": "####### #...... #...... #...... ######. #...... #...... #...... #......",
    "G": ".#####. #.....# #...... #...... #..#### #.....# #.....# #....## .####.#",
    "H": "#.....# #.....# #.....# #.....# ####### #.....# #.....# #.....# #.....#",
    "I": ".#####. ...#... ...#... ...#... ...#... ...#... ...#... ...#... .#####.",
    "J": "..##### ....#.. ....#.. ....#.. ....#.. ....#.. #...#.. #...#.. .###...",
    "K": "#.....# #....#. #...#.. #..#... ###.... #..#... #...#.. #....#. #.....#",
    "L": "#...... #...... #...... #...... #...... #...... #...... #...... #######",
    "M": "#.....# ##...## #.#.#.# #..#..# #..#..# #.....# #.....# #.....# #.....#",
    "N": "#.....# ##....# #.#...# #..#..# #...#.# #....## #.....# #.....# #.....#",
    "O": ".#####. #.....# #.....# #.....# #.....# #.....# #.....# #.....# .#####.",
    "P": "######. #.....# #.....# #.....# ######. #...... #...... #...... #......",
    "Q": ".#####. #.....# #.....# #.....# #.....# #..#..# #...#.# #....#. .####.#",
    "R": "######. #.....# #.....# #.....# ######. #...#.. #....#. #.....# #.....#",
    "S": ".#####. #.....# #...... #...... .#####. ......# ......# #.....# .#####.",
    "T": "####### ...#... ...#... ...#... ...#... ...#... ...#... ...#... ...#...",
    "U": "#.....# #.....# #.....# #.....# #.....# #.....# #.....# #.....# .#####.",
    "V": "#.....# #.....# #.....# #.....# .#...#. .#...#. .#...#. ..#.#.. ...#...",
    "W": "#.....# #.....# #.....# #.....# #..#..# #..#..# #.#.#.# ##...## #.....#",
    "X": "#.....# #.....# .#...#. ..#.#.. ...#... ..#.#.. .#...#. #.....# #.....#",
    "Y": "#.....# #.....# .#...#. ..#.#.. ...#... ...#... ...#... ...#... ...#...",
    "Z": "####### ......# .....#. ....#.. ...#... ..#.... .#..... #...... #######",
    "-": "....... ....... ....... ....... .#####. ....... ....... ....... .......",
    ".": "....... ....... ....... ....... ....... ....... ....... ..##... ..##...",
    "/": "......# ......# .....#. ....#.. ...#... ..#.... .#..... #...... #......",
    ":": "....... ..##... ..##... ....... ....... ....... ..##... ..##... .......",
}

DOT_FONTS: Final = MappingProxyType(
    {
        "dot5x7": _font("dot5x7", 7, 5, _DOT5X7),
        "dot7x9": _font("dot7x9", 9, 7, _DOT7X9),
    }
)
"""The CIJ fonts by their ``PrintLayout.font`` name; each prints ``vision.ocr_types.CHARSET`` and space."""


_SUBSAMPLES = 3
_THIRDS = (-1 / 3, 0.0, 1 / 3)


@dataclass(frozen=True, slots=True)
class DotLine:
    """The drops of one text line at their nominal places."""

    centres: npt.NDArray[np.float64]
    """(n, 2) x, y of each drop's centre in px, from the top-left of the line's capitals."""
    chars: npt.NDArray[np.int64]
    """(n,) index in the text of the character each drop belongs to."""
    grid: npt.NDArray[np.int64]
    """(n, 2) row and column of each drop in the line's dot grid (glyph columns plus one gap column
    per character), so that drops next to each other in a stroke are grid neighbours."""
    pitch: float
    """Dot pitch in px."""
    advance: float
    """Character advance in px."""


def dot_line(text: str, font: DotMatrixFont, cap_px: float) -> DotLine:
    """Lay out ``text`` in a dot-matrix font with capitals ``cap_px`` tall.

    Raises
    ------
    ValueError
        If the font has no glyph for a character of ``text``.
    """
    pitch = font.pitch_px(cap_px)
    chars, rows, columns = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for index, char in enumerate(text):
        r, c = np.nonzero(font.glyph(char))
        chars.append(np.full(r.size, index, np.int64))
        rows.append(r)
        columns.append(c + index * (font.columns + 1))
    grid = np.stack([np.concatenate(rows), np.concatenate(columns)], axis=1).astype(np.int64)
    radius = DOT_DIAMETER * pitch / 2
    centres = grid[:, ::-1].astype(np.float64) * pitch + radius
    return DotLine(
        centres=centres,
        chars=np.concatenate(chars),
        grid=grid,
        pitch=pitch,
        advance=(font.columns + 1) * pitch,
    )


def draw_dots(
    shape: tuple[int, int],
    centres: npt.NDArray[np.float64],
    diameters: npt.NDArray[np.float64],
    density: npt.NDArray[np.float64],
) -> npt.NDArray[np.float32]:
    """Round, anti-aliased drops on a blank canvas; where drops overlap the darker one wins.

    Parameters
    ----------
    shape : (h, w)
        Canvas size in px.
    centres : (n, 2) float ndarray
        x, y of each drop's centre in px (pixel centres at integers); every drop must lie inside
        the canvas with its largest radius plus one pixel to spare.
    diameters : (n,) float ndarray
        Each drop's diameter in px (> 0).
    density : (n,) float ndarray
        Each drop's ink density, 0..1.

    Returns
    -------
    (h, w) float32 ndarray
        Ink coverage 0..1: the share of each pixel under its drop (sampled at 3 x 3 points per
        pixel, each anti-aliased), times the drop's density.

    Raises
    ------
    ValueError
        If the arrays disagree in length, a diameter is not positive or a drop reaches past the canvas.
    """
    n = centres.shape[0]
    if centres.shape != (n, 2) or diameters.shape != (n,) or density.shape != (n,):
        raise ValueError(
            f"centres {centres.shape}, diameters {diameters.shape}, density {density.shape}: "
            "expected (n, 2), (n,), (n,)"
        )
    canvas = np.zeros(shape, np.float32)
    if n == 0:
        return canvas
    if not (diameters > 0).all():
        raise ValueError(f"drop diameters must be > 0, got minimum {diameters.min()}")
    radius = diameters / 2
    # Each drop's patch of (2 reach + 1)^2 pixels around its nearest pixel: the centre is within half
    # a pixel of it and a sample within a third of a pixel's centre, so coverage ends within r + 1.
    reach = int(np.ceil(radius.max()))
    base = np.rint(centres).astype(np.int64)
    if (
        (base - reach).min() < 0
        or (base[:, 0] + reach >= shape[1]).any()
        or (base[:, 1] + reach >= shape[0]).any()
    ):
        raise ValueError(f"a drop reaches past the {shape} canvas")
    offsets = np.arange(-reach, reach + 1)
    xs = base[:, 0, None, None] + offsets[None, None, :]
    ys = base[:, 1, None, None] + offsets[None, :, None]
    dx = xs - centres[:, 0, None, None]
    dy = ys - centres[:, 1, None, None]
    r = radius[:, None, None]
    # Coverage of each third of a pixel by the disc is close to clip(3 (r - distance) + 1/2) (exact
    # for a straight rim through it); the mean over the 3 x 3 thirds is the pixel's coverage.
    coverage = np.zeros((n, offsets.size, offsets.size))
    for sy in _THIRDS:
        for sx in _THIRDS:
            coverage += np.clip(_SUBSAMPLES * (r - np.hypot(dx + sx, dy + sy)) + 0.5, 0.0, 1.0)
    coverage *= density[:, None, None] / _SUBSAMPLES**2
    np.maximum.at(canvas, (ys, xs), coverage.astype(np.float32))
    return canvas
