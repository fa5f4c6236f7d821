"""A character classifier over feature vectors that knows when it does not know.

The model is Gaussian with one covariance shared by all classes (linear discriminant analysis),
each class a few subclass means (one per font it was trained on: a dot-matrix 8 and a solid 8
are different shapes of one class). The shared covariance, shrunk towards a multiple of the
identity, is estimated from every training glyph at once, so it is well conditioned with a
hundred glyphs per subclass; features are whitened by it once, and classifying is two small matrix
products. A per-font covariance was tried and read no better on held-out glyphs. One metric for
all classes is also what makes a distance mean the same for each.

Confidence is not a softmax margin: in 112 dimensions a Gaussian posterior is 1.0 for nearly every
glyph, a fragment or a smudge included. It is a logistic score of two distances, fitted on held-out
data (``calibrated``): how far the glyph is from its best class (a smudged, partial or unknown glyph
is far from every class) and how much nearer that class is than the runner-up (a glyph between two
classes). The fit sees held-out glyphs read right as positives, and glyphs read wrong plus things
that are not one whole character (halves of glyphs, merged neighbours) as negatives. Each misread
glyph weighs ``_MISREAD_COST`` times a glyph read right, so the confidence is the chance of a right
read with misreads counted that many times over: weighing misreads as much as all right reads
together, as an earlier fit did, taught that a read is as likely wrong as right wherever a misread
occurs at all, and dot-matrix 0 against O or 8 against B, read right some 99 times in 100, came out
below 0.5 (97 of 100 good dot5x7 units rejected at 0.5 on the held-back frames). Bias and distance
weight are fitted per subclass group (per font), taken from the nearest subclass: dot-matrix glyphs
scatter more than solid ones (drop placement, missing drops), so in the one metric a right
dot-matrix read lies about twice as far from its class as a right solid one, and a single
calibration for all fonts rejected most right dot-matrix reads.

Classifying is one numba kernel (``vision._ocr_kernels.classify_kernel``) rather than numpy matrix
products: in the reader, OpenBLAS's threads wake for each line's few dozen glyphs and cost several
times the arithmetic in CPU; the kernel runs in the calling thread and releases the GIL.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from vision._ocr_kernels import class_distances_kernel, classify_kernel

__all__ = ["FeatureClassifier"]

_FORMAT = 3
_FORMATS = (2, 3)  # 2: one calibration for all subclasses, no ``centre_group``
# Weight of the rejects in the calibration (see FeatureClassifier.calibrated), and of each misread
# glyph against a glyph read right.
_REJECT_SHARE = 0.1
_MISREAD_COST = 10.0
# Ridge on the calibration's coefficients, against weights summing to 1: keeps a group that the
# held-out data gives no negatives from running its bias off to infinity.
_RIDGE = 1e-6


@dataclass(frozen=True, slots=True, eq=False)
class FeatureClassifier:
    """A fitted classifier: whitening, subclass means, and the confidence's calibration.

    Instances are immutable and their arrays read-only, so one may serve several threads.
    """

    classes: str
    """The class names, one character each; ``classify`` returns indices into it."""
    mean: npt.NDArray[np.float64]
    """(d,) mean of the training features."""
    whitening: npt.NDArray[np.float64]
    """(d, d) maps centred features to whitened ones (shared covariance -> identity)."""
    centres: npt.NDArray[np.float64]
    """(m, d) subclass means, whitened, grouped by class."""
    centre_class: npt.NDArray[np.int64]
    """(m,) the class index of each subclass, in ascending order."""
    calibration: tuple[tuple[float, float, float], ...]
    """Per subclass group, (bias, distance weight, margin weight) of the confidence:
    ``sigmoid(bias - distance weight * ln(1 + d1) + margin weight * ln(1 + d2 - d1))``, d1 and d2
    the squared whitened distances to the best and the second-best class, the group that of the
    nearest subclass."""
    centre_group: npt.NDArray[np.int64]
    """(m,) the group of each subclass (its font), an index into ``calibration``."""
    _kernel_arrays: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]] = (
        dataclasses.field(init=False, repr=False)
    )
    """For the kernel: the whitening transposed, the centres' squared norms, the calibration (g, 3)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_kernel_arrays",
            (
                _frozen(np.ascontiguousarray(self.whitening.T)),
                _frozen((self.centres**2).sum(axis=1)),
                _frozen(np.array(self.calibration, np.float64).reshape(-1, 3)),
            ),
        )

    @classmethod
    def fit(
        cls,
        features: npt.NDArray[np.floating],
        labels: npt.NDArray[np.integer],
        *,
        classes: str,
        groups: npt.NDArray[np.integer] | None = None,
        shrinkage: float = 0.1,
    ) -> FeatureClassifier:
        """Fit subclass means and the shared covariance; the confidence is left uncalibrated.

        Parameters
        ----------
        features : (n, d) float ndarray
            Training feature vectors.
        labels : (n,) int ndarray
            Class index of each vector, into ``classes``.
        classes : str
            Class names, one character each.
        groups : (n,) int ndarray, optional
            Subclass of each vector within its class (e.g. the font); one subclass per class when
            not given. The distinct groups, in ascending order, are the calibration's groups.
        shrinkage : float, default 0.1
            Weight in [0, 1) of the identity (scaled to the mean variance) in the covariance.

        Returns
        -------
        FeatureClassifier
            With a neutral calibration (distance and margin weights 1, bias 0) for each group; see
            ``calibrated``.

        Raises
        ------
        ValueError
            If shapes disagree, a label is outside ``classes``, a subclass has fewer than two
            vectors, or ``shrinkage`` is out of range.
        """
        x = _matrix(features, "features")
        y = np.asarray(labels)
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels has shape {y.shape} and dtype {y.dtype}, expected ({x.shape[0]},) int")
        if len(classes) == 0 or y.min() < 0 or y.max() >= len(classes):
            raise ValueError(f"labels run {y.min()}..{y.max()}, expected 0..{len(classes) - 1} (classes)")
        g = np.zeros_like(y) if groups is None else np.asarray(groups)
        if g.shape != y.shape or not np.issubdtype(g.dtype, np.integer):
            raise ValueError(f"groups has shape {g.shape} and dtype {g.dtype}, expected {y.shape} int")
        if not 0.0 <= shrinkage < 1.0:
            raise ValueError(f"shrinkage is {shrinkage}, expected 0 <= shrinkage < 1")
        # np.unique sorts the (class, group) rows, so each class's subclasses are one run.
        pairs, subclass = np.unique(np.column_stack([y, g]), axis=0, return_inverse=True)
        subclass = subclass.ravel()
        counts = np.bincount(subclass, minlength=pairs.shape[0])
        if counts.min() < 2:
            lonely = pairs[int(np.argmin(counts))]
            raise ValueError(f"subclass {classes[lonely[0]]!r} group {lonely[1]} has fewer than two vectors")
        mean = x.mean(axis=0)
        centred = x - mean
        sums = np.zeros((pairs.shape[0], x.shape[1]))
        np.add.at(sums, subclass, centred)
        means = sums / counts[:, None]
        residual = centred - means[subclass]
        covariance = residual.T @ residual / max(x.shape[0] - pairs.shape[0], 1)
        scale = max(float(np.trace(covariance)) / x.shape[1], 1e-12)
        covariance = (1.0 - shrinkage) * covariance + shrinkage * scale * np.eye(x.shape[1])
        values, vectors = np.linalg.eigh(covariance)
        whitening = vectors / np.sqrt(np.maximum(values, 1e-12 * scale))[None, :]
        names, centre_group = np.unique(pairs[:, 1], return_inverse=True)
        return cls(
            classes=classes,
            mean=_frozen(mean),
            whitening=_frozen(np.ascontiguousarray(whitening)),
            centres=_frozen(np.ascontiguousarray(means @ whitening)),
            centre_class=_frozen(pairs[:, 0].astype(np.int64)),
            calibration=((0.0, 1.0, 1.0),) * names.size,
            centre_group=_frozen(centre_group.ravel().astype(np.int64)),
        )

    def calibrated(
        self,
        features: npt.NDArray[np.floating],
        labels: npt.NDArray[np.integer],
        rejects: npt.NDArray[np.floating],
    ) -> FeatureClassifier:
        """This model with its confidence fitted to held-out data.

        A logistic regression (Newton's method) of "read right" on ``ln(1 + d1)`` and
        ``ln(1 + d2 - d1)``, with a bias and a distance weight per group (of the nearest subclass)
        and one margin weight: positives are the ``features`` this model classifies as their
        ``labels``, negatives those it misclassifies and the ``rejects``. The rejects weigh 1/10 in
        all (1/2 without misread glyphs): many rejects, far from every class, would otherwise teach
        that a wide margin is suspect. The glyphs share the rest, each misread one weighing
        ``_MISREAD_COST`` (10) times one read right: a misread glyph is the error that matters, yet
        its weight stays tied to how often it happens, so that glyphs of a pair that is misread now
        and then (a dot-matrix 0 and O) are not called unsure when nearly all of them are read
        right. A slight ridge keeps a group without negatives finite.

        Parameters
        ----------
        features : (n, d) float ndarray
            Held-out glyphs (not used by ``fit``).
        labels : (n,) int ndarray
            Their classes.
        rejects : (k, d) float ndarray
            Held-out vectors of things that are not one whole character.

        Returns
        -------
        FeatureClassifier

        Raises
        ------
        ValueError
            If shapes disagree, or either side is empty.
        """
        x = _matrix(features, "features")
        y = np.asarray(labels)
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels has shape {y.shape} and dtype {y.dtype}, expected ({x.shape[0]},) int")
        rejected = _matrix(rejects, "rejects")
        glyph_distances, glyph_groups = self._distances_and_groups(x)
        reject_distances, reject_groups = self._distances_and_groups(rejected)
        inputs = np.concatenate([self._inputs(glyph_distances), self._inputs(reject_distances)])
        groups = np.concatenate([glyph_groups, reject_groups])
        misread = glyph_distances.argmin(axis=1) != y
        if misread.all():
            raise ValueError("calibration needs glyphs read right")
        right = np.concatenate([~misread, np.zeros(rejected.shape[0], np.bool_)])
        reject_share = _REJECT_SHARE if misread.any() else 0.5
        glyph_weights = np.where(misread, _MISREAD_COST, 1.0)
        weights = np.concatenate(
            [
                (1.0 - reject_share) * glyph_weights / glyph_weights.sum(),
                np.full(rejected.shape[0], reject_share / rejected.shape[0]),
            ]
        )
        count = len(self.calibration)
        one_hot = np.eye(count)[groups]
        design = np.column_stack([one_hot, -one_hot * inputs[:, :1], inputs[:, 1]])
        coefficients = np.concatenate([np.zeros(count), np.ones(count), [1.0]])
        ridge = _RIDGE * np.eye(design.shape[1])
        for _ in range(100):
            probability = 1.0 / (1.0 + np.exp(-np.clip(design @ coefficients, -700.0, 700.0)))
            gradient = design.T @ (weights * (right - probability)) - ridge @ coefficients
            hessian = (design * (weights * probability * (1.0 - probability))[:, None]).T @ design + ridge
            step = np.linalg.solve(hessian, gradient)
            coefficients += step
            if np.abs(step).max() < 1e-9:
                break
        margin = float(coefficients[-1])
        calibration = tuple(
            (float(coefficients[k]), float(coefficients[count + k]), margin) for k in range(count)
        )
        return dataclasses.replace(self, calibration=calibration)

    def distances(self, features: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Squared whitened distance of each vector to each class (its nearest subclass).

        Parameters
        ----------
        features : (n, d) float ndarray

        Returns
        -------
        (n, len(classes)) float64 ndarray
            ``inf`` for a class without subclasses.

        Raises
        ------
        ValueError
            If ``features`` is not (n, d) with this model's d, or holds NaN or infinity.
        """
        return self._distances_and_groups(self._checked(features))[0]

    def _distances_and_groups(
        self, x: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``distances`` of checked vectors, and the group of each one's nearest subclass."""
        whitening_t, centre_sq, _ = self._kernel_arrays
        per_class, group = class_distances_kernel(
            np.ascontiguousarray(x, np.float64),
            self.mean,
            whitening_t,
            self.centres,
            centre_sq,
            self.centre_class,
            self.centre_group,
            len(self.classes),
        )
        return per_class, group

    def classify(
        self, features: npt.NDArray[np.floating]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The best class of each vector and how sure the model is of it (see ``calibration``).

        Parameters
        ----------
        features : (n, d) float ndarray

        Returns
        -------
        indices : (n,) int64 ndarray
            Into ``classes``.
        confidences : (n,) float64 ndarray
            0..1.

        Raises
        ------
        ValueError
            As ``distances``.
        """
        whitening_t, centre_sq, calibration = self._kernel_arrays
        indices, confidences = classify_kernel(
            self._checked(features),
            self.mean,
            whitening_t,
            self.centres,
            centre_sq,
            self.centre_class,
            self.centre_group,
            len(self.classes),
            calibration,
        )
        return indices, confidences

    def _checked(self, features: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """``features`` as a contiguous float64 (n, d) array, checked."""
        x = np.ascontiguousarray(features, np.float64)
        d = self.mean.shape[0]
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"features has shape {x.shape}, expected (n, {d})")
        if not np.isfinite(x).all():
            raise ValueError("features holds NaN or infinity")
        return x

    @staticmethod
    def _inputs(squared: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """(n, 2): ln(1 + best squared distance), ln(1 + its margin over the second best)."""
        two = np.partition(squared, 1, axis=1)[:, :2]
        inputs: npt.NDArray[np.float64] = np.log1p(
            np.column_stack([two[:, 0], np.minimum(two[:, 1] - two[:, 0], 1e12)])
        )
        return inputs

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a compressed ``.npz`` (plain arrays, no pickles)."""
        np.savez_compressed(
            path,
            format=np.int64(_FORMAT),
            classes=np.array(self.classes),
            mean=self.mean,
            whitening=self.whitening,
            centres=self.centres,
            centre_class=self.centre_class,
            centre_group=self.centre_group,
            calibration=np.array(self.calibration),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureClassifier:
        """Read a model written by ``save``.

        Raises
        ------
        ValueError
            If the file is not such a model, has another format or its arrays disagree in shape.
        FileNotFoundError
            If there is no file at ``path``.
        """
        with np.load(path, allow_pickle=False) as data:
            try:
                version = int(data["format"])
                if version not in _FORMATS:
                    raise ValueError(f"{path} has model format {version}, expected one of {_FORMATS}")
                classes = str(data["classes"])
                mean = np.asarray(data["mean"], np.float64)
                whitening = np.asarray(data["whitening"], np.float64)
                centres = np.asarray(data["centres"], np.float64)
                centre_class = np.asarray(data["centre_class"], np.int64)
                calibration = np.asarray(data["calibration"], np.float64).reshape(-1, 3)
                centre_group = (
                    np.zeros(centre_class.shape, np.int64)
                    if version == 2
                    else np.asarray(data["centre_group"], np.int64)
                )
            except KeyError as missing:
                raise ValueError(f"{path} is not a FeatureClassifier model: no {missing}") from None
        d = mean.shape[0]
        if (
            mean.ndim != 1
            or whitening.shape != (d, d)
            or centres.ndim != 2
            or centres.shape[1] != d
            or centre_class.shape != (centres.shape[0],)
            or centre_group.shape != (centres.shape[0],)
            or centre_class.min(initial=0) < 0
            or centre_class.max(initial=0) >= len(classes)
            or (np.diff(centre_class) < 0).any()
            or centre_group.min(initial=0) < 0
            or centre_group.max(initial=0) >= calibration.shape[0]
        ):
            raise ValueError(f"{path} holds arrays of disagreeing shapes or unsorted subclasses")
        return cls(
            classes=classes,
            mean=_frozen(mean),
            whitening=_frozen(np.ascontiguousarray(whitening)),
            centres=_frozen(np.ascontiguousarray(centres)),
            centre_class=_frozen(centre_class),
            calibration=tuple((float(b), float(w), float(m)) for b, w, m in calibration),
            centre_group=_frozen(centre_group),
        )


def _matrix(values: npt.NDArray[np.floating], name: str) -> npt.NDArray[np.float64]:
    x = np.asarray(values, np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or not np.isfinite(x).all():
        raise ValueError(f"{name} has shape {x.shape}, expected (n, d) finite values with n > 0")
    return x


_Array = TypeVar("_Array", bound=npt.NDArray[np.generic])


def _frozen(array: _Array) -> _Array:
    """A read-only copy."""
    copy = array.copy()
    copy.setflags(write=False)
    return copy
