"""Writing outputs so that they appear whole or not at all, and faults in plain words.

A file is written to a temporary file beside its destination, named
``.<name>.mqlml-partial-<pid>.<random>.tmp``, and renamed over the destination only when
complete; the files of one command (:func:`atomic_outputs`) are all written first and
renamed together at the end. A folder of outputs (a report, a scorecard, a bundle) is
written to a staging folder of the same name pattern and swapped in whole
(:func:`atomic_folder`). A run that is killed (SIGKILL, power loss) cannot remove its
temporary files; any later run writing to the same folder removes those whose process
is gone. SIGTERM and SIGINT become :class:`Interrupted`, so the temporary files are
removed on the way out. Operating-system errors (disk full, read-only file system, no
permission) become one :class:`FileError` naming the path.

Before any work, :func:`check_destination` (a file) and :func:`check_output_folder` (a
folder) refuse an output that would destroy an input, another output of the same
command or a bundle.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mqlml.errors import FileError

__all__ = [
    "Interrupted",
    "atomic_folder",
    "atomic_output",
    "atomic_outputs",
    "bundle_around",
    "check_destination",
    "check_output_folder",
    "file_error",
    "handle_signals",
    "inside",
    "partial_files",
    "remove_stale",
    "same_path",
]

_MARK = "mqlml-partial"
#: What any run leaves beside an output while writing it; group 1 is the writer's pid.
_PARTIAL = re.compile(rf"^\..+\.{_MARK}-(\d+)\.[A-Za-z0-9_]+\.tmp$")


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
    """Temporary files or folders left beside ``target`` by runs writing to it (any process)."""
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
    """Remove what killed runs left in ``target``'s folder; return what was removed.

    Every temporary file or staging folder of mqlml in that folder (for any output, not
    only ``target``) whose writer's process is gone is removed. One whose process still
    runs (another job writing there) is kept.
    """
    folder = Path(target).parent
    removed = []
    try:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return removed
    for path in entries:
        found = _PARTIAL.match(path.name)
        if found is None or _alive(int(found.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _partial(target: Path) -> Path:
    """A new name beside ``target`` for this process's temporary file or folder."""
    suffix = os.urandom(4).hex()
    return target.parent / f".{target.name}.{_MARK}-{os.getpid()}.{suffix}.tmp"


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
def atomic_outputs(*targets: str | Path) -> Iterator[list[Path]]:
    """Yield one temporary path beside each target; rename them all in on success.

    The outputs of one command appear together or not at all: on any exception (or
    interrupt) every temporary file is removed and every target is left as it was; on
    success the complete files are renamed over their targets one after the other, with
    nothing else in between (a rename in one folder does not fill a disk). What killed
    runs left in the targets' folders is removed first (:func:`remove_stale`). The files
    get the usual permissions (0666 less the umask), not the private ones of a temporary
    file. An OSError in the block names the first target.

    Raises
    ------
    FileError
        When a folder cannot be made or written to (the path and the reason named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_outputs(d / "scores.csv", d / "accounts.csv") as (a, b):
    ...     _ = a.write_text("id\\n"), b.write_text("account\\n")
    >>> sorted(p.name for p in d.iterdir())
    ['accounts.csv', 'scores.csv']
    """
    paths = [Path(t) for t in targets]
    tmps: list[Path] = []
    try:
        for target in paths:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                remove_stale(target)
                tmp = _partial(target)
                tmp.touch(exist_ok=False)
            except OSError as exc:
                raise file_error(exc, target) from None
            tmps.append(tmp)
        try:
            yield tmps
            for tmp in tmps:
                os.chmod(tmp, 0o666 & ~_umask())
        except OSError as exc:
            if isinstance(exc, FileError):
                raise
            raise file_error(exc, paths[0]) from None
        for tmp, target in zip(tmps, paths, strict=True):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise file_error(exc, target) from None
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    On any exception (or interrupt) the temporary file is removed and ``target`` is left
    as it was, so a failure or a kill mid-way never leaves a partial output. See
    :func:`atomic_outputs`, of which this is the one-file case.

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
    with atomic_outputs(target) as (tmp,):
        yield tmp


@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; swap it in for ``target`` on success.

    The files of a folder output (a report, a scorecard, a bundle) are written into the
    staging folder; only when the block succeeds is an existing ``target`` moved aside,
    the staging folder renamed to ``target`` and the old folder removed. A failure (a
    full disk) or an interrupt leaves ``target`` as it was, never half old and half new.
    Whatever else ``target`` holds is replaced too: check it first
    (:func:`check_output_folder`).

    Raises
    ------
    FileError
        When the folder cannot be made or written to (the path and the reason named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> with atomic_folder(out) as staging:
    ...     _ = (staging / "report.md").write_text("# report\\n")
    >>> [p.name for p in out.iterdir()]
    ['report.md']
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        staging = _partial(target)
        staging.mkdir()
    except OSError as exc:
        raise file_error(exc, target) from None
    old = None
    try:
        yield staging
        if os.path.lexists(target):
            old = _partial(target)
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except OSError:
                os.rename(old, target)
                old = None
                raise
        else:
            os.rename(staging, target)
    except OSError as exc:
        if isinstance(exc, FileError):
            raise
        raise file_error(exc, target) from None
    finally:
        for path in (staging, old):
            if path is not None and path.exists():
                shutil.rmtree(path, ignore_errors=True)


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
    target: str | Path,
    sources: dict[str, str | Path | None] | None = None,
    *,
    name: str = "the output",
) -> None:
    """Refuse, before any work, a destination that would destroy a source or cannot be written.

    Parameters
    ----------
    target : path
        The file about to be written.
    sources : dict, optional
        What must survive, by role: ``{"input": path, "model": folder}``, including the
        command's other outputs (``{"scores output": path}``). A file source may not be
        the target; a folder source may not contain it.
    name : str, default="the output"
        The output as the message names it (e.g. ``"--accounts"``).

    Raises
    ------
    DataError
        When the target is a source file, lies inside a source folder or any bundle
        folder, or is a folder.
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
    _check_sources(target, sources, name, folder=False)
    if target.is_dir():
        raise DataError(
            f"{name} must be a file, not a folder; got {str(target)!r}. Add a file "
            f"name, e.g. {str(target / 'scores.csv')!r}."
        )
    _check_writable(target)


#: What a folder written by Spark holds: part files, checksums, markers (name patterns).
SPARK_FILES = ("part-*", "_SUCCESS", "_committed*", "_started*", ".part-*", "._SUCCESS*")
#: The files that mark a bundle folder (written by mqlml.model).
BUNDLE_FILES = ("manifest.json", "bundle.sha256")


def check_output_folder(
    target: str | Path,
    sources: dict[str, str | Path | None] | None = None,
    *,
    name: str = "the output folder",
    own: tuple[str, ...] | None = SPARK_FILES,
    kind: str = "a previous Spark output",
    replace: bool = True,
) -> None:
    """Refuse, before any work, an output folder that replacing would destroy sources.

    A folder output (Spark's part files, a report, a scorecard, a bundle) replaces an
    existing folder of that name whole, whatever it holds. This refuses what
    :func:`check_destination` refuses for a file, and also a folder that is or holds a
    source (replacing it deletes the source), and an existing folder that holds anything
    but what an earlier run of the same command wrote (``own``).

    Parameters
    ----------
    target : path
        The local output folder about to be (re)written.
    sources : dict, optional
        What must survive, by role: ``{"input": path, "model": folder}``.
    name : str, default="the output folder"
        The output as the message names it (e.g. ``"--out"``).
    own : tuple of str or None
        Name patterns (``fnmatch``) of what an earlier output holds (default: Spark's
        part files and markers); anything else in an existing folder is refused. None
        accepts any content (the writer checks it itself, as a bundle does).
    kind : str
        What an earlier output is, for the message ("a previous report").
    replace : bool, default=True
        Whether an existing folder may be replaced at all (a command's ``--force``).

    Raises
    ------
    DataError
        When the target is or holds a source, lies inside a source folder or a bundle
        folder, is a file, is a folder with other files in it, or exists without
        ``replace``.
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
    _check_sources(target, sources, name, folder=True)
    if target.exists() and not target.is_dir():
        raise DataError(
            f"{name} must name a folder, not a file; got {str(target)!r}. Give a new folder name."
        )
    if target.is_dir() and not replace:
        raise DataError(
            f"{name} must not exist yet; {str(target)!r} exists. Pass --force to replace "
            "it, or give another folder."
        )
    if target.is_dir() and own is not None:
        other = sorted(
            p.name
            for p in target.iterdir()
            if not any(fnmatch.fnmatchcase(p.name, pattern) for pattern in own)
        )
        if other:
            raise DataError(
                f"{name} must be new or {kind}; {str(target)!r} holds {len(other)} other "
                f"entries (e.g. {other[0]!r}), which replacing the folder would delete. "
                "Give a new folder name."
            )
    _check_writable(target)


def bundle_around(path: str | Path) -> Path | None:
    """The bundle folder that ``path`` lies inside (not ``path`` itself), or None."""
    for folder in Path(path).resolve().parents:
        if all((folder / marker).is_file() for marker in BUNDLE_FILES):
            return folder
    return None


def _check_sources(
    target: Path, sources: dict[str, str | Path | None] | None, name: str, *, folder: bool
) -> None:
    """Refuse a target that would destroy one of ``sources`` (by role; ``None`` skipped).

    Both kinds of target may not lie inside a source folder, nor inside any bundle
    folder. A file target (``folder`` false) may not be a source file, by any spelling
    or link; a folder target may not be or hold a source, since replacing the folder
    deletes what it holds.
    """
    from mqlml.errors import DataError

    for role, source in (sources or {}).items():
        if source is None:
            continue
        source = Path(source)
        if folder and inside(source, target):
            raise DataError(
                f"{name} must not hold the {role}; got {str(target)!r}, which holds "
                f"{str(source)!r}. Writing it replaces the whole folder: write to a new "
                f"folder, so the {role} stays intact."
            )
        if source.is_dir() and inside(target, source):
            raise DataError(
                f"{name} must not be inside the {role} folder; got {str(target)!r} in "
                f"{str(source)!r}. Write it to another folder, so the {role} stays intact."
            )
        if not folder and same_path(target, source):
            raise DataError(
                f"{name} must not be the {role}; got {str(target)!r}, which is "
                f"{str(source)!r}. Write to another file, so the {role} is not overwritten."
            )
    bundle = bundle_around(target)
    if bundle is not None:
        raise DataError(
            f"{name} must not be inside a bundle folder; got {str(target)!r} in "
            f"{str(bundle)!r}. Write it to another folder, so the bundle stays intact."
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
