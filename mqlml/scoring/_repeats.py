"""Counting repeated ids across a file in bounded memory.

Batch scoring counts the rows whose id repeats an earlier row's (an error with
``--unique-ids``, a warning otherwise). Each id is hashed to 64 bits with simple
tabulation hashing over its UTF-8 bytes (a seeded random table per byte position,
combined with XOR, then the length mixed in): for any two different ids the chance of
equal hashes is about 2**-64, whatever the ids look like, so on a file of 100 million
leads a false repeat has a chance of about 3 in 10,000.

The hashes stay in memory up to a budget (4 MB by default: 500,000 ids); beyond it
they are spilled to 64 files in a temporary folder by their top 6 bits, and the repeats
are counted one file at a time. Memory then stays flat as the file grows (a 64th of the
hashes at the end); the folder holds 8 bytes per id and is removed when counting ends.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.scoring._kernels import xor_hashes

__all__ = ["RepeatCounter", "hash_ids"]

_SEED = 20261202
_MIX = np.uint64(0x9E3779B97F4A7C15)
_table = np.zeros((0, 256), dtype=np.uint64)


def _positions(width: int) -> np.ndarray:
    """The tabulation table for byte positions 0..width-1 (grown on demand, seeded)."""
    global _table
    while len(_table) < width:  # blocks of 256 positions, each from its own seed
        rng = np.random.default_rng([_SEED, len(_table) // 256])
        block = rng.integers(0, 2**64, size=(256, 256), dtype=np.uint64)
        _table = np.concatenate([_table, block])
    return _table


def _finish(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (spreads the length mixed into the low bits)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def hash_ids(ids: pa.Array) -> np.ndarray:
    """64-bit hashes of non-null text ids (equal ids, equal hashes).

    Parameters
    ----------
    ids : pyarrow.Array of string or large_string, without nulls

    Returns
    -------
    numpy.ndarray of uint64, one per id

    Examples
    --------
    >>> import pyarrow as pa
    >>> h = hash_ids(pa.array(["L1", "L2", "L1", ""]))
    >>> bool(h[0] == h[2]), bool(h[0] != h[1]), bool(h[3] != h[0])
    (True, True, True)
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if not pa.types.is_large_string(ids.type):
        ids = ids.cast(pa.large_string())  # one offset width below
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if ids.null_count:
        raise ValueError("hash_ids needs ids without nulls")
    _, offsets_buffer, data_buffer = ids.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[ids.offset : ids.offset + n + 1]
    lengths = np.diff(offsets)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8, count=end)[start:]
        if end
        else np.zeros(0, np.uint8)
    )
    table = _positions(int(lengths.max()))
    h = xor_hashes(data, offsets[:-1] - start, lengths, table)
    return _finish(h ^ (lengths.astype(np.uint64) * _MIX))


class RepeatCounter:
    """Count rows whose id repeats an earlier row's, in bounded memory.

    Parameters
    ----------
    budget : int
        Hashes kept in memory before spilling to disk.

    Examples
    --------
    >>> import pyarrow as pa
    >>> with RepeatCounter(budget=2) as counter:
    ...     counter.add(pa.array(["a", "b", "a"]))
    ...     counter.add(pa.array(["c", "a", "b"]))
    ...     counter.count()
    3
    """

    BUCKETS = 64

    def __init__(self, budget: int = 500_000) -> None:
        self.budget = max(int(budget), 1)
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._folder: Path | None = None

    def add(self, ids: pa.Array) -> None:
        """Add the ids of one batch (non-null text)."""
        hashes = hash_ids(ids)
        self._parts.append(hashes)
        self._held += len(hashes)
        if self._held > self.budget:
            self._spill()

    def _spill(self) -> None:
        if not self._parts:
            return
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="mqlml-ids-"))
        values = np.concatenate(self._parts)
        self._parts, self._held = [], 0
        bucket = (values >> np.uint64(58)).astype(np.uint8)
        order = np.argsort(bucket, kind="stable")  # a radix sort for 8-bit keys
        values, ends = values[order], np.cumsum(np.bincount(bucket, minlength=self.BUCKETS))
        start = 0
        for b, end in enumerate(ends):
            if end > start:
                with open(self._folder / f"{b:02d}.u64", "ab") as handle:
                    values[start:end].tofile(handle)
            start = end

    def count(self) -> int:
        """Rows whose id equals an earlier row's (all rows added so far)."""
        if self._folder is None:
            return _repeats(np.concatenate(self._parts)) if self._parts else 0
        self._spill()
        total = 0
        for path in sorted(self._folder.glob("*.u64")):
            total += _repeats(np.fromfile(path, dtype=np.uint64))
        return total

    def close(self) -> None:
        """Remove the spill folder."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._parts, self._held = [], 0

    def __enter__(self) -> RepeatCounter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _repeats(values: np.ndarray) -> int:
    values.sort()
    return int(np.count_nonzero(values[1:] == values[:-1]))


def present_ids(ids: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The non-blank ids and the positions of the blank ones (null or only spaces)."""
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    mask = blank.to_numpy(zero_copy_only=False)
    if not mask.any():
        return ids, np.zeros(0, dtype=np.intp)
    return ids.filter(pc.invert(blank)), np.flatnonzero(mask)
