"""The bundle: the one saved artifact that scoring needs, stored as data, never as code.

A bundle is a folder of plain files; reading one runs nothing but JSON and LightGBM's
own text parser:

``manifest.json``
    the format, the versions, the schema, the threshold, the tiers, the config, the
    training metadata, and the sha256 of every other file;
``model.json``
    the scorer: its parameters, columns, kept levels and base value, and for the
    logistic model its per-column terms (mqlml.model.LeadScorer.to_state);
``model.txt``
    LightGBM's trees in LightGBM's own text format (LightGBM models only);
``calibration.json``
    the map from log-odds to probability (mqlml.model.ScoreMap); with
    ``threshold.segments``, each segment's line and own calibration are in the manifest
    (``segments``, mqlml.model.SegmentLines);
``reference.json``
    the reference distributions for percentiles and drift;
``backtest/``
    the backtest fit whose test-part numbers the report shows, itself a bundle (when
    the bundle that scores was refit on newer history);
``bundle.sha256``
    the sha256 of ``manifest.json``: the bundle's digest, which covers every file;
``signature.json``
    with ``MQLML_SIGNING_KEY`` set when saving, an HMAC-SHA256 of the manifest.

Loading checks the digest, then (with ``MQLML_SIGNING_KEY`` set) the signature, then the
sha256 of each file before reading it. A changed byte anywhere, an edited manifest, a
missing or wrong signature are refused with a clear error; a file the manifest does not
list is never read. Bundles of format 1 (a pickle) are refused: loading a pickle can run
code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mqlml.errors import BundleError
from mqlml.io._atomic import atomic_folder
from mqlml.leads._schema import LeadSchema
from mqlml.model._calibration import ScoreMap
from mqlml.model._points import ScoreScale, Tiers
from mqlml.model._segments import SegmentLines
from mqlml.model._threshold import ThresholdResult
from mqlml.trust import SIGNING_KEY_ENV, sign, signing_key

__all__ = [
    "BUNDLE_FORMAT",
    "SIGNING_KEY_ENV",
    "Bundle",
    "bundle_digest",
    "copy_bundle",
    "load_bundle",
    "package_versions",
    "read_manifest",
]

BUNDLE_FORMAT = 2
_MANIFEST, _DIGEST, _SIGNATURE = "manifest.json", "bundle.sha256", "signature.json"
_MODEL_STATE, _MODEL_TEXT = "model.json", "model.txt"
_CALIBRATION, _REFERENCE, _BACKTEST = "calibration.json", "reference.json", "backtest"
_OLD_PAYLOAD = "bundle.joblib"
#: The largest bundle file read (checked before reading; a 300-tree model is ~1 MB).
MAX_FILE_BYTES = 1 << 30
#: The largest manifest read.
MAX_MANIFEST_BYTES = 64 << 20


def package_versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on."""
    names = ("mqlml", "scikit-learn", "lightgbm", "pandas", "numpy", "pyarrow")
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
    score_map : mqlml.model.ScoreMap
        The calibration: log-odds to probability, fitted on leads the model never saw.
    threshold : ThresholdResult
        The MQL threshold and the evidence for it.
    schema : LeadSchema
        Columns and feature kinds the model was trained on.
    tiers : Tiers
        Probability bands for the tier column; tier A is exactly the MQLs.
    config : dict
        The project config used (as plain data).
    reference : dict
        Reference distributions: ``quantiles`` of the calibration probabilities (for
        percentiles) and, when present, binned feature and score distributions (for
        drift monitoring).
    metadata : dict
        Training facts: data fingerprint, rows, date range, parts, metrics, versions.
    backtest : Bundle or None
        The backtest fit (older leads only) whose numbers on the test part the report
        shows, when the bundle that scores was refit on newer history; None otherwise.
    scale : ScoreScale
        The 0-100 score (the MQL threshold at ``score.mql_at``); by default 50 at the
        threshold and 10 points per doubling of the odds.
    segments : SegmentLines or None
        With ``threshold.segments``: each segment's calibration and MQL line; a lead's
        score is then 50 at its segment's line, and tier A its segment's MQLs.
    path : Path or None
        The folder the bundle was loaded from or last saved to.
    digest : str or None
        The sha256 of its manifest, which covers every file (set when saved or loaded).
    """

    model: Any
    score_map: ScoreMap
    threshold: ThresholdResult
    schema: LeadSchema
    tiers: Tiers
    config: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    backtest: Bundle | None = None
    scale: ScoreScale | None = None
    segments: SegmentLines | None = None
    path: Path | None = field(default=None, compare=False)
    digest: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.scale is None:
            self.scale = ScoreScale(threshold=self.threshold.threshold)

    # -- predicting -------------------------------------------------------------------
    def segment_codes(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Each lead's segment line (None without segments); see mqlml.model._segments."""
        return None if self.segments is None else self.segments.codes_of(frame)

    def calibrate(self, log_odds: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities from the model's log-odds (see mqlml.model.ScoreMap).

        With segments, ``codes`` (from :meth:`segment_codes`) applies each segment's own
        calibration; without them every lead gets the overall one.
        """
        if self.segments is None or codes is None:
            return self.score_map(log_odds)
        return self.segments.probabilities(log_odds, codes, self.score_map)

    def thresholds(self, n: int, codes: np.ndarray | None = None) -> np.ndarray:
        """The MQL threshold of each of ``n`` leads: its segment's line, else the overall one."""
        if self.segments is None or codes is None:
            return np.full(n, self.threshold.threshold)
        return self.segments.thresholds(codes)

    def score(self, probability: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """The 0-100 score of calibrated probabilities (see mqlml.model.ScoreScale).

        With segments and ``codes``, the score is ``score.mql_at`` at each lead's own
        segment line.
        """
        if self.segments is None or codes is None:
            return self.scale.score(probability)
        p = np.asarray(probability, dtype=np.float64)
        out = np.empty(p.shape)
        for i, scale in enumerate(self._segment_scales()):
            rows = codes == i
            out[rows] = scale.score(p[rows])
        return out

    def tier(self, probability: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """The tier of each lead; with segments, tier A is exactly its segment's MQLs."""
        if self.segments is None or codes is None:
            return self.tiers.label(probability)
        p = np.asarray(probability, dtype=np.float64)
        out = np.empty(p.shape, dtype=object)
        cuts = [float(c) for c in self.scale.score(np.asarray(self.tiers.cuts[:-1]))]
        for i, scale in enumerate(self._segment_scales()):
            rows = codes == i
            out[rows] = scale.tiers(cuts).label(p[rows])
        return out

    def _segment_scales(self) -> list[ScoreScale]:
        mql_at, pdo = self.scale.mql_at, self.scale.points_to_double_odds
        return [ScoreScale(line.threshold.threshold, mql_at, pdo) for line in self.segments.lines]

    def predict_proba(self, features: pd.DataFrame, frame: pd.DataFrame | None = None):
        """Calibrated conversion probability of each row of a coerced feature frame.

        With segments, the segment column is read from ``frame`` (the raw leads) or,
        when it is a feature, from ``features``.
        """
        codes = None
        if self.segments is not None:
            source = frame if frame is not None else features
            codes = self.segment_codes(source)
        return self.calibrate(self.model.decision_function(features), codes)

    # -- saving -----------------------------------------------------------------------
    def _documents(self) -> dict[str, str]:
        """The bundle's files (other than the manifest) as text."""
        state, model_text = self.model.to_state()
        docs = {
            _MODEL_STATE: _dumps(state),
            _CALIBRATION: _dumps(self.score_map.to_dict()),
            _REFERENCE: _dumps(self.reference),
        }
        if model_text is not None:
            docs[_MODEL_TEXT] = model_text
        return docs

    def save(self, path: str | Path) -> Path:
        """Write the bundle to folder ``path``; the folder appears whole or not at all.

        It is written to a staging folder beside ``path`` and swapped in
        (:func:`mqlml.io.atomic_folder`): an existing bundle folder of that name is
        replaced. With ``MQLML_SIGNING_KEY`` set, the bundle is signed.

        Returns
        -------
        Path
            The folder.

        Raises
        ------
        BundleError
            When ``path`` exists and is not a bundle folder (nothing is overwritten).
        """
        folder = Path(path)
        if folder.exists() or folder.is_symlink():
            foreign = _foreign_file(folder)
            if foreign is not None:
                raise BundleError(
                    f"bundle folder must be new, empty or a bundle; got {str(folder)!r}, which "
                    f"holds {foreign!r}, not a bundle's file. Choose another --out folder."
                )
        with atomic_folder(folder) as staging:
            self._write(staging)
        self.path = folder
        self.digest = (folder / _DIGEST).read_text(encoding="ascii").strip()
        return folder

    def _write(self, folder: Path) -> str:
        files: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for name, text in self._documents().items():
            data = text.encode("utf-8")
            (folder / name).write_bytes(data)
            files[name], sizes[name] = hashlib.sha256(data).hexdigest(), len(data)
        if self.backtest is not None:
            if self.backtest.backtest is not None:
                raise BundleError("a backtest bundle must not hold a backtest of its own.")
            (folder / _BACKTEST).mkdir()
            nested = f"{_BACKTEST}/{_MANIFEST}"
            files[nested] = self.backtest._write(folder / _BACKTEST)
            sizes[nested] = (folder / nested).stat().st_size
        manifest = {
            "format": BUNDLE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": package_versions(),
            "files": files,
            "sizes": sizes,
            "schema": self.schema.to_dict(),
            "threshold": self.threshold.to_dict(),
            "tiers": self.tiers.to_dict(),
            "scale": self.scale.to_dict(),
            "config": self.config,
            "metadata": self.metadata,
        }
        if self.segments is not None:
            manifest["segments"] = self.segments.to_dict()
        data = (json.dumps(manifest, indent=2, default=_json_default) + "\n").encode("utf-8")
        (folder / _MANIFEST).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        (folder / _DIGEST).write_text(digest + "\n", encoding="ascii")
        key = signing_key()
        if key is not None:
            signature = {"algorithm": "HMAC-SHA256", "signature": sign(key, data)}
            (folder / _SIGNATURE).write_text(json.dumps(signature) + "\n", encoding="utf-8")
        return digest


#: What a bundle folder may hold; replacing one removes nothing else (an old compiled-trees
#: cache folder aside).
_OWN_FILES = frozenset(
    {_MANIFEST, _DIGEST, _SIGNATURE, _MODEL_STATE, _MODEL_TEXT, _CALIBRATION, _REFERENCE}
)


def _foreign_file(folder: Path) -> str | None:
    """The first thing in ``folder`` that is not a bundle's own (None when there is none)."""
    if folder.is_symlink() or not folder.is_dir():
        return folder.name
    for entry in sorted(folder.iterdir()):
        if entry.name == ".compiled" and entry.is_dir() and not entry.is_symlink():
            continue
        if entry.name == _BACKTEST and entry.is_dir() and not entry.is_symlink():
            inner = _foreign_file(entry)
            if inner is not None:
                return f"{_BACKTEST}/{inner}"
            continue
        if entry.name not in _OWN_FILES or entry.is_symlink() or not entry.is_file():
            return entry.name
    return None


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, datetime, pd.Timestamp)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _folder(path: str | Path) -> Path:
    if str(path).startswith("models:/"):
        raise BundleError(
            f"a bundle path must be a folder; got the registry URI {str(path)!r}. Load it "
            "with mqlml.resolve_model (which takes folders and models:/ URIs alike)."
        )
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    return folder


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"bundle {what} {path} must be valid JSON; {exc}.") from None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a bundle's manifest (plain JSON) after checking it against the bundle's digest.

    Raises
    ------
    BundleError
        When ``path`` is not a bundle folder, the manifest is unreadable or does not
        match ``bundle.sha256``, or the bundle is of the old pickle format.
    """
    folder = _folder(path)
    manifest_path = folder / _MANIFEST
    if (folder / _OLD_PAYLOAD).is_file():
        raise BundleError(
            f"bundle format must be {BUNDLE_FORMAT} (data files); got the old pickle format in "
            f"{folder}, which mqlml no longer loads because loading a pickle can run code. "
            "Retrain the model with `mqlml train` to get a bundle of this version."
        )
    if not manifest_path.is_file() or not (folder / _DIGEST).is_file():
        raise BundleError(
            f"model path must be a bundle folder holding {_MANIFEST} and {_DIGEST} (made by "
            f"`mqlml train`); got {str(path)!r}. Check the path or train a model first."
        )
    data = _read_capped(manifest_path, MAX_MANIFEST_BYTES)
    expected = _read_capped(folder / _DIGEST, 1024).strip()
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual.encode("ascii"), expected):
        raise BundleError(
            f"bundle manifest {manifest_path} must match its digest in {_DIGEST}; got "
            f"{actual[:12]}... against {expected[:12]!r}... The manifest was edited or damaged: "
            "copy the bundle again or retrain."
        )
    _check_signature(folder, data)
    manifest = _read_json(manifest_path, "manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BundleError(
            f"bundle format must be {BUNDLE_FORMAT}; got {got!r} in {folder}. Retrain the "
            "model with this mqlml version."
        )
    manifest["digest"] = actual
    return manifest


def _check_signature(folder: Path, data: bytes) -> None:
    key = signing_key()
    if key is None:
        return
    path = folder / _SIGNATURE
    if not path.is_file():
        raise BundleError(
            f"bundle {folder} must be signed because {SIGNING_KEY_ENV} is set; it has no "
            f"{_SIGNATURE}. Sign it by saving it again with the key set, or unset the key."
        )
    _read_capped(path, 4096)
    signature = _read_json(path, "signature")
    given = signature.get("signature") if isinstance(signature, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8"), sign(key, data).encode("ascii")
    ):
        raise BundleError(
            f"bundle {folder} must carry a valid signature for the key in {SIGNING_KEY_ENV}; "
            "the signature does not match. The bundle was changed or signed with another key: "
            "do not use it; retrain or get it again from its source."
        )


def _read_capped(path: Path, limit: int, expected: int | None = None) -> bytes:
    """The bytes of ``path``, its size checked against ``limit`` (and the manifest's
    ``expected`` size) before a byte is read."""
    size = path.stat().st_size
    if size > limit or (expected is not None and size != expected):
        rule = f"{expected:,} bytes as its manifest says" if expected is not None else "smaller"
        raise BundleError(
            f"bundle file {path} must be {rule} (at most {limit:,} bytes); got {size:,}. The "
            "file was changed or damaged: copy the bundle again or retrain."
        )
    return path.read_bytes()


def _read_file(folder: Path, name: str, manifest: dict[str, Any]) -> bytes:
    files = manifest.get("files") or {}
    expected = files.get(name)
    path = folder / name
    if expected is None or not path.is_file():
        raise BundleError(
            f"bundle {folder} must hold {name}, listed in its manifest; it is "
            f"{'not listed' if expected is None else 'missing'}. Copy the bundle again or retrain."
        )
    size = (manifest.get("sizes") or {}).get(name)
    data = _read_capped(path, MAX_FILE_BYTES, size if isinstance(size, int) else None)
    actual = hashlib.sha256(data).hexdigest()
    if not isinstance(expected, str) or not hmac.compare_digest(
        actual.encode("ascii"), expected.encode("utf-8")
    ):
        raise BundleError(
            f"bundle file {path} must match the sha256 in its manifest; got {actual[:12]}... "
            f"against {expected[:12]}... The file was changed or damaged: copy the bundle "
            "again or retrain."
        )
    return data


def copy_bundle(source: str | Path, target: str | Path) -> Path:
    """Copy a bundle's own files into the new folder ``target``, checked on the way.

    Only the manifest, the digest, the signature and the files the manifest lists (and the
    backtest's, likewise) are copied: nothing else found beside them comes along.

    Raises
    ------
    BundleError
        When ``source`` is not a sound bundle (see :func:`read_manifest`).
    """
    folder, target = _folder(source), Path(target)
    manifest = read_manifest(folder)
    target.mkdir(parents=True)
    files = manifest.get("files") or {}
    for name in (_MANIFEST, _DIGEST, _SIGNATURE):
        if (folder / name).is_file():
            (target / name).write_bytes(_read_capped(folder / name, MAX_MANIFEST_BYTES))
    for name in (_MODEL_STATE, _MODEL_TEXT, _CALIBRATION, _REFERENCE):
        if name in files:
            (target / name).write_bytes(_read_file(folder, name, manifest))
    if f"{_BACKTEST}/{_MANIFEST}" in files:
        copy_bundle(folder / _BACKTEST, target / _BACKTEST)
    return target


def bundle_digest(path: str | Path) -> str:
    """The digest (sha256 of the manifest) of the bundle in folder ``path``, checked."""
    return read_manifest(path)["digest"]


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle after checking its digest, its signature and every file's sha256.

    Nothing in a bundle is code: the files are JSON and LightGBM model text, read only
    after their checksums match.

    Parameters
    ----------
    path : str or Path
        The bundle folder (or a file in it).

    Returns
    -------
    Bundle

    Raises
    ------
    BundleError
        When the folder is not a bundle, is of the old pickle format, a byte of any file
        or of the manifest changed, a signature is missing or wrong (with
        ``MQLML_SIGNING_KEY`` set), or a file is not what it should be.
    """
    from mqlml.model._estimator import LeadScorer

    folder = _folder(path)
    manifest = read_manifest(folder)
    files = manifest.get("files") or {}
    try:
        state = json.loads(_read_file(folder, _MODEL_STATE, manifest))
        text = None
        if _MODEL_TEXT in files:
            text = _read_file(folder, _MODEL_TEXT, manifest).decode("utf-8")
        model = LeadScorer.from_state(state, text)
        score_map = ScoreMap.from_dict(json.loads(_read_file(folder, _CALIBRATION, manifest)))
        reference = json.loads(_read_file(folder, _REFERENCE, manifest))
        backtest = None
        nested = f"{_BACKTEST}/{_MANIFEST}"
        if nested in files:
            _read_file(folder, nested, manifest)
            backtest = load_bundle(folder / _BACKTEST)
        bundle = Bundle(
            model=model,
            score_map=score_map,
            threshold=ThresholdResult.from_dict(manifest["threshold"]),
            schema=LeadSchema.from_dict(manifest["schema"]),
            tiers=Tiers.from_dict(manifest["tiers"]),
            scale=ScoreScale.from_dict(manifest["scale"]),
            config=manifest.get("config") or {},
            reference=reference,
            metadata=manifest.get("metadata") or {},
            backtest=backtest,
            segments=(
                SegmentLines.from_dict(manifest["segments"]) if "segments" in manifest else None
            ),
        )
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(
            f"bundle {folder} must hold a model, calibration and threshold made by mqlml; "
            f"reading it failed ({exc}). Retrain the model with this mqlml version."
        ) from None
    if "quantiles" in bundle.reference:
        bundle.reference["quantiles"] = np.asarray(bundle.reference["quantiles"], dtype=float)
    bundle.path, bundle.digest = folder, manifest["digest"]
    return bundle
