"""Signing and code checks that must run before the rest of mqlml is imported.

This module imports nothing but the standard library: the MLflow model
(:mod:`mqlml.pyfunc`) verifies the copy of mqlml's sources it carries with it before it
imports anything else from that copy (see :func:`check_model`). Bundles sign their
manifest with the same key and functions (mqlml.model).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
from pathlib import Path
from typing import Any

__all__ = [
    "SIGNING_KEY_ENV",
    "TrustError",
    "check_model",
    "code_folder_of",
    "code_hashes",
    "sign",
    "signing_key",
    "trust_document",
]

#: The environment variable holding the key bundles and logged models are signed with.
SIGNING_KEY_ENV = "MQLML_SIGNING_KEY"
_MAX_TRUST_BYTES = 16 << 20


class TrustError(ValueError):
    """A logged model's code copy, bundle digest or signature does not check out."""


def signing_key() -> bytes | None:
    """The signing key from ``MQLML_SIGNING_KEY``, or None when it is not set."""
    key = os.environ.get(SIGNING_KEY_ENV)
    return key.encode("utf-8") if key else None


def sign(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` under ``key``, as hex."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def code_hashes(folder: str | Path) -> dict[str, str]:
    """The sha256 of every file under ``folder`` but compiled caches, by relative path.

    A file that is not a Python or C source is listed too (so an added one is seen).
    """
    root = Path(folder)
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or path.is_dir():
            continue
        out[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def code_folder_of(bundle_artifact: str | Path) -> Path | None:
    """The code copy (``code/mqlml``) of the logged model whose bundle artifact is given:
    ``<model>/artifacts/bundle`` beside ``<model>/code/mqlml``, no link on the way (None
    when the layout is not that one, which :func:`check_model` refuses)."""
    bundle = Path(bundle_artifact)
    if bundle.is_symlink() or bundle.name != "bundle" or bundle.parent.name != "artifacts":
        return None
    model_dir = bundle.parent.parent
    folder = model_dir / "code" / "mqlml"
    if any(p.is_symlink() for p in (bundle.parent, folder.parent, folder)):
        return None
    return folder if folder.is_dir() else None


def _payload(document: dict[str, Any]) -> bytes:
    body = {"bundle_digest": document.get("bundle_digest"), "code": document.get("code")}
    return json.dumps(body, sort_keys=True).encode("utf-8")


def trust_document(bundle_digest: str, code_folder: str | Path) -> dict[str, Any]:
    """What a logged model is checked against: its bundle's digest, the sha256 of each
    file of its code copy and, with ``MQLML_SIGNING_KEY`` set, an HMAC of both."""
    document: dict[str, Any] = {
        "bundle_digest": bundle_digest,
        "code": code_hashes(Path(code_folder).parent),  # all of code/, not only code/mqlml
    }
    key = signing_key()
    if key is not None:
        document["signature"] = sign(key, _payload(document))
    return document


def check_model(trust_file: str | Path, code_folder: str | Path | None) -> str:
    """Check a logged model's code copy and signature; return the bundle digest it vouches for.

    Parameters
    ----------
    trust_file : path
        The model's ``trust.json`` (:func:`trust_document`).
    code_folder : path or None
        The model's copy of the ``mqlml`` package (``code/mqlml``, :func:`code_folder_of`);
        every file of its parent ``code/`` is checked. None (the layout is not the one
        logged) is refused. Compiled caches (``__pycache__``) are removed after the sources
        check out, so Python compiles the checked sources afresh.

    Raises
    ------
    TrustError
        When the file is unreadable, a source differs, is missing or was added, or (with
        ``MQLML_SIGNING_KEY`` set) the signature is missing or does not match.
    """
    try:
        path = Path(trust_file)
        if path.stat().st_size > _MAX_TRUST_BYTES:
            raise ValueError(f"{path} is larger than {_MAX_TRUST_BYTES:,} bytes")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise TrustError(
            f"logged model must carry a readable trust.json; {exc}. Log the model again "
            "with this mqlml version."
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("code"), dict):
        raise TrustError("logged model trust.json must hold 'bundle_digest' and 'code'.")
    key = signing_key()
    if key is not None:
        given = document.get("signature")
        if not isinstance(given, str) or not _same(given, sign(key, _payload(document))):
            raise TrustError(
                f"logged model must carry a valid signature for the key in {SIGNING_KEY_ENV}; "
                "it is missing or does not match. The model was changed or logged without "
                "the key: do not use it; log it again from a trusted training run."
            )
    if code_folder is None:
        raise TrustError(
            "logged model must keep its bundle in artifacts/bundle beside its code copy in "
            "code/mqlml, with no link on the way; this one does not. Log it again."
        )
    expected, actual = document["code"], code_hashes(Path(code_folder).parent)
    changed = sorted(
        name
        for name in set(expected) | set(actual)
        if not _same(str(expected.get(name)), str(actual.get(name)))
    )
    if changed:
        raise TrustError(
            f"logged model's code copy must match its trust.json; {len(changed)} file(s) "
            f"differ, are missing or were added ({', '.join(changed[:3])}). The model was "
            "changed after logging: do not use it; log it again from a trusted run."
        )
    for cache in Path(code_folder).parent.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    digest = document.get("bundle_digest")
    if not isinstance(digest, str):
        raise TrustError("logged model trust.json must hold the bundle's digest.")
    return digest
