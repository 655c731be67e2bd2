"""Writing a file so that it appears whole or not at all, and faults in plain words.

A file is written to a temporary file beside its destination, named
``.<name>.mqlml-partial-<pid>.tmp``, and renamed over the destination only when complete.
A run that is killed (SIGKILL, power loss) cannot remove its temporary file; the next run
to the same destination removes those whose process is gone. SIGTERM and SIGINT become
:class:`Interrupted`, so the temporary file is removed on the way out. Operating-system
errors (disk full, read-only file system, no permission) become one :class:`FileError`
naming the path.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mqlml.errors import FileError

__all__ = [
    "Interrupted",
    "atomic_output",
    "check_destination",
    "file_error",
    "handle_signals",
    "inside",
    "partial_files",
    "remove_stale",
    "same_path",
]

_MARK = "mqlml-partial"


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGTERM or SIGINT (its partial output was removed).

    A KeyboardInterrupt, not an error: ``except Exception`` does not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}; no output was written.")

    def __str__(self) -> str:
        return str(self.args[0])

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report a process ended by a signal."""
        return 128 + self.signum


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; write to another folder",
    errno.EACCES: "permission denied; write to a folder you may write to",
    errno.EPERM: "operation not permitted; write to a folder you may write to",
    errno.EISDIR: "it is a folder; give a file name such as scores.csv",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.EIO: "the device reported an input/output error; check the disk",
}


def file_error(exc: OSError, path: str | Path, action: str = "write") -> FileError:
    """One clear :class:`FileError` for an OSError met while reading or writing ``path``."""
    code = exc.errno
    if code is None:  # pyarrow's IOError carries the text only
        text = str(exc)
        for known, words in (
            (errno.ENOSPC, "No space left"),
            (errno.EROFS, "Read-only file system"),
            (errno.EACCES, "Permission denied"),
            (errno.EDQUOT, "quota"),
        ):
            if words in text:
                code = known
                break
    why = _ADVICE.get(code) or (str(exc).strip() or type(exc).__name__)
    return FileError(
        f"file {str(path)!r} must be possible to {action}; it is not: {why}."
        if action
        else f"file {str(path)!r}: {why}."
    )


def partial_files(target: str | Path) -> list[Path]:
    """Temporary files left beside ``target`` by runs writing to it (any process)."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.{_MARK}-(\d+)\.[A-Za-z0-9_]+\.tmp$")
    return sorted(p for p in target.parent.iterdir() if pattern.match(p.name))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale(target: str | Path) -> list[Path]:
    """Remove the temporary files of killed runs to ``target``; return what was removed.

    A file whose process still runs (another job writing the same destination) is kept.
    """
    removed = []
    for path in partial_files(target):
        pid = int(path.name.rsplit(f"{_MARK}-", 1)[1].split(".", 1)[0])
        if not _alive(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`Interrupted` while the block runs.

    Outside the main thread (where handlers cannot be set) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    On any exception (or interrupt) the temporary file is removed and ``target`` is left
    as it was, so a failure or a kill mid-way never leaves a partial output. Temporary
    files of earlier killed runs to the same ``target`` are removed first. The file
    gets the usual permissions (0666 less the umask), not the private ones of a
    temporary file.

    Raises
    ------
    FileError
        When the folder cannot be made or written to (the path and the reason named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
    >>> with atomic_output(out) as tmp:
    ...     _ = tmp.write_text("id,score\\n")
    >>> out.read_text()
    'id,score\\n'
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        suffix = os.urandom(4).hex()
        tmp = target.parent / f".{target.name}.{_MARK}-{os.getpid()}.{suffix}.tmp"
        tmp.touch(exist_ok=False)
    except OSError as exc:
        raise file_error(exc, target) from None
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        if isinstance(exc, FileError):
            raise
        raise file_error(exc, target) from None
    finally:
        tmp.unlink(missing_ok=True)


def same_path(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` name the same file or folder (any spelling, links, hard links)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def inside(path: str | Path, folder: str | Path) -> bool:
    """True when ``path`` is ``folder`` or lies somewhere under it (links resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_destination(
    target: str | Path, sources: dict[str, str | Path | None] | None = None
) -> None:
    """Refuse, before any work, a destination that would destroy a source or cannot be written.

    Parameters
    ----------
    target : path
        The file about to be written.
    sources : dict, optional
        What must survive, by role: ``{"input": path, "model": folder}``. A file source
        may not be the target; a folder source may not contain it.

    Raises
    ------
    DataError
        When the target is a source file, lies inside a source folder, or is a folder.
    FileError
        When its folder cannot be created or written to.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "leads.csv").write_text("id\\n1\\n")
    >>> check_destination(d / "." / "leads.csv", {"input": d / "leads.csv"})
    Traceback (most recent call last):
    ...
    mqlml.errors.DataError: the output must not be the input; ...
    """
    from mqlml.errors import DataError

    target = Path(target)
    _check_sources(target, sources, folder=False)
    if target.is_dir():
        raise DataError(
            f"the output must be a file, not a folder; got {str(target)!r}. Add a file "
            f"name, e.g. {str(target / 'scores.csv')!r}."
        )
    _check_writable(target)


#: What a folder written by Spark holds: part files, checksums, markers.
_SPARK_FILES = ("part-", "_SUCCESS", "_committed", "_started", ".part-", "._SUCCESS")


def check_output_folder(
    target: str | Path, sources: dict[str, str | Path | None] | None = None
) -> None:
    """Refuse, before any work, an output folder that replacing would destroy sources.

    Spark writes its output as a folder of part files and replaces an existing folder of
    that name, whatever it holds. This refuses what :func:`check_destination` refuses
    for a file, and also a folder around a source (replacing it deletes the source) and
    an existing folder that holds anything but a previous Spark output.

    Parameters
    ----------
    target : path
        The local output folder about to be (re)written.
    sources : dict, optional
        What must survive, by role: ``{"input": path, "model": folder}``.

    Raises
    ------
    DataError
        When the target is or holds a source, lies inside a source folder, is a file, or
        is a folder with other files in it.
    FileError
        When its folder cannot be created or written to.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "leads.csv").write_text("id\\n1\\n")
    >>> check_output_folder(d, {"input": d / "leads.csv"})
    Traceback (most recent call last):
    ...
    mqlml.errors.DataError: the output folder must not hold the input; ...
    """
    from mqlml.errors import DataError

    target = Path(target)
    _check_sources(target, sources, folder=True)
    if target.exists() and not target.is_dir():
        raise DataError(
            f"the output must be a folder Spark can write part files to; {str(target)!r} is "
            "a file. Give a new folder name, e.g. scores.parquet."
        )
    if target.is_dir():
        other = sorted(p.name for p in target.iterdir() if not p.name.startswith(_SPARK_FILES))
        if other:
            raise DataError(
                f"the output folder must be new or a previous Spark output; {str(target)!r} "
                f"holds {len(other)} other entries (e.g. {other[0]!r}), which Spark would "
                "delete when it replaces the folder. Give a new folder name."
            )
    _check_writable(target)


def _check_sources(
    target: Path, sources: dict[str, str | Path | None] | None, *, folder: bool
) -> None:
    """Refuse a target that would destroy one of ``sources`` (by role; ``None`` skipped).

    Both kinds of target may not lie inside a source folder. A file target (``folder``
    false) may not be a source file, by any spelling or link; a folder target may not be
    or hold a source, since replacing the folder deletes what it holds.
    """
    from mqlml.errors import DataError

    for role, source in (sources or {}).items():
        if source is None:
            continue
        source = Path(source)
        if folder and inside(source, target):
            raise DataError(
                f"the output folder must not hold the {role}; got {str(target)!r}, which "
                f"holds {str(source)!r}. Spark replaces the whole output folder: write to "
                f"a new folder, so the {role} stays intact."
            )
        if source.is_dir() and inside(target, source):
            raise DataError(
                f"the output must not be inside the {role} folder; got {str(target)!r} in "
                f"{str(source)!r}. Write it to another folder, so the {role} stays intact."
            )
        if not folder and same_path(target, source):
            raise DataError(
                f"the output must not be the {role}; got {str(target)!r}, which is "
                f"{str(source)!r}. Write to another file, so the {role} is not overwritten."
            )


def _check_writable(target: Path) -> None:
    """Refuse a destination whose nearest existing folder is a file or not writable."""
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise FileError(
            f"the output's folder must be a folder; {str(folder)!r} is a file. Fix the path."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = False
        try:
            read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except (OSError, AttributeError):
            pass
        why = "the file system is read-only" if read_only else "permission denied"
        raise FileError(
            f"folder {str(folder)!r} must be writable to write {str(target)!r}; {why}. "
            "Write to another folder."
        )
