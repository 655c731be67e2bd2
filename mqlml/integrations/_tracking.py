"""MLflow tracking and registry: runs, the model as a pyfunc, aliases, ``models:/`` URIs.

One training run is one MLflow run: its parameters (the effective config, rows), its
test-part metrics, its manifest, config and report files, and the model, logged as an
MLflow ``pyfunc`` that wraps the bundle folder. The pyfunc's ``predict`` returns the
scoring frame of :func:`mqlml.scoring.score_frame` (probability, score, percentile,
tier, is_mql, sub-scores, reasons), never bare labels, so a batch job that loads
``models:/mqlml-lead-scorer@champion`` gets what ``mqlml score`` writes.

Where runs go (:func:`tracking_uri`): ``MLFLOW_TRACKING_URI`` when set, else the
config's ``tracking.uri``, else a SQLite store ``mlruns/mlflow.db`` under the current
folder with artifacts in ``mlruns/artifacts``: nothing to start, no server.

MLflow is imported only inside the functions here (``import mlflow`` takes seconds), so
``import mqlml`` and ``mqlml --help`` stay fast.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import numbers
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mqlml.errors import BundleError, DataError, MqlmlError
from mqlml.trust import TrustError, check_model, code_folder_of, trust_document

if TYPE_CHECKING:
    from mqlml.config._config import ProjectConfig
    from mqlml.model._bundle import Bundle
    from mqlml.model._train import TrainResult

__all__ = [
    "BundleModel",  # noqa: F822 - defined on first use by the module's __getattr__
    "log_training",
    "promote",
    "resolve_model",
    "tracking_uri",
]

_ENV = "MLFLOW_TRACKING_URI"
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
_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")
_MAX_PARAM = 500
_DIGEST_TAG = "mqlml.digest"
_TRUST = "trust.json"


def _digest(folder: str | Path) -> str:
    from mqlml.model._bundle import bundle_digest

    return bundle_digest(folder)


# -- where runs go --------------------------------------------------------------------
def tracking_uri(config: ProjectConfig | None = None) -> str:
    """The MLflow tracking URI to use.

    ``MLFLOW_TRACKING_URI`` wins, then ``config.tracking.uri``, else a SQLite store
    ``<current folder>/mlruns/mlflow.db`` (an absolute path; its artifacts go to
    ``mlruns/artifacts`` beside it).

    Parameters
    ----------
    config : ProjectConfig, optional
        The project config.

    Returns
    -------
    str

    Examples
    --------
    >>> import os
    >>> uri = tracking_uri()
    >>> uri == os.environ.get("MLFLOW_TRACKING_URI") or uri.endswith("/mlruns/mlflow.db")
    True
    """
    env = os.environ.get(_ENV)
    if env:
        return env
    if config is not None and config.tracking.uri:
        return config.tracking.uri
    return "sqlite:///" + (Path.cwd() / "mlruns" / "mlflow.db").as_posix()


def _uri(tracking: str | ProjectConfig | None) -> str:
    return tracking if isinstance(tracking, str) else tracking_uri(tracking)


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores or in-memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store go in ``artifacts`` beside the database file."""
    db = _sqlite_file(uri)
    return None if db is None else (db.resolve().parent / "artifacts").as_uri()


@contextlib.contextmanager
def _mlflow(uri: str, *, create: bool = False) -> Iterator[Any]:
    """Import mlflow and point it at ``uri`` for the block; restore the previous URIs.

    MLflow's own noise (deprecations raised inside mlflow and the libraries it drives)
    is silenced here; warnings raised from mqlml code still surface.
    """
    db = _sqlite_file(uri)
    if db is not None and not create and not db.is_file():
        raise BundleError(
            f"the MLflow store must exist to look up models; got {uri!r}, and {db} is not "
            "a file. Set MLFLOW_TRACKING_URI (or tracking.uri in the config) to the store "
            "`mqlml train` logged to, or run from the project folder."
        )
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        for module in (r"mlflow(\.|$)", r"sqlalchemy(\.|$)", r"alembic(\.|$)"):
            warnings.filterwarnings("ignore", module=module)
        import mlflow

        previous = {k: os.environ.get(k) for k in (_ENV, "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(previous[_ENV])
            mlflow.set_registry_uri(previous["MLFLOW_REGISTRY_URI"])
            if previous["MLFLOW_REGISTRY_URI"] is None:
                os.environ.pop("MLFLOW_REGISTRY_URI", None)


@contextlib.contextmanager
def _quiet(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(level)
    try:
        yield
    finally:
        for log, old in zip(loggers, levels, strict=True):
            log.setLevel(old)


@contextlib.contextmanager
def _mlflow_errors(doing: str) -> Iterator[None]:
    """Turn MLflow's own failures (store unreachable, refused...) into an MqlmlError."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise MqlmlError(
            f"{doing} must succeed; MLflow said: {exc.message}. Check MLFLOW_TRACKING_URI "
            "(or tracking.uri in the config), or skip tracking (`mqlml train --no-track`)."
        ) from exc


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
    return client.create_experiment(name, artifact_location=_artifact_root(uri))


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
        digest = _digest(folder)  # before a temporary folder goes
        mlflow = stack.enter_context(_mlflow(uri, create=True))
        stack.enter_context(_mlflow_errors(f"logging the run to MLflow at {uri}"))
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
            trust = work / _TRUST
            trust.write_text(json.dumps(trust_document(digest, code), indent=1), "utf-8")
            with _quiet("mlflow.pyfunc", "mlflow.models.model"):
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
        with _mlflow(uri) as mlflow, _mlflow_errors(f"tagging {name} version {version}"):
            client = mlflow.MlflowClient(uri, uri)
            client.set_model_version_tag(name, str(version), _DIGEST_TAG, digest)
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
def _registered(client: Any, name: str, uri: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException:
        known = sorted(m.name for m in client.search_registered_models(max_results=50))
        raise BundleError(
            f"registered model {name!r} must exist in the MLflow registry at {uri}; it does "
            f"not (registered models: {known or 'none'}). `mqlml train` registers one; list "
            f"them in the MLflow UI (`mlflow ui --backend-store-uri {uri}`)."
        ) from None


def _versions(client: Any, name: str) -> list[int]:
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(int(v.version) for v in found)


def _version(client: Any, name: str, version: int | str, uri: str) -> str:
    _registered(client, name, uri)
    versions = _versions(client, name)
    text = str(version)
    if not text.isdigit() or int(text) not in versions:
        raise BundleError(
            f"version of registered model {name!r} must be one of {versions}; got {text!r}. "
            f"List versions with the MLflow UI (`mlflow ui --backend-store-uri {uri}`)."
        )
    return str(int(text))


def promote(
    name: str,
    version: int | str,
    alias: str = "champion",
    *,
    tracking: str | ProjectConfig | None = None,
) -> dict[str, Any]:
    """Point a registered-model alias (default ``champion``) at a model version.

    Parameters
    ----------
    name : str
        Registered model name, e.g. ``mqlml-lead-scorer``.
    version : int or str
        The version to promote.
    alias : str, default="champion"
        The alias; ``models:/NAME@ALIAS`` then loads this version.
    tracking : str or ProjectConfig, optional
        A tracking URI, or a config to take it from (see :func:`tracking_uri`).

    Returns
    -------
    dict
        ``name``, ``alias``, ``version`` and ``previous`` (the version the alias pointed
        to before, or None).

    Raises
    ------
    BundleError
        When the store, the model or the version does not exist.
    """
    uri = _uri(tracking)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", alias) or re.fullmatch(r"[vV]\d+|latest", alias):
        raise BundleError(
            f"alias must be letters, digits, '-' or '_', and not 'latest' or v<N>; got {alias!r}. "
            "Use e.g. champion or challenger."
        )
    with _mlflow(uri) as mlflow:
        client = mlflow.MlflowClient(uri, uri)
        number = _version(client, name, version, uri)
        previous = client.get_registered_model(name).aliases.get(alias)
        client.set_registered_model_alias(name, alias, number)
    return {
        "name": name,
        "alias": alias,
        "version": int(number),
        "previous": None if previous is None else int(previous),
    }


def _model_version(client: Any, uri: str, model_uri: str) -> tuple[str, str]:
    match = _REGISTRY_URI.match(model_uri)
    if match is None:
        raise BundleError(
            f"model URI must be models:/NAME@ALIAS or models:/NAME/VERSION; got {model_uri!r}. "
            "Or pass a bundle folder."
        )
    name, alias, version = match["name"], match["alias"], match["version"]
    if alias is None:
        return name, _version(client, name, version, uri)
    aliases = _registered(client, name, uri).aliases
    if alias not in aliases:
        versions = _versions(client, name)
        raise BundleError(
            f"alias {alias!r} of registered model {name!r} must be set; got none (aliases: "
            f"{dict(aliases) or 'none'}; versions: {versions}). Set it with "
            f"`mqlml promote {name} VERSION --alias {alias}`, or load models:/{name}/VERSION."
        )
    return name, str(aliases[alias])


def _bundle_folder(model_dir: Path) -> Path:
    from mlflow.models import Model

    flavor = Model.load(str(model_dir)).flavors.get("python_function", {})
    relative = flavor.get("artifacts", {}).get("bundle", {}).get("path")
    if not relative:
        raise BundleError(
            f"the MLflow model must be logged by mqlml (a pyfunc with a 'bundle' artifact); "
            f"{model_dir} has none. Log it with mqlml.integrations.log_training."
        )
    return model_dir / relative


def resolve_model(
    uri_or_path: str | Path, *, tracking: str | ProjectConfig | None = None
) -> Bundle:
    """Load a bundle from a folder or from the MLflow registry: the one model resolver.

    Every command that takes a model (score, report, monitor, recalibrate, Spark scoring)
    loads it here, so each accepts the same three forms.

    Parameters
    ----------
    uri_or_path : str or Path
        A bundle folder, ``models:/NAME@ALIAS`` (e.g. ``models:/mqlml-lead-scorer@champion``)
        or ``models:/NAME/VERSION``.
    tracking : str or ProjectConfig, optional
        A tracking URI, or a config to take it from (see :func:`tracking_uri`).

    Returns
    -------
    Bundle

    Raises
    ------
    BundleError
        When the folder is not a bundle, or the store, the registered model, the alias
        or the version does not exist (the message says how to list or set them).
    """
    from mqlml.model._bundle import load_bundle

    text = str(uri_or_path)
    if not text.startswith("models:/"):
        return load_bundle(uri_or_path)
    uri = _uri(tracking)
    with _mlflow(uri) as mlflow, tempfile.TemporaryDirectory(prefix="mqlml-model-") as tmp:
        client = mlflow.MlflowClient(uri, uri)
        name, version = _model_version(client, uri, text)
        with _mlflow_errors(f"downloading models:/{name}/{version} from {uri}"):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp
            )
        expected = client.get_model_version(name, version).tags.get(_DIGEST_TAG)
        folder = _bundle_folder(Path(local))
        trust = Path(local) / "artifacts" / _TRUST
        try:  # the code copy is never run here, but a changed one is still refused
            vouched = check_model(trust, code_folder_of(folder)) if trust.is_file() else None
        except TrustError as exc:
            raise BundleError(f"models:/{name}/{version}: {exc}") from None
        # load_bundle reads everything into memory: the download can go.
        bundle = load_bundle(folder)
    bundle.path = None  # the download is gone with the temporary folder
    if expected is None or bundle.digest != expected or vouched not in (None, expected):
        raise BundleError(
            f"models:/{name}/{version} must hold the bundle registered with it (digest "
            f"{str(expected)[:12]}...); the downloaded bundle has digest "
            f"{str(bundle.digest)[:12]}... The artifact was changed after registration: do "
            "not use it; register the model again from a trusted training run."
        )
    return bundle
