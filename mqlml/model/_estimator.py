"""LeadScorer: a lead frame in, an (uncalibrated) conversion probability out.

The scorer is a scikit-learn classifier that wraps either LightGBM (native categorical
features, early stopping on an inner validation fold) or a one-hot + logistic regression
pipeline, and explains every score as per-column contributions to the log-odds.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    assert_all_finite,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from mqlml.errors import ConfigError, DataError, InsufficientDataError, MissingColumnError
from mqlml.io._levels import match_levels

__all__ = ["MISSING_LEVEL", "RARE_LEVEL", "LeadScorer", "encode_levels", "float_column"]

RARE_LEVEL = "__rare__"
"""The level that rare training levels and unseen levels share (LightGBM path)."""

MISSING_LEVEL = "__missing__"
"""The level missing categorical values take in the logistic path."""

_MODELS = ("lightgbm", "logistic")
_MIN_ROWS_EARLY_STOPPING = 100


class LeadScorer(ClassifierMixin, BaseEstimator):
    """Score leads with a conversion probability (uncalibrated) and explain it.

    Categorical columns (fit features such as job title or country) and numeric ones
    (engagement counts, recency) go into either LightGBM with native categorical
    splits or a one-hot + logistic regression pipeline. No class weights and no
    resampling are used, on purpose: both distort the probabilities, and mqlml needs
    probabilities it can calibrate and set a threshold on.

    Parameters
    ----------
    model : {"lightgbm", "logistic"}, default="lightgbm"
        The learner.
    categorical_features : list of str or None, default=None
        Columns to treat as categorical; every other column must be numeric or
        boolean. None infers them: object, string and category columns are
        categorical (so are booleans stored as strings); numeric and bool columns are
        numeric.
    min_category_count : int, default=20
        Levels seen fewer times than this in training are grouped into one rare level
        (``"__rare__"`` for LightGBM; the one-hot encoder's infrequent level for the
        logistic model).
    n_estimators : int, default=1000
        Upper bound on the number of trees; early stopping picks the number used.
    learning_rate : float, default=0.05
    num_leaves : int, default=31
    min_child_samples : int, default=20
    early_stopping_rounds : int, default=50
        Stop when the inner validation log loss has not improved for this many trees.
    validation_fraction : float, default=0.1
        Share of the training rows held out (stratified, seeded by ``random_state``)
        for early stopping. 0 disables early stopping. It is skipped as well on fewer
        than 100 rows, or when the fold would not hold at least one lead of each
        class; all ``n_estimators`` trees are then fitted on every row.
    C : float, default=1.0
        Inverse regularisation strength of the logistic model.
    n_jobs : int or None, default=None
        LightGBM threads for fitting and scoring (None: all cores). Set 1 when many
        processes score at once, as Spark tasks do; it may be changed after fitting.
    random_state : int, default=0
        Seed of the inner split and of LightGBM.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; the second one is the "converted" class.
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of str
        Column names seen in fit, when X was a DataFrame with string column names.
        Only then are columns selected by name at predict time (order free, extra
        columns ignored); otherwise they are taken by position.
    categorical_features_ : list
        Columns treated as categorical, in fitted order (``x0``, ``x1``, ... for
        numpy input).
    numeric_features_ : list
        Columns treated as numeric, in fitted order.
    categories_ : dict
        Categorical column -> the levels kept as their own level (seen at least
        ``min_category_count`` times). Everything else is rare.
    estimator_ : lightgbm.LGBMClassifier or sklearn.pipeline.Pipeline or None
        The fitted learner. It sees the columns renamed ``f0``, ``f1``, ... in the
        fitted order. None on a scorer rebuilt by :meth:`from_state`, which predicts
        from the booster or the per-column terms alone (as every scorer does).
    booster_ : lightgbm.Booster
        The LightGBM booster (LightGBM only).
    best_iteration_ : int
        Number of trees used to predict (LightGBM only).
    base_value_ : float
        The log-odds every contribution starts from: the expected raw score of the
        trees, or the logistic intercept.

    Notes
    -----
    LightGBM path: numeric columns become float64 (bool -> 0/1, NaN kept as missing);
    categorical columns become pandas Categoricals over the kept levels plus
    ``"__rare__"``. Levels unseen in training also map to ``"__rare__"``; missing
    values stay missing, which LightGBM routes on its own. The model is the one
    trained on the training fold and stopped at the best iteration; it is not refitted
    on all rows, so the validation fold stays honest and fitting costs one run.

    Levels are matched as given (``"1"`` and ``1`` differ) in the LightGBM path, and as
    strings in the logistic path.

    Logistic path: categorical columns are imputed with ``"__missing__"`` and one-hot
    encoded (unseen levels map to the infrequent level, or to all zeros when there is
    none); numeric columns are median-imputed with a missing indicator, then
    standardised.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"visits": rng.poisson(3, 500).astype(float),
    ...                   "country": rng.choice(["US", "DE", "FR"], 500)})
    >>> y = (rng.random(500) < 0.1 + 0.05 * X["visits"].clip(0, 10)).astype(int)
    >>> scorer = LeadScorer(model="logistic").fit(X, y)
    >>> scorer.predict_proba(X).shape
    (500, 2)
    >>> contrib, base = scorer.contributions(X.head(3))
    >>> list(contrib.columns)
    ['visits', 'country']
    >>> bool(np.allclose(contrib.sum(axis=1) + base, scorer.decision_function(X.head(3))))
    True
    """

    def __init__(
        self,
        *,
        model: str = "lightgbm",
        categorical_features: list[str] | None = None,
        min_category_count: int = 20,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.1,
        C: float = 1.0,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.categorical_features = categorical_features
        self.min_category_count = min_category_count
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.C = C
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame | np.ndarray, y: Any) -> LeadScorer:
        """Fit the scorer on leads ``X`` and outcomes ``y``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The leads. A numpy array is taken as all-numeric columns ``x0``, ``x1``...
        y : array-like of shape (n_samples,)
            Two classes (typically 0/1); the larger label is the converted class.

        Returns
        -------
        self : LeadScorer
        """
        self._check_params()
        frame, y = self._validate_fit_input(X, y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) > 2:
            raise DataError(
                f"y must have two classes; got {len(self.classes_)}: "
                f"{self.classes_.tolist()[:10]}. Only binary classification is supported. "
                "The type of the target is multiclass; pass 0/1 conversion outcomes."
            )
        if len(self.classes_) < 2:
            raise InsufficientDataError(
                f"y must contain both classes (converted and not); got only the 1 class "
                f"{self.classes_.tolist()}. Add leads of the other class."
            )
        y01 = y01.astype(np.int32)
        self._set_feature_kinds(frame)
        if self.model == "lightgbm":
            self._fit_lightgbm(frame, y01)
        else:
            self._fit_logistic(frame, y01)
        return self

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(
                f"{name} must be {rule}; got {getattr(self, name)!r}. "
                f"Pass a valid {name} to LeadScorer."
            )

        def is_int(v: Any) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_real(v: Any) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool)

        if self.model not in _MODELS:
            raise bad("model", "'lightgbm' or 'logistic'")
        for name in ("min_category_count", "n_estimators", "min_child_samples"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise bad(name, "an integer >= 1")
        if not is_int(self.early_stopping_rounds) or self.early_stopping_rounds < 1:
            raise bad("early_stopping_rounds", "an integer >= 1")
        if not is_int(self.num_leaves) or self.num_leaves < 2:
            raise bad("num_leaves", "an integer >= 2")
        for name in ("learning_rate", "C"):
            value = getattr(self, name)
            if not is_real(value) or not value > 0:
                raise bad(name, "a number > 0")
        if not is_real(self.validation_fraction) or not 0 <= self.validation_fraction < 1:
            raise bad("validation_fraction", "in [0, 1)")
        if self.n_jobs is not None and not is_int(self.n_jobs):
            raise bad("n_jobs", "an integer or None")
        cats = self.categorical_features
        if cats is not None and (isinstance(cats, str) or len(set(cats)) != len(cats)):
            raise bad("categorical_features", "a list of distinct column names or None")

    def _validate_fit_input(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        if isinstance(X, pd.DataFrame):
            if not X.columns.is_unique:
                dup = X.columns[X.columns.duplicated()].unique().tolist()
                raise DataError(
                    f"X column names must be unique; got duplicates {dup}. Rename or drop them."
                )
            validate_data(self, X, y, skip_check_array=True)
            if X.shape[1] == 0:
                raise DataError(
                    f"X must have at least one column; got 0 feature(s) (shape={X.shape}) "
                    "while a minimum of 1 is required. Pass the lead feature columns."
                )
            if X.shape[0] == 0:
                raise DataError("X must have at least one row; got 0 rows. Pass some leads.")
            y = column_or_1d(y, warn=True)
            assert_all_finite(y, input_name="y")
            check_consistent_length(X, y)
            frame = X
            if hasattr(self, "feature_names_in_"):
                names = list(X.columns)
            else:
                names = [f"x{i}" for i in range(X.shape[1])]
                frame = X.set_axis(names, axis=1)
        else:
            arr, y = validate_data(self, X, y, dtype="numeric", ensure_all_finite="allow-nan")
            names = [f"x{i}" for i in range(arr.shape[1])]
            frame = pd.DataFrame(np.asarray(arr, dtype=np.float64), columns=names, copy=False)
        check_classification_targets(y)
        self._names_ = names
        return frame, y

    def _set_feature_kinds(self, frame: pd.DataFrame) -> None:
        declared = self.categorical_features
        if declared is not None:
            absent = [c for c in declared if c not in self._names_]
            if absent:
                raise MissingColumnError(
                    f"categorical_features must name columns of X; got {absent} which X "
                    f"does not have. Columns of X: {self._names_[:20]}. Fix the list."
                )
        cats, nums = [], []
        for name in self._names_:
            dtype = frame[name].dtype
            is_num = pd.api.types.is_numeric_dtype(dtype) and not (
                pd.api.types.is_complex_dtype(dtype)
            )
            is_cat_like = isinstance(dtype, pd.CategoricalDtype) or (
                pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            )
            if declared is not None and name in declared:
                cats.append(name)
            elif is_num:
                nums.append(name)
            elif is_cat_like and declared is None:
                cats.append(name)
            else:
                hint = (
                    "Add it to categorical_features, convert it to numbers or drop it."
                    if is_cat_like
                    else "Convert it (e.g. a date to days since) or drop it."
                )
                raise DataError(
                    f"column {name!r} must be numeric, boolean or categorical; got dtype "
                    f"{dtype}. {hint}"
                )
        self.categorical_features_ = cats
        self.numeric_features_ = nums
        cat_set = set(cats)
        self._is_cat_ = [name in cat_set for name in self._names_]

    def _inner_split(self, y01: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        frac = float(self.validation_fraction)
        n = len(y01)
        counts = np.bincount(y01, minlength=2)
        n_val = math.ceil(frac * n)
        if (
            frac == 0
            or n < _MIN_ROWS_EARLY_STOPPING
            or counts.min() * frac < 1
            or n_val < 2
            or n - n_val < 2
        ):
            return None
        train, val = train_test_split(
            np.arange(n), test_size=frac, stratify=y01, random_state=self.random_state
        )
        return np.sort(train), np.sort(val)

    def _fit_lightgbm(self, frame: pd.DataFrame, y01: np.ndarray) -> None:
        import lightgbm

        self._cat_dtypes_ = {}
        self.categories_ = {}
        for i, name in enumerate(self._names_):
            if self._is_cat_[i]:
                kept = _frequent_levels(frame[name], self.min_category_count)
                self.categories_[name] = kept
                self._cat_dtypes_[name] = pd.CategoricalDtype([*kept, RARE_LEVEL])
        data = self._lightgbm_frame(frame)
        est = lightgbm.LGBMClassifier(
            objective="binary",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        split = self._inner_split(y01)
        if split is None:
            est.fit(data, y01)
            best = self.n_estimators
        else:
            train, val = split
            x_val, y_val = data.iloc[val], y01[val]
            # lightgbm 4.7 renamed eval_set to eval_X/eval_y and warns on the old name
            if "eval_X" in inspect.signature(est.fit).parameters:
                evals = {"eval_X": x_val, "eval_y": y_val}
            else:  # pragma: no cover - lightgbm < 4.7
                evals = {"eval_set": [(x_val, y_val)]}
            est.fit(
                data.iloc[train],
                y01[train],
                callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)],
                **evals,
            )
            best = int(est.best_iteration_ or self.n_estimators)
        self.estimator_ = est
        self.booster_ = est.booster_
        self.best_iteration_ = best
        probe = self.booster_.predict(
            data.iloc[:1], pred_contrib=True, num_iteration=best, **self._threads()
        )
        self.base_value_ = float(np.asarray(probe)[0, -1])

    def _fit_logistic(self, frame: pd.DataFrame, y01: np.ndarray) -> None:
        data = self._logistic_frame(frame)
        cats = [f"f{i}" for i, c in enumerate(self._is_cat_) if c]
        nums = [f"f{i}" for i, c in enumerate(self._is_cat_) if not c]
        parts = []
        if cats:
            encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist", min_frequency=self.min_category_count
            )
            imputer = SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)
            parts.append(("cat", make_pipeline(imputer, encoder), cats))
        if nums:
            imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
            parts.append(("num", make_pipeline(imputer, StandardScaler()), nums))
        pipe = Pipeline(
            [
                ("prep", ColumnTransformer(parts)),
                ("clf", LogisticRegression(C=self.C, max_iter=1000)),
            ]
        )
        pipe.fit(data, y01)
        self.estimator_ = pipe
        self.base_value_ = float(pipe[-1].intercept_[0])
        self.categories_ = {}
        self._linear_ = _linear_tables(pipe, self._is_cat_)
        for i, term in enumerate(self._linear_):
            if term["kind"] == "categorical":
                kept = [v for v in term["levels"] if v != MISSING_LEVEL]
                self.categories_[self._names_[i]] = kept

    # ------------------------------------------------------------- transform
    def _lightgbm_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i, name in enumerate(self._names_):
            col = frame[name]
            if self._is_cat_[i]:
                cols[f"f{i}"] = encode_levels(col, self._cat_dtypes_[name])
            else:
                cols[f"f{i}"] = float_column(col, name)
        return pd.DataFrame(cols, index=pd.RangeIndex(len(frame)), copy=False)

    def _logistic_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for i, name in enumerate(self._names_):
            col = frame[name]
            if self._is_cat_[i]:
                cols[f"f{i}"] = col.astype(str).to_numpy(dtype=object, na_value=np.nan)
            else:
                cols[f"f{i}"] = float_column(col, name)
        return pd.DataFrame(cols, index=pd.RangeIndex(len(frame)), copy=False)

    def _prepare(self, X: Any) -> tuple[pd.DataFrame, pd.Index]:
        """Check X against the fit and return the model's input frame and X's index."""
        check_is_fitted(self)
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            missing = [c for c in self._names_ if c not in X.columns]
            if missing:
                raise MissingColumnError(
                    f"X must have every column the model was fitted on; got none of "
                    f"{missing}. Add the column(s) (values may be missing) or refit "
                    "without them."
                )
            dup = [c for c in self._names_ if isinstance(X[c], pd.DataFrame)]
            if dup:
                raise DataError(
                    f"X column names must be unique; got duplicates {dup}. Rename or drop them."
                )
            frame, index = X, X.index
        elif isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=False, skip_check_array=True)
            frame, index = X.set_axis(self._names_, axis=1), X.index
        else:
            dtype = None if self.categorical_features_ else "numeric"
            arr = validate_data(self, X, reset=False, dtype=dtype, ensure_all_finite="allow-nan")
            frame = pd.DataFrame(arr, columns=self._names_, copy=False)
            index = frame.index
        if self.model == "lightgbm":
            return self._lightgbm_frame(frame), index
        return self._logistic_frame(frame), index

    def _threads(self) -> dict[str, int]:
        if self.n_jobs is None:
            return {}
        return {"num_threads": max(int(self.n_jobs), 0)}

    # --------------------------------------------------------------- predict
    def decision_function(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Log-odds of conversion (uncalibrated), shape (n_samples,)."""
        data, _ = self._prepare(X)
        return self._raw(data)

    def _raw(self, data: pd.DataFrame) -> np.ndarray:
        if self.model == "lightgbm":
            raw = self.booster_.predict(
                data, raw_score=True, num_iteration=self.best_iteration_, **self._threads()
            )
            return np.asarray(raw, dtype=np.float64)
        return self.base_value_ + _linear_terms(self._linear_, data).sum(axis=1)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability of each class, shape (n_samples, 2); column 1 is conversion."""
        proba = expit(self.decision_function(X))
        return np.column_stack([1.0 - proba, proba])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The class whose probability exceeds 0.5, in ``classes_`` terms."""
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]

    def contributions(self, X: pd.DataFrame | np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Per-column contributions to the log-odds of each lead.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            Leads, as for :meth:`predict_proba`.

        Returns
        -------
        contributions : pandas.DataFrame
            One row per lead (same index as X), one column per fitted feature.
        base : ndarray of shape (n_samples,)
            The log-odds the contributions start from, so that
            ``contributions.sum(axis=1) + base == decision_function(X)``.

        Notes
        -----
        LightGBM: exact TreeSHAP values of the used trees (``pred_contrib=True``);
        a categorical column's contribution is that of its level. Logistic: the sum of
        coefficient x transformed value over the column's one-hot levels, or over its
        standardised value and missing indicator; ``base`` is the intercept, and the
        centering of the standardisation sits inside each term (a lead with every
        numeric at the training mean gets 0 from those columns).

        TreeSHAP is exact but costs about 100x :meth:`predict_proba` (its work grows
        with trees x leaves x depth squared): fewer trees (early stopping, a higher
        ``learning_rate``) make it faster; chunking only bounds memory. The logistic
        contributions cost about as much as a prediction.
        """
        data, index = self._prepare(X)
        if self.model == "lightgbm":
            out = self.booster_.predict(
                data, pred_contrib=True, num_iteration=self.best_iteration_, **self._threads()
            )
            out = np.asarray(out, dtype=np.float64)
            contrib, base = out[:, :-1], out[:, -1].copy()
        else:
            contrib = _linear_terms(self._linear_, data)
            base = np.full(len(data), self.base_value_)
        return pd.DataFrame(contrib, index=index, columns=list(self._names_)), base

    # ------------------------------------------------------------- as data
    def to_state(self) -> tuple[dict[str, Any], str | None]:
        """The fitted scorer as plain data: a JSON-safe dict and LightGBM's model text.

        Everything :meth:`predict_proba`, :meth:`contributions` and :meth:`leaf_indices`
        need, and nothing that runs code when read back: the parameters, the columns and
        their kinds, the kept levels, the base value, the LightGBM trees as LightGBM's own
        text format (None for the logistic model) or the logistic model's per-column
        terms.

        Returns
        -------
        (state, model_text)

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> X = pd.DataFrame({"visits": np.arange(200.0) % 7, "country": ["US", "DE"] * 100})
        >>> y = np.arange(200) % 3 == 0
        >>> scorer = LeadScorer(model="logistic").fit(X, y)
        >>> again = LeadScorer.from_state(*scorer.to_state())
        >>> bool(np.array_equal(again.decision_function(X), scorer.decision_function(X)))
        True
        """
        check_is_fitted(self)
        state: dict[str, Any] = {
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": (
                list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
            ),
            "names": list(self._names_),
            "categorical_features": list(self.categorical_features_),
            "numeric_features": list(self.numeric_features_),
            "categories": {str(k): list(v) for k, v in self.categories_.items()},
            "base_value": float(self.base_value_),
        }
        if self.model == "lightgbm":
            state["best_iteration"] = int(self.best_iteration_)
            return state, self.booster_.model_to_string(num_iteration=self.best_iteration_)
        state["linear"] = self._linear_
        return state, None

    @classmethod
    def from_state(cls, state: dict[str, Any], model_text: str | None = None) -> LeadScorer:
        """Rebuild a fitted scorer from :meth:`to_state` output (no pickle involved).

        Raises
        ------
        ValueError
            When the state is not a scorer's, or the LightGBM model text is missing.
        """
        try:
            scorer = cls(**state["params"])
            names = list(state["names"])
            kind = scorer.model
            if kind not in _MODELS:
                raise ValueError(f"model must be one of {_MODELS}; got {kind!r}")
            scorer.classes_ = np.asarray(state["classes"])
            scorer.n_features_in_ = int(state["n_features_in"])
            if state.get("feature_names_in") is not None:
                scorer.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
            scorer._names_ = names
            scorer.categorical_features_ = list(state["categorical_features"])
            scorer.numeric_features_ = list(state["numeric_features"])
            cats = set(scorer.categorical_features_)
            scorer._is_cat_ = [name in cats for name in names]
            scorer.categories_ = {k: list(v) for k, v in state["categories"].items()}
            scorer.base_value_ = float(state["base_value"])
            if kind == "logistic":
                scorer._linear_ = list(state["linear"])
                scorer.estimator_ = None
                return scorer
            if model_text is None:
                raise ValueError("a LightGBM scorer needs its model text")
            import lightgbm

            scorer._cat_dtypes_ = {
                name: pd.CategoricalDtype([*scorer.categories_[name], RARE_LEVEL])
                for name in scorer.categorical_features_
            }
            from mqlml.model._model_text import check_model_text

            text = check_model_text(model_text, len(names))  # before LightGBM's parser
            try:
                scorer.booster_ = lightgbm.Booster(model_str=text)
            except lightgbm.basic.LightGBMError as exc:
                raise ValueError(f"the LightGBM model text is not valid: {exc}") from None
            scorer.estimator_ = None
            scorer.best_iteration_ = int(state["best_iteration"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"scorer state must come from LeadScorer.to_state; {exc!r}") from None
        return scorer

    def leaf_indices(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The leaf each lead reaches in each tree (LightGBM only), shape (n, n_trees).

        With per-leaf path contributions (mqlml.scoring.PathAttribution) this gives
        per-column contributions at about the cost of a prediction.

        Raises
        ------
        ValueError
            For the logistic model, which has no trees.
        """
        if self.model != "lightgbm":
            raise ValueError(f"leaf_indices needs model='lightgbm'; got {self.model!r}.")
        data, _ = self._prepare(X)
        leaves = self.booster_.predict(
            data, pred_leaf=True, num_iteration=self.best_iteration_, **self._threads()
        )
        return np.asarray(leaves, dtype=np.int32).reshape(len(data), -1)


def _codes_and_levels(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing) and the distinct levels they index."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), col.cat.categories
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes, pd.Index(uniques)


def _frequent_levels(col: pd.Series, min_count: int) -> list:
    """Levels seen at least ``min_count`` times, sorted when comparable."""
    codes, levels = _codes_and_levels(col)
    counts = np.bincount(codes[codes >= 0], minlength=len(levels))
    kept = [v for v in levels[counts >= min_count].tolist() if v != RARE_LEVEL]
    try:
        return sorted(kept)
    except TypeError:
        return kept


def encode_levels(col: pd.Series, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """Map a column onto the fitted levels; others go to RARE_LEVEL, missing stays missing.

    A value takes the level equal to it, else one spelling the same number
    (:func:`mqlml.io.match_levels`: ``"3.0"`` takes the level ``"3"``).
    """
    codes, levels = _codes_and_levels(col)
    lut = match_levels(levels, dtype.categories)
    lut[lut < 0] = len(dtype.categories) - 1
    lut = np.append(lut, -1)  # code -1 (missing) picks the last entry
    return pd.Categorical.from_codes(lut[codes], dtype=dtype)


def float_column(col: pd.Series, name: Any) -> np.ndarray:
    """A numeric or boolean column as float64, missing values as NaN."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return col.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        example = col.dropna().iloc[:1].tolist()
        raise DataError(
            f"column {name!r} must be numeric as in training; got dtype {dtype} with "
            f"values such as {example}. Convert it to numbers before scoring."
        ) from None


def _linear_tables(pipe: Pipeline, is_cat: list[bool]) -> list[dict[str, Any]]:
    """The fitted logistic pipeline as one additive term per column (plain data).

    A categorical column is a table of levels (as strings, missing as ``"__missing__"``)
    to weights, and the weight of every other level (the encoder's infrequent level, or
    0 when there is none). A numeric column is its median (for missing values), mean,
    scale and weight, and the same for its missing indicator when training had
    missing values. ``intercept + sum(terms)`` equals the pipeline's decision function.
    """
    prep, coef = pipe[0], pipe[-1].coef_[0].tolist()
    terms: list[dict[str, Any]] = [{} for _ in is_cat]
    cat_idx = [i for i, c in enumerate(is_cat) if c]
    num_idx = [i for i, c in enumerate(is_cat) if not c]
    if cat_idx:
        encoder = prep.named_transformers_["cat"][-1]
        at = prep.output_indices_["cat"].start
        for j, i in enumerate(cat_idx):
            rare = encoder.infrequent_categories_[j]
            rare_set = set() if rare is None else set(rare.tolist())
            kept = [v for v in encoder.categories_[j].tolist() if v not in rare_set]
            levels = {v: coef[at + k] for k, v in enumerate(kept)}
            at += len(kept)
            other = 0.0
            if rare is not None:
                other, at = coef[at], at + 1
            terms[i] = {"kind": "categorical", "levels": levels, "other": other}
    if num_idx:
        imputer, scaler = prep.named_transformers_["num"]
        at = prep.output_indices_["num"].start
        indicated = [] if imputer.indicator_ is None else list(imputer.indicator_.features_)
        for k, i in enumerate(num_idx):
            terms[i] = {
                "kind": "numeric",
                "median": float(imputer.statistics_[k]),
                "mean": float(scaler.mean_[k]),
                "scale": float(scaler.scale_[k]),
                "weight": coef[at + k],
                "missing": None,
            }
        for m, k in enumerate(indicated):
            col = len(num_idx) + m
            terms[num_idx[k]]["missing"] = {
                "mean": float(scaler.mean_[col]),
                "scale": float(scaler.scale_[col]),
                "weight": coef[at + col],
            }
    return terms


def _linear_terms(tables: list[dict[str, Any]], data: pd.DataFrame) -> np.ndarray:
    """Each column's additive term of the log-odds, shape (n_rows, n_columns)."""
    out = np.empty((len(data), len(tables)), dtype=np.float64)
    for i, term in enumerate(tables):
        col = data[f"f{i}"]
        if term["kind"] == "categorical":
            text = pd.Series(col, copy=False).where(pd.notna(col), MISSING_LEVEL)
            codes, uniques = pd.factorize(text)
            levels = term["levels"]
            weights = np.array([*levels.values(), term["other"]], dtype=np.float64)
            found = match_levels(uniques, list(levels))
            found[found < 0] = len(levels)
            out[:, i] = weights[found[codes]]
            continue
        x = np.asarray(col, dtype=np.float64)
        missing = np.isnan(x)
        value = np.where(missing, term["median"], x)
        out[:, i] = term["weight"] * (value - term["mean"]) / term["scale"]
        if term["missing"] is not None:
            ind = term["missing"]
            out[:, i] += ind["weight"] * (missing - ind["mean"]) / ind["scale"]
    return out
