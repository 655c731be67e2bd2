"""Scoring leads with a bundle: continuous scores for the CRM, in memory or streamed.

Every input row gets one output row, in the same order, with its id and:

===================  ===================================================================
``probability``      calibrated conversion probability
``score``            100 x probability (22 reads "about a 22 % chance")
``percentile``       where the lead falls among the leads the model was calibrated on
``tier``             ``A`` (the MQLs) to ``D``, from the threshold (see mqlml.points)
``is_mql``           probability >= the MQL threshold
``fit_score``        the fit columns' part of the log-odds (who the lead is)
``engagement_score`` the engagement columns' part of the log-odds (what the lead did)
``reasons_for``      up to 3 columns pushing the lead up, ``col=value (+0.81)``
``reasons_against``  up to 3 columns pushing the lead down
===================  ===================================================================

``fit_score + engagement_score + base == log-odds`` (base is the model's starting
log-odds). Reasons cost more than scores, so by default (``reasons="top"``) they are
written for the two highest tiers (the MQLs and the leads closest to becoming one),
``"all"`` writes them for every lead and ``"none"`` for none; sub-scores are always
written (they cost little with the default path attribution, see mqlml.explain).

Batch files are streamed in chunks with pyarrow (memory stays flat as files grow) and
written to a temporary file beside the output that is renamed only when complete: a
failure or a kill leaves no output file and no partial one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mqlml.atomic import atomic_output
from mqlml.bundle import Bundle, load_bundle
from mqlml.config import ProjectConfig
from mqlml.errors import DataError, MissingColumnError
from mqlml.events import with_event_features
from mqlml.explain import PathAttribution, format_reasons, group_matrix
from mqlml.points import percentile_of
from mqlml.predict import PREDICTORS, PredictorName, make_predictor
from mqlml.readers import detect_format, iter_batches, read_table

__all__ = ["OUTPUT_COLUMNS", "ScoreSummary", "Scorer", "score_file", "score_frame"]

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
        Folder for compiled trees (mqlml.predict.default_cache_dir when omitted).
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
        self.attribution = attribution
        schema = bundle.schema
        self.features = schema.features
        self.groups = group_matrix(
            self.features, {"fit": schema.fit, "engagement": schema.engagement}
        )
        self.predictor = None
        if bundle.model.model == "lightgbm":
            model = bundle.model
            path = PathAttribution.from_booster(model.booster_, model.best_iteration_)
            self.predictor = make_predictor(
                model, predictor, groups=self.groups, cache_dir=cache_dir, path=path
            )
        self.attribution_seconds = 0.0  # time spent on exact TreeSHAP
        self.reason_rows = 0
        # Reasons for the two highest tiers by default: at or above the second-highest cut.
        cuts = bundle.tiers.cuts
        self.reason_floor = {
            "all": -np.inf,
            "none": np.inf,
            "top": cuts[-2] if len(cuts) > 1 else cuts[-1],
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
        contrib = chosen = None
        if n == 0:
            sub, log_odds = np.zeros((0, 2)), np.zeros(0)
        elif self.predictor is not None:
            inputs = self.predictor.inputs(model._prepare(X)[0])
            path = self.attribution == "path"
            log_odds, sub, _, chosen = self.predictor.explain(
                inputs, (lambda lo: self._wanted(self.bundle.calibrate(lo))) if path else None
            )
        else:
            contrib_frame, base_rows = model.contributions(X)
            contrib = contrib_frame.to_numpy()
            sub = contrib @ self.groups
            log_odds = base_rows + sub.sum(axis=1)
        p = self.bundle.calibrate(log_odds)
        reasons_for = np.full(n, "", dtype=object)
        reasons_against = np.full(n, "", dtype=object)
        wanted = self._wanted(p)
        if len(wanted):
            self.reason_rows += len(wanted)
            if contrib is not None:
                chosen = contrib[wanted]
            elif self.attribution == "shap":
                start = time.perf_counter()
                chosen = model.contributions(X.iloc[wanted])[0].to_numpy()
                self.attribution_seconds += time.perf_counter() - start
            raw = frame.iloc[wanted]
            reasons_for[wanted], reasons_against[wanted] = format_reasons(
                chosen, raw, self.features, top=self.top
            )
        out = pd.DataFrame(
            {
                schema.id_name: schema.ids(frame, offset=row_offset).to_numpy(),
                "probability": p,
                "score": self.bundle.score(p),
                "percentile": percentile_of(p, self.bundle.reference["quantiles"]),
                "tier": self.bundle.tiers.label(p).astype(str) if n else np.array([], str),
                "is_mql": p >= self.bundle.threshold.threshold,
                "fit_score": sub[:, 0],
                "engagement_score": sub[:, 1],
                "reasons_for": reasons_for,
                "reasons_against": reasons_against,
            }
        )
        for name in keep:
            out[name] = frame[name].to_numpy()
        return out

    def _wanted(self, p: np.ndarray) -> np.ndarray:
        """Rows that get reasons."""
        return np.flatnonzero(p >= self.reason_floor)


def _check_keep(keep: Sequence[str], columns: Sequence[str]) -> None:
    absent = [c for c in keep if c not in set(columns)]
    if absent:
        raise MissingColumnError(
            f"--keep columns must exist in the input; missing {absent}. Check their spelling."
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

    Returns
    -------
    pandas.DataFrame
        The id column then :data:`OUTPUT_COLUMNS` (then ``keep``), one row per lead.
    """
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    frame = _with_events(bundle, frame, events, as_of)
    scorer = Scorer(bundle, reasons=reasons, attribution=attribution, predictor=predictor)
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
    """What a batch scoring run did."""

    rows: int
    mqls: int
    mql_share: float | None
    expected_sqls: float
    duplicated_ids: int
    seconds: float
    rows_per_second: float
    output: str
    predictor: str = "lightgbm"
    reason_rows: int = 0
    attribution_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``mqlml score --json``)."""
        return asdict(self)


def _column_types(bundle: Bundle, names: Sequence[str]) -> dict[str, pa.DataType]:
    schema = bundle.schema
    types = {name: pa.string() for name in names}
    for name in schema.features:
        if name in types and schema.kinds[name] == "numeric":
            types[name] = pa.float64()
    return types


def _header(path: Path, fmt: str, delimiter: str, encoding: str) -> list[str]:
    if fmt == "parquet":
        try:
            return pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"file {str(path)!r} must be a Parquet file; {exc}.") from None
    first = next(
        iter_batches(path, chunk_size=1, format="csv", delimiter=delimiter, encoding=encoding)
    )
    return first.schema.names


def _event_columns(bundle, input, names, events, as_of, delimiter, encoding) -> pd.DataFrame:
    """Activity-log features of every lead of ``input``, in file order (none without a log).

    Only the id and creation time of the leads are read here, once; the chunks are then
    joined to these rows by position.
    """
    if bundle.metadata.get("event_types") is None:
        return pd.DataFrame()
    schema = bundle.schema
    key = [c for c in (schema.id_column, schema.time_column) if c and c in names]
    leads = read_table(input, columns=key, delimiter=delimiter, encoding=encoding)
    if isinstance(events, str | Path):
        events = read_table(events, missing_tokens=schema.missing_tokens)
    with_features = _with_events(bundle, leads, events, as_of)
    return with_features.drop(columns=key).reset_index(drop=True)


def _first_non_number(path: Path, column: str, tokens: Sequence[str], **csv) -> DataError:
    """Name the first line of a CSV column that is not a number (only on the error path)."""
    values = read_table(path, columns=[column], missing_tokens=tokens, **csv)[column]
    text = values.astype("string")
    bad = pd.to_numeric(text, errors="coerce").isna() & text.notna()
    row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else -1
    where = f"line {row + 2} of the file has {text.iloc[row]!r}" if row >= 0 else "a value is not"
    return DataError(
        f"column {column!r} must hold numbers; {where} ({int(bad.sum())} such rows). "
        "Fix the values or check the column mapping."
    )


def score_file(
    model: Bundle | str | Path,
    input: str | Path,
    output: str | Path,
    *,
    chunk_size: int = 100_000,
    reasons: Reasons = "top",
    attribution: Attribution = "path",
    keep: Sequence[str] = (),
    unique_ids: bool = False,
    delimiter: str = "auto",
    encoding: str = "utf-8",
    events: str | Path | pd.DataFrame | None = None,
    as_of: Any = "now",
    progress: Callable[[int], None] | None = None,
    predictor: PredictorName = "auto",
    cache_dir: str | Path | None = None,
) -> ScoreSummary:
    """Score a CSV or Parquet file into a CSV or Parquet file, streamed in chunks.

    The input's columns are checked against the bundle before anything is written;
    the output appears only when complete (temporary file, then rename).

    Parameters
    ----------
    model : Bundle or path
        The bundle (or its folder).
    input, output : path
        Leads in, scores out; the format follows each suffix (.csv or .parquet).
    chunk_size : int
        Rows per chunk (memory grows with it, not with the file).
    reasons, attribution : see :class:`Scorer`.
    keep : sequence of str
        Input columns passed through to the output.
    unique_ids : bool
        Refuse (and write nothing) when an id repeats; otherwise repeats are counted.
    delimiter, encoding : str
        CSV input options.
    events : path or DataFrame, optional
        The activity log, for a bundle trained from one.
    as_of : "now" or date
        The date activity-log features are computed as of.
    progress : callable, optional
        Called with the number of rows done after each chunk.
    predictor, cache_dir : see :class:`Scorer`.

    Returns
    -------
    ScoreSummary

    Raises
    ------
    DataError
        Empty or unreadable input, wrong file type, non-numeric value in a numeric
        column (column and line named), duplicated ids with ``unique_ids``.
    MissingColumnError
        A feature or id column the bundle needs is absent.
    BundleError
        ``model`` is not a bundle.
    """
    bundle = model if isinstance(model, Bundle) else load_bundle(model)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of rows; got {chunk_size}.")
    input, output = Path(input), Path(output)
    in_fmt, out_fmt = detect_format(input), detect_format(output)
    names = _header(input, in_fmt, delimiter, encoding)
    schema = bundle.schema
    extra = _event_columns(bundle, input, names, events, as_of, delimiter, encoding)
    schema.check_columns([*names, *extra.columns])
    scorer = Scorer(
        bundle, reasons=reasons, attribution=attribution, predictor=predictor, cache_dir=cache_dir
    )
    # The columns read from the file; activity-log features come from `extra`.
    ids = [schema.id_column] if schema.id_column else []
    wanted = [c for c in dict.fromkeys([*ids, *schema.features, *keep]) if c in names]
    _check_keep(keep, names)
    batches = iter_batches(
        input,
        chunk_size=chunk_size,
        format=in_fmt,
        delimiter=delimiter,
        encoding=encoding,
        missing_tokens=schema.missing_tokens,
        column_types=_column_types(bundle, names) if in_fmt == "csv" else None,
        columns=wanted,
    )
    start = time.perf_counter()
    rows = mqls = 0
    expected = 0.0
    id_hashes: list[np.ndarray] = []
    with atomic_output(output) as tmp:
        writer = None
        try:
            for batch in batches:
                frame = batch.to_pandas()
                if len(extra.columns):
                    part = extra.iloc[rows : rows + len(frame)].set_axis(frame.index)
                    frame = pd.concat([frame, part], axis=1)
                scored = scorer.score(frame, row_offset=rows, keep=keep)
                table = pa.Table.from_pandas(scored, preserve_index=False)
                if writer is None:
                    writer = _writer(tmp, table.schema, out_fmt)
                    out_schema = table.schema
                # A chunk where a kept column is all empty reads as null type: cast it.
                writer.write_table(table.cast(out_schema))
                if schema.id_column:
                    id_hashes.append(pd.util.hash_array(scored[schema.id_name].to_numpy()))
                mql = scored["is_mql"].to_numpy()
                rows += len(scored)
                mqls += int(mql.sum())
                expected += float(scored["probability"].to_numpy()[mql].sum())
                if progress is not None:
                    progress(rows)
            if writer is None:  # no rows at all: a header-only output
                columns = [*wanted, *extra.columns]
                empty = scorer.score(pd.DataFrame({c: pd.Series(dtype=object) for c in columns}))
                table = pa.Table.from_pandas(empty, preserve_index=False)
                writer = _writer(tmp, table.schema, out_fmt)
                writer.write_table(table)
        except DataError as exc:
            # pyarrow says "In CSV column #3: ... invalid value": name the column and line.
            match = re.search(r"CSV column #(\d+)", str(exc))
            if not match:
                raise
            column = names[int(match.group(1))]
            raise _first_non_number(
                input, column, schema.missing_tokens, delimiter=delimiter, encoding=encoding
            ) from None
        finally:
            if writer is not None:
                writer.close()
        duplicated = _count_duplicates(id_hashes)
        if duplicated and unique_ids:
            raise DataError(
                f"id column {schema.id_column!r} must be unique with --unique-ids; "
                f"{duplicated} rows repeat an earlier id. Deduplicate the input or drop "
                "--unique-ids."
            )
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
        predictor=scorer.predictor.name if scorer.predictor is not None else "logistic",
        reason_rows=scorer.reason_rows,
        attribution_seconds=scorer.attribution_seconds,
    )


def _writer(path: Path, schema: pa.Schema, fmt: str):
    """A CSV or Parquet writer for tables of ``schema``."""
    if fmt == "parquet":
        return pq.ParquetWriter(path, schema)
    return pacsv.CSVWriter(path, schema)


def _count_duplicates(hashes: list[np.ndarray]) -> int:
    if not hashes:
        return 0
    values = np.sort(np.concatenate(hashes))
    return int((values[1:] == values[:-1]).sum())
