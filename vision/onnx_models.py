"""The shipped ONNX models of the DL OCR stages, each loaded once per process and shared by all threads.

A model is checked against the tensor names, element types and shapes its reader feeds and expects
when it is loaded, so a wrong or stale file fails at recipe load with a message naming the file and
the tensor, not with an onnxruntime error in the middle of a unit.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

__all__ = [
    "LINE_ROWS",
    "MODELS_DIR",
    "MODEL_SPECS",
    "ModelSpec",
    "OnnxModel",
    "TensorSpec",
    "load_model",
    "recommended_threshold",
]

MODELS_DIR = Path(__file__).parent / "models"
"""Where the shipped ``<name>.onnx`` files and their ``<name>.json`` model cards live."""

LINE_ROWS = 40
"""Rows of a line as the line models see it (``vision.ocr_dl.line_input``): the cap height takes 20,
the rest is room for a line skewed by the print and the crop (up to 2.5 degrees along the line)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of a model: name and shape; a ``str`` dimension is dynamic (any size)."""

    name: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a reader feeds a model and reads back (all tensors float32)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


MODEL_SPECS: Mapping[str, ModelSpec] = {
    # Line crop normalised to LINE_ROWS rows (see vision.ocr_dl.line_input) -> per 4-column frame, the CTC
    # posteriors over blank, CHARSET, space and "damaged".
    "crnn": ModelSpec(
        inputs=(TensorSpec("image", (1, 1, LINE_ROWS, "width")),),
        outputs=(TensorSpec("probs", (1, "frames", 43)),),
    ),
    # A batch of 24 x 24 patches of characters and gaps -> calibrated posteriors over CHARSET, "not
    # one whole character", "word space" and "gap inside a word".
    "charcnn": ModelSpec(
        inputs=(TensorSpec("chars", ("count", 1, 24, 24)),),
        outputs=(TensorSpec("probs", ("count", 43)),),
    ),
    # Line crop normalised to LINE_ROWS rows -> per 2-column step, posteriors of gap, character, word space.
    "segnet": ModelSpec(
        inputs=(TensorSpec("image", (1, 1, LINE_ROWS, "width")),),
        outputs=(TensorSpec("probs", (1, 3, "steps")),),
    ),
}
"""The contract between each shipped model and its reader."""


class OnnxModel:
    """One ONNX model in one onnxruntime session: one thread per call, calls from several threads at once.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file.
    spec : ModelSpec
        The inputs and outputs the caller relies on.

    Raises
    ------
    ValueError
        If the file is missing, is not a model onnxruntime can load, or its inputs or outputs differ
        from ``spec`` (name, element type, rank, or a fixed dimension).
    """

    def __init__(self, path: Path, spec: ModelSpec) -> None:
        if not path.is_file():
            raise ValueError(f"model file {path} does not exist")
        data = path.read_bytes()
        options = ort.SessionOptions()
        # The node runs two vision workers side by side; each read then uses exactly its own thread
        # (onnxruntime releases the GIL in run), instead of two thread pools fighting for the cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped exception classes
            raise ValueError(f"model file {path} cannot be loaded by onnxruntime: {error}") from None
        _check_tensors(path, "input", session.get_inputs(), spec.inputs)
        _check_tensors(path, "output", session.get_outputs(), spec.outputs)
        self.path = path
        self.spec = spec
        self.sha256 = hashlib.sha256(data).hexdigest()
        """Of the file's bytes, as the model card records it."""
        self._session = session
        self._output_names = [tensor.name for tensor in spec.outputs]

    def run(self, inputs: Mapping[str, npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
        """Run the model once.

        Parameters
        ----------
        inputs : mapping of str to ndarray
            One float32 array per input of the spec, by name.

        Returns
        -------
        list of ndarray
            The outputs, in the spec's order.
        """
        outputs: list[npt.NDArray[np.float32]] = self._session.run(self._output_names, dict(inputs))
        return outputs


def _check_tensors(
    path: Path, kind: str, actual: list[ort.NodeArg], expected: tuple[TensorSpec, ...]
) -> None:
    names = [tensor.name for tensor in actual]
    wanted = [tensor.name for tensor in expected]
    if names != wanted:
        raise ValueError(f"model file {path} has {kind}s {names}, expected {wanted}")
    for node, spec in zip(actual, expected, strict=True):
        if node.type != "tensor(float)":
            raise ValueError(f"model file {path} {kind} {spec.name!r} is {node.type}, expected tensor(float)")
        shape = tuple(node.shape)
        fits = len(shape) == len(spec.shape) and all(
            # onnxruntime reports a dynamic dimension as its symbolic name (a str) or None.
            (isinstance(want, str) and not isinstance(have, int)) or have == want
            for have, want in zip(shape, spec.shape, strict=True)
        )
        if not fits:
            raise ValueError(
                f"model file {path} {kind} {spec.name!r} has shape {list(shape)}, expected {list(spec.shape)}"
                " (a name is a dynamic dimension)"
            )


_loaded: dict[str, OnnxModel] = {}
_lock = threading.Lock()


def recommended_threshold(name: str) -> float:
    """The confidence threshold the shipped model's card recommends for its reader.

    Raises
    ------
    ValueError
        If ``name`` is not a known model or its card is missing or has no threshold.
    """
    if name not in MODEL_SPECS:
        raise ValueError(f"name {name!r} is not a shipped model, expected one of {sorted(MODEL_SPECS)}")
    path = MODELS_DIR / f"{name}.json"
    try:
        return float(json.loads(path.read_text())["validation"]["recommended_threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"model card {path} gives no validation.recommended_threshold: {error!r}") from None


def load_model(name: str) -> OnnxModel:
    """The shipped model ``name`` (``MODELS_DIR / f"{name}.onnx"``), loaded on first use, then shared.

    Parameters
    ----------
    name : str
        One of ``MODEL_SPECS``.

    Returns
    -------
    OnnxModel
        The same object for every call in the process.

    Raises
    ------
    ValueError
        If ``name`` is not a known model, or its file is missing or does not match its spec.
    """
    if name not in MODEL_SPECS:
        raise ValueError(f"name {name!r} is not a shipped model, expected one of {sorted(MODEL_SPECS)}")
    # A lock rather than functools.cache: two vision workers starting together must not build two
    # sessions (each holds its own copy of the weights and its own arena).
    with _lock:
        model = _loaded.get(name)
        if model is None:
            model = OnnxModel(MODELS_DIR / f"{name}.onnx", MODEL_SPECS[name])
            _loaded[name] = model
        return model
