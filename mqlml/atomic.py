"""Writing a file so that it appears whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    On any exception (or interrupt) the temporary file is removed and ``target`` is left
    as it was, so a failure or a kill mid-way never leaves a partial output. The file
    gets the usual permissions (0666 less the umask), not the private ones of a
    temporary file.

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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
