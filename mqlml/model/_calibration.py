"""Probability calibration: a monotone map from a frozen model's scores to conversion rates.

A model's scores become probabilities by calibrating them on a part of the leads the
model never saw (the calibration part). The fitted model is frozen and only a monotone
map from its scores to conversion rates is learned, with scikit-learn's
:class:`~sklearn.calibration.CalibratedClassifierCV` around a
:class:`~sklearn.frozen.FrozenEstimator`.

Which map is learned follows one rule (:func:`choose_method`): isotonic regression when
the calibration part is large enough, Platt scaling (a sigmoid) otherwise. How well
calibrated a probability is (reliability curve, ECE, Brier score) is measured in
:mod:`mqlml.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from mqlml.errors import InsufficientDataError
from mqlml.metrics._inputs import outcomes

__all__ = [
    "ISOTONIC_MIN_NEGATIVES",
    "ISOTONIC_MIN_POSITIVES",
    "ISOTONIC_MIN_ROWS",
    "MIN_PER_CLASS",
    "ScoreMap",
    "choose_method",
    "fit_calibrator",
    "fit_score_map",
]

#: Isotonic calibration needs at least this many rows in the calibration part ...
ISOTONIC_MIN_ROWS = 1_000
#: ... and at least this many conversions ...
ISOTONIC_MIN_POSITIVES = 100
#: ... and at least this many non-conversions; otherwise Platt scaling (sigmoid) is used.
ISOTONIC_MIN_NEGATIVES = 100
#: Fewest leads of each class a calibration part may have (the cross-validated
#: predictions of ``CalibratedClassifierCV`` use 5 stratified folds).
MIN_PER_CLASS = 5

_METHODS = ("auto", "isotonic", "sigmoid")


def choose_method(n_rows: int, n_positive: int) -> str:
    """Choose the calibration method for a calibration part of a given size.

    Isotonic regression is flexible (any monotone map) but overfits a small part: with
    few conversions its steps follow noise. Platt scaling fits only two parameters (a
    sigmoid of the score), so it needs few points but cannot bend beyond that shape.
    The rule: ``"isotonic"`` when the part has at least :data:`ISOTONIC_MIN_ROWS` rows,
    :data:`ISOTONIC_MIN_POSITIVES` conversions and :data:`ISOTONIC_MIN_NEGATIVES`
    non-conversions; ``"sigmoid"`` otherwise.

    Parameters
    ----------
    n_rows : int
        Number of leads in the calibration part.
    n_positive : int
        Number of those leads that converted.

    Returns
    -------
    str
        ``"isotonic"`` or ``"sigmoid"``.

    Examples
    --------
    >>> choose_method(5_000, 400)
    'isotonic'
    >>> choose_method(5_000, 60)
    'sigmoid'
    """
    n_negative = n_rows - n_positive
    if (
        n_rows >= ISOTONIC_MIN_ROWS
        and n_positive >= ISOTONIC_MIN_POSITIVES
        and n_negative >= ISOTONIC_MIN_NEGATIVES
    ):
        return "isotonic"
    return "sigmoid"


def fit_calibrator(
    estimator: Any, X: Any, y: Any, *, method: str = "auto"
) -> CalibratedClassifierCV:
    """Calibrate an already fitted classifier on a calibration part.

    The classifier is wrapped in a :class:`~sklearn.frozen.FrozenEstimator` (it is not
    refitted) and a monotone map from its scores to probabilities is fitted on
    ``(X, y)``, which must be leads the classifier was not trained on.

    Parameters
    ----------
    estimator : fitted classifier
        Any fitted scikit-learn classifier with ``predict_proba`` or
        ``decision_function``.
    X : array-like or DataFrame
        Features of the calibration part, as the estimator accepts them.
    y : array-like of 0/1
        Outcomes of the calibration part; both classes must be present, each at least
        :data:`MIN_PER_CLASS` times.
    method : {"auto", "isotonic", "sigmoid"}, default="auto"
        ``"auto"`` applies :func:`choose_method` to the size of the part.

    Returns
    -------
    CalibratedClassifierCV
        Fitted; its ``predict_proba`` gives calibrated probabilities and its ``method``
        the method used.

    Raises
    ------
    ValueError
        If ``method`` is not one of the accepted values.
    DataError
        If ``y`` is not a 1-d array of 0/1.
    InsufficientDataError
        If a class has fewer than :data:`MIN_PER_CLASS` leads.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    >>> model = LogisticRegression().fit(X[:200], y[:200])
    >>> calibrator = fit_calibrator(model, X[200:], y[200:])
    >>> calibrator.method
    'sigmoid'
    """
    if method not in _METHODS:
        raise ValueError(
            f"method must be one of {', '.join(_METHODS)}; got {method!r}. "
            "Use 'auto' to choose by the size of the calibration part."
        )
    labels = outcomes(y)
    n_rows = int(labels.size)
    n_positive = int(labels.sum())
    n_negative = n_rows - n_positive
    if min(n_positive, n_negative) < MIN_PER_CLASS:
        raise InsufficientDataError(
            f"the calibration part must have at least {MIN_PER_CLASS} conversions and "
            f"{MIN_PER_CLASS} non-conversions; got {n_rows} leads with {n_positive} "
            f"conversions and {n_negative} non-conversions. Use a longer calibration "
            "period or a larger calibration share."
        )
    resolved = choose_method(n_rows, n_positive) if method == "auto" else method
    calibrator = CalibratedClassifierCV(FrozenEstimator(estimator), method=resolved)
    return calibrator.fit(X, labels)


def fit_score_map(estimator: Any, X: Any, y: Any, *, method: str = "auto") -> ScoreMap:
    """Calibrate a fitted classifier on a calibration part and return the map as data.

    :func:`fit_calibrator` (the model frozen), then :meth:`ScoreMap.from_calibrated`
    with the model's scores of the same leads.

    Parameters
    ----------
    estimator : fitted classifier with ``decision_function``
        The model; it is not refitted.
    X, y, method
        As for :func:`fit_calibrator`.

    Returns
    -------
    ScoreMap

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    >>> model = LogisticRegression().fit(X[:200], y[:200])
    >>> p = fit_score_map(model, X[200:], y[200:])(model.decision_function(X[200:]))
    >>> bool(0 < p.min() and p.max() < 1)
    True
    """
    calibrated = fit_calibrator(estimator, X, y, method=method)
    return ScoreMap.from_calibrated(calibrated, estimator.decision_function(X), y)


@dataclass(frozen=True, eq=False)
class ScoreMap:
    """The fitted monotone map from a model's score (log-odds) to a calibrated probability.

    Isotonic calibration fits a step function: every lead in a step gets the same
    probability, so a threshold can only move a whole step at a time (on 20,000 leads
    there may be only ~50 steps, and the top ones hold hundreds of leads). The map
    therefore interpolates linearly between the centres of the steps ("centred
    isotonic regression", Oron and Flournoy 2017): still monotone, as well calibrated,
    and with distinct probabilities, so the threshold can give the target rate with as
    many MQLs as it allows.

    No probability is exactly 0 or 1: a step of ``n`` calibration leads of which ``k``
    converted gets the Jeffreys estimate ``(k + 0.5) / (n + 1)`` (0 of 40 gives 0.012,
    not 0), made monotone again by a weighted isotonic fit; a sigmoid map is bounded to
    ``[0.5 / (n + 1), 1 - 0.5 / (n + 1)]`` for a calibration part of ``n`` leads, the
    most extreme rates such a part can support.

    The map is plain data (:meth:`to_dict` / :meth:`from_dict`): a bundle stores it as
    JSON, never as a pickled object.

    Attributes
    ----------
    method : str
        ``"isotonic"`` or ``"sigmoid"``.
    knots : tuple of two arrays or None
        Step centres (score) and their probabilities, for the isotonic map.
    sigmoid : tuple of two floats or None
        ``(a, b)`` of the sigmoid map ``p = 1 / (1 + exp(a * score + b))``.
    bounds : tuple of two floats
        The lowest and highest probability the map gives.
    """

    method: str
    knots: tuple[np.ndarray, np.ndarray] | None = None
    sigmoid: tuple[float, float] | None = None
    bounds: tuple[float, float] = (0.0, 1.0)

    @classmethod
    def from_calibrated(cls, calibrated: CalibratedClassifierCV, scores: Any, y: Any) -> ScoreMap:
        """Read the map out of a fitted ``CalibratedClassifierCV`` (prefit, one fold).

        Parameters
        ----------
        calibrated : CalibratedClassifierCV
            Fitted by :func:`fit_calibrator`.
        scores : array-like of float
            The frozen model's scores (``decision_function``) of the calibration part.
        y : array-like of 0/1
            The calibration part's outcomes (for the step counts).
        """
        (fitted,) = calibrated.calibrated_classifiers_
        (mapping,) = fitted.calibrators
        scores = np.asarray(scores, dtype=np.float64)
        labels = outcomes(y, n=scores.size)
        n = labels.size
        if calibrated.method != "isotonic":
            bounds = (0.5 / (n + 1), 1.0 - 0.5 / (n + 1))
            return cls(
                method="sigmoid", sigmoid=(float(mapping.a_), float(mapping.b_)), bounds=bounds
            )
        # X_thresholds_ holds both ends of each constant step; centre each step.
        x, rate = mapping.X_thresholds_, mapping.y_thresholds_
        values, step = np.unique(rate, return_inverse=True)
        centres = np.bincount(step, weights=x) / np.bincount(step)
        member = np.clip(np.searchsorted(values, mapping.predict(scores)), 0, values.size - 1)
        count = np.bincount(member, minlength=values.size).astype(float)
        converted = np.bincount(member, weights=labels, minlength=values.size)
        shrunk = (converted + 0.5) / (count + 1.0)
        monotone = IsotonicRegression().fit(
            np.arange(values.size), shrunk, sample_weight=count + 1.0
        )
        probability = monotone.predict(np.arange(values.size))
        return cls(
            method="isotonic",
            knots=(centres, probability),
            bounds=(float(probability[0]), float(probability[-1])),
        )

    def __call__(self, scores: Any) -> np.ndarray:
        """Calibrated probabilities of the given scores."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.knots is not None:
            return np.interp(scores, *self.knots)
        a, b = self.sigmoid
        return np.clip(expit(-(a * scores + b)), *self.bounds)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (floats round-trip exactly)."""
        out: dict[str, Any] = {"method": self.method, "bounds": list(self.bounds)}
        if self.knots is not None:
            out["knots"] = [self.knots[0].tolist(), self.knots[1].tolist()]
        else:
            out["sigmoid"] = list(self.sigmoid)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreMap:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            When the data is not a score map.
        """
        method = data.get("method")
        if method == "isotonic":
            x, p = (np.asarray(v, dtype=np.float64) for v in data["knots"])
            if x.shape != p.shape or x.ndim != 1 or x.size == 0:
                raise ValueError("isotonic knots must be two 1-d arrays of one length")
            return cls(method=method, knots=(x, p), bounds=tuple(data["bounds"]))
        if method == "sigmoid":
            a, b = (float(v) for v in data["sigmoid"])
            return cls(method=method, sigmoid=(a, b), bounds=tuple(data["bounds"]))
        raise ValueError(f"score map method must be 'isotonic' or 'sigmoid'; got {method!r}")
