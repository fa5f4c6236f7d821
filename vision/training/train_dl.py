"""Train the DL OCR models, export them to ONNX and write their model cards, reproducibly from a seed.

    python -m vision.training.train_dl --model {charcnn,segnet,crnn,all} --seed 0
    python -m vision.training.train_dl --model all --revalidate   # after a reader or classifier change

Training lines come from ``simulator.text_samples.line_samples`` seeded with ``--seed`` (0..499);
validation lines with ``--seed + 500``. Seeds from 1000 up are never drawn here: tests and benchmarks
hold them back. Each model is evaluated through its reader in onnxruntime, as the node runs it, and
its card (``vision/models/<name>.json``) records the data, the run and the results. Needs the
``train`` extra (PyTorch); the node itself never imports this package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import numpy as np
import onnxruntime as ort
import torch
from torch import nn
from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

from vision.feature_classifier import FeatureClassifier
from vision.ocr import CLASSICAL_MODEL
from vision.ocr_dl import CHARCNN_REJECT, CharCnnReader, CtcReader, SegNetReader, cut_segments, patches
from vision.ocr_types import LineRead, LineReader
from vision.onnx_models import MODEL_SPECS, MODELS_DIR, ModelSpec, OnnxModel
from vision.segment import segment_characters
from vision.training import charcnn, crnn, segnet
from vision.training.align import align
from vision.training.data import (
    FONTS,
    RESERVED_SEEDS_FROM,
    TrainingLine,
    draw_lines,
    prepare_lines,
)

__all__ = [
    "MODELS",
    "Plan",
    "align_in_place",
    "evaluate_reader",
    "evaluate_segmentation",
    "export_onnx",
    "fit",
    "main",
    "revalidate",
    "train_model",
]

Batch = TypeVar("Batch")

PX_PER_MM = 10.0
"""Scale the lines are drawn at: the recipes' default; ``line_input`` normalises other scales."""
VALIDATION_SEED_OFFSET = 500
OPSET = 17
THREADS = 1
"""Torch threads: fixed, since the summation order (so the exact weights) depends on it. One, as the
small convolutions gain little from a second and lose much when another process holds a core."""
DEFACED_SHARE = 0.12
BLANK_SHARE = 0.03
PARTIAL_LINES = 300
"""Combination 1's character CNN also trains on this many lines with a partly unprinted character
(``charcnn.partial_lines``), drawn from ``--seed + PARTIAL_SEED_OFFSET``."""
PARTIAL_SEED_OFFSET = 250


@dataclass(frozen=True, slots=True)
class Plan:
    """How one model is trained."""

    train_lines: int
    validation_lines: int
    epochs: int
    batch_size: int
    learning_rate: float


MODELS = {
    "charcnn": Plan(train_lines=3000, validation_lines=1000, epochs=8, batch_size=128, learning_rate=3e-3),
    "segnet": Plan(train_lines=6000, validation_lines=1000, epochs=8, batch_size=32, learning_rate=3e-3),
    "crnn": Plan(train_lines=18000, validation_lines=2000, epochs=7, batch_size=32, learning_rate=3e-3),
}
"""The shipped models' plans. CPU time on one thread, data drawing included: crnn 11 min, charcnn
9 min, segnet 5 min (the three can run side by side, one process each)."""

_ROOT = Path(__file__).resolve().parents[2]
_GENERATOR_SOURCES = (
    "simulator/text_samples.py",
    "simulator/camera.py",
    "vision/print_text.py",
    "vision/fonts.py",
    "vision/training/data.py",
)
"""The code that draws the training lines: the same seed gives the same lines only with the same code."""
_THRESHOLDS = [round(0.5 + 0.01 * step, 2) for step in range(50)]


def fit(
    net: nn.Module,
    epoch: Callable[[], Iterable[Batch]],
    loss: Callable[[Any, Batch], torch.Tensor],
    *,
    plan: Plan,
    steps_per_epoch: int,
    log: Callable[[str], None],
) -> list[float]:
    """Train ``net`` for ``plan.epochs`` with AdamW and a one-cycle learning rate; mean loss per epoch.

    Parameters
    ----------
    net : torch.nn.Module
        The network, trained in place.
    epoch : callable
        Gives one epoch of batches (in its own, seeded order) per call.
    loss : callable
        ``loss(net, batch)`` -> scalar tensor.
    plan : Plan
        Epochs and learning rate.
    steps_per_epoch : int
        Batches per epoch (the schedule's length).
    log : callable
        Receives one line per epoch.
    """
    optimizer = torch.optim.AdamW(net.parameters(), lr=plan.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=plan.learning_rate, total_steps=plan.epochs * steps_per_epoch, pct_start=0.15
    )
    history = []
    for index in range(plan.epochs):
        start = time.perf_counter()
        net.train()
        total, count = 0.0, 0
        for batch in epoch():
            optimizer.zero_grad()
            value = loss(net, batch)
            torch.autograd.backward(value)
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimizer.step()
            schedule.step()
            total, count = total + float(value.detach()), count + 1
        history.append(total / max(count, 1))
        log(f"epoch {index + 1}/{plan.epochs}: loss {history[-1]:.4f} ({time.perf_counter() - start:.0f} s)")
    net.eval()
    return history


def export_onnx(module: nn.Module, example: torch.Tensor, spec: ModelSpec) -> bytes:
    """``module`` as an ONNX model with ``spec``'s names and dynamic dimensions.

    Uses torch's TorchScript exporter, which needs no package beyond torch once its hook for
    onnxscript functions (which these models do not use, and which imports the ``onnx`` package) is
    skipped: the ``train`` extra stays torch alone. The hook is private; torch is pinned exactly.
    """
    (input_spec,), (output_spec,) = spec.inputs, spec.outputs
    dynamic = {
        tensor.name: {axis: size for axis, size in enumerate(tensor.shape) if isinstance(size, str)}
        for tensor in (input_spec, output_spec)
    }
    module.eval()
    with (
        mock.patch.object(onnx_proto_utils, "_add_onnxscript_fn", lambda model, _: model),
        warnings.catch_warnings(),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = Path(folder) / "model.onnx"
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs onnx and
        # onnxscript; the LSTM warning is about batches above 1, which a reader never sends.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*LSTM.*", category=UserWarning)
        torch.onnx.export(
            module,
            (example,),
            path,
            input_names=[input_spec.name],
            output_names=[output_spec.name],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
        return path.read_bytes()


def evaluate_reader(
    reader: LineReader, lines: Sequence[TrainingLine], *, px_per_mm: float, threshold: float | None = None
) -> dict[str, Any]:
    """Read validation lines as the node would and score the reads against their truth.

    In-spec lines give the character accuracy (characters read right over characters printed) and
    the confidences of wrong characters (misread or inserted); the recommended threshold is the
    lowest of 0.50..0.99 that no wrong character reaches (which character of a read is the wrong
    one, where the text alone leaves it open, says where it was read: ``align_in_place``). At that
    threshold: the share of in-spec
    characters it rejects and of in-spec lines it passes (text right, every character at or above
    it); of defaced lines it passes, and that it reads wrong but sure (a verifier rejects them for
    the text, but the reader should have been unsure); and blank lines read as sure text.

    Parameters
    ----------
    reader : LineReader
        The reader under test.
    lines : sequence of TrainingLine
        Validation lines (some defaced, some blank).
    px_per_mm : float
        Their scale.
    threshold : float, optional
        Score at this threshold instead of recommending one.
    """
    in_spec = [line for line in lines if line.text and line.damaged is None]
    defaced = [line for line in lines if line.damaged is not None]
    blank = [line for line in lines if not line.text]
    reads = {}
    start = time.perf_counter()
    for line in lines:
        reads[id(line)] = reader.read_line(line.image, px_per_mm=px_per_mm)
    elapsed = time.perf_counter() - start
    right = missed = 0
    wrong: list[float] = []  # confidences
    right_confidences: list[float] = []
    for line in in_spec:
        read = reads[id(line)]
        for read_index, truth_index in align_in_place(read, line):
            if read_index is None:
                missed += 1
            elif truth_index is not None and read.text[read_index] == line.text[truth_index]:
                right += 1
                right_confidences.append(read.chars[read_index].confidence)
            else:
                wrong.append(read.chars[read_index].confidence)
    if threshold is None:
        threshold = next((t for t in _THRESHOLDS if all(c < t for c in wrong)), 1.0)
    chars = sum(len(line.text) for line in in_spec)

    def share(chosen: Sequence[TrainingLine], test: Callable[[LineRead, str], bool]) -> float:
        return sum(test(reads[id(line)], line.text) for line in chosen) / max(len(chosen), 1)

    def passed(read: LineRead, text: str) -> bool:
        return read.text == text and read.min_confidence >= threshold

    def sure_and_wrong(read: LineRead, text: str) -> bool:
        return bool(read.text) and read.text != text and read.min_confidence >= threshold

    return {
        "lines": {"in_spec": len(in_spec), "defaced": len(defaced), "blank": len(blank)},
        "in_spec_chars": chars,
        "char_accuracy": right / max(chars, 1),
        "wrong_chars": len(wrong),
        "missed_chars": missed,
        "line_accuracy": share(in_spec, lambda read, text: read.text == text),
        "recommended_threshold": threshold,
        "wrong_chars_at_or_above_threshold": sum(c >= threshold for c in wrong),
        "right_chars_below_threshold": sum(c < threshold for c in right_confidences) / max(chars, 1),
        "in_spec_lines_passed": share(in_spec, passed),
        "defaced_lines_passed": share(defaced, passed),
        "defaced_lines_read_wrong_but_sure": share(defaced, sure_and_wrong),
        "blank_lines_read_as_sure_text": share(blank, sure_and_wrong),
        "mean_read_ms_one_thread": 1e3 * elapsed / max(len(lines), 1),
    }


def align_in_place(read: LineRead, line: TrainingLine) -> list[tuple[int | None, int | None]]:
    """``vision.training.align.align`` of a read against its line's text, ties broken by place.

    The alignment has the least edits, as ``align``'s; of the alignments that do, the one that
    pairs the most read characters with a printed character their box is centred on. Text alone
    cannot say which of two equal neighbours is the extra one (a hyphen read twice, or a glyph cut
    in two whose first half reads as the character before it), and ``align`` would blame either;
    the read's boxes say which was read where the other was printed.

    Returns
    -------
    list of (read index, truth index)
        As ``align``: None where one side has nothing.
    """
    text, truth = read.text, line.text
    rows, cols = len(text) + 1, len(truth) + 1
    # A misplaced pair costs less than an edit in all, so the edit count stays the least.
    misplaced = 0.5 / (max(rows, cols) + 1)

    def pair_cost(i: int, j: int) -> float:
        box, ink = read.chars[i].box, line.ink_boxes[j] if j < len(line.ink_boxes) else None
        away = ink is not None and text[i] != " " and not ink[0] <= box[0] + box[2] / 2 <= ink[0] + ink[2]
        return float(text[i] != truth[j]) + misplaced * away

    return align(text, truth, pair_cost)


@dataclass(frozen=True, slots=True)
class _Data:
    train: list[TrainingLine]
    validation: list[TrainingLine]


_drawn: dict[int, _Data] = {}


def _data(seed: int, train_lines: int, validation_lines: int, log: Callable[[str], None]) -> _Data:
    """The first ``train_lines`` and ``validation_lines`` of the seed's training and validation lines.

    Lines are drawn one after the other from seeded generators, so the first n of a longer draw are
    the n of a shorter one: the models of one run share the longest draw.
    """
    drawn = _drawn.get(seed)
    if drawn is None or len(drawn.train) < train_lines or len(drawn.validation) < validation_lines:
        start = time.perf_counter()
        counts = (train_lines, validation_lines)
        if drawn is not None:
            counts = (max(counts[0], len(drawn.train)), max(counts[1], len(drawn.validation)))
        train, validation = (
            prepare_lines(
                draw_lines(line_seed, count, px_per_mm=PX_PER_MM),
                px_per_mm=PX_PER_MM,
                rng=np.random.default_rng([line_seed, 1]),
                defaced_share=DEFACED_SHARE,
                blank_share=BLANK_SHARE,
            )
            if count
            else []
            for line_seed, count in zip((seed, seed + VALIDATION_SEED_OFFSET), counts, strict=True)
        )
        drawn = _drawn[seed] = _Data(train=train, validation=validation)
        log(f"drew {len(train)} + {len(validation)} lines ({time.perf_counter() - start:.0f} s)")
    return _Data(train=drawn.train[:train_lines], validation=drawn.validation[:validation_lines])


def _segmenter() -> charcnn.Segmenter:
    def cut(line: TrainingLine) -> Sequence[tuple[int, int, int, int]]:
        cap = line.line.cap_box[1]
        return segment_characters(line.image, px_per_mm=PX_PER_MM, text_height_mm=cap / PX_PER_MM)

    return cut


def _reader(name: str, model: OnnxModel) -> LineReader:
    """The model's reader as the node builds it, around a model not yet validated (so no threshold)."""
    if name == "crnn":
        return CtcReader(model, min_confidence=1.0)
    if name == "charcnn":
        return CharCnnReader(model, min_confidence=1.0)
    classifier = FeatureClassifier.load(CLASSICAL_MODEL)
    return SegNetReader(model, classifier, min_confidence=1.0)


def evaluate_segmentation(model: OnnxModel, lines: Sequence[TrainingLine]) -> dict[str, Any]:
    """Score the segmentation net alone on the in-spec validation lines.

    A line is segmented right when it gets one box per printed character, each overlapping that
    character's ink box by at least half (intersection over union, along the line), and word spaces
    exactly where the text has them.
    """
    in_spec = [line for line in lines if line.text and line.damaged is None]
    right = count_wrong = 0
    for line in in_spec:
        cut = cut_segments(line.line, model.run({"image": line.line.image})[0][0])
        truth = [box for box in line.ink_boxes if box is not None]
        spaces = [
            index + 1 < len(line.text) and line.text[index + 1] == " "
            for index, box in enumerate(line.ink_boxes)
            if box is not None
        ]
        if len(cut.boxes) != len(truth):
            count_wrong += 1
            continue
        overlaps = all(
            min(x + w, tx + tw) - max(x, tx) >= 0.5 * (max(x + w, tx + tw) - min(x, tx))
            for (x, _, w, _), (tx, _, tw, _) in zip(cut.boxes, truth, strict=True)
        )
        right += overlaps and [space > 0.5 for space in cut.space_after] == spaces
    return {
        "lines": len(in_spec),
        "line_segmentation_accuracy": right / max(len(in_spec), 1),
        "lines_with_wrong_box_count": count_wrong,
    }


def train_model(name: str, seed: int, out: Path, *, plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    """Train, export, evaluate and document one model; writes ``out/<name>.onnx`` and ``.json``.

    Returns
    -------
    dict
        The model card.

    Raises
    ------
    ValueError
        If ``name`` is unknown or ``seed`` is not in 0..499.
    """
    if name not in MODELS:
        raise ValueError(f"name {name!r} is not a model, expected one of {sorted(MODELS)}")
    if not 0 <= seed < RESERVED_SEEDS_FROM - VALIDATION_SEED_OFFSET:
        raise ValueError(
            f"seed must be in 0..{RESERVED_SEEDS_FROM - VALIDATION_SEED_OFFSET - 1} (validation uses seed + "
            f"{VALIDATION_SEED_OFFSET}; seeds >= {RESERVED_SEEDS_FROM} are held back for tests), got {seed}"
        )
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    started, started_cpu = time.perf_counter(), time.process_time()
    data = _data(seed, plan.train_lines, plan.validation_lines, log)
    rng = np.random.default_rng(seed + 1)  # batch order and augmentation
    spec = MODEL_SPECS[name]
    calibration: dict[str, Any] = {}
    net: nn.Module
    if name == "crnn":
        net = crnn.Crnn()
        fit(
            net,
            lambda: crnn.batches(data.train, rng, batch_size=plan.batch_size, augment=True),
            crnn.loss,
            plan=plan,
            steps_per_epoch=math.ceil(len(data.train) / plan.batch_size),
            log=log,
        )
        exported: nn.Module = crnn.CrnnPosteriors(net)
        example = torch.from_numpy(data.validation[0].line.image)
    elif name == "segnet":
        net = segnet.SegNet()
        fit(
            net,
            lambda: segnet.batches(data.train, rng, batch_size=plan.batch_size, augment=True),
            segnet.loss,
            plan=plan,
            steps_per_epoch=math.ceil(len(data.train) / plan.batch_size),
            log=log,
        )
        exported = segnet.SegNetPosteriors(net)
        example = torch.from_numpy(data.validation[0].line.image)
    else:
        segmenter = _segmenter()
        partial = charcnn.partial_lines(seed + PARTIAL_SEED_OFFSET, PARTIAL_LINES, px_per_mm=PX_PER_MM)
        train_patches, labels = charcnn.patch_set([*data.train, *partial], rng, segmenter=segmenter)
        log(f"{len(labels)} training patches, {int((labels == CHARCNN_REJECT).sum())} rejects")
        net = charcnn.CharCnn()
        fit(
            net,
            lambda: charcnn.batches(train_patches, labels, rng, batch_size=plan.batch_size, augment=True),
            charcnn.loss,
            plan=plan,
            steps_per_epoch=math.ceil(len(labels) / plan.batch_size),
            log=log,
        )
        check_patches, check_labels = charcnn.patch_set(data.validation, rng, segmenter=segmenter)
        with torch.no_grad():
            logits = net(torch.from_numpy(check_patches.astype(np.float32)))
        temperature = charcnn.fit_temperature(logits, torch.from_numpy(check_labels))
        calibration["temperature"] = temperature
        calibration["validation_patch_accuracy"] = float((logits.argmax(1).numpy() == check_labels).mean())
        exported = charcnn.CharCnnPosteriors(net, temperature)
        example = torch.from_numpy(patches(data.validation[0].line, [(10, 22)], masked=True))
    trained_s = (time.perf_counter() - started, time.process_time() - started_cpu)
    model_bytes = export_onnx(exported, example, spec)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.onnx"
    path.write_bytes(model_bytes)
    model = OnnxModel(path, spec)
    card = _card(name, seed, plan, net, model_bytes, spec, trained_s, calibration)
    if name == "charcnn":
        card["data"]["partial_lines"] = PARTIAL_LINES
        card["data"]["partial_seed"] = seed + PARTIAL_SEED_OFFSET
        card["data"]["partial"] = (
            "vision.training.charcnn.partial_lines: simulator.text_samples.line_samples with its partial "
            "defect (30-60 % of one character missing from one side), that character labelled damaged"
        )
    card["validation"] = _validate(name, model, data.validation, log)
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def revalidate(name: str, out: Path, *, log: Callable[[str], None]) -> dict[str, Any]:
    """Score ``out/<name>.onnx`` through its reader again and rewrite its card's validation.

    For a change of a reader's decoding, which the card's numbers measure, without retraining.

    Raises
    ------
    ValueError
        If the card does not describe the model file beside it.
    """
    card_path = out / f"{name}.json"
    card: dict[str, Any] = json.loads(card_path.read_text())
    model = OnnxModel(out / f"{name}.onnx", MODEL_SPECS[name])
    if card["sha256"] != model.sha256:
        raise ValueError(f"card {card_path} describes another model file (sha256 {card['sha256']})")
    data = _data(card["training"]["seed"], 0, card["data"]["validation_lines"], log)
    card["validation"] = _validate(name, model, data.validation, log)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card


def _validate(
    name: str, model: OnnxModel, lines: Sequence[TrainingLine], log: Callable[[str], None]
) -> dict[str, Any]:
    log("evaluating through onnxruntime")
    validation = evaluate_reader(_reader(name, model), lines, px_per_mm=PX_PER_MM)
    if name == "segnet":
        validation["segmentation"] = evaluate_segmentation(model, lines)
    log(json.dumps(validation))
    return validation


def _card(
    name: str,
    seed: int,
    plan: Plan,
    net: nn.Module,
    model_bytes: bytes,
    spec: ModelSpec,
    trained_s: tuple[float, float],
    calibration: dict[str, Any],
) -> dict[str, Any]:
    doc = {"crnn": crnn, "segnet": segnet, "charcnn": charcnn}[name].__doc__ or ""
    return {
        "name": name,
        "file": f"{name}.onnx",
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "size_bytes": len(model_bytes),
        "architecture": " ".join(doc.split()),
        "layers": str(net),
        "parameters": sum(p.numel() for p in net.parameters()),
        "inputs": [{"name": t.name, "shape": list(t.shape)} for t in spec.inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape)} for t in spec.outputs],
        "training": {
            "command": f"python -m vision.training.train_dl --model {name} --seed {seed}",
            "seed": seed,
            "epochs": plan.epochs,
            "batch_size": plan.batch_size,
            "optimizer": f"AdamW, weight decay 1e-4, one-cycle learning rate up to {plan.learning_rate}",
            "torch": torch.__version__,
            "torch_threads": THREADS,
            "wall_s": round(trained_s[0]),
            "cpu_s": round(trained_s[1]),
            "reproducible": "bit-identical on the same CPU and torch build (deterministic algorithms)",
        },
        "data": {
            "generator": "simulator.text_samples.line_samples (in-spec print, IN_SPEC quality)",
            "generator_sources_sha256": {
                source: hashlib.sha256((_ROOT / source).read_bytes()).hexdigest()
                for source in _GENERATOR_SOURCES
            },
            "fonts": list(FONTS),
            "px_per_mm": PX_PER_MM,
            "text_height_mm": [2.0, 3.2],
            "train_lines": plan.train_lines,
            "train_seed": seed,
            "defaced_share": DEFACED_SHARE,
            "blank_share": BLANK_SHARE,
            "defacing": "vision.training.data.deface: one character per defaced line, labelled damaged",
            "validation_lines": plan.validation_lines,
            "validation_seed": seed + VALIDATION_SEED_OFFSET,
            "reserved_seeds": f">= {RESERVED_SEEDS_FROM}: held back for tests and benchmarks",
        },
        "onnx": {
            "opset": OPSET,
            "exporter": f"torch.onnx TorchScript exporter (torch {torch.__version__})",
            "onnxruntime": ort.__version__,
        },
        "calibration": calibration,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m vision.training.train_dl", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", choices=[*MODELS, "all"], required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="folder for the .onnx and .json files")
    parser.add_argument(
        "--revalidate",
        action="store_true",
        help="do not train: score the models in --out through their readers again and update their cards",
    )
    args = parser.parse_args(argv)
    names = list(MODELS) if args.model == "all" else [args.model]
    if args.revalidate:
        for name in names:
            revalidate(name, args.out, log=_logger(name))
        return 0
    _data(
        args.seed,
        max(MODELS[name].train_lines for name in names),
        max(MODELS[name].validation_lines for name in names),
        lambda message: print(message, file=sys.stderr, flush=True),
    )
    for name in names:
        card = train_model(name, args.seed, args.out, plan=MODELS[name], log=_logger(name))
        _logger(name)(f"wrote {args.out / card['file']} ({card['size_bytes']} bytes)")
    return 0


def _logger(name: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return log


if __name__ == "__main__":
    sys.exit(main())
