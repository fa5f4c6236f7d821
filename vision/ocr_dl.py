"""The three reading pipelines that use a neural network: end to end, and the two combinations.

- ``dl``: a CRNN reads the whole line crop; CTC posteriors give each character and its confidence.
- ``combination1``: the classical segmenter boxes the characters; a small CNN classifies each box,
  with an explicit "not a character" class for smudged, partial, split or merged blobs.
- ``combination2``: a fully convolutional net marks character, gap and word-space columns; the
  classical features and classifier name each character it boxes.

All three see the line through ``line_input``, the same normalisation their training used, so the
models never depend on the carton's contrast or the recipe's text height. The models run in
onnxruntime only (see ``vision.onnx_models``); PyTorch is a training dependency.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vision._ocr_kernels import (
    glyph_frames_kernel,
    glyph_grid_kernel,
    line_band_kernel,
    line_levels_kernel,
    patches_kernel,
)
from vision._segnet_kernels import reaching_kernel, segment_runs_kernel, span_ink_kernel
from vision.binarize import binarize_otsu, otsu_threshold

# ``_LineFeatures`` is ``char_features`` taken apart, so one line's ink is prepared once for all
# the boxes read on it; tests/vision/test_segnet.py holds the two equal.
from vision.char_features import (
    _BLUR,
    _MAX_SLOPE,
    _MIN_WINDOW,
    _TALL,
    GRID_COLUMNS,
    GRID_ROWS,
    N_FEATURES,
    _normalised,
    char_features,
)
from vision.components import label_components
from vision.feature_classifier import FeatureClassifier
from vision.ocr import CLASSICAL_MODEL, reading_score
from vision.ocr import _gaps as word_gaps  # one word-gap rule with the classical reader's
from vision.ocr_types import CHARSET, LINE_MARGIN_Y_MM, CharRead, LineRead
from vision.onnx_models import LINE_ROWS, OnnxModel, load_model, recommended_threshold

# The classical segmenter's ink conventions, which the feature classifier's calibration assumes.
from vision.segment import (
    _CORE_LEVEL,
    _DROP_LEVEL,
    _SOLID_MAX_WIDTH,
    Box,
    Segmentation,
    _speck_area,
    ink_levels,
    segmentation_readings,
)

__all__ = [
    "CRNN_CLASSES",
    "INK_LEVEL",
    "JOINED_GAP",
    "LINE_ROWS",
    "PATCH_SIZE",
    "SEGNET_CLASSES",
    "CharCnnReader",
    "CtcReader",
    "LineInput",
    "SegNetReader",
    "Segments",
    "cut_segments",
    "glyph_boxes",
    "line_input",
    "make_combination1_reader",
    "make_combination2_reader",
    "make_dl_reader",
    "patches",
]

CAP_ROWS = 20
"""Cap height in normalised rows; the line's cap band starts at row ``(LINE_ROWS - CAP_ROWS) // 2``."""
CAP_TOP = (LINE_ROWS - CAP_ROWS) // 2
CRNN_STRIDE = 4
"""Normalised columns per CTC frame."""
SEGNET_STRIDE = 2
"""Normalised columns per segmentation step."""
PATCH_SIZE = 24
"""Side of a character patch for the character CNN (cap height 16 px in it)."""
_PATCH_WINDOW = 30
"""Side of the square of normalised line cut around a character before it is shrunk to a patch."""

CRNN_CLASSES = "\x00" + CHARSET + " " + "\x7f"
"""CTC classes: blank, CHARSET, word space, and "damaged character" (trained on defaced print)."""
CRNN_BLANK = 0
CRNN_SPACE = len(CHARSET) + 1
CRNN_DAMAGED = len(CHARSET) + 2
CHARCNN_REJECT = len(CHARSET)
"""Character CNN class of a box that is not one whole, readable character; CHARSET comes before it."""
CHARCNN_SPACE = len(CHARSET) + 1
"""Character CNN class of a gap between two boxes that is a word space..."""
CHARCNN_JOINED = len(CHARSET) + 2
"""... and of one that is not (the two characters belong to one word)."""
SEGNET_CLASSES = ("gap", "character", "space")
"""Per-column classes of the segmentation net, in output order."""
SEGNET_GAP, SEGNET_CHARACTER, SEGNET_SPACE = range(len(SEGNET_CLASSES))

# A crop whose ink differs from its background by less than this many grey levels is shown to the
# models as faint as it is, not stretched to full contrast: a blank crop must stay blank.
_MIN_CONTRAST = 48.0
INK_LEVEL = 0.35
"""Normalised ink (0..1) above which a pixel counts as printed when a box is tightened to its ink."""


@dataclass(frozen=True, slots=True)
class LineInput:
    """A line crop as the line models see it: ink 0..1, cap height ``CAP_ROWS``, ``LINE_ROWS`` rows."""

    image: npt.NDArray[np.float32]
    """(1, 1, LINE_ROWS, width) ink, 0 = carton; width a multiple of ``CRNN_STRIDE``."""
    crop: npt.NDArray[np.uint8]
    """The crop itself (not copied), for cutting boxes at its own pixels."""
    printed_below: float
    """Grey level under which a crop pixel counts as printed (``INK_LEVEL`` of the way to the ink)."""
    scale: float
    """Normalised pixels per crop pixel."""
    cap_box: tuple[int, int]
    """(y, height) of the cap band in the crop, the vertical extent of a reader's character boxes."""

    def to_crop_x(self, column: float) -> int:
        """The crop column of normalised column ``column``, clipped to the crop."""
        return min(max(round(column / self.scale), 0), int(self.crop.shape[1]))

    def ink_box(self, x0: int, x1: int) -> Box | None:
        """The box around the ink between crop columns ``x0`` and ``x1``; None if none is printed there."""
        printed = self.crop[:, max(x0, 0) : max(x1, 0)] < self.printed_below
        cols = np.flatnonzero(printed.any(axis=0))
        if cols.size == 0:
            return None
        rows = np.flatnonzero(printed.any(axis=1))
        x = max(x0, 0) + int(cols[0])
        return x, int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def line_input(crop: npt.NDArray[np.uint8], *, px_per_mm: float) -> LineInput:
    """Normalise a line crop for the line models: ink polarity and contrast, cap height, fixed rows.

    Parameters
    ----------
    crop : ndarray of uint8, shape (h, w)
        A line crop in the convention of ``vision.ocr_types`` (dark ink on a light carton).
    px_per_mm : float
        The crop's scale; with the crop's height it gives the cap height.

    Returns
    -------
    LineInput
        The crop scaled so the cap height is ``CAP_ROWS``, ink 0..1 with the carton at 0.

    Raises
    ------
    ValueError
        If ``crop`` is not a 2-D uint8 image, or ``px_per_mm`` is not a positive number, or the crop
        is too small to hold a text line at that scale.
    """
    if not isinstance(crop, np.ndarray) or crop.ndim != 2 or crop.dtype != np.uint8:
        kind = f"{crop.dtype} array of shape {crop.shape}" if isinstance(crop, np.ndarray) else type(crop)
        raise ValueError(f"crop must be a 2-D uint8 image, got {kind}")
    if not (isinstance(px_per_mm, int | float) and math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm must be a positive number, got {px_per_mm!r}")
    height, width = crop.shape
    margin = LINE_MARGIN_Y_MM * px_per_mm
    cap = height - 2 * margin
    if cap < 4 or width < 4:
        raise ValueError(
            f"crop of {height} x {width} px has no room for a text line at px_per_mm {px_per_mm}"
            f" (needs 2 x {margin:.1f} px of margin plus at least 4 px of cap height, and 4 px width)"
        )
    # Carton = the 90th percentile (text covers well under half a line crop), ink = the 1st.
    pixels = np.ascontiguousarray(crop)
    dark, background = line_levels_kernel(pixels, 0.01 * crop.size, 0.9 * crop.size)
    contrast = max(background - dark, _MIN_CONTRAST)
    scale = CAP_ROWS / cap
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    top_rows = round(margin * scale) - CAP_TOP  # normalised rows of crop above the band
    padded_width = -(-size[0] // CRNN_STRIDE) * CRNN_STRIDE
    image = np.zeros((1, 1, LINE_ROWS, padded_width), np.float32)
    src0, dst0 = max(top_rows, 0), max(-top_rows, 0)
    rows = min(size[1] - src0, LINE_ROWS - dst0)
    if scale < 1 and _area_shrinks(width, size[0]) and _area_shrinks(height, size[1]):
        # OpenCV's INTER_AREA, to the bit, made for the band's rows only and straight to ink.
        line_band_kernel(
            pixels,
            image[0, 0, dst0 : dst0 + max(rows, 0)],
            src0,
            float(background),
            float(contrast),
            size[1],
            size[0],
        )
    else:
        resized = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        band = (np.float32(background) - resized[src0 : src0 + rows].astype(np.float32)) / np.float32(
            contrast
        )
        image[0, 0, dst0 : dst0 + rows, : size[0]] = np.clip(band, 0.0, 1.0)
    return LineInput(
        image=image,
        crop=crop,
        printed_below=background - INK_LEVEL * contrast,
        scale=scale,
        cap_box=(round(margin), round(cap)),
    )


def patches(line: LineInput, spans: Sequence[tuple[int, int]], *, masked: bool) -> npt.NDArray[np.float32]:
    """Cut one ``PATCH_SIZE`` square per column span out of a normalised line, for the character CNN.

    A patch shows the whole cap band (so ``.``, ``-`` and ``:`` keep their height in the line), 1.5 cap
    heights wide, centred on the span.

    Parameters
    ----------
    line : LineInput
        The normalised line.
    spans : sequence of (x0, x1)
        Column ranges [x0, x1) in crop pixels: a character box's, or a gap's between two boxes.
    masked : bool
        Blank the columns outside the span (so a character's neighbours do not show); a gap's
        patch keeps them, as the neighbours' shapes tell a word space from a wide gap in a word.

    Returns
    -------
    ndarray of float32, shape (len(spans), 1, PATCH_SIZE, PATCH_SIZE)
    """
    return _patches(line, spans, np.full(len(spans), masked, np.uint8))


def _patches(
    line: LineInput, spans: Sequence[tuple[int, int]], masked: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float32]:
    """``patches``, each span masked or not as ``masked`` says (one flag per span)."""
    image = line.image[0, 0]
    half = _PATCH_WINDOW // 2
    band_top = CAP_TOP + CAP_ROWS // 2 - half
    table = np.array(spans, np.float64).reshape(len(spans), 2)
    lefts = np.floor(table[:, 0] * line.scale) - 1
    rights = np.ceil(table[:, 1] * line.scale) + 1
    centres = (lefts + rights) // 2
    # Every window within the original's zero padding (one window each side): it shrinks square.
    if centres.size == 0 or (centres.min() >= -half and centres.max() <= image.shape[1] + half):
        return patches_kernel(
            image,
            np.ascontiguousarray(table[:, 0]),
            np.ascontiguousarray(table[:, 1]),
            np.ascontiguousarray(masked, np.uint8),
            float(line.scale),
            band_top,
            _PATCH_WINDOW,
            PATCH_SIZE,
        )
    out = np.zeros((len(spans), 1, PATCH_SIZE, PATCH_SIZE), np.float32)
    padded = np.zeros((_PATCH_WINDOW, image.shape[1] + 2 * _PATCH_WINDOW), np.float32)
    rows = slice(max(band_top, 0), min(band_top + _PATCH_WINDOW, LINE_ROWS))
    padded[rows.start - band_top : rows.stop - band_top, _PATCH_WINDOW:-_PATCH_WINDOW] = image[rows]
    for index, (left, right) in enumerate(spans):
        x0, x1 = math.floor(left * line.scale) - 1, math.ceil(right * line.scale) + 1
        centre = (x0 + x1) // 2
        start = centre - half + _PATCH_WINDOW
        window = padded[:, start : start + _PATCH_WINDOW]
        if masked[index]:
            window = window.copy()
            window[:, : max(x0 - (centre - half), 0)] = 0.0
            window[:, max(x1 - (centre - half), 0) :] = 0.0
        out[index, 0] = cv2.resize(window, (PATCH_SIZE, PATCH_SIZE), interpolation=cv2.INTER_AREA)
    return out


def _area_shrinks(source: int, target: int) -> bool:
    """Whether OpenCV's ``INTER_AREA`` shrinks ``source`` pixels to ``target`` by its general,
    non-integer path (``vision._ocr_kernels.line_band_kernel``'s)."""
    scale = 1.0 / (target / source)
    return scale >= 1 and abs(scale - round(scale)) >= 2.220446049250313e-16


class CtcReader:
    """DL end to end: a CRNN over the whole line, greedy CTC decoding.

    A character's confidence is the highest posterior of its class over the frames that emitted it,
    and 0..0.5 when the net calls it damaged (then the best character class is reported); two equal
    characters in a row are no surer than the blank that separates them.

    Parameters
    ----------
    model : OnnxModel
        A model with the ``crnn`` spec of ``vision.onnx_models``.
    min_confidence : float
        The threshold its validation supports (the model card's).
    """

    name = "dl"

    def __init__(self, model: OnnxModel, *, min_confidence: float) -> None:
        self._model = model
        self.min_confidence = min_confidence

    def read_line(
        self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
    ) -> LineRead:
        """Read one line crop (see ``vision.ocr_types`` for its convention); one pass, so
        ``min_confidence`` changes nothing.

        Raises
        ------
        ValueError
            If ``crop`` or ``px_per_mm`` is not valid (see ``line_input``).
        """
        line = line_input(crop, px_per_mm=px_per_mm)
        probs = self._model.run({"image": line.image})[0][0]
        best = probs.argmax(axis=1)
        runs: list[tuple[int, int, int]] = []  # class, first frame, last frame
        for frame, label in enumerate(best.tolist()):
            if runs and runs[-1][0] == label and runs[-1][2] == frame - 1:
                runs[-1] = (label, runs[-1][1], frame)
            elif label != CRNN_BLANK:
                runs.append((label, frame, frame))
        emitted: list[tuple[str, float, float]] = []  # char, confidence, centre column
        for index, (label, first, last) in enumerate(runs):
            frames = probs[first : last + 1]
            if label == CRNN_DAMAGED:
                # Name the likeliest character, but never with more confidence than "not damaged".
                char_class = 1 + int(frames[:, 1 : 1 + len(CHARSET)].sum(axis=0).argmax())
                confidence = float(min(frames[:, char_class].max(), 1.0 - frames[:, label].max()))
            else:
                char_class = label
                confidence = float(frames[:, label].max())
            if index and runs[index - 1][0] == label:
                # A character read twice is two only as surely as the blank between them: a wide
                # glyph (a dot-matrix hyphen) can come out doubled, and either of the two is the extra.
                confidence = min(confidence, float(probs[runs[index - 1][2] + 1 : first, CRNN_BLANK].max()))
                char, before, centre = emitted[-1]
                emitted[-1] = (char, min(before, confidence), centre)
            centre = (first + last + 1) / 2 * CRNN_STRIDE
            emitted.append((CRNN_CLASSES[char_class], confidence, centre))
        return _assemble(line, _merge_spaces(emitted))


def _merge_spaces(emitted: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    # Word gaps only exist between characters: drop leading and trailing spaces and fold repeats
    # into one (keeping the least sure).
    merged: list[tuple[str, float, float]] = []
    for char, confidence, centre in emitted:
        if char == " " and merged and merged[-1][0] == " ":
            merged[-1] = (" ", min(merged[-1][1], confidence), merged[-1][2])
        elif char != " " or merged:
            merged.append((char, confidence, centre))
    if merged and merged[-1][0] == " ":
        merged.pop()
    return merged


def _assemble(line: LineInput, emitted: list[tuple[str, float, float]]) -> LineRead:
    """Characters at normalised column centres -> a LineRead, each box tightened to its ink."""
    y, height = line.cap_box
    half = 0.45 * CAP_ROWS  # no character of the fonts is wider than 0.9 cap heights
    centres = [centre for _, _, centre in emitted]
    boxes: list[Box | None] = []
    for index, (char, _, centre) in enumerate(emitted):
        left = max(centre - half, (centres[index - 1] + centre) / 2 if index else -math.inf)
        right = min(
            centre + half, (centre + centres[index + 1]) / 2 if index + 1 < len(centres) else math.inf
        )
        x0, x1 = line.to_crop_x(left), line.to_crop_x(right)
        boxes.append(None if char == " " else line.ink_box(x0, x1) or (x0, y, max(x1 - x0, 1), height))
    chars = []
    for index, (char, confidence, _) in enumerate(emitted):
        box = boxes[index]
        if box is None:  # a word gap spans from its left neighbour's ink to its right neighbour's
            before, after = boxes[index - 1], boxes[index + 1]
            assert before is not None and after is not None  # _merge_spaces keeps spaces inside words
            x0 = before[0] + before[2]
            box = (x0, y, max(after[0] - x0, 1), height)
        chars.append(CharRead(char=char, confidence=confidence, box=box))
    return LineRead(chars=tuple(chars))


def make_dl_reader() -> CtcReader:
    """The ``dl`` reader with the shipped CRNN (loaded once per process) and its card's threshold."""
    return CtcReader(load_model("crnn"), min_confidence=recommended_threshold("crnn"))


_SHATTERED = 0.2
"""Share of a line's boxes the character CNN rejects above which the whole segmentation is suspect."""
JOINED_GAP = 0.15
"""A gap between two boxes narrower than this many cap heights is inside a word in every font (the
narrowest word space, tij_sans's, leaves 0.24), so combination 1 does not ask its CNN about it."""


class CharCnnReader:
    """Combination 1: classical segmentation, then a CNN names each box and tells word spaces.

    A character's confidence is the CNN's calibrated posterior of the character it names, given that
    the patch is a box (not a gap); a box the CNN calls "not one whole character" therefore comes
    with less than 0.5. Word spaces are the classical reader's (``vision.ocr``: the segmenter's grid
    on dot-matrix print, the gap over the line's usual one on solid print), and the CNN cross-checks
    each of them and every gap wider than ``JOINED_GAP`` cap heights: a space is as sure as the less
    sure of the two, and a gap the CNN calls a space where the geometry sees none makes its left
    character unsure, so a word break the two disagree on is an unsure line. When the CNN rejects
    more than a fifth of a line's boxes, the segmentation itself is suspect, and every character
    of the line is as unsure as its least sure one.

    Parameters
    ----------
    model : OnnxModel
        A model with the ``charcnn`` spec of ``vision.onnx_models``.
    min_confidence : float
        The threshold its validation supports (the model card's).
    """

    name = "combination1"

    def __init__(self, model: OnnxModel, *, min_confidence: float) -> None:
        self._model = model
        self.min_confidence = min_confidence

    def read_line(
        self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
    ) -> LineRead:
        """Read one line crop (see ``vision.ocr_types`` for its convention).

        The segmenter's likelier reading is read first; when it leaves a character below
        ``min_confidence`` (``None``: ``self.min_confidence``), the threshold the line will be
        judged at, its other reading (dot grid or solid, when it has one) is read too, and the one
        read with the higher mean log-confidence is kept, as the classical reader does. A faint,
        soft dot-matrix line whose drops the solid reading cuts apart is read on its grid.

        Raises
        ------
        ValueError
            If ``crop`` or ``px_per_mm`` is not valid (see ``line_input``).
        """
        stop_at = self.min_confidence if min_confidence is None else min_confidence
        line = line_input(crop, px_per_mm=px_per_mm)
        cap_px = line.cap_box[1]
        best: tuple[float, LineRead] | None = None
        for reading in segmentation_readings(crop, px_per_mm=px_per_mm, text_height_mm=cap_px / px_per_mm):
            read = self._read(line, reading(), cap_px)
            score = reading_score([c.confidence for c in read.chars if c.char != " "])
            if best is None or score > best[0]:
                best = (score, read)
            if read.min_confidence >= stop_at:
                break  # read with confidence throughout: keep it
        assert best is not None  # segmentation_readings returns at least one
        return best[1]

    def _read(self, line: LineInput, segmentation: Segmentation, cap_px: int) -> LineRead:
        """The line as read from one segmentation."""
        boxes, cells = segmentation.boxes, segmentation.cells
        if not boxes:
            return LineRead(chars=())
        # The classical reader's word gaps (its grid on dot-matrix print, the gap over the line's usual
        # one on solid print), cross-checked by the CNN on every gap either of them might call a space.
        classical = word_gaps(boxes, segmentation, cap_px)
        gaps = [(left[0] + left[2], right[0]) for left, right in itertools.pairwise(boxes)]
        asked = [
            index
            for index, (x0, x1) in enumerate(gaps)
            if classical[index] is not None or (cells is None and x1 - x0 > JOINED_GAP * cap_px)
        ]
        inputs = _patches(
            line,
            [(x, x + w) for x, _, w, _ in boxes] + [gaps[index] for index in asked],
            (np.arange(len(boxes) + len(asked)) < len(boxes)).astype(np.uint8),
        )
        probs = self._model.run({"chars": inputs})[0].astype(np.float64)
        # Each patch is known to be a box or a gap: condition its posteriors on that.
        boxed = probs[: len(boxes), :CHARCNN_SPACE]
        boxed /= boxed.sum(axis=1, keepdims=True)
        best = boxed[:, : len(CHARSET)].argmax(axis=1)
        confidences = boxed[np.arange(len(boxes)), best].tolist()
        # (A gap whose two classes both vanish is neither: 0.5, unsure.)
        spaced = probs[len(boxes) :, CHARCNN_SPACE] + 1e-12
        spaced /= spaced + probs[len(boxes) :, CHARCNN_JOINED] + 1e-12
        spaces: dict[int, CharRead] = {}
        for index, space in zip(asked, spaced.tolist(), strict=True):
            gap = classical[index]
            if gap is not None:  # a space, as sure as the less sure of the two
                spaces[index] = CharRead(char=" ", confidence=min(gap.confidence, space), box=gap.box)
            else:  # no space, unless the CNN says otherwise: then its left character is unsure
                confidences[index] = min(confidences[index], 1.0 - space)
        if (boxed[:, CHARCNN_REJECT] > 0.5).mean() > _SHATTERED:
            # The segmenter lost its way on this line (cut a dot-matrix line into drops, say): no
            # character of it is surer than its least sure one.
            floor = min(confidences)
            confidences = [floor] * len(confidences)
            spaces = {
                index: CharRead(" ", min(gap.confidence, floor), gap.box) for index, gap in spaces.items()
            }
        chars = []
        for index, box in enumerate(boxes):
            chars.append(CharRead(char=CHARSET[best[index]], confidence=confidences[index], box=box))
            if index in spaces:
                chars.append(spaces[index])
        return LineRead(chars=tuple(chars))


_Ink = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int64]]
"""A crop's ink: component labels, their stats (``label_components``) and the labels that count."""


class _LineFeatures:
    """``char_features`` of one line crop for several sets of boxes, the crop's ink prepared once.

    Combination 2 takes the features of two boxings of a line, and of merged neighbours, with the
    same levels: the crop's normalised ink is made once, and blurred once per blur width (which
    follows the cap band fitted to each set of boxes, so a second boxing usually blurs anew), and
    only the rows asked for are sampled (the merged neighbours, framed among the line's boxes).
    Each feature is computed as ``char_features`` computes it, to the bit.
    """

    __slots__ = ("_blurred", "_crop", "_levels", "_normalised")

    def __init__(self, crop: npt.NDArray[np.uint8], levels: tuple[float, float] | None) -> None:
        self._crop = crop
        self._levels = levels
        self._normalised: npt.NDArray[np.float32] | None = None
        self._blurred: dict[float, npt.NDArray[np.float32]] = {}

    def of(self, boxes: Sequence[Box], *, first: int = 0) -> npt.NDArray[np.float32]:
        """``char_features(crop, boxes, levels=levels)[first:]``, for boxes inside the crop made
        by this module (not checked: a box outside the crop reads as no ink there)."""
        if self._levels is None or not boxes:
            return char_features(self._crop, boxes, levels=self._levels)[first:]
        table = np.array(boxes, np.int64)
        windows, geometry, cap = glyph_frames_kernel(
            table, self._crop.shape[0], _TALL, _MAX_SLOPE, _MIN_WINDOW
        )
        sigma = max(_BLUR * cap, 0.3)
        blurred = self._blurred.get(sigma)
        if blurred is None:
            if self._normalised is None:
                self._normalised = _normalised(self._crop, *self._levels)
            blurred = np.ascontiguousarray(cv2.GaussianBlur(self._normalised, (0, 0), sigma), np.float32)
            self._blurred[sigma] = blurred
        grid = glyph_grid_kernel(blurred, np.ascontiguousarray(windows[first:]), GRID_ROWS, GRID_COLUMNS)
        features = np.empty((grid.shape[0], N_FEATURES), np.float32)
        features[:, : GRID_ROWS * GRID_COLUMNS] = grid.reshape(grid.shape[0], -1)
        features[:, GRID_ROWS * GRID_COLUMNS :] = geometry[first:]
        return features


@dataclass(frozen=True, slots=True)
class _SegNetReading:
    """Combination 2's read of a line from one inking of its spans."""

    boxes: list[Box]
    classes: npt.NDArray[np.int64]
    """Each box's class, an index into the classifier's classes."""
    confidences: npt.NDArray[np.float64]
    """Each box's confidence: the classifier's, at most the net's."""
    score: float
    """The mean log-confidence of the classifier, which ranks the inkings."""


class SegNetReader:
    """Combination 2: a segmentation net finds the characters and word spaces; classical features
    and classifier name each character.

    The net says which columns of the line are a character, so each character's span; the
    feature classifier is calibrated on glyphs boxed as the classical segmenter boxes them, so each
    span is boxed the same way before its features are taken (``glyph_boxes``): around its ink
    blobs, at the segmenter's drop ink for dot-matrix print and at its core ink for solid print.
    Which of the two a line is, the classifier tells, as it does for the classical reader's two
    segmentations: the likelier inking is read first (drop ink where the line's drops are several
    per span), the other only when a character of the first is below the threshold, and the
    reading with the higher mean log-confidence is kept.

    A character's confidence is the lowest of the classifier's; the net's (the mean posterior of
    "character" over the core of its span, see ``Segments.confidences``); one minus the highest
    posterior of "space" in the gap after it when the gap is read as inside a word; and, where it
    and a neighbour in its word could be one glyph split in two (together no wider than the widest
    glyph), one minus the classifier's confidence in that one glyph. A word space's confidence is
    the highest posterior of "space" in its gap.

    Parameters
    ----------
    model : OnnxModel
        A model with the ``segnet`` spec of ``vision.onnx_models``.
    classifier : FeatureClassifier
        The classical feature classifier, its tables loaded.
    min_confidence : float
        The threshold its validation supports (the model card's).
    """

    name = "combination2"

    def __init__(self, model: OnnxModel, classifier: FeatureClassifier, *, min_confidence: float) -> None:
        self._model = model
        self._classifier = classifier
        self.min_confidence = min_confidence

    def read_line(
        self, crop: npt.NDArray[np.uint8], *, px_per_mm: float, min_confidence: float | None = None
    ) -> LineRead:
        """Read one line crop (see ``vision.ocr_types`` for its convention).

        The second boxing is read only when the first leaves a character below ``min_confidence``
        (``None``: ``self.min_confidence``), the threshold the line will be judged at.

        Raises
        ------
        ValueError
            If ``crop`` or ``px_per_mm`` is not valid (see ``line_input``).
        """
        stop_at = self.min_confidence if min_confidence is None else min_confidence
        line = line_input(crop, px_per_mm=px_per_mm)
        cut = cut_segments(line, self._model.run({"image": line.image})[0][0])
        if not cut.boxes:
            return LineRead(chars=())
        y, cap_px = line.cap_box
        # What the net says of each character: the core of its span, and the gap after it.
        net = np.minimum(cut.confidences, [1.0 - space if space <= 0.5 else 1.0 for space in cut.space_after])
        threshold = otsu_threshold(crop)
        levels = ink_levels(crop, threshold=threshold)
        features = _LineFeatures(crop, levels)
        if levels is None:  # flat: no ink to box, so the net's boxes as they are
            best = self._read(features, cut.boxes, net)
        else:
            ground, ink = levels
            drops = _ink_blobs(crop, threshold, round(ground - _DROP_LEVEL * (ground - ink)), cap_px)
            core = min(max(round(ground - _CORE_LEVEL * (ground - ink)), 0), threshold)
            inkings: list[Callable[[], _Ink]] = [lambda: drops, lambda: _ink_blobs(crop, core, None, cap_px)]
            if drops[2].size < _DOTTED * len(cut.spans):  # a blob or two a glyph: solid print, likelier
                inkings.reverse()
            readings: list[_SegNetReading] = []
            for inking in inkings:
                boxes = _span_boxes(*inking(), cut.spans, cap_px, crop.shape, cut.boxes)
                readings.append(self._read(features, boxes, net))
                if readings[-1].confidences.min() >= stop_at:
                    break  # read with confidence throughout: keep it
            best = max(readings, key=lambda reading: reading.score)
        boxes, classes, confidences = best.boxes, best.classes, best.confidences.copy()
        self._doubt_splits(features, boxes, cut.space_after, confidences, cap_px)
        chars = []
        for index, box in enumerate(boxes):
            chars.append(
                CharRead(
                    char=self._classifier.classes[classes[index]],
                    confidence=float(confidences[index]),
                    box=box,
                )
            )
            space = cut.space_after[index]
            if space > 0.5:
                x0 = box[0] + box[2]
                chars.append(
                    CharRead(
                        char=" ", confidence=space, box=(x0, y, max(boxes[index + 1][0] - x0, 1), cap_px)
                    )
                )
        return LineRead(chars=tuple(chars))

    def _read(
        self, features: _LineFeatures, boxes: list[Box], net: npt.NDArray[np.float64]
    ) -> _SegNetReading:
        """The line read from one set of boxes, each character no surer than the net is of it."""
        classes, confidences = self._classifier.classify(features.of(boxes))
        confidences = np.asarray(confidences, np.float64)
        return _SegNetReading(
            boxes=boxes,
            classes=np.asarray(classes, np.int64),
            confidences=np.minimum(confidences, net),
            score=reading_score(confidences),
        )

    def _doubt_splits(
        self,
        features: _LineFeatures,
        boxes: list[Box],
        space_after: list[float],
        confidences: npt.NDArray[np.float64],
        cap_px: int,
    ) -> None:
        """Lower, in place, the confidence of two neighbours in a word that read as one glyph too.

        The net sometimes cuts a glyph in two (an O into an L and a colon, a hyphen into two short
        ones), and each half may look like a glyph of its own. Two neighbours no wider together
        than the widest glyph are classified as one box as well: both are at most as sure as that
        one glyph is not there. Two real neighbours boxed together are not one whole character
        (the classifier's calibration counts merged neighbours among its negatives), so they keep
        their confidence.
        """
        pairs = [
            index
            for index in range(len(boxes) - 1)
            if space_after[index] <= 0.5
            and boxes[index + 1][0] + boxes[index + 1][2] - boxes[index][0] <= _SOLID_MAX_WIDTH * cap_px
        ]
        if not pairs:
            return
        merged: list[Box] = []
        for index in pairs:
            (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes[index], boxes[index + 1]
            top, bottom = min(y0, y1), max(y0 + h0, y1 + h1)
            merged.append((x0, top, max(x0 + w0, x1 + w1) - x0, bottom - top))
        # Framed among the line's own boxes, so that the cap band is fitted as for the halves.
        _, whole = self._classifier.classify(features.of([*boxes, *merged], first=len(boxes)))
        for index, sure in zip(pairs, np.asarray(whole, np.float64).tolist(), strict=True):
            confidences[index] = min(confidences[index], 1.0 - sure)
            confidences[index + 1] = min(confidences[index + 1], 1.0 - sure)


@dataclass(frozen=True, slots=True)
class Segments:
    """The characters a segmentation net found on a line, left to right."""

    boxes: list[Box]
    """Each character's box in crop pixels, around the ink of its span (``LineInput.ink_box``)."""
    spans: list[tuple[int, int]]
    """Each character's columns [x0, x1) in crop pixels: its run of "character" steps."""
    confidences: list[float]
    """Each character's mean posterior of "character" over the core of its run: the run less its
    first and last step when it has three or more. Those two straddle the edge of the glyph's ink,
    where the net's posterior passes from gap to character whatever the print's quality."""
    space_after: list[float]
    """Per character, the highest posterior of "space" in the gap after it (0 for the last)."""


def cut_segments(line: LineInput, probs: npt.NDArray[np.float32]) -> Segments:
    """Characters from the segmentation net's posteriors (classes, steps): one per run of "character" steps.

    Parameters
    ----------
    line : LineInput
        The normalised line the net saw.
    probs : ndarray of float32, shape (3, steps)
        Its posteriors of ``SEGNET_CLASSES``.
    """
    probs = np.ascontiguousarray(probs, np.float32)
    if probs.ndim != 2 or probs.shape[0] != len(SEGNET_CLASSES):
        raise ValueError(f"probs has shape {probs.shape}, expected ({len(SEGNET_CLASSES)}, steps)")
    crop = np.ascontiguousarray(line.crop)
    spans, inked, confidences, space_after = segment_runs_kernel(
        probs,
        crop,
        float(line.printed_below),
        float(line.scale),
        SEGNET_STRIDE,
        SEGNET_CHARACTER,
        SEGNET_SPACE,
    )
    y, cap_px = line.cap_box
    width = int(crop.shape[1])
    boxes: list[Box] = [
        (x, top, w, h)
        if w
        else (min(max(x0 - 1, 0), width - 1), y, max(min(x1 + 1, width) - max(x0 - 1, 0), 1), cap_px)
        for (x, top, w, h), (x0, x1) in zip(inked.tolist(), spans.tolist(), strict=True)
    ]
    return Segments(
        boxes=boxes,
        spans=[(x0, x1) for x0, x1 in spans.tolist()],
        confidences=confidences.tolist(),
        space_after=space_after.tolist(),
    )


_DOTTED = 2.0
"""Drop-ink blobs per span from which a line is likelier dot-matrix print (a dot-matrix glyph is
several drops, a solid one a blob or two): its drop inking is read first."""
_NEAR = 0.15
"""A blob beside every span belongs to the nearest one within this many cap heights (the net's
steps are about 0.1 cap heights, so a glyph's edge may fall just outside its span)."""
_SHARED = 0.25
"""A blob overlapping two spans by this many cap heights each is two glyphs' ink (touching glyphs,
drops bridged by blur), cut between them; a glyph's edge falls short of that in its neighbour's."""
_CUT_REACH = 0.1
"""Such a blob is cut at its thinnest column up to this many cap heights outside the gap between
the two spans."""


def glyph_boxes(
    crop: npt.NDArray[np.uint8],
    spans: Sequence[tuple[int, int]],
    cap_px: float,
    *,
    threshold: int,
    reach: int | None,
    fallback: Sequence[Box],
) -> list[Box]:
    """Each span's box around the ink blobs it holds, as ``vision.segment`` boxes a glyph.

    The ink is the crop at or below ``threshold``, in 8-connected blobs of at least the
    segmenter's speck area, and with ``reach`` only the blobs with a pixel at or below it (drops:
    the segmenter's dot-matrix convention, Otsu's threshold and half the ink's contrast; its solid
    convention is the core ink alone). A blob belongs to the span it overlaps most, or to the
    nearest span within ``_NEAR`` cap heights when it overlaps none; one overlapping two spans by
    ``_SHARED`` cap heights or more each is cut between them at its thinnest column. A span with
    no ink keeps its ``fallback`` box.

    Parameters
    ----------
    crop : ndarray of uint8, shape (h, w)
        The line crop.
    spans : sequence of (x0, x1)
        Each character's columns [x0, x1) in crop pixels, left to right (``Segments.spans``).
    cap_px : float
        The cap height in crop pixels.
    threshold : int
        Grey level at or below which a pixel is ink.
    reach : int, optional
        Grey level a blob must reach somewhere to count.
    fallback : sequence of Box
        One box per span, for a span without ink.

    Returns
    -------
    list of Box
        One per span.
    """
    if not spans:
        return []
    return _span_boxes(*_ink_blobs(crop, threshold, reach, cap_px), spans, cap_px, crop.shape, fallback)


def _ink_blobs(crop: npt.NDArray[np.uint8], threshold: int, reach: int | None, cap_px: float) -> _Ink:
    """Labels and stats of the crop's ink at or below ``threshold`` (``label_components``), and the
    labels of the blobs that count: not specks, and with ``reach`` a pixel at or below it."""
    labels, stats = label_components(binarize_otsu(crop, threshold=threshold))
    kept = stats[:, 4] >= _speck_area(cap_px)
    kept[0] = False
    if reach is not None:
        kept &= reaching_kernel(labels, crop, reach, kept.size)
    return labels, stats, np.flatnonzero(kept)


def _span_boxes(
    labels: npt.NDArray[np.int32],
    stats: npt.NDArray[np.int32],
    blobs: npt.NDArray[np.int64],
    spans: Sequence[tuple[int, int]],
    cap_px: float,
    shape: tuple[int, ...],
    fallback: Sequence[Box],
) -> list[Box]:
    """``glyph_boxes`` of blobs already labelled (``_ink_blobs``) in a crop of ``shape``."""
    span_left = np.array([x0 for x0, _ in spans], np.int64)
    span_right = np.array([x1 for _, x1 in spans], np.int64)
    shared, extent = span_ink_kernel(
        stats, blobs, span_left, span_right, _SHARED * cap_px, _NEAR * cap_px, shape[1], shape[0]
    )
    # Per span: x0, y0, x1, y1 of its ink (empty while x0 > x1).
    x0, y0, x1, y1 = (column.tolist() for column in extent.T)
    for row in np.flatnonzero(shared).tolist():
        blob = int(blobs[row])
        bx, by, bw, bh = (int(value) for value in stats[blob, :4])
        overlap = np.minimum(bx + bw, span_right) - np.maximum(bx, span_left)
        owners = np.flatnonzero(overlap >= _SHARED * cap_px).tolist()
        for span, cut0, cut1 in _cut_blob(labels, blob, (bx, by, bw, bh), owners, spans, cap_px):
            ink = labels[by : by + bh, cut0:cut1] == blob
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
            if rows.size:
                x0[span] = min(x0[span], cut0 + int(cols[0]))
                y0[span] = min(y0[span], by + int(rows[0]))
                x1[span] = max(x1[span], cut0 + int(cols[-1]) + 1)
                y1[span] = max(y1[span], by + int(rows[-1]) + 1)
    return [
        (x0[index], y0[index], x1[index] - x0[index], y1[index] - y0[index])
        if x1[index] > x0[index]
        else fallback[index]
        for index in range(len(spans))
    ]


def _cut_blob(
    labels: npt.NDArray[np.int32],
    blob: int,
    box: Box,
    shared: list[int],
    spans: Sequence[tuple[int, int]],
    cap_px: float,
) -> list[tuple[int, int, int]]:
    """(span, x0, x1): the columns of a blob each of the spans it is shared by gets, cut at its
    thinnest column near each gap between them (nearest the gap's middle among equals)."""
    bx, by, bw, bh = box
    profile = (labels[by : by + bh, bx : bx + bw] == blob).sum(axis=0)
    cuts = [bx]
    reach = _CUT_REACH * cap_px
    for span, after in itertools.pairwise(shared):
        gap0, gap1 = spans[span][1], spans[after][0]
        low = max(math.floor(min(gap0, gap1) - reach), cuts[-1] + 1)
        high = min(math.ceil(max(gap0, gap1) + reach), bx + bw - 1)
        if low > high:
            cuts.append(min(cuts[-1] + 1, bx + bw))
            continue
        columns = np.arange(low, high + 1)
        cost = profile[columns - bx] + 1e-3 * np.abs(columns - (gap0 + gap1) / 2)
        cuts.append(int(columns[int(np.argmin(cost))]))
    cuts.append(bx + bw)
    # The cut column itself goes to neither side.
    return [(span, cuts[index] + (1 if index else 0), cuts[index + 1]) for index, span in enumerate(shared)]


def make_combination1_reader() -> CharCnnReader:
    """The ``combination1`` reader: ``vision.segment`` and the shipped character CNN."""
    return CharCnnReader(load_model("charcnn"), min_confidence=recommended_threshold("charcnn"))


def make_combination2_reader() -> SegNetReader:
    """The ``combination2`` reader: the shipped segmentation net, ``vision.char_features`` and the
    classical feature classifier's shipped tables."""
    return SegNetReader(
        load_model("segnet"),
        FeatureClassifier.load(CLASSICAL_MODEL),
        min_confidence=recommended_threshold("segnet"),
    )
