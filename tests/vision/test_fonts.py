"""The CIJ dot-matrix glyph tables, their line layout and the drop renderer."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.fonts import DOT_DIAMETER, DOT_FONTS, DotMatrixFont, dot_line, draw_dots
from vision.ocr_types import CHARSET

FONTS = sorted(DOT_FONTS)
# Pairs pharma OCR confuses most: each must differ by at least two drops in both fonts.
LOOK_ALIKES = (("0", "O"), ("0", "D"), ("O", "D"), ("8", "B"), ("1", "I"), ("5", "S"), ("2", "Z"), ("O", "Q"))


@pytest.fixture(params=FONTS)
def font(request: pytest.FixtureRequest) -> DotMatrixFont:
    """Each dot-matrix font in turn."""
    return DOT_FONTS[request.param]


class TestGlyphTables:
    """What the fonts can print."""

    def test_both_matrices(self) -> None:
        """dot5x7 is 5 columns by 7 rows, dot7x9 7 by 9, as CIJ coders name them."""
        assert (DOT_FONTS["dot5x7"].columns, DOT_FONTS["dot5x7"].rows) == (5, 7)
        assert (DOT_FONTS["dot7x9"].columns, DOT_FONTS["dot7x9"].rows) == (7, 9)

    def test_every_class_and_space(self, font: DotMatrixFont) -> None:
        """Every CHARSET character and space has a glyph of the font's matrix size."""
        for char in CHARSET + " ":
            assert font.glyph(char).shape == (font.rows, font.columns), char

    def test_space_blank_others_inked(self, font: DotMatrixFont) -> None:
        """Space prints nothing; every class prints at least four drops (a period is 2 x 2)."""
        assert not font.glyph(" ").any()
        assert all(font.glyph(char).sum() >= 4 for char in CHARSET)

    def test_no_two_glyphs_alike(self, font: DotMatrixFont) -> None:
        """No two characters share a drop pattern."""
        for a, b in itertools.combinations(CHARSET + " ", 2):
            assert not np.array_equal(font.glyph(a), font.glyph(b)), (a, b)

    @pytest.mark.parametrize(("a", "b"), LOOK_ALIKES)
    def test_look_alikes_differ_by_two_drops(self, font: DotMatrixFont, a: str, b: str) -> None:
        """Look-alikes differ in at least two drops: one missing drop cannot turn one into the other."""
        assert int((font.glyph(a) != font.glyph(b)).sum()) >= 2

    def test_capitals_fill_the_matrix(self, font: DotMatrixFont) -> None:
        """Letters and digits reach the top and bottom rows (cap height = matrix height)."""
        for char in CHARSET[:36]:
            glyph = font.glyph(char)
            assert glyph[0].any() and glyph[-1].any(), char

    def test_glyphs_are_read_only(self, font: DotMatrixFont) -> None:
        """A glyph cannot be changed by a caller."""
        with pytest.raises(ValueError, match="read-only"):
            font.glyph("A")[0, 0] = True

    def test_unknown_character(self, font: DotMatrixFont) -> None:
        """A character the font lacks is a ValueError naming it and the font."""
        with pytest.raises(ValueError, match=rf"{font.name} has no glyph for 'a'"):
            font.glyph("a")


class TestDotLine:
    """Laying out a line's drops."""

    def test_drops_per_character(self, font: DotMatrixFont) -> None:
        """Each character contributes its glyph's drops, tagged with its index."""
        text = "LOT 8B"
        line = dot_line(text, font, 26.0)
        for index, char in enumerate(text):
            assert int((line.chars == index).sum()) == int(font.glyph(char).sum())

    def test_geometry(self, font: DotMatrixFont) -> None:
        """Drops span exactly the cap height; characters advance by their columns plus one pitch."""
        cap = 26.0
        line = dot_line("H1", font, cap)
        radius = DOT_DIAMETER * line.pitch / 2
        ys = line.centres[:, 1]
        assert ys.min() - radius == pytest.approx(0.0)
        assert ys.max() + radius == pytest.approx(cap)
        assert line.advance == pytest.approx((font.columns + 1) * line.pitch)
        first = line.centres[line.chars == 0, 0].min()
        second = line.centres[line.chars == 1, 0]
        # "1" has no drop in its first column in either font; its flag starts one or two columns in.
        assert (second.min() - first) / line.pitch == pytest.approx(
            round((second.min() - first) / line.pitch)
        )
        assert second.max() - first <= line.advance + (font.columns - 1) * line.pitch + 1e-9

    def test_empty_line(self, font: DotMatrixFont) -> None:
        """An empty text has no drops."""
        assert dot_line("", font, 26.0).centres.shape == (0, 2)


class TestDrawDots:
    """Round anti-aliased drops."""

    @settings(max_examples=60, deadline=None)
    @given(
        x=st.floats(10.0, 20.0),
        y=st.floats(10.0, 20.0),
        diameter=st.floats(1.5, 8.0),
        density=st.floats(0.2, 1.0),
    )
    def test_ink_is_the_drops_area(self, x: float, y: float, diameter: float, density: float) -> None:
        """One drop's ink sums to its area times its density (within the rim's rounding)."""
        ink = draw_dots((32, 32), np.array([[x, y]]), np.array([diameter]), np.array([density]))
        area = math.pi * diameter**2 / 4
        assert float(ink.sum()) == pytest.approx(area * density, rel=0.03)
        assert float(ink.max()) <= density + 1e-6
        assert ink.dtype == np.float32

    def test_centre_is_full_rim_fades(self) -> None:
        """A drop is full at its centre and zero two pixels beyond its rim."""
        ink = draw_dots((20, 20), np.array([[10.0, 10.0]]), np.array([4.0]), np.array([1.0]))
        assert ink[10, 10] == pytest.approx(1.0)
        assert ink[10, 14] == 0.0
        assert 0.0 < ink[10, 12] < 1.0

    def test_overlap_keeps_the_darker(self) -> None:
        """Where two drops overlap, coverage is the larger one's, never more than full ink."""
        ink = draw_dots(
            (20, 30), np.array([[10.0, 10.0], [12.0, 10.0]]), np.array([5.0, 5.0]), np.array([1.0, 0.5])
        )
        assert float(ink.max()) <= 1.0
        assert ink[10, 11] == pytest.approx(1.0)

    def test_refuses_drops_off_the_canvas(self) -> None:
        """A drop reaching past the canvas is a ValueError, not a wrapped index."""
        with pytest.raises(ValueError, match="reaches past"):
            draw_dots((20, 20), np.array([[1.0, 10.0]]), np.array([4.0]), np.array([1.0]))

    def test_refuses_mismatched_arrays(self) -> None:
        """Arrays of different lengths are a ValueError naming their shapes."""
        with pytest.raises(ValueError, match=r"expected \(n, 2\)"):
            draw_dots((20, 20), np.array([[10.0, 10.0]]), np.array([4.0, 4.0]), np.array([1.0]))

    def test_no_drops(self) -> None:
        """No drops is a blank canvas."""
        blank = draw_dots((5, 6), np.zeros((0, 2)), np.zeros(0), np.zeros(0))
        assert blank.shape == (5, 6) and not blank.any()
