"""Batch scoring on Apache Spark: the local scorer, run on every partition.

:func:`score` turns a Spark DataFrame of leads into a Spark DataFrame with exactly the
columns of :func:`mqlml.scoring.score_frame` (the id column, then
:data:`mqlml.scoring.OUTPUT_COLUMNS`, then any ``keep`` columns) and the same numbers,
computed by the same :class:`mqlml.scoring.Scorer`. :func:`score_files` reads a Parquet
or CSV file (or folder) with Spark, scores it and writes the result; it is what
``mqlml score --engine spark`` and ``python -m mqlml.integrations.spark`` run. pyspark is the
``spark`` extra (``pip install '.[spark]'`` in the repository) and needs a Java runtime
(17 or later).

How it runs
-----------
The bundle's :class:`~mqlml.scoring.Scorer` is built once on the driver (so a bad
``reasons`` value or a missing column fails there, before any Spark job), pickled and
broadcast; each Python worker unpickles it once and reuses it for every task it runs.
``DataFrame.mapInPandas`` hands each partition to it as a stream of Arrow batches, and
LightGBM runs with ``num_threads`` threads per task (1 by default: Spark already runs
one task per core, and more threads per task only compete for the same cores).

Why ``mapInPandas`` and not ``mlflow.pyfunc.spark_udf``: on ``local[2]`` with 5M leads
it scored 78-85k rows/s against 57k rows/s for ``spark_udf`` (see bench/RESULTS.md);
``spark_udf`` needs a logged MLflow model and returns one struct column per row that must
be unpacked again, while ``mapInPandas`` ships the bundle itself, returns the output
columns directly with their own types, and keeps the row order within each partition.

Order and ids
-------------
Spark has no global row order. Every output row carries its lead id, and each partition's
rows keep their input order; join on the id, not on position. A bundle trained without
an id column numbers rows from 1 (column ``row``) like the local scorer: the rows of
each partition are counted first (one small extra job) and numbered in partition order,
which is file order for a file read by Spark; for a shuffled input the numbers are only
labels.

On a cluster
------------
mqlml, its dependencies and pyspark must be importable on the driver and the executors:
install the package on every node, or pack a virtualenv with it (``venv-pack``) and ship
it with ``--archives``. In client mode the bundle folder is read on the machine that
runs the command and broadcast to the executors::

    spark-submit --master yarn --deploy-mode client \\
      --archives mqlml-env.tar.gz#env \\
      --conf spark.pyspark.python=./env/bin/python \\
      "$(python -c 'import mqlml.integrations.spark; print(mqlml.integrations.spark.__file__)')" \\
      --model models/leads --input hdfs:///crm/leads.parquet \\
      --output hdfs:///crm/scores.parquet

``python -m mqlml.integrations.spark --master local[*] --model ... --input ... --output ...``
runs the same job on one machine (without ``--master``, spark-submit's or Spark's default master
is used). In cluster deploy mode the driver runs on a cluster node, so pass
``--model models:/NAME@ALIAS`` (an MLflow registry the cluster can reach) or ship the
bundle folder with ``--archives bundle.zip#bundle --model bundle``. Spark writes the
output as a folder of part files (with a ``_SUCCESS`` marker once complete), replacing
an existing folder of that name.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import pickle
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mqlml import errors
from mqlml.errors import DataError, MissingColumnError, MqlmlError
from mqlml.exitcodes import OK, USAGE_ERROR

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from mqlml.model._bundle import Bundle
    from mqlml.scoring._scorer import Reasons, Scorer

__all__ = ["main", "score", "score_files"]

# pyspark 4.3 warns on every pandas conversion that pandas >= 3 is "not fully supported";
# the conversions used here (strings, numbers, booleans, timestamps) are checked by the tests.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"
_MAX_CACHED = 4
_scorers: dict[str, Scorer] = {}  # per Python worker: broadcast token -> unpickled Scorer


def score(
    df: DataFrame,
    model: Bundle | str | os.PathLike,
    *,
    reasons: Reasons = "top",
    keep: Sequence[str] = (),
    num_threads: int = 1,
    predictor: str = "auto",
    attribution: str = "path",
) -> DataFrame:
    """Score a Spark DataFrame of leads; the output matches the local scorer's.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Leads with at least the id and feature columns the bundle was trained on (extra
        columns are ignored unless named in ``keep``). Numbers may arrive as strings
        (a CSV read without a schema): they are coerced as locally, and reasons show
        them as written (:func:`score_files` reads CSV exactly as the local scorer).
    model : Bundle, path or str
        A bundle, its folder, or an MLflow registry URI ``models:/NAME@ALIAS``.
    reasons : {"top", "all", "none"}, default="top"
        Which leads get reason codes (see :class:`mqlml.scoring.Scorer`).
    keep : sequence of str
        Input columns passed through after the output columns.
    num_threads : int, default=1
        LightGBM threads per Spark task.
    predictor, attribution : str
        As for :class:`mqlml.scoring.Scorer`; each executor rebuilds the compiled trees
        from the cache (or compiles them, or falls back to LightGBM) on first use.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy (without an id column, one small job first counts each partition's
        rows). The id column (its input type; ``row`` as bigint without one), then
        probability, score, percentile (double), tier (string), is_mql (boolean),
        fit_score, engagement_score (double), reasons_for, reasons_against (string),
        then ``keep``. One row per input row; each partition keeps its row order.

    Raises
    ------
    MissingColumnError
        When a feature, the id or a ``keep`` column is absent (checked before any job),
        with the local scorer's message.
    BundleError
        When ``model`` is not a bundle (or the registry has no such model).
    ValueError
        For a bad ``reasons``, ``num_threads`` or a ``keep`` column named like an
        output column.

    Examples
    --------
    >>> from mqlml.integrations.spark import score  # doctest: +SKIP
    >>> scores = score(spark.read.parquet("leads.parquet"), "models/leads")  # doctest: +SKIP
    >>> scores.filter("is_mql").select("lead_id", "probability").show(5)  # doctest: +SKIP
    """
    return _score(
        df,
        model,
        reasons=reasons,
        keep=keep,
        num_threads=num_threads,
        predictor=predictor,
        attribution=attribution,
    )


def _score(
    df: DataFrame,
    model: Any,
    *,
    reasons: Reasons,
    keep: Sequence[str],
    num_threads: int,
    from_csv: bool = False,
    predictor: str = "auto",
    attribution: str = "path",
) -> DataFrame:
    """:func:`score`; ``from_csv`` reads every column as the local CSV reader would."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from mqlml.scoring._scorer import OUTPUT_COLUMNS, Scorer

    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer; got {num_threads!r}.")
    bundle = _load(model)
    schema = bundle.schema
    try:
        schema.check_columns(df.columns)
    except MissingColumnError as exc:
        if bundle.metadata.get("event_types") is None:
            raise
        raise MissingColumnError(
            f"{exc} This model was trained from an activity log: on Spark the leads must "
            "already carry its event features. Compute them with mqlml.leads._events first, or "
            "score with the local engine and --events FILE."
        ) from None
    keep = list(dict.fromkeys(keep))
    absent = [c for c in keep if c not in df.columns]
    if absent:
        raise MissingColumnError(
            f"--keep columns must exist in the input; missing {absent}. Check their spelling."
        )
    clash = [c for c in keep if c in OUTPUT_COLUMNS]
    if clash:
        raise ValueError(
            f"keep columns must not be named like an output column; got {clash}. "
            "Rename them in the input first."
        )
    scorer = Scorer(
        _with_threads(bundle, num_threads),
        reasons=reasons,
        predictor=predictor,
        attribution=attribution,
    )

    types = {f.name: f.dataType for f in df.schema.fields}
    id_type = types[schema.id_column] if schema.id_column else T.LongType()
    fields = [T.StructField(schema.id_name, id_type)]
    double, string = T.DoubleType(), T.StringType()
    kinds = {"tier": string, "is_mql": T.BooleanType()}
    kinds |= {"reasons_for": string, "reasons_against": string}
    outputs = list(OUTPUT_COLUMNS)
    segment = [bundle.segments.column] if bundle.segments is not None else []
    if segment:  # each lead's segment line (mqlml.model)
        outputs.insert(outputs.index("is_mql") + 1, "threshold")
    fields += [T.StructField(c, kinds.get(c, double)) for c in outputs]
    extra = [c for c in keep if c != schema.id_name]
    fields += [T.StructField(c, types[c]) for c in extra]
    columns = [f.name for f in fields]

    needed = [
        *([schema.id_column] if schema.id_column else []),
        *schema.features,
        *segment,
        *keep,
    ]
    needed = list(dict.fromkeys(needed))
    # Partitions of df are those of this narrow selection: offsets computed on it hold.
    source = df.select(*[F.col(f"`{c}`") for c in needed])
    offsets = None if schema.id_column else _partition_offsets(source)

    payload = pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL)
    token = hashlib.sha256(payload).hexdigest()
    shipped = df.sparkSession.sparkContext.broadcast(payload)
    function = partial(
        _score_partition,
        shipped=shipped,
        token=token,
        keep=tuple(keep),
        columns=tuple(columns),
        offsets=offsets,
        from_csv=from_csv,
    )
    with _quiet():
        return source.mapInPandas(function, T.StructType(fields))


def _load(model: Any) -> Bundle:
    from mqlml.integrations._registry import resolve_model
    from mqlml.model._bundle import Bundle

    return model if isinstance(model, Bundle) else resolve_model(model)


def _with_threads(bundle: Bundle, num_threads: int) -> Bundle:
    """A shallow copy of ``bundle`` whose model predicts with ``num_threads`` threads."""
    out = copy.copy(bundle)
    out.model = copy.copy(bundle.model).set_params(n_jobs=num_threads)
    return out


def _partition_offsets(df: DataFrame) -> dict[int, int]:
    """Rows before each partition of ``df`` (for 1-based row numbers across partitions)."""
    from pyspark.sql import functions as F

    counts = df.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect()
    sizes = sorted((int(r["p"]), int(r["count"])) for r in counts)
    offsets, total = {}, 0
    for part, size in sizes:
        offsets[part] = total
        total += size
    return offsets


def _worker_scorer(shipped: Any, token: str) -> Scorer:
    scorer = _scorers.get(token)
    if scorer is None:
        if len(_scorers) >= _MAX_CACHED:
            _scorers.clear()
        scorer = _scorers[token] = pickle.loads(shipped.value)
    return scorer


def _score_partition(
    batches: Iterator[pd.DataFrame],
    *,
    shipped: Any,
    token: str,
    keep: tuple[str, ...],
    columns: tuple[str, ...],
    offsets: dict[int, int] | None,
    from_csv: bool,
) -> Iterator[pd.DataFrame]:
    """Score one partition's Arrow batches (runs in a Spark Python worker)."""
    from pyspark import TaskContext

    warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
    scorer = _worker_scorer(shipped, token)
    part = TaskContext.get().partitionId()
    done = offsets.get(part, 0) if offsets is not None else 0
    for frame in batches:
        try:
            if from_csv:
                frame = _as_read_locally(frame, scorer.bundle.schema, done)
            out = scorer.score(frame, row_offset=done, keep=keep)
        except DataError as exc:
            if offsets is not None:
                raise
            raise DataError(f"{exc} (Rows are counted within Spark partition {part}.)") from None
        done += len(frame)
        yield out[list(columns)]


def _as_read_locally(frame: pd.DataFrame, schema: Any, row_offset: int) -> pd.DataFrame:
    """CSV text as :func:`mqlml.scoring.score_file` reads it: missing tokens become
    missing values and numeric features numbers (so reasons show ``visits=4``, not
    ``visits=4.0``)."""
    import pandas as pd

    frame = frame.copy()
    tokens = list(schema.missing_tokens)
    for name in frame.columns:
        values = frame[name]
        if tokens and (pd.api.types.is_string_dtype(values) or values.dtype == object):
            frame[name] = values.mask(values.isin(tokens))
    numeric = [c for c in schema.features if schema.kinds[c] == "numeric"]
    if numeric:
        coerced = schema.features_frame(frame, row_offset=row_offset)
        frame[numeric] = coerced[numeric]
    return frame


# -- files ---------------------------------------------------------------------------------


def score_files(
    model: Bundle | str | os.PathLike,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    master: str | None = "local[*]",
    reasons: Reasons = "top",
    keep: Sequence[str] = (),
    input_format: str | None = None,
    output_format: str | None = None,
    delimiter: str = ",",
    unique_ids: bool = False,
    num_threads: int = 1,
    predictor: str = "auto",
    attribution: str = "path",
    progress: Callable[[str], None] | None = None,
    csv_formulas: str = "escape",
) -> dict[str, Any]:
    """Score a Parquet or CSV file (or folder of part files) with Spark.

    Uses the active SparkSession if there is one; otherwise starts one on ``master``
    and stops it at the end. CSV is read with a header and every column as a string
    (the bundle's schema coerces them as the local scorer does).

    Parameters
    ----------
    model : Bundle, path or str
        A bundle, its folder, or ``models:/NAME@ALIAS``.
    input, output : str or path
        Any path Spark can read or write (local, ``hdfs://``, ``s3a://``...). The output
        is a folder of part files (Spark's layout); an existing one is replaced.
    master : str or None, default="local[*]"
        Master of a new session; None leaves it to spark-submit or Spark's default.
    reasons : {"top", "all", "none"}
        Which leads get reason codes.
    keep : sequence of str
        Input columns passed through.
    input_format, output_format : {"parquet", "csv"} or None
        File formats; None takes them from the suffixes (.parquet, .csv).
    delimiter : str, default=","
        CSV field separator (input and output).
    unique_ids : bool, default=False
        Refuse (and write nothing) when an id repeats; one extra pass over the input.
        Otherwise repeats are counted in the output.
    num_threads : int, default=1
        LightGBM threads per Spark task.
    predictor, attribution : str
        As for :class:`mqlml.scoring.Scorer`.
    progress : callable, optional
        Called with the name of each stage as it starts (loading, starting Spark,
        scoring and writing, counting).
    csv_formulas : {"escape", "keep"}, default="escape"
        In a CSV output, text cells a spreadsheet would run as formulas get a leading
        ``'`` (:mod:`mqlml.io`), as :func:`mqlml.scoring.score_file` writes them.

    Returns
    -------
    dict
        ``rows``, ``mqls``, ``mql_share``, ``expected_sqls``, ``duplicated_ids``,
        ``seconds`` (reading, scoring, writing and counting, without starting Spark),
        ``rows_per_second`` and ``output``: the keys of
        :meth:`mqlml.scoring.ScoreSummary.to_dict`. They are counted on the output as
        written, so ``expected_sqls`` sums the written probabilities (6 significant
        digits): within a millionth of the local engine's sum of the exact ones.

    Raises
    ------
    DataError
        Unknown file type, a local input that does not exist, a local output folder
        whose replacement would destroy the input, the bundle or other files (see
        :func:`mqlml.io.check_output_folder`), a repeated id with ``unique_ids``, or
        a value the schema cannot coerce (raised again on the driver from the worker).
    MissingColumnError
        A column the bundle needs is absent (before any scoring job).
    BundleError
        ``model`` is not a bundle.

    Examples
    --------
    >>> score_files("models/leads", "leads.csv", "scores.parquet")  # doctest: +SKIP
    {'rows': 5000000, 'mqls': 212345, ...}
    """
    from mqlml.io._atomic import check_output_folder
    from mqlml.io._formulas import check_csv_formulas
    from mqlml.io._readers import detect_format

    check_csv_formulas(csv_formulas)
    stage = progress or (lambda name: None)
    stage("loading the model")
    bundle = _load(model)
    in_fmt = input_format or detect_format(input)
    out_fmt = output_format or detect_format(output)
    for fmt, name in ((in_fmt, "input_format"), (out_fmt, "output_format")):
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"{name} must be 'parquet' or 'csv'; got {fmt!r}.")
    input, output = str(input), str(output)
    local = "://" not in input
    if local and not Path(input).exists():
        raise DataError(f"input file must exist; got {input!r}. Check the path.")
    if "://" not in output:
        sources = {"input": input if local else None, "model": bundle.path}
        check_output_folder(output, sources)
    stage("starting Spark")
    # Quiet from before the session starts: starting it imports the module that warns
    # about pandas 3, and under spark-submit the driver's stderr is merged into stdout,
    # ahead of the JSON summary.
    with _quiet(), _session(master) as spark:
        stage(f"scoring {input} and writing {output}")
        start = time.perf_counter()
        reader = spark.read
        if in_fmt == "csv":
            reader = reader.option("header", True).option("sep", delimiter)
            reader = reader.option("inferSchema", False)
        frame = reader.format(in_fmt).load(input)
        scored = _score(
            frame,
            bundle,
            reasons=reasons,
            keep=keep,
            num_threads=num_threads,
            from_csv=in_fmt == "csv",
            predictor=predictor,
            attribution=attribution,
        )
        id_column = bundle.schema.id_column
        if unique_ids and id_column:
            repeats = _repeated(frame, id_column)
            if repeats:
                raise DataError(
                    f"id column {id_column!r} must be unique with --unique-ids; {repeats} rows "
                    "repeat an earlier id. Deduplicate the input or drop --unique-ids."
                )
        written = scored
        if out_fmt == "csv" and csv_formulas == "escape":
            written = _escaped(scored)
        writer = written.write.mode("overwrite").format(out_fmt)
        if out_fmt == "csv":
            writer = writer.option("header", True).option("sep", delimiter)
        with _worker_errors():
            writer.save(output)
        stage("counting the written output")
        summary = _summary(spark, scored.schema, output, out_fmt, delimiter)
        if id_column and not unique_ids:
            written = _read_output(spark, scored.schema, output, out_fmt, delimiter)
            summary["duplicated_ids"] = _repeated(written, id_column)
        seconds = time.perf_counter() - start
    rows = summary["rows"]
    return {
        "rows": rows,
        "mqls": summary["mqls"],
        "mql_share": summary["mqls"] / rows if rows else None,
        "expected_sqls": summary["expected_sqls"],
        "duplicated_ids": summary["duplicated_ids"],
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else float("nan"),
        "output": output,
    }


def _escaped(df: DataFrame) -> DataFrame:
    """``df`` with its text cells and column names escaped as :mod:`mqlml.io` does."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from mqlml.io._formulas import FORMULA_START, PLAIN_NUMBER, escape_cell

    columns = []
    for field in df.schema.fields:
        column = F.col("`" + field.name.replace("`", "``") + "`")
        if isinstance(field.dataType, StringType):
            run = column.rlike(FORMULA_START) & ~column.rlike(PLAIN_NUMBER)
            column = F.when(run, F.concat(F.lit("'"), column)).otherwise(column)
        columns.append(column.alias(escape_cell(field.name)))
    return df.select(*columns)


def _read_output(spark: SparkSession, schema: Any, output: str, fmt: str, delimiter: str):
    reader = spark.read.schema(schema)
    if fmt == "csv":
        reader = reader.option("header", True).option("sep", delimiter)
    return reader.format(fmt).load(output)


def _summary(
    spark: SparkSession, schema: Any, output: str, fmt: str, delimiter: str
) -> dict[str, Any]:
    """Count what was written (read back from the output, so the numbers are on disk)."""
    from pyspark.sql import functions as F

    written = _read_output(spark, schema, output, fmt, delimiter)
    row = written.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("is_mql").cast("long")).alias("mqls"),
        F.sum(F.when(F.col("is_mql"), F.col("probability")).otherwise(0.0)).alias("expected"),
    ).collect()[0]
    return {
        "rows": int(row["rows"]),
        "mqls": int(row["mqls"] or 0),
        "expected_sqls": float(row["expected"] or 0.0),
        "duplicated_ids": 0,
    }


def _repeated(df: DataFrame, column: str) -> int:
    """Rows whose ``column`` value (missing included) already appeared on another row."""
    from pyspark.sql import functions as F

    counts = df.groupBy(F.col(f"`{column}`")).count().where("count > 1")
    total = counts.agg(F.sum(F.col("count") - 1).alias("n")).collect()[0]["n"]
    return int(total or 0)


@contextlib.contextmanager
def _session(master: str | None) -> Iterator[SparkSession]:
    """The active SparkSession, or a new one on ``master`` that is stopped afterwards."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    if master is None or master.startswith("local"):
        # Local workers are started with $PYSPARK_PYTHON (default "python3"): use this one.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("mqlml score")
    if master is not None:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    try:
        yield spark
    finally:
        spark.stop()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING, category=FutureWarning)
        yield


@contextlib.contextmanager
def _worker_errors() -> Iterator[None]:
    """Raise an mqlml error from a Spark worker again as itself (not a Java traceback)."""
    try:
        yield
    except MqlmlError:
        raise
    except Exception as exc:
        found = re.search(r"mqlml\.errors\.(\w+): (.+)", str(exc))
        kind = getattr(errors, found.group(1), None) if found else None
        if isinstance(kind, type) and issubclass(kind, MqlmlError):
            raise kind(found.group(2).strip()) from None
        raise


# -- command line (also under spark-submit) ------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Score a file with Spark from the command line; prints the summary as JSON.

    ``python -m mqlml.integrations.spark --model DIR --input PATH --output PATH [--master URL]``, or
    the path of this file under ``spark-submit`` (see the module docstring).

    Returns
    -------
    int
        :data:`~mqlml.exitcodes.OK` (0) on success, :data:`~mqlml.exitcodes.USAGE_ERROR` (2)
        on an mqlml error (printed on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m mqlml.integrations.spark",
        description="Score a leads file with Apache Spark.",
    )
    parser.add_argument("--model", "-m", required=True, help="bundle folder or models:/NAME@ALIAS")
    parser.add_argument("--input", "-i", required=True, help="leads: Parquet or CSV")
    parser.add_argument("--output", "-o", required=True, help="scores: a Parquet or CSV folder")
    parser.add_argument("--master", default=None, help="e.g. local[*]; default: spark-submit's")
    parser.add_argument("--reasons", choices=("top", "all", "none"), default="top")
    parser.add_argument("--keep", default="", help="input columns to pass through, COL,COL")
    parser.add_argument("--input-format", choices=("parquet", "csv"), default=None)
    parser.add_argument("--output-format", choices=("parquet", "csv"), default=None)
    parser.add_argument("--delimiter", default=",", help="CSV field separator")
    parser.add_argument("--unique-ids", action="store_true", help="fail if an id repeats")
    parser.add_argument("--num-threads", type=int, default=1, help="LightGBM threads per task")
    parser.add_argument("--predictor", choices=("auto", "lightgbm", "compiled"), default="auto")
    parser.add_argument("--attribution", choices=("path", "shap"), default="path")
    parser.add_argument(
        "--csv-formulas",
        choices=("escape", "keep"),
        default="escape",
        help="CSV cells a spreadsheet would run: escape with a leading ' or keep",
    )
    args = parser.parse_args(argv)
    try:
        summary = score_files(
            args.model,
            args.input,
            args.output,
            master=args.master,
            reasons=args.reasons,
            keep=[c.strip() for c in args.keep.split(",") if c.strip()],
            input_format=args.input_format,
            output_format=args.output_format,
            delimiter=args.delimiter,
            unique_ids=args.unique_ids,
            num_threads=args.num_threads,
            predictor=args.predictor,
            attribution=args.attribution,
            csv_formulas=args.csv_formulas,
        )
    except (MqlmlError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(json.dumps(summary))
    return OK


if __name__ == "__main__":
    # Run as a file (spark-submit): drop this folder from the path so that the package
    # modules are imported as mqlml.*, then run the package's own main.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    from mqlml.integrations.spark import main as _main

    raise SystemExit(_main())
