"""The MLflow registry: aliases (:func:`promote`) and ``models:/`` URIs (:func:`resolve_model`).

A registered version carries its bundle's digest as a tag: loading ``models:/NAME@ALIAS``
checks the downloaded bundle against it, and the logged code copy against its trust.json.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mqlml.errors import BundleError
from mqlml.integrations._mlflow import (
    DIGEST_TAG,
    TRUST_FILE,
    mlflow_at,
    mlflow_errors,
    resolved_uri,
)
from mqlml.trust import TrustError, check_model, code_folder_of

if TYPE_CHECKING:
    from mqlml.config._config import ProjectConfig
    from mqlml.model._bundle import Bundle

__all__ = ["promote", "resolve_model"]


_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")


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
    uri = resolved_uri(tracking)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", alias) or re.fullmatch(r"[vV]\d+|latest", alias):
        raise BundleError(
            f"alias must be letters, digits, '-' or '_', and not 'latest' or v<N>; got {alias!r}. "
            "Use e.g. champion or challenger."
        )
    with mlflow_at(uri) as mlflow:
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
    uri = resolved_uri(tracking)
    with mlflow_at(uri) as mlflow, tempfile.TemporaryDirectory(prefix="mqlml-model-") as tmp:
        client = mlflow.MlflowClient(uri, uri)
        name, version = _model_version(client, uri, text)
        with mlflow_errors(f"downloading models:/{name}/{version} from {uri}"):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp
            )
        expected = client.get_model_version(name, version).tags.get(DIGEST_TAG)
        folder = _bundle_folder(Path(local))
        trust = Path(local) / "artifacts" / TRUST_FILE
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
