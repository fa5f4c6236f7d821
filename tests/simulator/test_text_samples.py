"""Line samples for OCR training: the crop convention, the truth that comes with them, their defects."""

from __future__ import annotations

import collections
import re

import numpy as np
import numpy.typing as npt
import pytest

from simulator.text_samples import DEFAULT_FONTS, LineSample, line_samples, pharma_line
from vision.gs1 import gs1_check_digit
from vision.ocr_types import CHARSET, LINE_MARGIN_X_MM, LINE_MARGIN_Y_MM

PX_PER_MM = 10.0


@pytest.fixture(scope="module")
def samples() -> list[LineSample]:
    """300 samples at the default settings."""
    return line_samples(np.random.default_rng(11), 300)


def inside(sample: LineSample, index: int, shrink: float = 0.0) -> npt.NDArray[np.uint8]:
    """The pixels of character ``index``'s box, its sides pulled in by ``shrink`` of its width."""
    x, y, w, h = sample.boxes[index]
    cut = round(shrink * w)
    return sample.image[y : y + h, x + cut : x + w - cut]


class TestConvention:
    """Each crop follows vision.ocr_types."""

    def test_types_and_truth(self, samples: list[LineSample]) -> None:
        """A 2-D uint8 crop, one box per character of the text (spaces too), a known font, no defect."""
        for sample in samples:
            assert sample.image.ndim == 2 and sample.image.dtype == np.uint8
            assert len(sample.boxes) == len(sample.text) > 0
            assert sample.font in DEFAULT_FONTS
            assert sample.defect is None
            assert set(sample.text) <= set(CHARSET + " ")

    def test_height_is_cap_plus_margins(self) -> None:
        """At one text height every crop is the capitals plus LINE_MARGIN_Y_MM above and below."""
        for sample in line_samples(np.random.default_rng(2), 40, text_height_mm=(2.6, 2.6)):
            assert sample.image.shape[0] == 26 + 2 * round(LINE_MARGIN_Y_MM * PX_PER_MM)

    def test_boxes_in_reading_order_inside_the_crop(self, samples: list[LineSample]) -> None:
        """Boxes run left to right, lie inside the crop, and the first starts near LINE_MARGIN_X_MM."""
        margin = LINE_MARGIN_X_MM * PX_PER_MM
        for sample in samples:
            h, w = sample.image.shape
            xs = [x for x, _, _, _ in sample.boxes]
            assert xs == sorted(xs)
            assert all(x >= 0 and y >= 0 and x + bw <= w and y + bh <= h for x, y, bw, bh in sample.boxes)
            # A dot font's cell starts half a glyph gap (up to 3 px) before the capitals; the crop's
            # residual shift moves it up to 3 px, and rounding out to whole pixels 1 px.
            assert abs(xs[0] - margin) <= 3 + 3 + 1, sample.text
            # Room for LINE_EXTRA_CHARS more characters after the last box.
            last = sample.boxes[-1]
            assert w - (last[0] + last[2]) >= 1.5 * last[2] - 6

    def test_dark_ink_on_light(self, samples: list[LineSample]) -> None:
        """Inked characters are darker than the bare carton around them, laser-marked ones included."""
        for sample in samples:
            ink = np.concatenate([inside(sample, i).ravel() for i, c in enumerate(sample.text) if c != " "])
            carton = np.median(sample.image)
            assert np.percentile(ink, 5) < carton - 20, sample.text

    def test_boxes_hold_their_characters(self, samples: list[LineSample]) -> None:
        """Every printed character's box holds dark ink; the middle of a space's box holds none."""
        for sample in samples:
            carton = float(np.median(sample.image))
            darkest = float(np.percentile(sample.image, 1))
            for index, char in enumerate(sample.text):
                if char == " ":
                    gap = inside(sample, index, shrink=0.3)
                    assert float(np.percentile(gap, 5)) > darkest + 0.5 * (carton - darkest), sample.text
                else:
                    assert float(inside(sample, index).min()) < carton - 0.4 * (carton - darkest), (
                        sample.text,
                        char,
                    )

    def test_look_varies(self, samples: list[LineSample]) -> None:
        """Contrast spans faint to full print, over every font."""
        spans = [float(np.median(s.image)) - float(np.percentile(s.image, 2)) for s in samples]
        assert min(spans) < 60 and max(spans) > 120
        assert {s.font for s in samples} == set(DEFAULT_FONTS)


class TestTexts:
    """What is printed on the samples."""

    def test_every_class_well_represented(self) -> None:
        """In 2000 lines every CHARSET character appears at least 100 times."""
        rng = np.random.default_rng(0)
        counts = collections.Counter("".join(pharma_line(rng) for _ in range(2000)))
        assert min(counts[c] for c in CHARSET) >= 100, counts

    def test_pharma_formats(self) -> None:
        """Lines include valid GTINs, serials without I or O, lots and expiry dates."""
        rng = np.random.default_rng(1)
        lines = [pharma_line(rng) for _ in range(500)]
        gtins = [m for line in lines if (m := re.fullmatch(r"(?:GTIN|PC):? (\d{14})", line))]
        assert len(gtins) > 20
        assert all(g[1][-1] == str(gs1_check_digit(g[1][:-1])) for g in gtins)
        serials = [m[1] for line in lines if (m := re.fullmatch(r"S/?N:? ([0-9A-Z]+)", line))]
        assert len(serials) > 20 and not any(set(s) & {"I", "O"} for s in serials)
        assert sum(bool(re.fullmatch(r"LOT:? [0-9A-Z-]+", line)) for line in lines) > 20
        assert sum(bool(re.fullmatch(r"(EXP|MFG|USE BY):? .*20\d\d.*", line)) for line in lines) > 40


class TestDeterminism:
    """Reproducible for an rng state."""

    def test_same_state_same_samples(self) -> None:
        """Two runs from one seed draw identical samples; another seed other ones."""
        a, b = (line_samples(np.random.default_rng(5), 20) for _ in range(2))
        assert [s.text for s in a] == [s.text for s in b]
        assert all(np.array_equal(x.image, y.image) and x.boxes == y.boxes for x, y in zip(a, b, strict=True))
        other = line_samples(np.random.default_rng(6), 20)
        assert [s.text for s in a] != [s.text for s in other]

    def test_fonts_and_scale(self) -> None:
        """Only the fonts asked for are drawn, at the scale asked for."""
        samples = line_samples(
            np.random.default_rng(3), 30, fonts=("dot7x9",), px_per_mm=20.0, text_height_mm=(2.0, 2.0)
        )
        assert {s.font for s in samples} == {"dot7x9"}
        assert {s.image.shape[0] for s in samples} == {40 + 2 * round(LINE_MARGIN_Y_MM * 20.0)}


class TestDefects:
    """Defective samples, each against its defect-free twin (same rng state)."""

    @pytest.mark.parametrize("defect", ["smudge", "partial"])
    def test_twin_differs_only_by_the_defect(self, defect: str) -> None:
        """A defective sample has its twin's text and look; it differs from it in print only."""
        good = line_samples(np.random.default_rng(9), 40)
        bad = line_samples(np.random.default_rng(9), 40, defect=defect)  # type: ignore[arg-type]
        for twin, sample in zip(good, bad, strict=True):
            assert (sample.text, sample.boxes, sample.font, sample.defect) == (
                twin.text,
                twin.boxes,
                twin.font,
                defect,
            )
            assert sample.image.shape == twin.image.shape
            assert not np.array_equal(sample.image, twin.image), sample.text

    def test_partial_removes_ink_of_one_character(self) -> None:
        """ "partial": the print loses ink (the crop gets lighter) within one character's box only."""
        good = line_samples(np.random.default_rng(4), 60)
        bad = line_samples(np.random.default_rng(4), 60, defect="partial")
        for twin, sample in zip(good, bad, strict=True):
            change = sample.image.astype(np.int16) - twin.image
            touched = np.abs(change) > 25
            columns = np.flatnonzero(touched.any(axis=0))
            assert columns.size > 0, sample.text
            hit = [
                i
                for i, (x, _, w, _) in enumerate(sample.boxes)
                if x - 2 <= columns[0] and columns[-1] < x + w + 2
            ]
            assert hit, (sample.text, columns[0], columns[-1])

    def test_smudge_spans_characters(self) -> None:
        """ "smudge": the smear covers more than one character's width."""
        good = line_samples(np.random.default_rng(8), 30)
        bad = line_samples(np.random.default_rng(8), 30, defect="smudge")
        for twin, sample in zip(good, bad, strict=True):
            touched = np.abs(sample.image.astype(np.int16) - twin.image) > 25
            columns = np.flatnonzero(touched.any(axis=0))
            widest = max(w for _, _, w, _ in sample.boxes)
            assert columns[-1] - columns[0] > 1.5 * widest, sample.text


class TestInputs:
    """Requests that cannot be drawn are refused."""

    def test_refuses_bad_requests(self) -> None:
        """A negative count, no fonts, an unknown font or an inverted height range is a ValueError."""
        rng = np.random.default_rng(0)
        with pytest.raises(ValueError, match="count"):
            line_samples(rng, -1)
        with pytest.raises(ValueError, match="no fonts"):
            line_samples(rng, 1, fonts=())
        with pytest.raises(ValueError, match="font"):
            line_samples(rng, 1, fonts=("comic_sans",))
        with pytest.raises(ValueError, match="range"):
            line_samples(rng, 1, text_height_mm=(3.0, 2.0))
