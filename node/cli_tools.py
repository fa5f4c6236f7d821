"""The ``tracenode read`` and ``tracenode gs1`` commands: decode codes in image files, check element strings.

Both print one JSON line per input so that a shell pipeline or a test can consume the output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from vision.datamatrix import CodeRead, read_datamatrix
from vision.gs1 import GS1Error, missing_pharma_ais, parse_element_string

__all__ = ["UnreadableImage", "gs1_command", "load_gray", "read_command"]


def read_command(paths: Sequence[str], out: TextIO) -> int:
    """``tracenode read IMAGE...``: print one JSON line per image with the DataMatrix codes found in it.

    Each line is ``{"file", "codes": [{"text", "bytes_hex", "symbology_identifier", "gs1", "corners"}],
    "ms"}``, or ``{"file", "error"}`` when the file is missing or not an image; ``ms`` is the decode
    time. ``gs1`` is the AI mapping when the code is GS1 (``]d2``) and valid, else null.

    Returns
    -------
    int
        0 when every file was read as an image (finding no code is not an error), else 2.
    """
    status = 0
    for path in paths:
        try:
            image = load_gray(path)
        except UnreadableImage as error:
            _print(out, {"file": path, "error": str(error)})
            status = 2
            continue
        start = time.perf_counter()
        reads = read_datamatrix(image)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        _print(out, {"file": path, "codes": [_code_json(read) for read in reads], "ms": round(elapsed_ms, 2)})
    return status


def gs1_command(inp: TextIO, out: TextIO) -> int:
    """``tracenode gs1 -``: check one GS1 element string per input line, print one JSON line each.

    Each line is ``{"input", "valid", "ais", "pharma_ok", "error"}``: ``valid`` per the GS1 General
    Specifications, ``pharma_ok`` when valid and AIs 01, 21, 10 and 17 are all present, ``error`` the
    broken rule or the missing AIs (null when pharma_ok). Blank lines are skipped. Any of the forms
    :func:`vision.gs1.parse_element_string` accepts may be used ('^' stands for FNC1).

    Returns
    -------
    int
        0 when every line is valid GS1, else 1.
    """
    status = 0
    for line in inp:
        # Only line ends and blanks are stripped: str.strip() would also eat GS (0x1D) separators.
        text = line.rstrip("\r\n").strip(" \t")
        if not text:
            continue
        try:
            data = parse_element_string(text)
        except GS1Error as error:
            _print(out, {"input": text, "valid": False, "ais": {}, "pharma_ok": False, "error": str(error)})
            status = 1
            continue
        missing = missing_pharma_ais(data)
        error_text = (
            f"missing AI {', '.join(f'({ai})' for ai in missing)}, required on a pharmaceutical pack"
            if missing
            else None
        )
        _print(
            out,
            {
                "input": text,
                "valid": True,
                "ais": dict(data.ais),
                "pharma_ok": not missing,
                "error": error_text,
            },
        )
    return status


class UnreadableImage(Exception):
    """A path that does not lead to an image Pillow can decode; the message says why."""


def load_gray(path: str) -> npt.NDArray[np.uint8]:
    try:
        with Image.open(path) as image:
            image.load()
            return _to_gray(image)
    except FileNotFoundError:
        raise UnreadableImage("file not found") from None
    except PermissionError:
        raise UnreadableImage("permission denied") from None
    except IsADirectoryError:
        raise UnreadableImage("is a directory, expected an image file") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image: Pillow does not recognise the file format") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImage(f"cannot decode the image: {error}") from None


def _to_gray(image: Image.Image) -> npt.NDArray[np.uint8]:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # Mono cameras save 10 to 16 bit frames; Pillow's convert("L") clips them instead of
        # scaling, so stretch the used range onto 8 bits.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return np.ascontiguousarray(scaled.round().astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        # A transparent background would turn black in a plain conversion and hide a dark code.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("L"), dtype=np.uint8))


def _code_json(read: CodeRead) -> dict[str, Any]:
    gs1: dict[str, str] | None = None
    if read.is_gs1:
        try:
            gs1 = dict(parse_element_string(read.text).ais)
        except GS1Error:
            gs1 = None
    return {
        "text": read.text,
        "bytes_hex": read.raw.hex(),
        "symbology_identifier": read.symbology_identifier,
        "gs1": gs1,
        "corners": [[x, y] for x, y in read.corners],
    }


def _print(out: TextIO, record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")
