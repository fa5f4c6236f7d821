"""The print's completeness against its font: whole characters pass, a character with part missing fails."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipes.schema import PrintLayout
from vision.ocr_types import LINE_EXTRA_CHARS, LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM
from vision.print_completeness import extra_rows, line_completeness
from vision.print_text import IN_SPEC, SIDES, MissingInk, render_printed_line
from vision.text_region import extract_lines

FONTS = ("dot5x7", "dot7x9", "tij_sans", "hershey_simplex")
PX_PER_MM = 10.0
EXTRA = extra_rows(PX_PER_MM)


def _crop(
    text: str,
    font: str,
    seed: int,
    *,
    missing: MissingInk | None = None,
    extra: int = EXTRA,
    shift: tuple[int, int] = (0, 0),
) -> npt.NDArray[np.uint8]:
    """A line crop of the node's convention (grown by ``extra`` rows), the print placed ``shift``
    px off nominal, on a noisy carton with camera blur."""
    rng = np.random.default_rng(seed)
    layout = PrintLayout(font=font)
    line = render_printed_line(text, layout, px_per_mm=PX_PER_MM, rng=rng, quality=IN_SPEC, missing=missing)
    margin_x = round(LINE_MARGIN_X_MM * PX_PER_MM)
    margin_y = round(LINE_MARGIN_Y_MM * PX_PER_MM) + extra
    cap = round(layout.text_height_mm * PX_PER_MM)
    advance = (line.cells[-1][1] - line.cells[0][0]) / len(line.cells)
    width = line.cells[-1][1] - line.anchor[0] + margin_x + round(LINE_EXTRA_CHARS * advance)
    ink = np.zeros((cap + 2 * margin_y, width), np.float32)
    # The line's anchor (its capitals' top-left) lands at the margins, moved by ``shift``.
    dx, dy = margin_x - line.anchor[0] + shift[0], margin_y - line.anchor[1] + shift[1]
    h = min(line.ink.shape[0], ink.shape[0] - max(dy, 0))
    w = min(line.ink.shape[1], ink.shape[1] - max(dx, 0))
    src = line.ink[max(-dy, 0) : h, max(-dx, 0) : w]
    ink[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    ink = cv2.GaussianBlur(ink, (0, 0), 0.8)
    grey = 195.0 - 150.0 * ink + rng.normal(0.0, 3.0, ink.shape)
    return np.clip(grey, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("font", FONTS)
def test_a_whole_print_is_complete_in_every_font(font: str) -> None:
    text = "LOT A1B2 30.04.2028"
    for seed in range(6):
        found = line_completeness(
            _crop(text, font, seed), text, PrintLayout(font=font), px_per_mm=PX_PER_MM, extra=EXTRA
        )
        assert [c.index for c in found] == [i for i, ch in enumerate(text) if ch != " "]
        assert [c.char for c in found] == [ch for ch in text if ch != " "]
        assert all(c.complete for c in found), [(c.char, round(c.score, 2)) for c in found if not c.complete]


@pytest.mark.parametrize("font", FONTS)
@pytest.mark.parametrize("side", SIDES)
def test_a_character_with_part_missing_is_incomplete(font: str, side: str) -> None:
    text = "EXP 2028-04 ABCDEFGH"
    layout = PrintLayout(font=font)
    target = text.index("B")
    missing = MissingInk(char=target, fraction=0.45, side=side)  # type: ignore[arg-type]
    found = line_completeness(
        _crop(text, font, 3, missing=missing), text, layout, px_per_mm=PX_PER_MM, extra=EXTRA
    )
    broken = [c.index for c in found if not c.complete]
    assert broken == [target], [(c.char, round(c.score, 2)) for c in found]


@pytest.mark.parametrize("font", FONTS)
def test_the_print_is_found_where_the_crop_misplaces_it(font: str) -> None:
    # The crop's residual error: a few px either way.
    text = "SN 5A47M5QUYNKA"
    layout = PrintLayout(font=font)
    for shift in ((3, 3), (-3, -4), (2, -6)):
        found = line_completeness(
            _crop(text, font, 11, shift=shift), text, layout, px_per_mm=PX_PER_MM, extra=EXTRA
        )
        assert all(c.complete for c in found), (shift, [(c.char, round(c.score, 2)) for c in found])


def test_a_blank_crop_is_all_incomplete() -> None:
    text = "GTIN 09506000134352"
    for font in FONTS:
        blank = np.full((int(2.6 * PX_PER_MM) + 12, 300), 190, np.uint8)
        blank = np.clip(blank + np.random.default_rng(1).normal(0, 3, blank.shape), 0, 255).astype(np.uint8)
        found = line_completeness(blank, text, PrintLayout(font=font), px_per_mm=PX_PER_MM)
        assert not any(c.complete for c in found), font


def test_a_line_of_spaces_has_nothing_to_measure() -> None:
    assert (
        line_completeness(np.full((38, 80), 190, np.uint8), "   ", PrintLayout(), px_per_mm=PX_PER_MM) == ()
    )


@pytest.mark.parametrize(
    ("crop", "px_per_mm", "extra", "message"),
    [
        (np.zeros((38, 80), np.float32), 10.0, 0, "2-D uint8"),
        (np.zeros((38, 80, 3), np.uint8), 10.0, 0, "2-D uint8"),
        (np.zeros((38, 80), np.uint8), 0.0, 0, "px_per_mm"),
        (np.zeros((38, 80), np.uint8), float("nan"), 0, "px_per_mm"),
        (np.zeros((38, 80), np.uint8), 10.0, -1, "extra"),
    ],
)
def test_bad_input_is_refused_by_name(crop: np.ndarray, px_per_mm: float, extra: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        line_completeness(crop, "LOT 1", PrintLayout(), px_per_mm=px_per_mm, extra=extra)


@settings(max_examples=12, deadline=None)
@given(
    text=st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=4, max_size=12),
    font=st.sampled_from(FONTS),
    seed=st.integers(0, 10_000),
)
def test_any_whole_serial_is_complete(text: str, font: str, seed: int) -> None:
    line = "SN " + text
    found = line_completeness(
        _crop(line, font, seed), line, PrintLayout(font=font), px_per_mm=PX_PER_MM, extra=EXTRA
    )
    assert len(found) == len(text) + 2
    assert all(c.complete for c in found), [(c.char, round(c.score, 2)) for c in found if not c.complete]


@pytest.mark.parametrize("font", ("tij_sans", "hershey_simplex"))
@pytest.mark.parametrize("fraction", (0.3, 0.32))
def test_a_t_missing_its_top_bar_is_incomplete(font: str, fraction: float) -> None:
    # The held-back escape: a T of a lot losing about a third of its ink from the top (most of its
    # bar) while the rest of the glyph reads as a T.
    text = "LOT P1G31TUT"
    target = 9
    for seed in range(4):
        missing = MissingInk(char=target, fraction=fraction, side="top")
        found = line_completeness(
            _crop(text, font, seed, missing=missing),
            text,
            PrintLayout(font=font),
            px_per_mm=PX_PER_MM,
            extra=EXTRA,
        )
        assert [c.index for c in found if not c.complete] == [target], [
            (c.char, round(c.score, 2)) for c in found
        ]


@pytest.mark.parametrize("font", ("tij_sans", "hershey_simplex"))
def test_whole_tiny_glyphs_are_complete(font: str) -> None:
    # Points, hyphens and colons: too small for halves, weighed whole on their own line's height.
    text = "EXP 30.04.2028 12:30 A-B"
    for seed in range(10):
        found = line_completeness(
            _crop(text, font, seed), text, PrintLayout(font=font), px_per_mm=PX_PER_MM, extra=EXTRA
        )
        tiny = [c for c in found if c.char in ".-:"]
        assert len(tiny) == 4
        assert all(c.complete for c in found), [(c.char, round(c.score, 2)) for c in found if not c.complete]


def test_the_held_back_t_with_its_bar_missing_is_flagged_in_the_frame() -> None:
    # The escape as the node met it (bench.ocr's held-back set, seed 5000): a Hershey frame whose lot's
    # second T lost 32 % of its ink from the top, read as the lot by the dl reader at 0.5. The crops
    # above do not reproduce it; the whole frame, cut out as the node cuts it, does.
    from bench.ocr import OcrPlan, expected_lines, held_back_set

    samples = held_back_set(OcrPlan(good_per_font=0, wrong_per_font=16))
    (sample,) = [s for s in samples if s.unit.serial == "BXZ6G06BNKEA"]
    assert sample.code is not None and sample.unit.defect is not None
    layout, px_per_mm = sample.recipe.print_layout, sample.recipe.inspection.px_per_mm
    expected = expected_lines(sample)
    extra = extra_rows(px_per_mm)
    crops = extract_lines(
        sample.frame,
        corners=sample.code.corners,
        layout=layout,
        expected_lines=expected,
        px_per_mm=px_per_mm,
        extra_rows=extra,
    )
    flagged = [
        (line, c.index)
        for line, (crop, text) in enumerate(zip(crops, expected, strict=True))
        for c in line_completeness(crop, text, layout, px_per_mm=px_per_mm, extra=extra)
        if not c.complete
    ]
    assert flagged == [(2, 9)], flagged
