"""Scoring leads with a bundle: continuous scores for the CRM, in memory or streamed.

Every input row gets one output row, in the same order, with its id and:

===================  ===================================================================
``probability``      calibrated conversion probability
``score``            0-100 on the points scale: the MQL threshold at 50 (mqlml.model._points)
``percentile``       where the lead falls among the leads the model was calibrated on
``tier``             ``A`` (the MQLs) to ``D``, from the threshold (see mqlml.model._points)
``is_mql``           probability >= the MQL threshold
``threshold``        with segment lines only (``threshold.segments``): the lead's MQL
                     threshold, its segment's; score, tier and is_mql follow it
``fit_score``        the fit columns' part of the log-odds (who the lead is)
``engagement_score`` the engagement columns' part of the log-odds (what the lead did)
``reasons_for``      up to 3 columns pushing the lead up, ``col=value (+0.81)``
``reasons_against``  up to 3 columns pushing the lead down
===================  ===================================================================

``fit_score + engagement_score + base == log-odds`` (base is the model's starting
log-odds).

Written values are rounded to what a CRM field stores (:func:`written`): ``score`` and
``percentile`` to one decimal (the score rounded down, so that a written 50.0 or more is
exactly an MQL and the tier bounds hold on it), ``probability`` and ``threshold`` to 6
significant digits, the sub-scores to 4 decimals. ``tier`` and ``is_mql`` come from the
exact probability, before rounding; so does everything summed while scoring (expected
SQLs, the account roll-up). Every route writes the same numbers: :func:`score_frame`, the
streamed :func:`score_file` (compiled trees or LightGBM), Spark and the MLflow model.
``exact=True`` (:class:`Scorer`, :func:`score_frame`) keeps the unrounded floats for
analysis. The score is clipped to 0-100: the leads at 0 (or 100) are no longer ordered by
it, while their probability still orders them.

Reasons cost more than scores, so by default (``reasons="top"``) they are
written for the two highest tiers (the MQLs and the leads closest to becoming one),
``"all"`` writes them for every lead and ``"none"`` for none; sub-scores are always
written (they cost little with the default path attribution, see mqlml.scoring._explain).

:func:`score_frame` scores a DataFrame in memory with a :class:`Scorer`; files are streamed
by :func:`mqlml.scoring.score_file` (:mod:`mqlml.scoring._file`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from mqlml.config._config import ProjectConfig
from mqlml.errors import DataError, MissingColumnError
from mqlml.io._readers import check_flat
from mqlml.leads._events import with_event_features
from mqlml.model._bundle import Bundle, load_bundle
from mqlml.model._points import (
    SCORE_DECIMALS,
    SUB_SCORE_DECIMALS,
    percentile_of,
    written_probability,
    written_score,
)
from mqlml.scoring._encode import ArrowEncoder, Encoded
from mqlml.scoring._explain import format_reasons, group_matrix
from mqlml.scoring._predict import PREDICTORS, PredictorName, make_predictor

__all__ = [
    "OUTPUT_COLUMNS",
    "Scorer",
    "score_frame",
    "written",
]

OUTPUT_COLUMNS = (
    "probability",
    "score",
    "percentile",
    "tier",
    "is_mql",
    "fit_score",
    "engagement_score",
    "reasons_for",
    "reasons_against",
)
Reasons = Literal["top", "all", "none"]
Attribution = Literal["path", "shap"]

_WRITTEN = {
    "probability": written_probability,
    "threshold": written_probability,
    "score": written_score,
    "percentile": lambda v: np.round(np.asarray(v, dtype=np.float64), SCORE_DECIMALS),
    "fit_score": lambda v: np.round(np.asarray(v, dtype=np.float64), SUB_SCORE_DECIMALS),
    "engagement_score": lambda v: np.round(np.asarray(v, dtype=np.float64), SUB_SCORE_DECIMALS),
}


def written(outputs: Any) -> Any:
    """Scoring outputs rounded as they are written (see the module docstring).

    Parameters
    ----------
    outputs : pandas.DataFrame or dict of arrays
        Scores as :meth:`Scorer.score` or :meth:`Scorer.score_columns` give them; other
        columns pass unchanged.

    Returns
    -------
    pandas.DataFrame or dict
        A new frame or dict of the same kind, the numeric outputs rounded.

    Examples
    --------
    >>> written({"probability": np.array([0.0697449419100869]),
    ...          "score": np.array([59.57889418126845]), "tier": ["A"]})["score"].tolist()
    [59.5]
    """
    if isinstance(outputs, pd.DataFrame):
        out = outputs.copy()
        for name, rounding in _WRITTEN.items():
            if name in out.columns:
                out[name] = rounding(out[name].to_numpy(dtype=np.float64))
        return out
    return {
        name: _WRITTEN[name](values) if name in _WRITTEN else values
        for name, values in outputs.items()
    }


class Scorer:
    """Score frames with one bundle (built once, reused for every chunk).

    Parameters
    ----------
    bundle : Bundle
        A trained bundle.
    reasons : {"top", "all", "none"}, default="top"
        Which leads get reason codes: the two highest tiers, all, or none.
    attribution : {"path", "shap"}, default="path"
        How LightGBM log-odds are split into per-column contributions for the reasons
        (mqlml.scoring._explain): path attribution, or exact TreeSHAP for the leads that get
        reasons (about 100x slower; its time is in ``attribution_seconds``). Sub-scores
        are path attributions either way.
    top : int, default=3
        Reasons per side.
    predictor : {"auto", "lightgbm", "compiled"}, default="auto"
        What predicts the trees (mqlml.scoring._predict); ``auto`` uses the compiled trees when
        the ``fast`` extra is installed and they pass the parity check.
    cache_dir : path, optional
        Folder for compiled trees; by default the private cache,
        mqlml.scoring._predict.default_cache_dir (never the bundle's folder). Entries are keyed by
        the sha256 of the model's trees, so a changed bundle never meets a stale library,
        and verified by a keyed hash before use (mqlml.scoring._cache).
    exact : bool, default=False
        Keep the unrounded floats; by default the outputs are rounded as written
        (:func:`written`), after the tier and ``is_mql`` are set from the exact values.
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        reasons: Reasons = "top",
        attribution: Attribution = "path",
        top: int = 3,
        predictor: PredictorName = "auto",
        cache_dir: str | Path | None = None,
        exact: bool = False,
    ) -> None:
        if reasons not in ("top", "all", "none"):
            raise ValueError(f"reasons must be 'top', 'all' or 'none'; got {reasons!r}.")
        if attribution not in ("path", "shap"):
            raise ValueError(f"attribution must be 'path' or 'shap'; got {attribution!r}.")
        if predictor not in PREDICTORS:
            raise ValueError(
                f"predictor must be one of {', '.join(PREDICTORS)}; got {predictor!r}."
            )
        self.bundle, self.reasons, self.top = bundle, reasons, top
        self.attribution, self.exact = attribution, exact
        schema = bundle.schema
        self.features = schema.features
        self.groups = group_matrix(
            self.features, {"fit": schema.fit, "engagement": schema.engagement}
        )
        self.predictor = None
        self.encoder: ArrowEncoder | None = None
        if bundle.model.model == "lightgbm":
            model = bundle.model
            self.predictor = make_predictor(
                model, predictor, groups=self.groups, cache_dir=cache_dir
            )
            self.encoder = ArrowEncoder(model, schema.kinds, schema.missing_tokens)
        self.attribution_seconds = 0.0  # time spent on exact TreeSHAP
        self.reason_rows = 0
        self._lock = threading.Lock()  # batches may be scored at once (share_threads)
        # Reasons for the two highest tiers by default: at or above the second-highest cut.
        cuts = bundle.tiers.cuts
        self.reason_floor = {
            "all": -np.inf,
            "none": np.inf,
            "top": cuts[-2] if len(cuts) > 1 else cuts[-1],
        }[reasons]
        # With segment lines the tiers sit at the same scores in every segment.
        self.score_floor = {
            "all": -np.inf,
            "none": np.inf,
            "top": float(bundle.scale.score(np.array([self.reason_floor]))[0])
            if reasons == "top"
            else 0.0,
        }[reasons]

    def score(self, frame: pd.DataFrame, *, row_offset: int = 0, keep: Sequence[str] = ()):
        """Score one frame; see the module docstring for the output columns.

        Parameters
        ----------
        frame : pandas.DataFrame
            Leads with at least the id and feature columns the bundle was trained on
            (extra columns are ignored unless named in ``keep``).
        row_offset : int
            Rows before this frame in its file (for row numbers in errors and ids).
        keep : sequence of str
            Input columns to pass through after the output columns.

        Returns
        -------
        pandas.DataFrame
            One row per input row, same order, fresh RangeIndex.

        Raises
        ------
        MissingColumnError
            When a feature, the id or a ``keep`` column is absent.
        DataError
            When a numeric column holds a non-number (column and row named).
        """
        schema, model = self.bundle.schema, self.bundle.model
        check_keep(keep, frame.columns)
        X = schema.features_frame(frame, row_offset=row_offset)
        n = len(X)
        codes = self.bundle.segment_codes(frame)
        contrib = chosen = None
        if n == 0:
            sub, log_odds = np.zeros((0, 2)), np.zeros(0)
        elif self.predictor is not None:
            inputs = self.predictor.inputs(model._prepare(X)[0])
            log_odds, sub, _, chosen = self.predictor.explain(inputs, self._selector(codes))
        else:
            contrib_frame, base_rows = model.contributions(X)
            contrib = contrib_frame.to_numpy()
            sub = contrib @ self.groups
            log_odds = base_rows + sub.sum(axis=1)
        p = self.bundle.calibrate(log_odds, codes)
        reasons_for = np.full(n, "", dtype=object)
        reasons_against = np.full(n, "", dtype=object)
        wanted = self._wanted(p, codes)
        if len(wanted):
            seconds = 0.0  # spent on exact TreeSHAP
            if contrib is not None:
                chosen = contrib[wanted]
            elif self.attribution == "shap":
                start = time.perf_counter()
                chosen = model.contributions(X.iloc[wanted])[0].to_numpy()
                seconds = time.perf_counter() - start
            self._tally(len(wanted), seconds)
            raw = frame.iloc[wanted]
            reasons_for[wanted], reasons_against[wanted] = format_reasons(
                chosen, raw, self.features, top=self.top
            )
        line = self.bundle.thresholds(n, codes)
        tier = self.bundle.tier(p, codes)
        out = pd.DataFrame(
            {
                schema.id_name: schema.ids(frame, offset=row_offset).to_numpy(),
                "probability": p,
                "score": self.bundle.score(p, codes),
                "percentile": percentile_of(p, self.bundle.reference["quantiles"]),
                "tier": tier.astype(str) if n else np.array([], str),
                "is_mql": p >= line,
                **({"threshold": line} if codes is not None else {}),
                "fit_score": sub[:, 0],
                "engagement_score": sub[:, 1],
                "reasons_for": reasons_for,
                "reasons_against": reasons_against,
            }
        )
        for name in keep:
            out[name] = frame[name].to_numpy()
        return out if self.exact else written(out)

    def score_columns(
        self, columns: Mapping[str, pa.Array], *, row_offset: int = 0
    ) -> tuple[dict[str, Any], Encoded | None]:
        """Score one batch of Arrow columns: the fast path of :func:`score_file`.

        The same outputs as :meth:`score` (the id column first, row numbers when the
        schema has no id column, the input's ids otherwise), as numpy and Arrow arrays,
        with no pandas frame in between for LightGBM models: category codes come straight
        from the Arrow columns (mqlml.scoring._encode), and only the rows that get reasons are
        converted, to show their values.

        Parameters
        ----------
        columns : mapping of str to pyarrow.Array
            The feature columns (missing tokens already blanked in text, numeric text
            already cast), all of one length, plus any others (ignored).
        row_offset : int
            Rows before this batch in its file.

        Returns
        -------
        (outputs, encoded)
            ``outputs`` maps the id name and :data:`OUTPUT_COLUMNS` to arrays;
            ``encoded`` is the batch's :class:`mqlml.scoring._encode.Encoded` (None for the
            logistic model, scored through :meth:`score`).

        Raises
        ------
        DataError
            When a feature column is nested (struct, list, map).
        """
        schema = self.bundle.schema
        check_flat([pa.field(c, columns[c].type) for c in schema.features if c in columns])
        if self.encoder is None or self.predictor is None:
            frame = pa.table(dict(columns)).to_pandas()
            scored = self.score(frame, row_offset=row_offset)
            return {c: scored[c].to_numpy() for c in scored.columns}, None
        encoded = self.encoder.encode(columns, row_offset=row_offset)
        n = len(encoded.matrix)
        codes = None
        if self.bundle.segments is not None:  # each lead's segment line
            segment = columns[self.bundle.segments.column]
            if pa.types.is_dictionary(segment.type):
                segment = segment.dictionary_decode()
            codes = self.bundle.segments.codes(segment.to_pandas())
        inputs = self.predictor.from_matrix(encoded.matrix)
        path = self.attribution == "path"
        log_odds, sub, _, chosen = self.predictor.explain(inputs, self._selector(codes))
        p = self.bundle.calibrate(log_odds, codes)
        wanted = self._wanted(p, codes)
        empty = pa.array([""] * n, pa.string())
        reasons_for = reasons_against = empty
        if len(wanted):
            seconds = 0.0
            if not path:  # exact TreeSHAP of the same codes
                start = time.perf_counter()
                rows = np.ascontiguousarray(encoded.matrix[wanted])
                contrib = self.bundle.model.booster_.predict(
                    rows, pred_contrib=True, **self.predictor._kwargs()
                )
                chosen = np.asarray(contrib, dtype=np.float64)[:, :-1]
                seconds = time.perf_counter() - start
            self._tally(len(wanted), seconds)
            reasons_for, reasons_against = format_reasons(
                chosen, _Rows(columns, wanted), self.features, top=self.top,
                as_arrow=True, positions=wanted, length=n,
            )  # fmt: skip
        ids = (
            pa.nulls(n, pa.string())
            if schema.id_column
            else np.arange(row_offset + 1, row_offset + n + 1)
        )
        if codes is None:
            tiers = self.bundle.tiers
            band = np.searchsorted(np.asarray(tiers.cuts), p, side="right")
            tier = pa.array(list(tiers.names[::-1]), pa.string()).take(pa.array(band))
        else:
            tier = pa.array(self.bundle.tier(p, codes).astype(str), pa.string())
        line = self.bundle.thresholds(n, codes)
        out = {
            schema.id_name: ids,
            "probability": p,
            "score": self.bundle.score(p, codes),
            "percentile": percentile_of(p, self.bundle.reference["quantiles"]),
            "tier": tier,
            "is_mql": p >= line,
            **({"threshold": line} if codes is not None else {}),
            "fit_score": np.ascontiguousarray(sub[:, 0]),
            "engagement_score": np.ascontiguousarray(sub[:, 1]),
            "reasons_for": reasons_for,
            "reasons_against": reasons_against,
        }
        return (out if self.exact else written(out)), encoded

    def __getstate__(self) -> dict[str, Any]:  # pickled to Spark executors: no lock
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def share_threads(self) -> int:
        """Split the compiled trees' threads between two batches scored at once.

        With compiled trees on two or more threads, each batch gets half of them and
        :func:`score_file` scores two batches at once, so that the steps of one batch
        that run on one core (formatting reasons, say) overlap the trees of the other.
        LightGBM (one booster shared by two threads is not documented as safe) and the
        logistic model keep one batch at a time.

        Returns
        -------
        int
            Batches to score at once (2 or 1).
        """
        predictor = self.predictor
        if predictor is None or predictor.name != "compiled" or predictor.threads < 2:
            return 1
        predictor.threads //= 2
        return 2

    def _tally(self, rows: int, seconds: float) -> None:
        with self._lock:
            self.reason_rows += rows
            self.attribution_seconds += seconds

    def _selector(self, codes: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray] | None:
        """Log-odds -> the rows that get path reasons (None: no path contributions)."""
        if self.attribution != "path" or self.reason_floor == np.inf:
            return None
        return lambda log_odds: self._wanted(self.bundle.calibrate(log_odds, codes), codes)

    def _wanted(self, p: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """Rows that get reasons."""
        if codes is None:
            return np.flatnonzero(p >= self.reason_floor)
        return np.flatnonzero(self.bundle.score(p, codes) >= self.score_floor)


class _Rows:
    """Some rows of a batch's columns, as ``format_reasons`` reads them: ``pick(name, i)``
    converts to pandas only the values shown (the ``i``-th of these rows)."""

    def __init__(self, columns: Mapping[str, pa.Array], rows: np.ndarray) -> None:
        self.columns, self.rows = columns, np.asarray(rows, dtype=np.int64)

    def pick(self, name: str, rows: np.ndarray) -> pd.Series:
        return self.columns[name].take(pa.array(self.rows[rows])).to_pandas()


def check_keep(
    keep: Sequence[str], columns: Sequence[str], id_name: str | None = None, prefix: str = ""
) -> None:
    """Refuse ``keep`` names that are absent, or that would replace an output column."""
    absent = [c for c in keep if c not in set(columns)]
    if absent:
        raise MissingColumnError(
            f"--keep columns must exist in the input; missing {absent}. Check their spelling."
        )
    taken = {*OUTPUT_COLUMNS, "threshold", *([id_name] if id_name else [])}
    clash = [c for c in dict.fromkeys(keep) if f"{prefix}{c}" in taken]
    if clash:
        raise DataError(
            f"--keep columns must not share a name with an output column; got {clash}, "
            "which would replace the model's outputs. Pass them under another name with "
            f"--keep-prefix, e.g. --keep-prefix input_ writes {['input_' + c for c in clash]}."
        )


def score_frame(
    bundle: Bundle | str | Path,
    frame: pd.DataFrame,
    *,
    reasons: Reasons = "top",
    attribution: Attribution = "path",
    keep: Sequence[str] = (),
    events: pd.DataFrame | None = None,
    as_of: Any = "now",
    predictor: PredictorName = "auto",
    exact: bool = False,
) -> pd.DataFrame:
    """Score a DataFrame of leads in memory.

    Parameters
    ----------
    bundle : Bundle or path
        A bundle or the folder it was saved to.
    frame : pandas.DataFrame
        The leads.
    reasons, attribution : see :class:`Scorer`.
    keep : sequence of str
        Input columns to pass through.
    events : pandas.DataFrame, optional
        The activity log, for a bundle trained from one (read from its config's
        ``data.events`` when omitted).
    as_of : "now" or date
        The date the activity-log features are computed as of.
    predictor : {"auto", "lightgbm", "compiled"}
        See :class:`Scorer`.
    exact : bool, default=False
        Keep the unrounded floats; by default they are rounded as :func:`score_file`
        writes them (:func:`written`).

    Returns
    -------
    pandas.DataFrame
        The id column then :data:`OUTPUT_COLUMNS` (then ``keep``), one row per lead.
    """
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    frame = add_event_features(bundle, frame, events, as_of)
    scorer = Scorer(
        bundle, reasons=reasons, attribution=attribution, predictor=predictor, exact=exact
    )
    return scorer.score(frame, keep=keep)


def add_event_features(bundle: Bundle, frame: pd.DataFrame, events, as_of) -> pd.DataFrame:
    """The leads with the activity-log features a bundle trained from a log needs."""
    types = bundle.metadata.get("event_types")
    if types is None:
        return frame
    config = ProjectConfig.model_validate(bundle.config)
    if events is None and config.data.events is None:
        raise MissingColumnError(
            "this model was trained from an activity log; its events must be given. "
            "Pass --events FILE (or events= in Python)."
        )
    _, frame, _ = with_event_features(config, frame, events, cutoff=as_of, event_types=types)
    return frame
