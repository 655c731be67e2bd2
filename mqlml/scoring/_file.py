"""Scoring a leads file with a bundle: the streamed batch job behind ``mqlml score``.

The output has the columns of :func:`mqlml.scoring.score_frame` (the same numbers, by the
same :class:`~mqlml.scoring.Scorer`, rounded as :func:`mqlml.scoring.written` writes them),
one row per input row, in order.

Batch files are streamed in chunks with pyarrow (memory stays flat as files grow) and
written to a temporary file beside the output that is renamed only when complete: a
failure or a kill leaves no output file and no partial one. The input is opened once
(mqlml.io._readers.LeadFile: header, the id and time columns for activity-log features, then
the batches); for LightGBM bundles each batch goes from Arrow straight into the model's
matrix (mqlml.scoring._encode; Parquet text columns read as dictionaries), with pandas only for
the values shown in reasons. Repeated ids are counted in bounded memory (mqlml.scoring._repeats).
The work on each batch (checks, codes, trees, reasons) runs one batch ahead in a worker
thread (mqlml.scoring._ahead) while the caller writes the one before and reads the one after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.config._config import ProjectConfig
from mqlml.errors import DataError, FileError
from mqlml.io._atomic import atomic_outputs, check_destination, file_error, handle_signals
from mqlml.io._formulas import CsvFormulas, check_csv_formulas
from mqlml.io._levels import level_text, match_levels
from mqlml.io._readers import LeadFile, detect_format, read_table
from mqlml.io._writers import TableWriter
from mqlml.leads._events import scoring_ages
from mqlml.model._accounts import AccountRollup
from mqlml.model._bundle import Bundle, load_bundle
from mqlml.scoring._ahead import ahead
from mqlml.scoring._encode import Encoded
from mqlml.scoring._predict import PredictorName
from mqlml.scoring._repeats import RepeatCounter, present_ids
from mqlml.scoring._scorer import (
    Attribution,
    Reasons,
    Scorer,
    add_event_features,
    check_keep,
    written,
)

__all__ = [
    "ScoreSummary",
    "score_file",
]


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
        file (see :func:`mqlml.model._accounts.account_table`).
    older_than_snapshots : int
        With an activity log: leads older at ``as_of`` than the oldest snapshot age the
        model was trained on (``events.snapshot_days``), scored as that age
        (:func:`mqlml.leads._events.scoring_ages`).
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
    with_features = add_event_features(bundle, leads, events, as_of)
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
    expected_rows: Callable[[int | None, bool], None] | None = None,
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
    expected_rows : callable, optional
        Called once, when the input is open, with its number of rows (None when unknown)
        and whether that is exact (a CSV file's is estimated from its size): the input is
        read once for the scores, the accounts and this count.
    predictor, cache_dir : see :class:`Scorer`.
    accounts : path, optional
        Also write one row per account (``columns.account``) to this file
        (:func:`mqlml.model._accounts.account_scores`); it and ``output`` are written together
        or not at all.
    csv_formulas : {"escape", "keep"}, default="escape"
        In a CSV output, text cells (ids, tiers, reasons, kept columns, header names)
        that a spreadsheet would run as formulas get a leading ``'``; ``"keep"`` writes
        them as they are (:mod:`mqlml.io._formulas`). Numbers are never changed.

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
        if expected_rows is not None:
            expected_rows(*source.estimate_rows())
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
    check_keep(keep, names, schema.id_name, keep_prefix)
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
