"""The shipped ONNX models: they load, match their model cards, and refuse files that do not fit.

The training pieces (export round trip, a training step) need PyTorch, which CI does not install;
those tests skip without it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vision.onnx_models import (
    LINE_ROWS,
    MODEL_SPECS,
    MODELS_DIR,
    ModelSpec,
    OnnxModel,
    TensorSpec,
    load_model,
    recommended_threshold,
)
from vision.training.data import TrainingLine, draw_lines, prepare_lines

NAMES = sorted(MODEL_SPECS)


def card(name: str) -> dict[str, Any]:
    """The model card shipped beside ``name``'s model."""
    loaded: dict[str, Any] = json.loads((MODELS_DIR / f"{name}.json").read_text())
    return loaded


def example_input(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random input of the model's spec (width 96, batch 5 where the spec leaves them open)."""
    (tensor,) = MODEL_SPECS[name].inputs
    shape = [96 if dim == "width" else 5 if isinstance(dim, str) else dim for dim in tensor.shape]
    return {tensor.name: rng.random(shape, dtype=np.float32)}


class TestShippedModels:
    """Every shipped model against its card and its reader's spec."""

    @pytest.mark.parametrize("name", NAMES)
    def test_matches_card(self, name: str) -> None:
        """The file's sha256, size, inputs and outputs are those its card records."""
        model = load_model(name)
        recorded = card(name)
        assert recorded["sha256"] == model.sha256
        assert recorded["size_bytes"] == (MODELS_DIR / recorded["file"]).stat().st_size
        spec = MODEL_SPECS[name]
        assert recorded["inputs"] == [{"name": t.name, "shape": list(t.shape)} for t in spec.inputs]
        assert recorded["outputs"] == [{"name": t.name, "shape": list(t.shape)} for t in spec.outputs]

    @pytest.mark.parametrize("name", NAMES)
    def test_card_documents_training(self, name: str) -> None:
        """The card names the seeds (none reserved trained on), the generator's code and a validation
        whose recommended threshold no wrong character reaches."""
        recorded = card(name)
        assert recorded["training"]["seed"] < 1000
        assert recorded["data"]["train_seed"] < 1000
        assert recorded["data"]["validation_seed"] != recorded["data"]["train_seed"]
        assert "simulator/text_samples.py" in recorded["data"]["generator_sources_sha256"]
        assert recorded["training"]["torch"].startswith("2.13.0")
        validation = recorded["validation"]
        assert validation["wrong_chars_at_or_above_threshold"] == 0
        assert recommended_threshold(name) == validation["recommended_threshold"]

    @pytest.mark.parametrize("name", NAMES)
    def test_small(self, name: str) -> None:
        """Each model stays under 1 MB."""
        assert (MODELS_DIR / f"{name}.onnx").stat().st_size < 1_000_000

    @pytest.mark.parametrize("name", NAMES)
    def test_outputs_are_posteriors(self, name: str) -> None:
        """Outputs have the spec's shape and sum to 1 over the classes."""
        outputs = load_model(name).run(example_input(name, np.random.default_rng(1000)))
        (probs,) = outputs
        class_axis = {"crnn": 2, "charcnn": 1, "segnet": 1}[name]
        np.testing.assert_allclose(probs.sum(axis=class_axis), 1.0, atol=1e-5)
        assert probs.shape[class_axis] == MODEL_SPECS[name].outputs[0].shape[class_axis]

    def test_loaded_once(self) -> None:
        """Every call, from any thread, gets the same model object."""
        seen: list[OnnxModel] = []
        threads = [threading.Thread(target=lambda: seen.append(load_model("crnn"))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(model) for model in seen}) == 1
        assert seen[0] is load_model("crnn")

    def test_concurrent_runs_agree(self) -> None:
        """Runs from several threads at once give the results of the same runs one after the other."""
        model = load_model("segnet")
        inputs = [example_input("segnet", np.random.default_rng(1000 + index)) for index in range(8)]
        expected = [model.run(one)[0] for one in inputs]
        results: dict[int, np.ndarray] = {}

        def work(index: int) -> None:
            for _ in range(5):
                results[index] = model.run(inputs[index])[0]

        threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index, want in enumerate(expected):
            np.testing.assert_array_equal(results[index], want)


class TestLoadErrors:
    """A wrong or missing file fails at load with a message that names it."""

    def test_unknown_name(self) -> None:
        """A name that is not a shipped model is refused, naming the argument."""
        with pytest.raises(ValueError, match="name 'ocr9'"):
            load_model("ocr9")

    def test_unknown_threshold(self) -> None:
        """A threshold is only given for a shipped model."""
        with pytest.raises(ValueError, match="name 'ocr9'"):
            recommended_threshold("ocr9")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A path with no file is refused."""
        with pytest.raises(ValueError, match="does not exist"):
            OnnxModel(tmp_path / "crnn.onnx", MODEL_SPECS["crnn"])

    def test_not_a_model(self, tmp_path: Path) -> None:
        """A file that is not ONNX is refused, naming the file."""
        path = tmp_path / "crnn.onnx"
        path.write_bytes(b"not a model")
        with pytest.raises(ValueError, match=r"crnn\.onnx cannot be loaded"):
            OnnxModel(path, MODEL_SPECS["crnn"])

    def test_wrong_names(self) -> None:
        """A model whose inputs have other names than the spec's is refused, naming both."""
        with pytest.raises(ValueError, match=r"inputs \['image'\], expected \['chars'\]"):
            OnnxModel(MODELS_DIR / "crnn.onnx", MODEL_SPECS["charcnn"])

    def test_wrong_shape(self) -> None:
        """A model whose output has another class count than the spec's is refused."""
        spec = ModelSpec(inputs=MODEL_SPECS["crnn"].inputs, outputs=(TensorSpec("probs", (1, "frames", 41)),))
        with pytest.raises(ValueError, match="output 'probs' has shape"):
            OnnxModel(MODELS_DIR / "crnn.onnx", spec)

    def test_fixed_where_dynamic_expected(self) -> None:
        """A model with a fixed dimension where the reader needs any size is refused."""
        spec = ModelSpec(
            inputs=(TensorSpec("image", (1, 1, LINE_ROWS, 96)),), outputs=MODEL_SPECS["crnn"].outputs
        )
        with pytest.raises(ValueError, match="input 'image' has shape"):
            OnnxModel(MODELS_DIR / "crnn.onnx", spec)


@pytest.fixture(scope="module")
def lines() -> list[TrainingLine]:
    """A few normalised lines, one defaced and one blank among them (seed 1000: never trained on)."""
    samples = draw_lines(1000, 6, px_per_mm=10.0)
    return prepare_lines(
        samples, px_per_mm=10.0, rng=np.random.default_rng(3), defaced_share=0.34, blank_share=0.17
    )


class TestTraining:
    """The training script's pieces (need PyTorch: skipped without it)."""

    @pytest.fixture(autouse=True)
    def one_thread(self) -> Iterator[None]:
        """Torch on one thread, as training runs it (small layers lose on two busy cores)."""
        torch = pytest.importorskip("torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(threads)

    @pytest.mark.parametrize("name", NAMES)
    def test_export_round_trip(self, name: str, lines: list[TrainingLine], tmp_path: Path) -> None:
        """onnxruntime gives what torch gives, on a width the export never saw."""
        torch = pytest.importorskip("torch")
        from vision.ocr_dl import patches
        from vision.training import charcnn, crnn, segnet, train_dl

        torch.manual_seed(0)
        net: Any
        if name == "crnn":
            net = crnn.CrnnPosteriors(crnn.Crnn())
        elif name == "segnet":
            net = segnet.SegNetPosteriors(segnet.SegNet())
        else:
            net = charcnn.CharCnnPosteriors(charcnn.CharCnn(), temperature=1.5)
        net.eval()
        if name == "charcnn":
            example = patches(lines[0].line, [(10, 20)], masked=True)
            check = patches(lines[1].line, [(10, 20), (30, 41), (50, 60)], masked=False)
        else:
            example, check = lines[0].line.image, lines[1].line.image
        assert example.shape != check.shape
        model_bytes = train_dl.export_onnx(net, torch.from_numpy(example), MODEL_SPECS[name])
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(model_bytes)
        model = OnnxModel(path, MODEL_SPECS[name])
        with torch.no_grad():
            want = net(torch.from_numpy(check)).numpy()
        (got,) = model.run({MODEL_SPECS[name].inputs[0].name: check})
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert hashlib.sha256(model_bytes).hexdigest() == model.sha256

    def test_training_step_lowers_loss(self, lines: list[TrainingLine]) -> None:
        """A few optimiser steps on one CRNN batch lower its CTC loss."""
        torch = pytest.importorskip("torch")
        from vision.training import crnn

        torch.manual_seed(0)
        net = crnn.Crnn()
        batch = next(crnn.batches(lines[:3], np.random.default_rng(0), batch_size=3, augment=False))
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        before = float(crnn.loss(net, batch).detach())
        for _ in range(3):
            optimizer.zero_grad()
            torch.autograd.backward(crnn.loss(net, batch))
            optimizer.step()
        assert float(crnn.loss(net, batch).detach()) < before

    def test_seed_reserved(self, tmp_path: Path) -> None:
        """Training refuses a seed whose validation would draw the held-back seeds."""
        pytest.importorskip("torch")
        from vision.training import train_dl

        with pytest.raises(ValueError, match=r"seed must be in 0\.\.499"):
            train_dl.train_model("crnn", 500, tmp_path, plan=train_dl.MODELS["crnn"], log=print)

    def test_temperature_recovered(self) -> None:
        """The fitted temperature undoes logits that were made too sure by a known factor."""
        torch = pytest.importorskip("torch")
        from vision.training import charcnn

        torch.manual_seed(0)
        logits = torch.randn(4000, 10)
        labels = torch.distributions.Categorical(logits=logits).sample()
        assert charcnn.fit_temperature(logits * 2.0, labels) == pytest.approx(2.0, abs=0.1)

    def test_targets(self, lines: list[TrainingLine]) -> None:
        """CTC labels, segmentation steps and patch labels say what each line holds."""
        pytest.importorskip("torch")
        from vision.ocr_dl import CHARCNN_REJECT, CRNN_DAMAGED, CRNN_SPACE
        from vision.training import charcnn, crnn, segnet

        defaced = next(line for line in lines if line.damaged is not None)
        blank = next(line for line in lines if not line.text)
        for line in lines:
            labels = crnn.labels(line)
            assert len(labels) == len(line.text)
            assert labels.count(CRNN_DAMAGED) == (line.damaged is not None)
            assert labels.count(CRNN_SPACE) == line.text.count(" ")
            steps = segnet.step_labels(line)
            runs = np.flatnonzero(np.diff(np.concatenate(([0], steps == segnet.CHARACTER, [0]))) == 1)
            assert len(runs) == len(line.text.replace(" ", ""))
        assert not segnet.step_labels(blank).any()
        patches, classes = charcnn.patch_set([defaced], np.random.default_rng(0), segmenter=None)
        assert patches.shape == (len(classes), 1, 24, 24)
        printed = len(defaced.text.replace(" ", ""))
        assert int((classes[:printed] == CHARCNN_REJECT).sum()) == 1
