"""MLflow tracking: a training run logged, with the model as a pyfunc.

One training run is one MLflow run: its parameters (the effective config, rows), its
test-part metrics, its manifest, config and report files, and the model, logged as an
MLflow ``pyfunc`` that wraps the bundle folder. The pyfunc's ``predict`` returns the
scoring frame of :func:`mqlml.scoring.score_frame` (probability, score, percentile,
tier, is_mql, sub-scores, reasons), never bare labels, so a batch job that loads
``models:/mqlml-lead-scorer@champion`` gets what ``mqlml score`` writes.

Where runs go is :mod:`mqlml.integrations._mlflow`'s; aliases and ``models:/`` URIs are
:mod:`mqlml.integrations._registry`'s. MLflow is imported only inside the functions, so
``import mqlml`` and ``mqlml --help`` stay fast.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import numbers
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mqlml.errors import DataError
from mqlml.trust import trust_document

if TYPE_CHECKING:
    from mqlml.config._config import ProjectConfig
    from mqlml.model._bundle import Bundle
    from mqlml.model._train import TrainResult

from mqlml.integrations._mlflow import (
    DIGEST_TAG,
    TRUST_FILE,
    artifact_root,
    digest_of,
    mlflow_at,
    mlflow_errors,
    quiet,
    tracking_uri,
)

__all__ = [
    "BundleModel",  # noqa: F822 - defined on first use by the module's __getattr__
    "log_training",
]

_EXAMPLE_ROWS = 5
_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "expected_rate",
    "realized_rate",
    "mql_share",
    "lift",
    "recall",
    "n_mql",
    "rate_gap",
)
_MAX_PARAM = 500


# -- where runs go --------------------------------------------------------------------


# -- the pyfunc model -----------------------------------------------------------------
def __getattr__(name: str) -> Any:
    # BundleModel (mqlml.pyfunc) subclasses mlflow's PythonModel: imported on first use so
    # that importing this module does not import mlflow.
    if name == "BundleModel":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
            from mqlml.pyfunc import BundleModel
        globals()[name] = BundleModel
        return BundleModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- logging a training run -----------------------------------------------------------
def _plain_column(values: pd.Series) -> pd.Series:
    """A column MLflow infers a stable type from: str/object, int64, float64 or bool."""
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return values.astype(bool)
    if pd.api.types.is_integer_dtype(values):
        return values.astype("float64" if values.isna().any() else "int64")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    text = values.astype("string").to_numpy(dtype=object, na_value=None)
    return pd.Series(text, index=values.index, name=values.name, dtype=object)


def _plain_example(bundle: Bundle, frame: pd.DataFrame, rows: int = _EXAMPLE_ROWS) -> pd.DataFrame:
    """The id and feature columns of the first ``rows`` leads, in plain dtypes.

    Categoricals and text become Python strings (object), integers int64, other numbers
    float64, dates ISO strings: an MLflow signature inferred from these holds no
    ``category`` or ``int8`` type that later inputs would fail to match.
    """
    schema = bundle.schema
    schema.check_columns(frame.columns)
    columns = [*([schema.id_column] if schema.id_column else []), *schema.features]
    head = frame.head(rows)
    return pd.DataFrame({c: _plain_column(head[c]) for c in columns}).reset_index(drop=True)


def _signature(example: pd.DataFrame, output: pd.DataFrame, id_column: str | None) -> Any:
    """Input, output and params signature that takes what ``mqlml score`` takes.

    Every input column is required (inferred from five rows alone, a column that happens
    to be empty there would be marked optional; the model needs every column). Any
    feature may be empty, so a feature column keeps the type MLflow infers only when that
    type takes a null: text (``string`` passes None through). Numbers and yes/no columns
    are ``any``: MLflow's ``long`` refuses a null count (pandas holds it as NaN in a float
    column: HTTP 400 from ``mlflow models serve``, an error in ``spark_udf``), its
    ``double`` refuses int64 counts, and its ``boolean`` reads a null as false when it
    parses a JSON request. mqlml checks those values itself, as ``mqlml score`` does.
    """
    from mlflow.models import infer_signature
    from mlflow.types.schema import AnyType, ColSpec, DataType, Schema

    signature = infer_signature(example, output, params={"reasons": "top"})
    specs = []
    for spec in signature.inputs.inputs:
        kind = spec.type
        if spec.name != id_column and kind != DataType.string:
            kind = AnyType()
        specs.append(ColSpec(kind, spec.name, required=True))
    signature.inputs = Schema(specs)
    return signature


def _first_rows(config: ProjectConfig, rows: int) -> pd.DataFrame:
    from mqlml.io._readers import iter_batches

    data = config.data
    batches = iter_batches(
        data.path,
        chunk_size=rows,
        format=data.format,
        delimiter=data.delimiter,
        encoding=data.encoding,
        missing_tokens=config.missing_tokens,
    )
    return next(iter(batches)).to_pandas()


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
        return
    text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    out[prefix] = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _params(bundle: Bundle) -> dict[str, str]:
    """The run's parameters: the config that trained the bundle and the training facts."""
    config, meta = bundle.config, bundle.metadata
    out: dict[str, str] = {}
    for section in ("data", "columns", "features", "split", "model", "threshold", "baseline"):
        _flatten(section, config.get(section, {}), out)
    out["exclude"] = json.dumps([e["column"] for e in config.get("exclude", [])])
    split = meta.get("split", {})
    facts = {
        "rows": meta.get("rows"),
        "conversions": meta.get("conversions"),
        "rows.train": split.get("train"),
        "rows.calibrate": split.get("calibrate"),
        "rows.test": split.get("test"),
        "split.used": split.get("method"),
        "date_from": meta.get("date_from"),
        "date_to": meta.get("date_to"),
        "best_iteration": meta.get("best_iteration"),
        "calibration_method": meta.get("calibration_method"),
        "threshold.mode": bundle.threshold.mode,
        "n_features": len(bundle.schema.features),
    }
    _flatten("", facts, out)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _metrics(result: TrainResult) -> dict[str, float]:
    """Test-part metrics that are numbers, the threshold and the realized interval."""
    metrics = result.metrics
    values: dict[str, Any] = {name: metrics.get(name) for name in _METRICS}
    values["threshold"] = result.bundle.threshold.threshold
    interval = metrics.get("realized_interval")
    if interval is not None:
        values["realized_rate_low"], values["realized_rate_high"] = interval
    values["calibrate_ece"] = result.calibration.get("calibrate_part", {}).get("ece")
    out = {name: _number(value) for name, value in values.items()}
    return {name: value for name, value in out.items() if value is not None}


# What loading and scoring a bundle imports (mqlml itself travels as code, see _code_copy).
_SCORING_REQUIREMENTS = (
    "mlflow",
    "scikit-learn",
    "lightgbm",
    "pandas",
    "numpy",
    "pyarrow",
    "scipy",
    "pydantic",
    "pyyaml",
    "joblib",
)


def _requirements() -> list[str]:
    """The logged model's pip requirements: scoring's dependencies, pinned, never mqlml.

    mqlml is on no index the serving side can reach for sure (and a development version
    is on none), so the model carries mqlml's code instead (``code_paths``) and lists
    only the libraries that code imports, at the versions that trained the bundle.
    """
    from importlib import metadata

    out = []
    for name in _SCORING_REQUIREMENTS:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def _code_copy(folder: Path) -> Path:
    """Copy mqlml's sources (Python and the C loops of mqlml.scoring._kernels; no data, caches or
    compiled trees) into ``folder``.

    The copy is logged as the model's ``code_paths``: MLflow puts it on ``sys.path``
    before it unpickles :class:`BundleModel`, so the model loads where mqlml is not
    installed (``mlflow models serve``, ``spark_udf`` on a cluster).
    """
    import shutil

    source = Path(__file__).resolve().parent.parent  # the mqlml package
    target = folder / "mqlml"
    shutil.copytree(
        source,
        target,
        ignore=lambda where, names: (
            [n for n in names if not n.endswith((".py", ".c")) and not (Path(where) / n).is_dir()]
            + [n for n in names if n in ("__pycache__", "data")]
        ),
    )
    return target


def _check_reports(report_paths: dict[str, str | Path] | None) -> dict[str, Path]:
    reports = {name: Path(path) for name, path in (report_paths or {}).items()}
    for name, path in reports.items():
        if not path.exists():
            raise DataError(
                f"report_paths[{name!r}] must be an existing file or folder; got {str(path)!r}. "
                "Write the report first or leave it out."
            )
    return reports


def _experiment_id(client: Any, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_root(uri))


def log_training(
    result: TrainResult,
    config: ProjectConfig,
    *,
    report_paths: dict[str, str | Path] | None = None,
    register: bool = True,
    model_name: str | None = None,
    input_example: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Log a training run to MLflow and (by default) register its model.

    One run in experiment ``config.tracking.experiment`` holds: parameters (the config
    that trained the bundle, flattened, and the rows per part), metrics (the test-part
    numbers, the threshold, the expected and realized MQL-to-SQL rate), artifacts
    (``manifest.json``, the config file and ``config.json``, ``calibration.json``, the
    report files) and the model as an MLflow pyfunc wrapping the bundle folder, with a
    signature and an input example of five leads. The model is self-contained: mqlml's
    sources travel in it (``code_paths``) and its pip requirements are the scoring
    libraries at the trained versions, without mqlml, so ``mlflow models serve`` and
    ``mlflow.pyfunc.spark_udf`` rebuild its environment from any package index.

    Parameters
    ----------
    result : TrainResult
        What :func:`mqlml.model.train` returned (saved or not).
    config : ProjectConfig
        The project config (its ``tracking`` section and source file are used).
    report_paths : dict of str to path, optional
        Report files (or folders) to attach, e.g. ``{"html": "reports/report.html"}``.
    register : bool, default=True
        Register the model (a new version under ``model_name``).
    model_name : str, optional
        Registered model name; default ``config.tracking.registered_model``.
    input_example : pandas.DataFrame, optional
        Leads to take the example rows from; default the first rows of the data file.

    Returns
    -------
    dict
        ``run_id``, ``experiment_id``, ``model_uri`` (the logged model), ``name`` and
        ``version`` (None when not registered), ``registered_uri``
        (``models:/NAME/VERSION``) and ``tracking_uri``.

    Raises
    ------
    DataError
        When a report path does not exist or the example leads cannot be read.
    MissingColumnError
        When ``input_example`` lacks a column the model needs.
    MqlmlError
        When MLflow fails (store unreachable or refusing the run); the message has
        MLflow's reason.
    """
    reports = _check_reports(report_paths)
    bundle = result.bundle
    frame = input_example if input_example is not None else _first_rows(config, _EXAMPLE_ROWS)
    example = _plain_example(bundle, frame)
    name = model_name or config.tracking.registered_model
    uri = tracking_uri(config)
    with contextlib.ExitStack() as stack:
        folder = result.path
        if folder is None:
            # saved as a copy: the caller's bundle must not point at a folder that goes
            temporary = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "b"
            folder = copy.copy(bundle).save(temporary)
        digest = digest_of(folder)  # before a temporary folder goes
        mlflow = stack.enter_context(mlflow_at(uri, create=True))
        stack.enter_context(mlflow_errors(f"logging the run to MLflow at {uri}"))
        from mqlml.model._bundle import copy_bundle
        from mqlml.scoring._scorer import score_frame

        output = score_frame(bundle, example, reasons="all")
        output = pd.DataFrame({c: _plain_column(output[c]) for c in output.columns})
        signature = _signature(example, output, bundle.schema.id_column)
        client = mlflow.MlflowClient(uri, uri)
        experiment_id = _experiment_id(client, config.tracking.experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.set_tags(
                {
                    "mqlml.model": bundle.metadata.get("model", ""),
                    "mqlml.fingerprint": bundle.metadata.get("fingerprint", ""),
                    "mqlml.bundle": str(result.path or ""),
                }
            )
            mlflow.log_params(_params(bundle))
            mlflow.log_metrics(_metrics(result))
            mlflow.log_artifact(str(Path(folder) / "manifest.json"))
            if config.source is not None and Path(config.source).is_file():
                mlflow.log_artifact(str(config.source), artifact_path="config")
            mlflow.log_dict(bundle.config, "config/config.json")
            mlflow.log_dict(result.calibration, "calibration.json")
            for key, path in reports.items():
                if path.is_dir():
                    mlflow.log_artifacts(str(path), artifact_path=f"report/{key}")
                else:
                    mlflow.log_artifact(str(path), artifact_path="report")
            # The logged object is a reference to mqlml.pyfunc.BundleModel plus one
            # string; MLflow's generic warning about pickled Python objects is muted.
            # The bundle goes as a clean copy (its own files only), with trust.json.
            work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            code = _code_copy(work / "code")
            clean = copy_bundle(folder, work / "bundle")
            trust = work / TRUST_FILE
            trust.write_text(json.dumps(trust_document(digest, code), indent=1), "utf-8")
            with quiet("mlflow.pyfunc", "mlflow.models.model"):
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=__getattr__("BundleModel")(),
                    artifacts={"bundle": str(clean), "trust": str(trust)},
                    code_paths=[str(code)],
                    signature=signature,
                    input_example=example,
                    pip_requirements=_requirements(),
                    registered_model_name=name if register else None,
                )
    version = info.registered_model_version if register else None
    if version is not None:
        # The registry keeps the bundle's digest: loading models:/ checks the download.
        with mlflow_at(uri) as mlflow, mlflow_errors(f"tagging {name} version {version}"):
            client = mlflow.MlflowClient(uri, uri)
            client.set_model_version_tag(name, str(version), DIGEST_TAG, digest)
    return {
        "run_id": run.info.run_id,
        "experiment_id": experiment_id,
        "model_uri": info.model_uri,
        "name": name if register else None,
        "version": None if version is None else int(version),
        "registered_uri": None if version is None else f"models:/{name}/{version}",
        "tracking_uri": uri,
    }


# -- registry -------------------------------------------------------------------------
