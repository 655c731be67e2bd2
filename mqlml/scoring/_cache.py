"""The private cache: a per-user folder whose every entry is verified before it is used.

Scoring keeps what it can rebuild from a bundle (the compiled trees, their per-leaf tables,
LightGBM's answers on the parity sample, the compiled C loops) in
``$XDG_CACHE_HOME/mqlml`` (``~/.cache/mqlml`` by default), never beside the bundle. An
entry is native code or numbers that change scores, so the cache is held to three rules:

* the folder is created ``0700``; it, its parent folders up to the cache home and the
  cache home itself must belong to the user running mqlml (or root) and must not be
  writable by group or others (a sticky, world-writable parent such as ``/tmp`` is
  allowed). Otherwise the cache is not used and everything is built afresh in a private
  temporary folder (:class:`CacheError` says why, once, in the log);
* every entry is written with a keyed hash (HMAC-SHA256 over its name and bytes) in a
  ``.hmac`` file beside it; the key is 32 random bytes in ``key`` in the cache home,
  created ``0600`` on first use. An entry whose hash does not match (planted, edited,
  truncated, or from another user's key) is deleted and rebuilt, never loaded;
* entries are written under temporary names carrying the writer's pid and renamed, so a
  reader never sees half a file.

Nothing in a bundle folder is ever used as a cache entry.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import shutil
import stat
import tempfile
import weakref
from pathlib import Path

__all__ = ["CacheError", "PrivateCache", "cache_home"]

log = logging.getLogger(__name__)
_KEY = "key"
_MAC_SUFFIX = ".hmac"


class CacheError(OSError):
    """The cache folder or its key is not private to this user; the cache is not used."""


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/mqlml`` (``~/.cache/mqlml`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mqlml"


def _check_private(path: Path, *, sticky_ok: bool = False) -> None:
    """Refuse a folder another user owns or may write to."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise CacheError(f"cache folder {path} must not be a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheError(f"cache folder {path} must be a folder")
    if info.st_uid not in (os.getuid(), 0):
        raise CacheError(f"cache folder {path} must belong to this user (uid {os.getuid()})")
    writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not (sticky_ok and info.st_mode & stat.S_ISVTX):
        raise CacheError(f"cache folder {path} must not be writable by group or others")


def _private_folder(folder: Path, home: Path) -> Path:
    """``folder`` (``home`` or inside it), created 0700 and checked up to the root."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    home, folder = home.absolute(), folder.absolute()
    for ancestor in home.parents:  # above the cache home: shared folders such as /tmp
        _check_private(ancestor, sticky_ok=True)
    for current in (folder, *(p for p in folder.parents if p == home or home in p.parents)):
        _check_private(current)
    return folder


def _key(home: Path) -> bytes:
    """The cache's 32-byte key, created 0600 on first use; refused if not private."""
    path = home / _KEY
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(32))
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as source:
        info = os.fstat(source.fileno())
        if info.st_uid not in (os.getuid(), 0) or info.st_mode & 0o077:
            raise CacheError(f"cache key {path} must belong to this user and be mode 0600")
        key = source.read(64)
    if len(key) != 32:
        raise CacheError(f"cache key {path} must hold 32 bytes; remove it to make a new one")
    return key


class PrivateCache:
    """One folder of the private cache, with verified reads and atomic, keyed writes.

    Parameters
    ----------
    name : str
        The folder under the cache home (``compiled``, ``kernels``).
    folder : path, optional
        Another folder to use (tests, a job's own scratch space); it is held to the same
        rules, and its key is kept in the folder itself.

    Attributes
    ----------
    folder : Path
        Where the entries are; a private temporary folder when the cache could not be used.
    note : str
        Why the cache is not used ("" when it is).
    """

    def __init__(self, name: str, folder: str | Path | None = None) -> None:
        home = cache_home() if folder is None else Path(folder)
        self.note = ""
        try:
            self.folder = _private_folder(home / name if folder is None else home, home)
            self._key = _key(home)
        except OSError as exc:
            self.note = str(exc)
            log.warning("mqlml: the cache is not used (%s); building afresh", exc)
            self.folder = Path(tempfile.mkdtemp(prefix="mqlml-cache-"))  # created 0700
            weakref.finalize(self, shutil.rmtree, self.folder, True)
            self._key = secrets.token_bytes(32)

    def path(self, entry: str) -> Path:
        """The file of ``entry`` (a plain name, no folders)."""
        if Path(entry).name != entry or entry.startswith("."):
            raise ValueError(f"cache entry must be a plain file name; got {entry!r}")
        return self.folder / entry

    def _mac(self, entry: str, data: bytes) -> str:
        return hmac.new(self._key, entry.encode() + b"\0" + data, hashlib.sha256).hexdigest()

    def read(self, entry: str) -> bytes | None:
        """The bytes of ``entry`` when present and verified; a bad entry is deleted."""
        path = self.path(entry)
        try:
            data = path.read_bytes()
            mac = path.with_name(entry + _MAC_SUFFIX).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if hmac.compare_digest(mac.encode("ascii"), self._mac(entry, data).encode("ascii")):
            return data
        log.warning("mqlml: cache entry %s failed its keyed hash; rebuilding it", path)
        self.remove(entry)
        return None

    def verified(self, *entries: str) -> bool:
        """Whether every entry is present and verified (for files loaded by path)."""
        return all(self.read(entry) is not None for entry in entries)

    def write(self, entry: str, data: bytes) -> Path | None:
        """Store ``entry`` with its keyed hash; None when the folder is read-only (the
        entry is then rebuilt next time)."""
        path = self.path(entry)
        tmp = path.with_name(f".{entry}.{os.getpid()}.tmp")
        mac_tmp = path.with_name(f".{entry}{_MAC_SUFFIX}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            mac_tmp.write_text(self._mac(entry, data) + "\n", encoding="ascii")
            os.replace(mac_tmp, path.with_name(entry + _MAC_SUFFIX))
            os.replace(tmp, path)
            return path
        except OSError:
            return None
        finally:
            tmp.unlink(missing_ok=True)
            mac_tmp.unlink(missing_ok=True)

    def remove(self, entry: str) -> None:
        """Delete ``entry`` and its keyed hash."""
        path = self.path(entry)
        for file in (path, path.with_name(entry + _MAC_SUFFIX)):
            try:
                file.unlink(missing_ok=True)
            except OSError:
                pass
