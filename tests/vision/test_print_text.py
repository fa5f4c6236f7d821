"""Line ink of every coder font: the ideal (taught) line, a coder's print of it, and the line crop box."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipes.schema import PrintLayout
from vision.fonts import DOT_FONTS, dot_line
from vision.ocr_types import CHARSET, LINE_EXTRA_CHARS, LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM
from vision.print_text import (
    IN_SPEC,
    SIDES,
    LineInk,
    MissingInk,
    PrintQuality,
    line_crop_box,
    render_line,
    render_printed_line,
    solid_cells,
)

PX_PER_MM = 10.0
FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex", "hershey_duplex", "hershey_plain")
DOT = ("dot5x7", "dot7x9")
# A print with no variation at all: the ideal line, drawn through the printing path.
PERFECT = PrintQuality(
    dropout=0.0, dot_jitter_mm=0.0, dot_size=0.0, stroke_mm=0.0, skew_deg=0.0, density=(1.0, 1.0), mottle=0.0
)


def layout(font: str, **changes: float) -> PrintLayout:
    """The default layout in ``font``."""
    return PrintLayout.model_validate({"font": font, **changes})


def inked_rows(ink: np.ndarray) -> np.ndarray:
    """Rows of ``ink`` holding at least half-covered pixels."""
    return np.flatnonzero(ink.max(axis=1) >= 0.5)


class TestIdealLine:
    """render_line: the taught template of each font."""

    @pytest.mark.parametrize("font", FONTS)
    def test_ink_contract(self, font: str) -> None:
        """float32 ink in 0..1, read-only, one abutting cell per character, spaces included."""
        text = "LOT 8B-0O/1:I."
        line = render_line(text, layout(font), px_per_mm=PX_PER_MM)
        assert line.ink.dtype == np.float32
        assert float(line.ink.min()) >= 0.0 and float(line.ink.max()) <= 1.0
        assert not line.ink.flags.writeable
        assert len(line.cells) == len(text)
        assert all(stop > start for start, stop in line.cells)
        assert all(a[1] == b[0] for a, b in zip(line.cells, line.cells[1:], strict=False))
        assert line.cells[0][0] >= 0 and line.cells[-1][1] <= line.ink.shape[1]
        assert line.skew_deg == 0.0

    @pytest.mark.parametrize("font", FONTS)
    @pytest.mark.parametrize("height_mm", [2.0, 2.6, 3.5])
    def test_cap_height_and_anchor(self, font: str, height_mm: float) -> None:
        """Capitals span text_height_mm (±1.5 px of half-covered rows), starting on the anchor's row."""
        line = render_line("HEH", layout(font, text_height_mm=height_mm), px_per_mm=PX_PER_MM)
        rows = inked_rows(line.ink)
        assert rows[-1] - rows[0] + 1 == pytest.approx(height_mm * PX_PER_MM, abs=1.5)
        assert abs(int(rows[0]) - line.anchor[1]) <= 1

    @pytest.mark.parametrize("font", DOT)
    def test_dot_cells_hold_their_glyph(self, font: str) -> None:
        """A dot font's cells are one advance wide and hold all of their character's ink."""
        text = "08BW"
        line = render_line(text, layout(font), px_per_mm=PX_PER_MM)
        advance = DOT_FONTS[font].advance_px(2.6 * PX_PER_MM)
        for index, (start, stop) in enumerate(line.cells):
            assert stop - start == pytest.approx(advance, abs=1.0)
            alone = render_line(" " * index + text[index], layout(font), px_per_mm=PX_PER_MM).ink
            columns = np.flatnonzero(alone.max(axis=0) > 0)
            assert start <= columns[0] and columns[-1] < stop
        # The anchor is the first drop's left edge.
        first = np.flatnonzero(line.ink.max(axis=0) >= 0.5)[0]
        assert abs(int(first) - line.anchor[0]) <= 1

    @pytest.mark.parametrize("font", DOT)
    def test_every_class_draws_differently(self, font: str) -> None:
        """Each CHARSET character draws its own ink; no two look the same."""
        inks = [render_line(char, layout(font), px_per_mm=PX_PER_MM).ink for char in CHARSET]
        for i, a in enumerate(inks):
            for b in inks[i + 1 :]:
                assert np.abs(a - b).max() > 0.5

    def test_hershey_is_unchanged(self) -> None:
        """A hershey line is cv2.putText's simplex text, anchored at its padding, as before tij_sans."""
        line = render_line("GTIN 09501101020917", layout("hershey_simplex"), px_per_mm=PX_PER_MM)
        thickness = 3  # stroke_mm 0.3 at 10 px/mm
        assert line.anchor == (thickness + 2, thickness + 2)
        assert line.cells[0][0] == thickness + 2

    def test_tij_is_condensed_and_heavy(self) -> None:
        """tij_sans is narrower than the simplex face and at least as heavy per character."""
        text = "EXP 2027-05"
        tij = render_line(text, layout("tij_sans"), px_per_mm=PX_PER_MM)
        simplex = render_line(text, layout("hershey_simplex", stroke_mm=0.1), px_per_mm=PX_PER_MM)
        assert tij.cells[-1][1] - tij.cells[0][0] < simplex.cells[-1][1] - simplex.cells[0][0]
        assert float(tij.ink.sum()) > 0.9 * float(simplex.ink.sum())

    def test_unknown_dot_character(self) -> None:
        """A character a dot font cannot print is refused, naming it."""
        with pytest.raises(ValueError, match="no glyph for 'a'"):
            render_line("LOT a", layout("dot5x7"), px_per_mm=PX_PER_MM)


class TestPrintedLine:
    """render_printed_line: a coder's print, varying within PrintQuality."""

    @pytest.mark.parametrize("font", FONTS)
    def test_deterministic_for_an_rng_state(self, font: str) -> None:
        """The same rng state prints the same line; another state another one."""

        def draw(seed: int) -> LineInk:
            return render_printed_line(
                "SN 4A7K9", layout(font), px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed)
            )

        np.testing.assert_array_equal(draw(1).ink, draw(1).ink)
        assert draw(1).ink.shape != draw(2).ink.shape or not np.array_equal(draw(1).ink, draw(2).ink)

    @pytest.mark.parametrize("font", FONTS)
    def test_no_variation_is_the_ideal_line(self, font: str) -> None:
        """With every variation off, the print is the taught line."""
        text = "EXP 31.05.2027"
        ideal = render_line(text, layout(font), px_per_mm=PX_PER_MM)
        printed = render_printed_line(
            text, layout(font), px_per_mm=PX_PER_MM, rng=np.random.default_rng(0), quality=PERFECT
        )
        assert (printed.anchor, printed.cells) == (ideal.anchor, ideal.cells)
        np.testing.assert_allclose(printed.ink, ideal.ink, atol=1e-6)

    @pytest.mark.parametrize("font", FONTS)
    def test_density_range(self, font: str) -> None:
        """The ink's total follows the drawn density: within 0.65..1 of the ideal's (plus stroke growth)."""
        text = "LOT B24-0815"
        ideal = float(render_line(text, layout(font), px_per_mm=PX_PER_MM).ink.sum())
        rng = np.random.default_rng(3)
        ratios = [
            float(render_printed_line(text, layout(font), px_per_mm=PX_PER_MM, rng=rng).ink.sum()) / ideal
            for _ in range(30)
        ]
        assert min(ratios) > 0.65 * 0.88 * 0.9 and max(ratios) < 1.15
        assert max(ratios) - min(ratios) > 0.15

    @pytest.mark.parametrize("font", DOT)
    def test_missing_drops_are_scattered(self, font: str) -> None:
        """Missing drops are about ``dropout`` of all, and never two neighbours in a stroke."""
        text = "8B0OMWHE" * 3
        quality = dataclasses.replace(PERFECT, dropout=0.25)
        cap = 2.6 * PX_PER_MM
        nominal = dot_line(text, DOT_FONTS[font], cap)
        missing_total = 0
        for seed in range(20):
            line = render_printed_line(
                text, layout(font), px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed), quality=quality
            )
            # Each drop's centre pixel is full when printed and bare when not (drops do not reach
            # their neighbours' centres).
            x = np.rint(nominal.centres[:, 0] + line.anchor[0] - 0.5).astype(int)
            y = np.rint(nominal.centres[:, 1] + line.anchor[1] - 0.5).astype(int)
            missing = line.ink[y, x] < 0.5
            missing_total += int(missing.sum())
            grid = {tuple(cell) for cell in nominal.grid[missing]}
            for row, column in grid:
                neighbours = {(row + dy, column + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)} - {
                    (row, column)
                }
                assert not neighbours & grid, (seed, row, column)
        share = missing_total / (20 * len(nominal.centres))
        # The neighbour rule thins the 25 % drawn to roughly 12 %.
        assert 0.05 < share < 0.25

    @pytest.mark.parametrize("font", DOT)
    def test_in_spec_dropout_is_small(self, font: str) -> None:
        """In specification, at most about 3 % of the drops are missing."""
        text = "GTIN 09501101020917"
        cap = 2.6 * PX_PER_MM
        nominal = dot_line(text, DOT_FONTS[font], cap)
        quality = dataclasses.replace(IN_SPEC, dot_jitter_mm=0.0, skew_deg=0.0, dot_size=0.0)
        missing = 0
        for seed in range(20):
            line = render_printed_line(
                text, layout(font), px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed), quality=quality
            )
            x = np.rint(nominal.centres[:, 0] + line.anchor[0] - 0.5).astype(int)
            y = np.rint(nominal.centres[:, 1] + line.anchor[1] - 0.5).astype(int)
            missing += int((line.ink[y, x] < 0.2).sum())
        assert 0 < missing <= 0.03 * 20 * len(nominal.centres)

    @pytest.mark.parametrize("font", FONTS)
    def test_skew(self, font: str) -> None:
        """A line is skewed by the angle it reports (counter-clockwise when positive), within the limit."""
        text = "HHHHHHHHHHHHHHHH"
        quality = dataclasses.replace(PERFECT, skew_deg=1.0)
        for seed in range(6):
            line = render_printed_line(
                text, layout(font), px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed), quality=quality
            )
            assert abs(line.skew_deg) <= 1.0
            # Ink's vertical centroid per cell: it climbs (y falls) along a counter-clockwise line.
            ys = np.arange(line.ink.shape[0], dtype=np.float64)
            xs = np.array([0.5 * (a + b) for a, b in line.cells])
            heights = np.array(
                [ys @ line.ink[:, a:b].sum(axis=1) / line.ink[:, a:b].sum() for a, b in line.cells]
            )
            slope = float(np.polyfit(xs, heights, 1)[0])
            assert -math.degrees(math.atan(slope)) == pytest.approx(line.skew_deg, abs=0.1)

    @pytest.mark.parametrize("font", FONTS)
    @pytest.mark.parametrize("side", SIDES)
    def test_missing_ink_hits_one_character(self, font: str, side: str) -> None:
        """MissingInk removes its fraction of one character's ink (±12 %) and nothing outside its cell."""
        text = "LOT 8B0Q"
        target = 5
        rng_state = np.random.default_rng(7).bit_generator.state
        prints = []
        for missing in (None, MissingInk(char=target, fraction=0.45, side=side)):  # type: ignore[arg-type]
            rng = np.random.default_rng()
            rng.bit_generator.state = rng_state
            prints.append(
                render_printed_line(text, layout(font), px_per_mm=PX_PER_MM, rng=rng, missing=missing)
            )
        whole, partial = prints
        assert whole.ink.shape == partial.ink.shape
        lost = whole.ink - partial.ink
        assert float(lost.min()) >= -1e-6
        start, stop = whole.cells[target]
        assert not lost[:, : start - 1].any() and not lost[:, stop + 1 :].any()
        share = float(lost.sum()) / float(whole.ink[:, start:stop].sum())
        assert share == pytest.approx(0.45, abs=0.12)

    def test_missing_ink_must_fit(self) -> None:
        """A MissingInk past the text or with a fraction outside 0..1 is refused."""
        for missing in (
            MissingInk(char=9, fraction=0.4, side="top"),
            MissingInk(char=0, fraction=1.0, side="top"),
        ):
            with pytest.raises(ValueError, match="does not fit"):
                render_printed_line(
                    "LOT 1",
                    layout("dot5x7"),
                    px_per_mm=PX_PER_MM,
                    rng=np.random.default_rng(0),
                    missing=missing,
                )


class TestPrintQuality:
    """The limits of a print."""

    def test_in_spec_values(self) -> None:
        """IN_SPEC is the documented specification."""
        assert (IN_SPEC.dropout, IN_SPEC.dot_jitter_mm, IN_SPEC.dot_size, IN_SPEC.skew_deg) == (
            0.03,
            0.04,
            0.15,
            1.0,
        )
        assert IN_SPEC.density == (0.65, 1.0)

    @pytest.mark.parametrize(
        "changes",
        [{"dropout": 0.5}, {"dot_size": -0.1}, {"skew_deg": 12.0}, {"density": (0.9, 0.5)}, {"mottle": 1.0}],
    )
    def test_refuses_impossible_limits(self, changes: dict[str, object]) -> None:
        """A limit outside its range is a ValueError naming it."""
        name = next(iter(changes))
        with pytest.raises(ValueError, match=f"PrintQuality.{name}"):
            PrintQuality(**changes)  # type: ignore[arg-type]


class TestLineCropBox:
    """The crop convention of vision.ocr_types, in line-ink pixels."""

    @pytest.mark.parametrize("font", FONTS)
    def test_convention(self, font: str) -> None:
        """LINE_MARGIN_X/Y_MM around the capitals, LINE_EXTRA_CHARS advances after the last cell."""
        text = "SN 4A7K9"
        line = render_line(text, layout(font), px_per_mm=PX_PER_MM)
        x, y, width, height = line_crop_box(line, cap_px=26.0, px_per_mm=PX_PER_MM)
        assert x == line.anchor[0] - round(LINE_MARGIN_X_MM * PX_PER_MM)
        assert y == line.anchor[1] - round(LINE_MARGIN_Y_MM * PX_PER_MM)
        assert height == 26 + 2 * round(LINE_MARGIN_Y_MM * PX_PER_MM)
        advance = (line.cells[-1][1] - line.cells[0][0]) / len(text)
        assert x + width == pytest.approx(line.cells[-1][1] + LINE_EXTRA_CHARS * advance, abs=1.0)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet=CHARSET + " ", min_size=1, max_size=20),
    font=st.sampled_from(("tij_sans", "hershey_simplex", "hershey_duplex", "hershey_plain")),
    px_per_mm=st.sampled_from((8.0, 10.0, 12.0, 13.0, 14.5)),
)
def test_solid_cells_are_the_drawn_lines(text: str, font: str, px_per_mm: float) -> None:
    # The completeness check places glyphs by these without drawing the line: they must be the
    # drawn line's own.
    layout = PrintLayout(font=font)  # type: ignore[arg-type]
    drawn = render_line(text, layout, px_per_mm=px_per_mm)
    assert solid_cells(text, layout, px_per_mm=px_per_mm) == (drawn.anchor, drawn.cells)
