"""The simulated camera: frames a line camera would take, with real GS1 DataMatrix and printed text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from pylibdmtx import pylibdmtx

from recipes.schema import PrintLayout
from simulator.camera import FRAME_SHAPE, MAX_ROTATION_DEG, render_unit, sample_appearance
from simulator.printer import Printer
from simulator.units import Appearance, Defect, Unit
from vision.datamatrix import read_datamatrix
from vision.gs1 import parse_element_string

LAYOUT = PrintLayout()
PX_PER_MM = 10.0
# The node's own libdmtx budget (Inspection.decode_timeout_ms), here on a crop around the symbol
# rather than the whole frame; an intact symbol in the same crop takes libdmtx about 4 ms.
LIBDMTX_TIMEOUT_MS = 60

Frame = npt.NDArray[np.uint8]
DATAMATRIX = zxingcpp.BarcodeFormats(zxingcpp.DataMatrix)


def unit(
    seed: int, *, defect: Defect | None = None, lot: str = "ABCD1234", appearance: Appearance | None = None
) -> Unit:
    """A unit with a sampled look (drawn from ``seed``) unless one is given."""
    look = appearance or sample_appearance(np.random.default_rng([seed, 1]))
    return Unit(
        index=seed,
        tracking_id=seed + 1,
        gtin="09501101020917",
        serial=f"SN{seed:010d}",
        lot=lot,
        expiry=dt.date(2027, 5, 31),
        defect=defect,
        appearance=look,
    )


def render(subject: Unit, seed: int, layout: PrintLayout = LAYOUT) -> Frame:
    """The frame of ``subject``, its randomness drawn from ``seed``."""
    return render_unit(subject, layout, px_per_mm=PX_PER_MM, rng=np.random.default_rng(seed))


def symbol_contrast(image: Frame, barcode: zxingcpp.Barcode, module_px: float) -> float:
    """ISO/IEC 15415 symbol contrast, roughly: the span of grey levels over the symbol seen through
    a synthetic aperture of 0.8 modules (a Gaussian of that full width at half maximum), as a
    fraction of 255. The 1st and 99th percentiles stand for the lowest and highest reflectance, so
    the camera's sensor noise, which a verifier's imaging does not have, does not widen the span."""
    rows, columns = code_box(barcode, -0.05)
    smoothed = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.8 * module_px / 2.355)
    low, high = np.percentile(smoothed[rows, columns], [1, 99])
    return float(high - low) / 255.0


def zxing(image: Frame, *, downscale: bool = False) -> list[zxingcpp.Barcode]:
    """zxing-cpp trying rotation and inversion, as the node runs it; ``downscale`` adds its last effort.

    Downscaling costs ten times as much on a full frame and helps only far larger modules
    (vision/datamatrix.py), so only the small crops of the damaged-code proof get it.
    """
    return list(
        zxingcpp.read_barcodes(
            image, formats=DATAMATRIX, text_mode=zxingcpp.TextMode.Plain, try_downscale=downscale
        )
    )


def locate(image: Frame) -> list[zxingcpp.Barcode]:
    """The symbol's position, found quickly: zxing-cpp on the frame smoothed by a 0.8 px Gaussian.

    Per-pixel sensor noise makes zxing-cpp chase edges: about 45 ms a frame raw, 6 ms smoothed,
    reading the same symbols (measured on 40 sampled frames). Only where a test needs to know where
    the code is, not whether the node reads it.
    """
    return zxing(np.asarray(cv2.GaussianBlur(image, (0, 0), 0.8), np.uint8))


def corners(barcode: zxingcpp.Barcode) -> npt.NDArray[np.float64]:
    """(TL, TR, BR, BL) of a decoded symbol, in image pixels."""
    p = barcode.position
    return np.array(
        [[c.x, c.y] for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], np.float64
    )


def code_box(barcode: zxingcpp.Barcode, margin: float) -> tuple[slice, slice]:
    """Rows and columns around a decoded symbol, with ``margin`` times its side on every side."""
    points = corners(barcode)
    pad = margin * np.linalg.norm(points[1] - points[0])
    (x0, y0), (x1, y1) = points.min(axis=0) - pad, points.max(axis=0) + pad
    return slice(max(int(y0), 0), int(y1) + 1), slice(max(int(x0), 0), int(x1) + 1)


class TestFrame:
    """The frame itself."""

    def test_shape_and_type(self) -> None:
        """A 1024 x 1280 mono uint8 frame."""
        image = render(unit(0), 0)
        assert image.shape == FRAME_SHAPE == (1024, 1280)
        assert image.dtype == np.uint8

    def test_deterministic_for_a_seed(self) -> None:
        """The same unit and seed render the same frame; another seed another one."""
        subject = unit(1)
        np.testing.assert_array_equal(render(subject, 5), render(subject, 5))
        assert not np.array_equal(render(subject, 5), render(subject, 6))

    def test_carton_has_texture_and_noise(self) -> None:
        """Away from the print the carton is not flat: texture, shading and sensor noise."""
        image = render(unit(2), 2)
        corner = image[:200, :200].astype(np.float64)
        assert 2.0 < corner.std() < 25.0

    def test_light_on_dark(self) -> None:
        """A laser-marked unit is a dark carton with light marks, and its code still reads."""
        look = dataclasses.replace(sample_appearance(np.random.default_rng(3)), light_on_dark=True)
        image = render(unit(3, appearance=look), 3)
        assert np.median(image) < 90
        assert zxing(image)


class TestAppearance:
    """The sampled look of a line running in specification."""

    def test_ranges(self) -> None:
        """Every sample lies in the documented ranges; about one in ten is light-on-dark."""
        rng = np.random.default_rng(0)
        looks = [sample_appearance(rng) for _ in range(2000)]
        assert all(3.5 <= a.module_px <= 6.0 for a in looks)
        assert all(abs(a.rotation_deg) <= MAX_ROTATION_DEG for a in looks)
        assert all(abs(a.offset_px[0]) <= 80 and abs(a.offset_px[1]) <= 60 for a in looks)
        assert all(0.3 <= a.blur_sigma <= 1.2 and 1.0 <= a.noise_sigma <= 6.0 for a in looks)
        assert all(0.55 <= a.contrast <= 1.0 for a in looks)
        assert 0.07 < sum(a.light_on_dark for a in looks) / len(looks) < 0.13

    def test_rotation_is_counter_clockwise(self) -> None:
        """A positive rotation turns the print counter-clockwise on screen, by the angle asked."""
        for angle in (-9.0, -3.0, 4.0, 8.5):
            look = Appearance(module_px=5.0, rotation_deg=angle)
            (barcode,) = zxing(render(unit(0, appearance=look), 0))
            top_left, top_right = corners(barcode)[:2]
            # Image y points down, so a counter-clockwise turn lifts the top edge's right end.
            seen = -math.degrees(math.atan2(*(top_right - top_left)[::-1]))
            assert seen == pytest.approx(angle, abs=1.0)

    def test_offset_moves_the_print(self) -> None:
        """offset_px shifts the whole print by that many pixels."""
        base = corners(zxing(render(unit(0, appearance=Appearance()), 0))[0])
        moved = corners(zxing(render(unit(0, appearance=Appearance(offset_px=(40.0, -25.0))), 0))[0])
        np.testing.assert_allclose((moved - base).mean(axis=0), (40.0, -25.0), atol=1.0)


class TestCode:
    """The GS1 DataMatrix on good units."""

    def test_decodes_to_the_units_data(self) -> None:
        """The symbol is GS1 (]d2) and carries GTIN, expiry, lot and serial, GS after variable fields."""
        subject = unit(4, lot="A(B)C-1")
        (barcode,) = zxing(render(subject, 4))
        assert barcode.symbology_identifier == "]d2"
        assert barcode.text == f"01{subject.gtin}17270531" + "10A(B)C-1\x1d21" + subject.serial

    def test_good_units_read(self) -> None:
        """zxing-cpp as the node runs it reads at least 58 of 60 good units across looks, libdmtx the rest."""
        misses = []
        for seed in range(60):
            image = render(unit(seed), seed)
            if not zxing(image):
                misses.append(image)
        assert len(misses) <= 2
        for image in misses:
            assert pylibdmtx.decode(image, max_count=1, timeout=2000)

    def test_smudged_print_keeps_the_code(self) -> None:
        """A smudge is on the text only: the code of a smudged unit reads."""
        assert all(zxing(render(unit(seed, defect=Defect.SMUDGED_PRINT), seed)) for seed in range(10))


class TestDefects:
    """Defects the camera draws, each against its defect-free twin (same seed, same frame otherwise)."""

    def twins(self, seed: int, defect: Defect) -> tuple[Frame, Frame, zxingcpp.Barcode]:
        """The defective frame, its good twin, and the twin's decoded symbol."""
        defective = unit(seed, defect=defect)
        good = dataclasses.replace(defective, defect=None)
        twin = render(good, seed)
        (barcode,) = locate(twin)
        return render(defective, seed), twin, barcode

    def test_no_code_keeps_the_text(self) -> None:
        """NO_CODE: nothing decodes, and the frame differs from its twin only where the code was."""
        for seed in range(5):
            image, twin, barcode = self.twins(seed, Defect.NO_CODE)
            assert not zxing(image)
            outside = np.ones(image.shape, bool)
            outside[code_box(barcode, 0.2)] = False
            np.testing.assert_array_equal(image[outside], twin[outside])

    def test_damaged_code_reads_with_no_decoder(self) -> None:
        """DAMAGED_CODE: in 200 seeds neither zxing-cpp nor libdmtx decodes it; the intact twin decodes."""
        crops = []
        for seed in range(210):
            defective = unit(seed, defect=Defect.DAMAGED_CODE)
            twin = render(dataclasses.replace(defective, defect=None), seed)
            # The intact twin shows where the symbol is; a seed whose twin zxing-cpp misses (about
            # one good frame in 200, see test_good_units_read) is passed over.
            found = locate(twin)
            if not found:
                continue
            # The symbol and a quarter of its side around it: all either decoder could use.
            box = code_box(found[0], 0.25)
            crops.append(
                (seed, np.ascontiguousarray(render(defective, seed)[box]), np.ascontiguousarray(twin[box]))
            )
        assert len(crops) >= 200

        def decode(item: tuple[int, Frame, Frame]) -> tuple[int, bool, bool, bool]:
            seed, damaged, intact = item
            return (
                seed,
                bool(zxing(damaged, downscale=True)),
                bool(pylibdmtx.decode(damaged, max_count=1, timeout=LIBDMTX_TIMEOUT_MS)),
                bool(pylibdmtx.decode(intact, max_count=1, timeout=2000)),
            )

        # Both decoders release the GIL, so both cores share the slow, fruitless searches.
        twins_read = 0
        with ThreadPoolExecutor(2) as pool:
            for seed, zxing_read, libdmtx_read, twin_read in pool.map(decode, crops):
                assert not zxing_read, f"seed {seed}: zxing-cpp read the damaged code"
                assert not libdmtx_read, f"seed {seed}: libdmtx read the damaged code"
                twins_read += twin_read
        # The damage is what stops libdmtx: it reads the intact twins (a rare hard render aside).
        assert twins_read >= len(crops) - 3

    def test_smudge_covers_part_of_one_line(self) -> None:
        """SMUDGED_PRINT changes a patch of at most one text line's height, beside the code."""
        pitch = LAYOUT.line_pitch_mm * PX_PER_MM
        for seed in range(10):
            image, twin, barcode = self.twins(seed, Defect.SMUDGED_PRINT)
            changed = np.abs(image.astype(np.int16) - twin) > 40
            assert not changed[code_box(barcode, 0.05)].any()
            rows, columns = np.nonzero(changed)
            assert rows.size > 100
            angle = math.radians(abs(unit(seed).appearance.rotation_deg))
            # The patch's height, allowing for the print's skew over its width.
            assert np.ptp(rows) <= 1.6 * pitch + math.tan(angle) * np.ptp(columns)

    @pytest.mark.parametrize("font", ["hershey_simplex", "dot5x7", "tij_sans"])
    def test_partial_character_lightens_one_character(self, font: str) -> None:
        """PARTIAL_CHARACTER: print is lost, beside the code, over at most one character's area."""
        layout = PrintLayout.model_validate({"font": font})
        cap = layout.text_height_mm * PX_PER_MM
        for seed in range(8):
            look = dataclasses.replace(unit(seed).appearance, light_on_dark=False)
            defective = unit(seed, defect=Defect.PARTIAL_CHARACTER, lot="B24-0815", appearance=look)
            twin = render(dataclasses.replace(defective, defect=None), seed, layout)
            image = render(defective, seed, layout)
            change = image.astype(np.int16) - twin
            changed = np.abs(change) > 30
            rows, columns = np.nonzero(changed)
            assert rows.size > 10, seed
            # Ink removed: where the frames differ, the defective one is lighter.
            assert (change[changed] > 0).all(), seed
            (barcode,) = locate(twin)
            assert not changed[code_box(barcode, 0.05)].any()
            # One character of a rotated line: its cell (at most 0.9 cap wide) and height, turned.
            assert max(np.ptp(rows), np.ptp(columns)) <= 1.4 * cap, seed

    def test_print_mismatch_code_holds_the_truth(self) -> None:
        """PRINT_MISMATCH: the code decodes to the unit's real data; only one text line differs."""
        printer = Printer(
            seed=4,
            gtin="09501101020917",
            lot="B24-0815",
            expiry_yymmdd="270531",
            serials=[f"SN{i:08d}" for i in range(40)],
            defect_rate=1.0,
            defects=(Defect.PRINT_MISMATCH,),
        )
        pitch = LAYOUT.line_pitch_mm * PX_PER_MM
        fields = set()
        for tracking_id in range(1, 13):
            subject = printer.next_unit(tracking_id)
            assert subject.misprinted_field is not None
            fields.add(subject.misprinted_field)
            image = render(subject, tracking_id)
            (read,) = read_datamatrix(image)
            data = parse_element_string(read.text)
            assert (data.gtin, data.serial, data.lot) == (subject.gtin, subject.serial, subject.lot)
            assert data.ais["17"] == subject.expiry_yymmdd
            twin = render(
                dataclasses.replace(subject, defect=None, misprinted_field=None, printed_value=None),
                tracking_id,
            )
            changed = np.abs(image.astype(np.int16) - twin) > 40
            rows, columns = np.nonzero(changed)
            assert rows.size > 10
            angle = math.radians(abs(subject.appearance.rotation_deg))
            assert np.ptp(rows) <= 1.2 * pitch + math.tan(angle) * np.ptp(columns)
        assert len(fields) >= 3

    def test_poor_code_print_is_faint_but_decodes(self) -> None:
        """POOR_CODE_PRINT: symbol contrast below 20 % (the twin's is above), and zxing-cpp still reads it."""
        unread = 0
        for seed in range(30):
            defective = unit(seed, defect=Defect.POOR_CODE_PRINT)
            image = render(defective, seed)
            reads = read_datamatrix(image, any_angle=True)
            if not reads:
                unread += 1
                continue
            assert parse_element_string(reads[0].text).serial == defective.serial
            twin = render(dataclasses.replace(defective, defect=None), seed)
            (barcode,) = locate(twin)
            module = defective.appearance.module_px
            assert symbol_contrast(image, barcode, module) < 0.2, seed
            assert symbol_contrast(twin, barcode, module) > 0.25, seed
        # About 1.5 % of faint symbols on a noisy, textured carton defeat the reader (POOR_CODE_CONTRAST).
        assert unread <= 1

    @pytest.mark.parametrize(
        "defect", [Defect.WRONG_LOT, Defect.WRONG_EXPIRY, Defect.DUPLICATE_SERIAL, Defect.SERIAL_NOT_ISSUED]
    )
    def test_data_defects_render_as_printed(self, defect: Defect) -> None:
        """Defects in the data look like a good print: the frame equals its twin's."""
        image, twin, _ = self.twins(7, defect)
        np.testing.assert_array_equal(image, twin)
