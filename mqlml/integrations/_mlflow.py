"""Where MLflow runs and models go, and MLflow opened quietly, with its errors in mqlml's words.

Where runs go (:func:`tracking_uri`): ``MLFLOW_TRACKING_URI`` when set, else the
config's ``tracking.uri``, else a SQLite store ``mlruns/mlflow.db`` under the current
folder with artifacts in ``mlruns/artifacts``: nothing to start, no server.

MLflow is imported only inside :func:`mlflow_at` (``import mlflow`` takes seconds), so
``import mqlml`` and ``mqlml --help`` stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mqlml.errors import BundleError, MqlmlError

if TYPE_CHECKING:
    from mqlml.config._config import ProjectConfig

__all__ = [
    "DIGEST_TAG",
    "TRACKING_ENV",
    "TRUST_FILE",
    "artifact_root",
    "digest_of",
    "mlflow_at",
    "mlflow_errors",
    "quiet",
    "resolved_uri",
    "sqlite_file",
    "tracking_uri",
]


TRACKING_ENV = "MLFLOW_TRACKING_URI"


DIGEST_TAG = "mqlml.digest"


TRUST_FILE = "trust.json"


def digest_of(folder: str | Path) -> str:
    from mqlml.model._bundle import bundle_digest

    return bundle_digest(folder)


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
    env = os.environ.get(TRACKING_ENV)
    if env:
        return env
    if config is not None and config.tracking.uri:
        return config.tracking.uri
    return "sqlite:///" + (Path.cwd() / "mlruns" / "mlflow.db").as_posix()


def resolved_uri(tracking: str | ProjectConfig | None) -> str:
    return tracking if isinstance(tracking, str) else tracking_uri(tracking)


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores or in-memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store go in ``artifacts`` beside the database file."""
    db = sqlite_file(uri)
    return None if db is None else (db.resolve().parent / "artifacts").as_uri()


@contextlib.contextmanager
def mlflow_at(uri: str, *, create: bool = False) -> Iterator[Any]:
    """Import mlflow and point it at ``uri`` for the block; restore the previous URIs.

    MLflow's own noise (deprecations raised inside mlflow and the libraries it drives)
    is silenced here; warnings raised from mqlml code still surface.
    """
    db = sqlite_file(uri)
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

        previous = {k: os.environ.get(k) for k in (TRACKING_ENV, "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield mlflow
        finally:
            mlflow.set_tracking_uri(previous[TRACKING_ENV])
            mlflow.set_registry_uri(previous["MLFLOW_REGISTRY_URI"])
            if previous["MLFLOW_REGISTRY_URI"] is None:
                os.environ.pop("MLFLOW_REGISTRY_URI", None)


@contextlib.contextmanager
def quiet(*names: str, level: int = logging.ERROR) -> Iterator[None]:
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
def mlflow_errors(doing: str) -> Iterator[None]:
    """Turn MLflow's own failures (store unreachable, refused...) into an MqlmlError."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise MqlmlError(
            f"{doing} must succeed; MLflow said: {exc.message}. Check MLFLOW_TRACKING_URI "
            "(or tracking.uri in the config), or skip tracking (`mqlml train --no-track`)."
        ) from exc
