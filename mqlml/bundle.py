"""The bundle: the one saved artifact that scoring needs.

A bundle is a folder with two files:

``bundle.joblib``
    the fitted model, the calibrator, the threshold, the schema, the tiers, the
    reference distributions and the training metadata;
``manifest.json``
    what is inside in plain JSON (schema, threshold, metrics, versions) and the sha256 of
    ``bundle.joblib``.

Loading reads the manifest first, checks the checksum and the versions, and only then
unpickles: a changed byte or an incompatible scikit-learn / LightGBM is refused with a
clear error instead of a confusing failure (or silently different numbers) later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from mqlml.atomic import atomic_output
from mqlml.calibration import ScoreMap
from mqlml.errors import BundleError
from mqlml.points import Tiers, score_of
from mqlml.schema import LeadSchema
from mqlml.threshold import ThresholdResult

__all__ = ["BUNDLE_FORMAT", "Bundle", "load_bundle", "package_versions", "read_manifest"]

BUNDLE_FORMAT = 1
_PAYLOAD, _MANIFEST = "bundle.joblib", "manifest.json"
# Pickles of these are only trusted by the same major.minor version.
_PINNED = ("scikit-learn", "lightgbm")


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on."""
    names = ("mqlml", "scikit-learn", "lightgbm", "pandas", "numpy", "pyarrow", "joblib")
    out = {}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class Bundle:
    """Everything needed to score leads, as trained.

    Attributes
    ----------
    model : mqlml.model.LeadScorer
        The fitted (uncalibrated) model.
    calibrator : sklearn.calibration.CalibratedClassifierCV
        The calibrator fitted on the calibration part with ``model`` frozen.
    threshold : ThresholdResult
        The MQL threshold and the evidence for it.
    schema : LeadSchema
        Columns and feature kinds the model was trained on.
    tiers : Tiers
        Probability bands for the tier column.
    config : dict
        The project config used (as plain data).
    reference : dict
        Reference distributions: ``quantiles`` of the training probabilities (for
        percentiles) and, when present, binned feature and score distributions (for
        drift monitoring).
    metadata : dict
        Training facts: data fingerprint, rows, date range, parts, metrics, versions.
    backtest : Bundle or None
        The backtest fit (older leads only) whose numbers on the test part the report
        shows, when the bundle that scores was refit on newer history; None otherwise.
    """

    model: Any
    calibrator: Any
    threshold: ThresholdResult
    schema: LeadSchema
    tiers: Tiers
    config: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    backtest: Bundle | None = None

    # -- predicting -------------------------------------------------------------------
    @property
    def score_map(self) -> ScoreMap:
        """The map from log-odds to probability, read out of ``calibrator``."""
        return ScoreMap.from_calibrated(self.calibrator)

    def calibrate(self, log_odds: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from the model's log-odds (see mqlml.calibration.ScoreMap)."""
        return self.score_map(log_odds)

    def score(self, probability: np.ndarray) -> np.ndarray:
        """The 0-100 score of calibrated probabilities (see mqlml.points)."""
        return score_of(probability)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probability of each row of a coerced feature frame."""
        return self.calibrate(self.model.decision_function(features))

    # -- saving -----------------------------------------------------------------------
    def manifest(self, sha256: str) -> dict[str, Any]:
        """The JSON manifest written beside the payload."""
        return {
            "format": BUNDLE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": sha256,
            "versions": package_versions(),
            "schema": self.schema.to_dict(),
            "threshold": self.threshold.to_dict(),
            "tiers": self.tiers.to_dict(),
            "metadata": self.metadata,
        }

    def save(self, path: str | Path) -> Path:
        """Write the bundle to folder ``path`` (created; existing files replaced atomically).

        Returns
        -------
        Path
            The folder.
        """
        folder = Path(path)
        with atomic_output(folder / _PAYLOAD) as tmp:
            joblib.dump(self, tmp, compress=3)
            digest = _sha256(tmp)
        manifest = json.dumps(self.manifest(digest), indent=2, default=_json_default)
        with atomic_output(folder / _MANIFEST) as tmp:
            tmp.write_text(manifest, encoding="utf-8")
        return folder


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, datetime, pd.Timestamp)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a bundle's manifest without unpickling anything.

    Raises
    ------
    BundleError
        When ``path`` is not a bundle folder or the manifest is unreadable.
    """
    folder = Path(path)
    if folder.name in (_MANIFEST, _PAYLOAD):
        folder = folder.parent
    manifest = folder / _MANIFEST
    if not manifest.is_file() or not (folder / _PAYLOAD).is_file():
        raise BundleError(
            f"model path must be a bundle folder holding {_MANIFEST} and {_PAYLOAD} (made by "
            f"`mqlml train`); got {str(path)!r}. Check the path or train a model first."
        )
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle manifest {manifest} must be valid JSON; {exc}.") from None


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle after checking its checksum and the package versions.

    Parameters
    ----------
    path : str or Path
        The bundle folder (or either file in it).

    Returns
    -------
    Bundle

    Raises
    ------
    BundleError
        When the folder is not a bundle, a byte of the payload changed (sha256 mismatch),
        the bundle format is unknown, or scikit-learn / LightGBM differ in major.minor
        version from the ones it was saved with.
    """
    manifest = read_manifest(path)
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    payload = folder / _PAYLOAD
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"bundle format must be {BUNDLE_FORMAT}; got {manifest.get('format')!r} in "
            f"{folder}. Retrain the model with this mqlml version."
        )
    actual = _sha256(payload)
    if actual != manifest.get("sha256"):
        raise BundleError(
            f"bundle {payload} must match the sha256 in its manifest; got {actual[:12]}... "
            f"against {str(manifest.get('sha256'))[:12]}... The file was changed or damaged: "
            "copy it again or retrain."
        )
    saved, here = manifest.get("versions", {}), package_versions()
    for name in _PINNED:
        if _major_minor(saved.get(name)) != _major_minor(here.get(name)):
            raise BundleError(
                f"{name} must be {saved.get(name)} (major.minor) to load bundle {folder}; "
                f"got {here.get(name)}. Install {name}=={saved.get(name)} or retrain."
            )
    bundle = joblib.load(payload)
    if not isinstance(bundle, Bundle):
        raise BundleError(f"bundle {payload} must hold a mqlml Bundle; got {type(bundle)}.")
    return bundle


def _major_minor(version: str | None) -> tuple[str, ...]:
    return tuple((version or "").split(".")[:2])
