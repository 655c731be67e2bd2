"""Scoring leads with a bundle: continuous scores for the CRM, in memory or streamed.

Every input row gets one output row, in the same order, with its id and:

===================  ===================================================================
``probability``      calibrated conversion probability
``score``            0-100 on the points scale: the MQL threshold at 50 (mqlml.points)
``percentile``       where the lead falls among the leads the model was calibrated on
``tier``             ``A`` (the MQLs) to ``D``, from the threshold (see mqlml.points)
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
written (they cost little with the default path attribution, see mqlml.explain).

Batch files are streamed in chunks with pyarrow (memory stays flat as files grow) and
written to a temporary file beside the output that is renamed only when complete: a
failure or a kill leaves no output file and no partial one. The input is opened once
(mqlml.readers.LeadFile: header, the id and time columns for activity-log features, then
the batches); for LightGBM bundles each batch goes from Arrow straight into the model's
matrix (mqlml.encode; Parquet text columns read as dictionaries), with pandas only for
the values shown in reasons. Repeated ids are counted in bounded memory (mqlml.repeats).
The work on each batch (checks, codes, trees, reasons) runs one batch ahead in a worker
thread (mqlml.ahead) while the caller writes the one before and reads the one after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.accounts import AccountRollup
from mqlml.ahead import ahead
from mqlml.atomic import atomic_outputs, check_destination, file_error, handle_signals
from mqlml.bundle import Bundle, load_bundle
from mqlml.config import ProjectConfig
from mqlml.encode import ArrowEncoder, Encoded
from mqlml.errors import DataError, FileError, MissingColumnError
from mqlml.events import scoring_ages, with_event_features
from mqlml.explain import format_reasons, group_matrix
from mqlml.formulas import CsvFormulas, check_csv_formulas
from mqlml.levels import level_text, match_levels
from mqlml.points import (
    SCORE_DECIMALS,
    SUB_SCORE_DECIMALS,
    percentile_of,
    written_probability,
    written_score,
)
from mqlml.predict import PREDICTORS, PredictorName, make_predictor
from mqlml.readers import LeadFile, check_flat, detect_format, read_table
from mqlml.repeats import RepeatCounter, present_ids
from mqlml.writers import TableWriter

__all__ = ["OUTPUT_COLUMNS", "ScoreSummary", "Scorer", "score_file", "score_frame", "written"]

#: Folder inside a bundle's folder where its compiled trees are cached.

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
        (mqlml.explain): path attribution, or exact TreeSHAP for the leads that get
        reasons (about 100x slower; its time is in ``attribution_seconds``). Sub-scores
        are path attributions either way.
    top : int, default=3
        Reasons per side.
    predictor : {"auto", "lightgbm", "compiled"}, default="auto"
        What predicts the trees (mqlml.predict); ``auto`` uses the compiled trees when
        the ``fast`` extra is installed and they pass the parity check.
    cache_dir : path, optional
        Folder for compiled trees; by default the private cache,
        mqlml.predict.default_cache_dir (never the bundle's folder). Entries are keyed by
        the sha256 of the model's trees, so a changed bundle never meets a stale library,
        and verified by a keyed hash before use (mqlml.cache).
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
        _check_keep(keep, frame.columns)
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
        from the Arrow columns (mqlml.encode), and only the rows that get reasons are
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
            ``encoded`` is the batch's :class:`mqlml.encode.Encoded` (None for the
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


def _check_keep(
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
    frame = _with_events(bundle, frame, events, as_of)
    scorer = Scorer(
        bundle, reasons=reasons, attribution=attribution, predictor=predictor, exact=exact
    )
    return scorer.score(frame, keep=keep)


def _with_events(bundle: Bundle, frame: pd.DataFrame, events, as_of) -> pd.DataFrame:
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


@dataclass(frozen=True)
class ScoreSummary:
    """What a batch scoring run did, and what was odd about the input.

    Attributes
    ----------
    rows, mqls : int
        Leads scored and MQLs among them.
    mql_share : float or None
        ``mqls / rows`` (None for an empty file).
    expected_sqls : float
        Sum of the MQLs' probabilities.
    duplicated_ids : int
        Rows whose id repeats an earlier row's (missing ids not counted).
    missing_ids : int
        Rows with an empty id.
    unseen_categories : dict
        Feature -> rows with a value the model has no level for (never seen in training,
        or too rare there to learn from); scored as the model's "rare" level.
    non_finite : dict
        Numeric feature -> rows holding ``inf`` or ``-inf``.
    empty_features : list of str
        Features with no value in any row (scored as missing everywhere).
    duplicated_columns : list of str
        Header names that appear more than once (only unused columns may repeat).
    id_column : str or None
        The id column the counts refer to.
    predictor : str
        The predictor that scored (``compiled``, ``lightgbm`` or ``logistic``).
    reason_rows, attribution_seconds
        Leads that got reasons, and the seconds their attribution took.
    accounts : dict or None
        With ``accounts``: the accounts written, leads without one, the method and the
        file (see :func:`mqlml.accounts.account_table`).
    older_than_snapshots : int
        With an activity log: leads older at ``as_of`` than the oldest snapshot age the
        model was trained on (``events.snapshot_days``), scored as that age
        (:func:`mqlml.events.scoring_ages`).
    oldest_snapshot_days : float or None
        That oldest age, when some lead was older.
    """

    rows: int
    mqls: int
    mql_share: float | None
    expected_sqls: float
    duplicated_ids: int
    seconds: float
    rows_per_second: float
    output: str
    missing_ids: int = 0
    unseen_categories: dict[str, int] = field(default_factory=dict)
    non_finite: dict[str, int] = field(default_factory=dict)
    empty_features: list[str] = field(default_factory=list)
    duplicated_columns: list[str] = field(default_factory=list)
    id_column: str | None = None
    predictor: str = "lightgbm"
    reason_rows: int = 0
    attribution_seconds: float = 0.0
    accounts: dict[str, Any] | None = None
    older_than_snapshots: int = 0
    oldest_snapshot_days: float | None = None

    @property
    def warnings(self) -> list[str]:
        """One plain sentence per oddity, for people (the CLI prints them)."""
        out = []
        if self.missing_ids:
            column = f" in id column {self.id_column!r}" if self.id_column else ""
            out.append(f"{self.missing_ids:,} rows have no id{column} (written empty)")
        if self.duplicated_ids:
            out.append(f"{self.duplicated_ids:,} rows repeat an earlier id")
        for column, n in self.unseen_categories.items():
            out.append(
                f"column {column!r}: {n:,} rows hold a value the model has not learned "
                "(new or rare in training), scored as a rare value"
            )
        for column, n in self.non_finite.items():
            out.append(f"column {column!r}: {n:,} rows hold an infinite number")
        if self.empty_features:
            out.append(
                f"feature columns {self.empty_features} are empty in every row "
                "(scored as missing); check the export"
            )
        if self.duplicated_columns:
            out.append(
                f"header names {self.duplicated_columns} appear more than once "
                "(not used for scoring)"
            )
        if self.older_than_snapshots:
            oldest = self.oldest_snapshot_days
            out.append(
                f"{self.older_than_snapshots:,} leads are older than the oldest snapshot the "
                f"model was trained on ({oldest:g} days): scored as {oldest:g} days old "
                "(lead_age_days clamped), with their events as of --as-of"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``mqlml score --json``), with the warnings as sentences."""
        record = {**asdict(self), "warnings": self.warnings}
        if record["accounts"] is None:
            del record["accounts"]
        return record


def _event_columns(bundle, source: LeadFile, names, events, as_of) -> tuple[pd.DataFrame, int]:
    """Activity-log features of every lead of ``source``, in file order (none without a log),
    and how many leads are older than the oldest snapshot (scored as that age).

    Only the id and creation time of the leads are read here, through the already open
    file; the chunks are then joined to these rows by position.
    """
    if bundle.metadata.get("event_types") is None:
        return pd.DataFrame(), 0
    schema = bundle.schema
    key = [c for c in (schema.id_column, schema.time_column) if c and c in names]
    leads = source.read(key)
    if isinstance(events, str | Path):
        events = read_table(events, missing_tokens=schema.missing_tokens)
    if isinstance(as_of, str) and as_of == "now":
        as_of = pd.Timestamp.now()
    with_features = _with_events(bundle, leads, events, as_of)
    _, older = scoring_ages(leads, ProjectConfig.model_validate(bundle.config), as_of)
    return with_features.drop(columns=key).reset_index(drop=True), older


class _Oddities:
    """Counts of what is odd in the input, gathered chunk by chunk."""

    def __init__(self, bundle: Bundle) -> None:
        schema = bundle.schema
        self.tokens = list(schema.missing_tokens)
        known = getattr(bundle.model, "categories_", None) or {}
        reference = (bundle.reference or {}).get("features") or {}
        self.levels: dict[str, list[str]] = {}
        for name in schema.features:
            if schema.kinds[name] != "categorical":
                continue
            levels = known.get(name)
            if levels is None:
                levels = (reference.get(name) or {}).get("levels")
            if levels is not None:
                self.levels[name] = list(dict.fromkeys(str(v) for v in levels))
        self.numeric = [c for c in schema.features if schema.kinds[c] == "numeric"]
        self.unseen = dict.fromkeys(self.levels, 0)
        self.non_finite = dict.fromkeys(self.numeric, 0)
        self.filled = dict.fromkeys(schema.features, False)

    def update(self, frame: pd.DataFrame) -> None:
        for name in self.filled:
            if name in frame.columns and not self.filled[name]:
                self.filled[name] = bool(frame[name].notna().any())
        for name, levels in self.levels.items():
            values = frame[name]
            present = values.notna().to_numpy()
            if present.any():
                codes, uniques = pd.factorize(level_text(values[present]))
                known = match_levels(uniques, levels) >= 0
                self.unseen[name] += int(np.count_nonzero(~known[codes]))
        for name in self.numeric:
            values = frame[name]
            if pd.api.types.is_float_dtype(values):
                self.non_finite[name] += int(np.isinf(values.to_numpy()).sum())

    def add(self, encoded: Encoded) -> None:
        """Count from an encoded batch (its rare codes, NaN and infinities)."""
        for name, value in encoded.filled.items():
            if name in self.filled and value:
                self.filled[name] = True
        for name, n in encoded.rare.items():
            if name in self.unseen:
                self.unseen[name] += n
        for name, n in encoded.non_finite.items():
            if name in self.non_finite:
                self.non_finite[name] += n

    def result(self, rows: int) -> dict[str, Any]:
        return {
            "unseen_categories": {k: v for k, v in self.unseen.items() if v},
            "non_finite": {k: v for k, v in self.non_finite.items() if v},
            "empty_features": [k for k, v in self.filled.items() if not v] if rows else [],
        }


def _blank(column: pa.Array, tokens: pa.Array) -> pa.Array:
    """A text column with the missing-value tokens as nulls."""
    kind = column.type
    if len(tokens) and pa.types.is_dictionary(kind) and pa.types.is_large_string(kind.value_type):
        column = column.cast(pa.dictionary(kind.index_type, pa.string()))
        kind = column.type
    if len(tokens) and pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type):
        hit = pc.fill_null(pc.is_in(column.dictionary, value_set=tokens), False)
        if not pc.any(hit).as_py():
            return column
        blank = pc.fill_null(hit.take(column.indices), False)
        indices = pc.if_else(blank, pa.scalar(None, column.indices.type), column.indices)
        return pa.DictionaryArray.from_arrays(indices, column.dictionary)
    if len(tokens) == 0 or not (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        return column
    hit = pc.fill_null(pc.is_in(column, value_set=tokens.cast(column.type)), False)
    return pc.if_else(hit, pa.scalar(None, column.type), column)


def _feature_columns(
    batch: pa.RecordBatch, schema, *, offset: int, path: Path, csv: bool
) -> dict[str, pa.Array]:
    """The batch's columns, missing tokens as nulls in the features' text.

    Numeric text is cast to float64 in Arrow (pandas for what Arrow refuses, such as
    blanks around a number); a value that is no number is an error naming the line.
    """
    tokens = pa.array(list(schema.missing_tokens), pa.string())
    features = set(schema.features)
    columns = {}
    for name in batch.schema.names:
        column = batch.column(name)
        if name in features:
            column = _blank(column, tokens)
            if schema.kinds[name] == "numeric" and not pa.types.is_floating(column.type):
                column = _numbers(column, name, offset=offset, path=path, csv=csv)
        columns[name] = column
    return columns


def _numbers(column: pa.Array, name: str, *, offset: int, path: Path, csv: bool) -> pa.Array:
    try:
        return pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    text = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    values = pd.to_numeric(text, errors="coerce")
    bad = (values.isna() & text.notna()).to_numpy()
    if not bad.any():
        return pa.array(values.to_numpy(dtype=float), pa.float64(), from_pandas=True)
    row = offset + int(np.flatnonzero(bad)[0])
    where = f"line {row + 2}" if csv else f"row {row + 1}"
    raise DataError(
        f"column {name!r} must hold numbers; {where} of {str(path)!r} has "
        f"{text.iloc[int(np.flatnonzero(bad)[0])]!r} ({int(bad.sum())} such rows in that "
        "chunk). The model was trained on numbers there: fix the values in the file, or "
        "add the text to the model's missing-value tokens by retraining."
    )


def _as_id(column: pa.Array) -> pa.Array:
    """Ids as text, exactly as stored (numbers in Parquet as their decimal digits)."""
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type) or pa.types.is_dictionary(column.type):
        return column.cast(pa.string())
    return pc.cast(column, pa.string())


def _bundle_folder(model: str | Path) -> Path | None:
    folder = Path(model)
    return folder if (folder / "manifest.json").is_file() else None


def _reading(batches, path: Path):
    """The batches of ``path``, with an OS fault while reading named as a read fault."""
    try:
        yield from batches
    except FileError:
        raise
    except OSError as exc:
        raise file_error(exc, path, "read") from None


def _numbered(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Each batch with the number of rows before it."""
    offset = 0
    for batch in batches:
        yield batch, offset
        offset += batch.num_rows


def score_file(
    model: Bundle | str | Path,
    input: str | Path,
    output: str | Path,
    *,
    chunk_size: int = 100_000,
    reasons: Reasons = "top",
    attribution: Attribution = "path",
    keep: Sequence[str] = (),
    keep_prefix: str = "",
    unique_ids: bool = False,
    delimiter: str = "auto",
    encoding: str = "utf-8",
    events: str | Path | pd.DataFrame | None = None,
    as_of: Any = "now",
    progress: Callable[[int], None] | None = None,
    predictor: PredictorName = "auto",
    cache_dir: str | Path | None = None,
    accounts: str | Path | None = None,
    csv_formulas: CsvFormulas = "escape",
) -> ScoreSummary:
    """Score a CSV or Parquet file into a CSV or Parquet file, streamed in chunks.

    Before any work the paths are checked (an output may not be the input, the
    activity log, the other output, inside the bundle folder or any bundle folder, nor a
    folder, and its folder must be writable) and so are the input's columns and, with
    ``accounts``, the bundle's ``columns.account``. The outputs appear only when
    complete, together: a temporary file ``.NAME.mqlml-partial-PID.*.tmp`` beside each
    is renamed at the end, removed on any error, SIGTERM or SIGINT, and removed by any
    later run writing to the same folder when a run was killed outright.

    Ids are read as text, exactly as written (``NA``, ``null`` or ``007`` are ids, not
    missing values); a blank id is an error with ``unique_ids`` and counted otherwise.
    The summary also counts what is odd (see :class:`ScoreSummary`).

    Parameters
    ----------
    model : Bundle or path
        The bundle (or its folder).
    input, output : path
        Leads in, scores out; the format follows each suffix (.csv, .csv.gz, .parquet).
    chunk_size : int
        Rows per chunk (memory grows with it, not with the file).
    reasons, attribution : see :class:`Scorer`.
    keep : sequence of str
        Input columns passed through to the output, as read (text for CSV).
    keep_prefix : str
        Written before each kept column's name (needed when one is named like an output
        column, e.g. ``input_`` for a ``score`` column).
    unique_ids : bool
        Refuse (and write nothing) when an id repeats or is blank; otherwise counted.
    delimiter, encoding : str
        CSV input options.
    events : path or DataFrame, optional
        The activity log, for a bundle trained from one.
    as_of : "now" or date
        The date activity-log features are computed as of.
    progress : callable, optional
        Called with the number of rows done after each chunk.
    predictor, cache_dir : see :class:`Scorer`.
    accounts : path, optional
        Also write one row per account (``columns.account``) to this file
        (:func:`mqlml.accounts.account_scores`); it and ``output`` are written together
        or not at all.
    csv_formulas : {"escape", "keep"}, default="escape"
        In a CSV output, text cells (ids, tiers, reasons, kept columns, header names)
        that a spreadsheet would run as formulas get a leading ``'``; ``"keep"`` writes
        them as they are (:mod:`mqlml.formulas`). Numbers are never changed.

    Returns
    -------
    ScoreSummary

    Raises
    ------
    ConfigError
        With ``accounts``, when the bundle's config names no ``columns.account``; or
        ``csv_formulas`` is not one of its values.
    DataError
        An output would overwrite the input, the log, the other output or a bundle, or
        is a folder;
        a ``keep`` name would replace an output column or a used column name repeats
        in the header; empty or unreadable input, wrong file type, non-numeric value in
        a numeric column (column and row named), duplicated or blank ids with
        ``unique_ids``.
    FileError
        A file cannot be read or written (disk full, read-only, permission): the path
        and the reason named.
    MissingColumnError
        A feature or id column the bundle needs is absent.
    BundleError
        ``model`` is not a bundle.
    Interrupted
        SIGTERM or SIGINT arrived (nothing was written).
    """
    input, output = Path(input), Path(output)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of rows; got {chunk_size}.")
    check_csv_formulas(csv_formulas)
    sources = {
        "input": input,
        "activity log": events if isinstance(events, str | Path) else None,
        # a folder holding a bundle's manifest (anything else fails as no bundle)
        "model": model.path if isinstance(model, Bundle) else _bundle_folder(model),
    }
    check_destination(output, {**sources, "accounts output": accounts})
    if accounts is not None:
        accounts = Path(accounts)
        check_destination(accounts, {**sources, "scores output": output}, name="--accounts")
        detect_format(accounts)
    in_fmt, out_fmt = detect_format(input), detect_format(output)
    with LeadFile(input, format=in_fmt, delimiter=delimiter, encoding=encoding) as source:
        return _score_source(
            model, source, output, out_fmt, chunk_size=chunk_size, reasons=reasons,
            attribution=attribution, keep=keep, keep_prefix=keep_prefix,
            unique_ids=unique_ids, events=events, as_of=as_of, progress=progress,
            predictor=predictor, cache_dir=cache_dir, accounts=accounts,
            csv_formulas=csv_formulas,
        )  # fmt: skip


def _score_source(
    model, source: LeadFile, output: Path, out_fmt: str, *, chunk_size, reasons, attribution,
    keep, keep_prefix, unique_ids, events, as_of, progress, predictor, cache_dir, accounts,
    csv_formulas,
) -> ScoreSummary:  # fmt: skip
    """:func:`score_file` once its input is open (every read goes through ``source``)."""
    input, in_fmt = source.path, source.format
    names = source.names
    bundle = model if isinstance(model, Bundle) else load_bundle(model)
    schema = bundle.schema
    keep = list(dict.fromkeys(k for k in keep if not (k == schema.id_column and not keep_prefix)))
    repeated = sorted({n for n in names if names.count(n) > 1})
    used = [c for c in (schema.id_column, *schema.features, *keep) if c]
    clash = [c for c in repeated if c in used]
    if clash:
        raise DataError(
            f"header names the model uses must appear once; {clash} appear more than once "
            f"in {str(input)!r}. Rename or drop the extra columns."
        )
    extra, older = _event_columns(bundle, source, names, events, as_of)
    schema.check_columns([*names, *extra.columns])
    if bundle.segments is not None:
        bundle.segments.codes_of(pd.DataFrame(columns=names))  # the segment column is there
    _check_keep(keep, names, schema.id_name, keep_prefix)
    rollup = None if accounts is None else AccountRollup(bundle, names)
    # Exact scores for what is summed while scoring (expected SQLs, accounts); each batch
    # is rounded as written just before it is written.
    scorer = Scorer(
        bundle,
        reasons=reasons,
        attribution=attribution,
        predictor=predictor,
        cache_dir=cache_dir,
        exact=True,
    )
    ids = [schema.id_column] if schema.id_column else []
    segment = [bundle.segments.column] if bundle.segments is not None else []
    account = [] if rollup is None else [rollup.column]
    wanted = [
        c for c in dict.fromkeys([*ids, *schema.features, *segment, *keep, *account]) if c in names
    ]
    file_types = None if in_fmt == "csv" else source.schema
    categorical = [c for c in schema.features if schema.kinds[c] == "categorical"]
    batches = source.batches(
        chunk_size=chunk_size,
        # Parquet text read as dictionaries where the codes come from Arrow (LightGBM)
        dictionary=[c for c in categorical if c not in keep] if scorer.encoder else (),
        missing_tokens=(),  # read as written; tokens are blanked in features only
        column_types=dict.fromkeys(wanted, pa.string()) if in_fmt == "csv" else None,
        columns=wanted,
    )

    def work(item: tuple[pa.RecordBatch, int]):
        """Everything per batch up to its outputs (runs one batch ahead)."""
        batch, offset = item
        n = batch.num_rows
        columns = _feature_columns(batch, schema, offset=offset, path=input, csv=in_fmt == "csv")
        for name in extra.columns:
            part = extra[name].iloc[offset : offset + n]
            columns[name] = pa.Array.from_pandas(part.reset_index(drop=True))
        if scorer.encoder is None:  # logistic: through pandas
            frame = pa.table(columns).to_pandas()
            scored = scorer.score(frame, row_offset=offset)
            return {c: scored[c].to_numpy() for c in scored.columns}, frame
        return scorer.score_columns(columns, row_offset=offset)

    odd = _Oddities(bundle)
    start = time.perf_counter()
    rows = mqls = missing = 0
    expected = 0.0
    out_schema: pa.Schema | None = None
    targets = [output] if accounts is None else [output, accounts]
    with handle_signals(), atomic_outputs(*targets) as tmps, RepeatCounter() as repeats:
        tmp = tmps[0]
        writer = None
        ok = False
        try:
            # a header-only CSV has an empty batch: its output is written below
            numbered = _numbered(b for b in _reading(batches, input) if b.num_rows)
            workers = scorer.share_threads()
            for (batch, _), (out, seen) in ahead(numbered, work, workers):
                n = batch.num_rows
                (odd.update if scorer.encoder is None else odd.add)(seen)
                if schema.id_column:
                    id_array = _as_id(batch.column(schema.id_column))
                    present, blank = present_ids(id_array)
                    if len(blank) and unique_ids:
                        raise DataError(
                            f"id column {schema.id_column!r} must have a value in every row "
                            f"with --unique-ids; {len(blank):,} rows of this chunk have none "
                            f"(first at row {rows + int(blank[0]) + 1}). Fill the ids or "
                            "drop --unique-ids."
                        )
                    missing += len(blank)
                    out[schema.id_name] = id_array
                    repeats.add(present)
                for name in keep:
                    out[f"{keep_prefix}{name}"] = batch.column(name)
                if out_schema is None:
                    out_schema = _output_schema(out, file_types, keep, keep_prefix)
                    writer = TableWriter(
                        tmp, out_schema, out_fmt, output, [schema.id_name], csv_formulas
                    )
                writer.write_table(_table(written(out), out_schema))
                if rollup is not None:
                    rollup.add(out, batch, schema.id_name, rows)
                mql = np.asarray(out["is_mql"], dtype=bool)
                rows += n
                mqls += int(mql.sum())
                expected += float(np.asarray(out["probability"])[mql].sum())
                if progress is not None:
                    progress(rows)
            if writer is None:  # no rows at all: a header-only output
                frame = pd.DataFrame(
                    {c: pd.Series(dtype=object) for c in [*wanted, *extra.columns]}
                )
                empty = scorer.score(frame)
                out = {c: empty[c].to_numpy() for c in empty.columns}
                if schema.id_column:
                    out[schema.id_name] = pa.array([], pa.string())
                for name in keep:
                    out[f"{keep_prefix}{name}"] = pa.array([], pa.string())
                out_schema = _output_schema(out, file_types, keep, keep_prefix)
                writer = TableWriter(tmp, out_schema, out_fmt, output, (), csv_formulas)
                writer.write_table(_table(out, out_schema))
            ok = True
        finally:
            if writer is not None:
                writer.close(ok)
        duplicated = repeats.count()
        if duplicated and unique_ids:
            raise DataError(
                f"id column {schema.id_column!r} must be unique with --unique-ids; "
                f"{duplicated} rows repeat an earlier id. Deduplicate the input or drop "
                "--unique-ids."
            )
        rolled = None
        if rollup is not None:
            rolled = {**rollup.write(tmps[1], accounts, csv_formulas), "output": str(accounts)}
    seconds = time.perf_counter() - start
    return ScoreSummary(
        rows=rows,
        mqls=mqls,
        mql_share=mqls / rows if rows else None,
        expected_sqls=expected,
        duplicated_ids=duplicated,
        seconds=seconds,
        rows_per_second=rows / seconds if seconds > 0 else float("nan"),
        output=str(output),
        missing_ids=missing,
        duplicated_columns=repeated,
        id_column=schema.id_column,
        **odd.result(rows),
        predictor=scorer.predictor.name if scorer.predictor is not None else "logistic",
        reason_rows=scorer.reason_rows,
        attribution_seconds=scorer.attribution_seconds,
        accounts=rolled,
        older_than_snapshots=older,
        oldest_snapshot_days=_oldest_snapshot(bundle) if older else None,
    )


def _oldest_snapshot(bundle: Bundle) -> float | None:
    ages = (bundle.config.get("events") or {}).get("snapshot_days")
    return None if not ages else float(max(ages))


def _output_schema(columns: dict, file_types: pa.Schema | None, keep, prefix) -> pa.Schema:
    """The output's column types, fixed once: from the input file and the first chunk."""
    fields = []
    for name, values in columns.items():
        if isinstance(values, pa.ChunkedArray | pa.Array):
            kind = values.type
        else:
            kind = pa.array(values).type
        source = name[len(prefix) :] if name.startswith(prefix) else name
        if file_types is not None and source in keep:
            kind = file_types.field(source).type
        if pa.types.is_null(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _table(columns: dict, schema: pa.Schema) -> pa.Table:
    arrays = []
    for column in schema:
        values = columns[column.name]
        if isinstance(values, pa.ChunkedArray | pa.Array):
            arrays.append(values.cast(column.type) if values.type != column.type else values)
        else:
            arrays.append(pa.array(values, type=column.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)
