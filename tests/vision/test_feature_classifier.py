"""The Gaussian feature classifier on synthetic classes: fit, confidence, persistence, checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from vision.feature_classifier import FeatureClassifier

CLASSES = "ABC"
CENTRES = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 0.0, 0.0], [0.0, 6.0, 0.0, 0.0]])


def draw(seed: int, per_class: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Points around each class centre, unit spread, one row per point."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    return CENTRES[labels] + rng.standard_normal((labels.size, CENTRES.shape[1])), labels


@pytest.fixture(scope="module")
def model() -> FeatureClassifier:
    """Fitted on one draw, calibrated on another with rejects half way between classes and far out."""
    features, labels = draw(0, 400)
    held, held_labels = draw(1, 400)
    rng = np.random.default_rng(2)
    rejects = np.concatenate(
        [rng.uniform(-30, 30, (200, 4)), (CENTRES[0] + CENTRES[1]) / 2 + 0.3 * rng.standard_normal((100, 4))]
    )
    return FeatureClassifier.fit(features, labels, classes=CLASSES).calibrated(held, held_labels, rejects)


class TestClassify:
    """Classes are found, and confidence falls away from them."""

    def test_accuracy(self, model: FeatureClassifier) -> None:
        """Fresh points of well separated classes are classified right."""
        features, labels = draw(3, 300)
        indices, confidences = model.classify(features)
        assert (indices == labels).mean() > 0.99
        assert np.median(confidences) > 0.9

    def test_far_point_is_unsure(self, model: FeatureClassifier) -> None:
        """A point far from every class gets a low confidence, however clear its nearest class."""
        _, confidences = model.classify(np.array([[40.0, -40.0, 0.0, 0.0], [0.0, 0.0, 25.0, 0.0]]))
        assert confidences.max() < 0.1

    def test_between_classes_is_unsure(self, model: FeatureClassifier) -> None:
        """A point half way between two classes gets a low confidence."""
        _, confidences = model.classify(((CENTRES[0] + CENTRES[1]) / 2)[None, :])
        assert confidences[0] < 0.5

    def test_confidence_falls_with_distance(self, model: FeatureClassifier) -> None:
        """Moving away from a class centre never raises the confidence."""
        steps = CENTRES[2] + np.outer(np.linspace(0, 15, 30), [0.0, 0.0, 1.0, 0.0])
        indices, confidences = model.classify(steps)
        assert (indices == 2).all()
        assert np.all(np.diff(confidences) <= 1e-12)

    def test_subclasses(self) -> None:
        """A class of two groups far apart is found at both."""
        features, labels = draw(4, 200)
        groups = np.zeros_like(labels)
        moved = (labels == 0) & (np.arange(labels.size) % 2 == 1)
        features[moved] += [0.0, 0.0, 20.0, 0.0]
        groups[moved] = 1
        model = FeatureClassifier.fit(features, labels, classes=CLASSES, groups=groups)
        indices, _ = model.classify(np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 20.0, 0.0]]))
        assert indices.tolist() == [0, 0]
        assert model.centres.shape[0] == 4

    def test_distances_match_numpy(self, model: FeatureClassifier) -> None:
        """Class distances are those of the nearest subclass, and classify takes the nearest class."""
        features, _ = draw(10, 30)
        z = (features - model.mean) @ model.whitening
        squared = np.maximum(
            (z * z).sum(axis=1)[:, None] - 2.0 * z @ model.centres.T + (model.centres**2).sum(1), 0
        )
        expected = np.full((features.shape[0], len(CLASSES)), np.inf)
        for centre, label in enumerate(model.centre_class):
            expected[:, label] = np.minimum(expected[:, label], squared[:, centre])
        np.testing.assert_allclose(model.distances(features), expected, rtol=1e-9, atol=1e-9)
        indices, _ = model.classify(features)
        np.testing.assert_array_equal(indices, expected.argmin(axis=1))

    def test_calibration_per_group(self) -> None:
        """Each group gets its own bias and distance weight: a group that scatters more is not
        penalised for it, so its right reads stay sure."""
        features, labels = draw(11, 400)
        held, held_labels = draw(12, 400)
        groups = np.arange(labels.size) % 2
        held_groups = np.arange(held_labels.size) % 2
        # Group 1 is as far again from its class centres (a dot-matrix font against a solid one).
        features[groups == 1] = CENTRES[labels[groups == 1]] + 2.0 * (features - CENTRES[labels])[groups == 1]
        held[held_groups == 1] = (
            CENTRES[held_labels[held_groups == 1]] + 2.0 * (held - CENTRES[held_labels])[held_groups == 1]
        )
        rng = np.random.default_rng(13)
        rejects = rng.uniform(-30, 30, (300, 4))
        model = FeatureClassifier.fit(features, labels, classes=CLASSES, groups=groups).calibrated(
            held, held_labels, rejects
        )
        assert len(model.calibration) == 2 and model.centre_group.tolist() == [0, 1] * 3
        assert model.calibration[0][0] != model.calibration[1][0]
        single = FeatureClassifier.fit(features, labels, classes=CLASSES).calibrated(
            held, held_labels, rejects
        )
        fresh, fresh_labels = draw(14, 200)
        fresh = CENTRES[fresh_labels] + 2.0 * (fresh - CENTRES[fresh_labels])
        (indices, confidences), (_, single_confidences) = model.classify(fresh), single.classify(fresh)
        right = indices == fresh_labels
        assert right.mean() > 0.8
        assert np.median(confidences[right]) > np.median(single_confidences[right])

    def test_empty(self, model: FeatureClassifier) -> None:
        """No rows in, no rows out."""
        indices, confidences = model.classify(np.zeros((0, 4)))
        assert indices.shape == confidences.shape == (0,)


class TestPersistence:
    """save and load keep the model exactly; the arrays are read-only."""

    def test_round_trip(self, model: FeatureClassifier, tmp_path: Path) -> None:
        """A loaded model classifies exactly as the saved one."""
        model.save(tmp_path / "model.npz")
        loaded = FeatureClassifier.load(tmp_path / "model.npz")
        features, _ = draw(5, 50)
        for a, b in zip(model.classify(features), loaded.classify(features), strict=True):
            np.testing.assert_array_equal(a, b)
        assert loaded.classes == CLASSES and loaded.calibration == model.calibration

    def test_format_2(self, model: FeatureClassifier, tmp_path: Path) -> None:
        """A model saved before per-group calibration (format 2: one calibration) still loads."""
        np.savez(
            tmp_path / "old.npz",
            format=np.int64(2),
            classes=np.array(model.classes),
            mean=model.mean,
            whitening=model.whitening,
            centres=model.centres,
            centre_class=model.centre_class,
            calibration=np.array(model.calibration[0]),
        )
        loaded = FeatureClassifier.load(tmp_path / "old.npz")
        assert loaded.calibration == model.calibration[:1] and not loaded.centre_group.any()
        features, _ = draw(15, 20)
        np.testing.assert_array_equal(loaded.classify(features)[0], model.classify(features)[0])

    def test_read_only(self, model: FeatureClassifier) -> None:
        """Threads may share a model: its arrays cannot be written."""
        with pytest.raises(ValueError):
            model.centres[0, 0] = 1.0

    def test_not_a_model(self, tmp_path: Path) -> None:
        """Loading an .npz that is not a model raises ValueError."""
        np.savez(tmp_path / "other.npz", x=np.zeros(3))
        with pytest.raises(ValueError, match="not a FeatureClassifier"):
            FeatureClassifier.load(tmp_path / "other.npz")


class TestChecks:
    """Bad input raises ValueError naming the argument."""

    def test_features_shape(self, model: FeatureClassifier) -> None:
        """Vectors of another length."""
        with pytest.raises(ValueError, match="features"):
            model.classify(np.zeros((2, 5)))

    def test_features_nan(self, model: FeatureClassifier) -> None:
        """NaN in the vectors."""
        with pytest.raises(ValueError, match="features"):
            model.classify(np.full((1, 4), np.nan))

    def test_labels(self) -> None:
        """Labels outside the classes, or of another length."""
        features, labels = draw(6, 10)
        with pytest.raises(ValueError, match="labels"):
            FeatureClassifier.fit(features, labels + 5, classes=CLASSES)
        with pytest.raises(ValueError, match="labels"):
            FeatureClassifier.fit(features, labels[:-1], classes=CLASSES)

    def test_lonely_subclass(self) -> None:
        """A subclass with one vector cannot be estimated."""
        features, labels = draw(7, 10)
        with pytest.raises(ValueError, match="subclass"):
            FeatureClassifier.fit(features[:21], labels[:21], classes=CLASSES)

    def test_shrinkage(self) -> None:
        """Shrinkage outside [0, 1)."""
        features, labels = draw(8, 10)
        with pytest.raises(ValueError, match="shrinkage"):
            FeatureClassifier.fit(features, labels, classes=CLASSES, shrinkage=1.0)

    def test_rejects(self, model: FeatureClassifier) -> None:
        """Calibrating without rejects."""
        features, labels = draw(9, 10)
        with pytest.raises(ValueError, match="rejects"):
            model.calibrated(features, labels, np.zeros((0, 4)))
