"""The `tracenode read` and `tracenode gs1` commands, on real files and real decoders."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from PIL import Image

from node.cli_tools import gs1_command, read_command

CONTENT = "(01)09501101020917(17)271231(10)LOT42(21)ABC123"
TEXT = "01095011010209171727123110LOT42\x1d21ABC123"
AIS = {"01": "09501101020917", "17": "271231", "10": "LOT42", "21": "ABC123"}
SCALE = 6


def symbol_image(content: str = CONTENT, *, gs1: bool = True) -> npt.NDArray[np.uint8]:
    """The symbol at 6 px per module with its one-module quiet zone, as zxing-cpp writes it."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.DataMatrix, gs1=gs1, forceSquare=True)
    return np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=SCALE))


def run_read(*paths: Path | str) -> tuple[int, list[dict[str, Any]], str]:
    """Run the read command; return its status, parsed lines and raw output."""
    out = io.StringIO()
    status = read_command([str(p) for p in paths], out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], out.getvalue()


def run_gs1(text: str) -> tuple[int, list[dict[str, Any]]]:
    """Run the gs1 command on ``text`` as stdin; return its status and parsed lines."""
    out = io.StringIO()
    status = gs1_command(io.StringIO(text), out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def assert_symbol_corners(corners: list[list[float]], side: int) -> None:
    """Corners are TL, TR, BR, BL of the symbol inside its quiet zone, within two pixels."""
    lo, hi = SCALE, side - SCALE
    expected = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)]
    assert all(math.dist(c, e) <= 2 for c, e in zip(corners, expected, strict=True)), corners


@pytest.fixture
def gs1_png(tmp_path: Path) -> Path:
    """A GS1 DataMatrix written by zxing-cpp as an 8-bit gray PNG."""
    path = tmp_path / "gs1.png"
    Image.fromarray(symbol_image()).save(path)
    return path


class TestReadCommand:
    """read_command: one JSON line per image file."""

    def test_gs1_code(self, gs1_png: Path) -> None:
        """A GS1 symbol gives its text with GS escaped, raw bytes, ]d2, AIs and corners."""
        status, (line,), raw = run_read(gs1_png)
        assert status == 0
        assert set(line) == {"file", "codes", "ms"}
        assert line["file"] == str(gs1_png) and line["ms"] >= 0
        (code,) = line["codes"]
        corners = code.pop("corners")
        assert code == {
            "text": TEXT,
            "bytes_hex": TEXT.encode("ascii").hex(),
            "symbology_identifier": "]d2",
            "gs1": AIS,
        }
        assert_symbol_corners(corners, symbol_image().shape[0])
        assert "\\u001d" in raw and "\x1d" not in raw

    def test_transparent_background_is_composited_on_white(self, tmp_path: Path) -> None:
        """Black modules on a fully transparent (black) background read after compositing."""
        gray = symbol_image()
        rgba = np.zeros((*gray.shape, 4), np.uint8)
        rgba[..., 3] = np.where(gray < 128, 255, 0)
        path = tmp_path / "transparent.png"
        Image.fromarray(rgba).save(path)
        status, (line,), _ = run_read(path)
        assert status == 0
        assert [code["gs1"] for code in line["codes"]] == [AIS]

    def test_16_bit_image(self, tmp_path: Path) -> None:
        """A 16-bit gray frame with a narrow used range is stretched to 8 bits, not clipped."""
        path = tmp_path / "mono16.png"
        Image.fromarray((symbol_image().astype(np.uint16) * 8 + 1000).astype(np.uint16)).save(path)
        status, (line,), _ = run_read(path)
        assert status == 0 and [code["text"] for code in line["codes"]] == [TEXT]

    def test_not_an_image_and_missing_file(self, tmp_path: Path, gs1_png: Path) -> None:
        """Unreadable files get an error line, the rest is still processed, the status is 2."""
        fake = tmp_path / "notes.png"
        fake.write_text("not a picture\n")
        missing = tmp_path / "missing.png"
        status, lines, _ = run_read(fake, missing, gs1_png)
        assert status == 2
        assert lines[0] == {
            "file": str(fake),
            "error": "not an image: Pillow does not recognise the file format",
        }
        assert lines[1] == {"file": str(missing), "error": "file not found"}
        assert lines[2]["codes"][0]["text"] == TEXT

    def test_image_without_code(self, tmp_path: Path) -> None:
        """An image with no symbol is not an error: codes is empty and the status 0."""
        path = tmp_path / "blank.jpg"
        Image.new("RGB", (200, 150), (200, 200, 200)).save(path)
        status, (line,), _ = run_read(path)
        assert status == 0 and line["codes"] == []

    def test_non_gs1_code_has_null_gs1(self, tmp_path: Path) -> None:
        """A plain DataMatrix is ]d1 and gs1 is null."""
        path = tmp_path / "plain.png"
        Image.fromarray(symbol_image("HELLO", gs1=False)).save(path)
        _, (line,), _ = run_read(path)
        (code,) = line["codes"]
        assert (code["text"], code["symbology_identifier"], code["gs1"]) == ("HELLO", "]d1", None)

    def test_invalid_gs1_content_has_null_gs1(self, tmp_path: Path) -> None:
        """A ]d2 symbol with a wrong GTIN check digit still reads, but gs1 is null."""
        path = tmp_path / "bad.png"
        Image.fromarray(symbol_image("(01)09501101020918(21)X")).save(path)
        _, (line,), _ = run_read(path)
        (code,) = line["codes"]
        assert (code["symbology_identifier"], code["gs1"]) == ("]d2", None)


class TestGs1Command:
    """gs1_command: one JSON line per element string on stdin."""

    def test_valid_pharma_lines(self) -> None:
        """GS, '^' and bracketed inputs all validate and carry the pharma AIs; blank lines are skipped."""
        status, lines = run_gs1(f"{TEXT}\n\n^01095011010209171727123110LOT42^21ABC123\r\n{CONTENT}\n")
        assert status == 0
        assert [line["input"] for line in lines] == [
            TEXT,
            "^01095011010209171727123110LOT42^21ABC123",
            CONTENT,
        ]
        assert all(
            line == {"input": line["input"], "valid": True, "ais": AIS, "pharma_ok": True, "error": None}
            for line in lines
        )

    def test_valid_but_not_pharma(self) -> None:
        """Valid GS1 without serial and expiry is valid but not pharma_ok, and says what is missing."""
        status, (line,) = run_gs1("(01)09501101020917(10)LOT42\n")
        assert status == 0
        assert line == {
            "input": "(01)09501101020917(10)LOT42",
            "valid": True,
            "ais": {"01": "09501101020917", "10": "LOT42"},
            "pharma_ok": False,
            "error": "missing AI (21), (17), required on a pharmaceutical pack",
        }

    def test_invalid_line_sets_status_1(self) -> None:
        """A wrong check digit is reported with its AI and rule; the status tells the pipeline."""
        status, lines = run_gs1("(01)09501101020918(21)X\n(01)09501101020917(21)X\n")
        assert status == 1
        assert lines[0] == {
            "input": "(01)09501101020918(21)X",
            "valid": False,
            "ais": {},
            "pharma_ok": False,
            "error": "AI (01): check digit 8 is wrong, expected 7",
        }
        assert lines[1]["valid"] is True

    def test_empty_input(self) -> None:
        """No lines, no output, status 0."""
        assert run_gs1("") == (0, [])
