"""Tight loops of batch scoring in C, compiled once per machine and loaded with ctypes.

Summing path tables over each lead's leaves (the reasons), picking each lead's strongest
reasons, writing them out as text and hashing ids are loops numpy and Arrow run in
several passes. ``kernels.c`` holds them
as plain C; the first call compiles it with the system C compiler (``$CC``, else ``cc``,
the compiler the compiled trees already use) into the private cache (mqlml.scoring:
``$XDG_CACHE_HOME/mqlml/kernels``, a 0700 folder whose entries carry a keyed hash checked
before loading), keyed by the source, and every later process only loads the library (about
a millisecond; numba, tried first, took 0.9 s to import and load in each process). The
calls release the GIL, so callers run them on slices in threads.

Without a compiler, or with ``MQLML_KERNELS=0``, the vectorised numpy, scipy or Arrow
code beside each call gives the same numbers and text (every sum in the same order), only
slower.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mqlml.scoring._cache import PrivateCache

__all__ = [
    "join_reasons",
    "leaf_type",
    "path_sums",
    "reason_slots",
    "unpack_leaves",
    "xor_hashes",
]

log = logging.getLogger(__name__)
_SOURCE = Path(__file__).with_name("kernels.c")
_P = ctypes.c_void_p
_I = ctypes.c_int64
_SIGNATURES = {
    "path_sums_f64": ([_P, _I, _I, _P, _P, _I, _P], None),
    "path_sums_i32": ([_P, _I, _I, _P, _P, _I, _P], None),
    "path_sums_u16": ([_P, _I, _I, _P, _P, _I, _P], None),
    "path_sums_u8": ([_P, _I, _I, _P, _P, _I, _P], None),
    "unpack_leaves_i32": ([_P, _I, _I, _I, _I, _P], None),
    "unpack_leaves_u16": ([_P, _I, _I, _I, _I, _P], None),
    "unpack_leaves_u8": ([_P, _I, _I, _I, _I, _P], None),
    "reason_slots": ([_P, _I, _I, _I, ctypes.c_double, ctypes.c_int32, _P, _P, _P, _P, _P], _I),
    "xor_hashes": ([_P, _P, _P, _I, _P, _P], None),
    "join_reasons": ([_I] + [_P] * 11, _I),
}
_lock = threading.Lock()
_loaded: list[ctypes.CDLL | None] = []  # empty until the first call


def _library() -> ctypes.CDLL | None:
    """The compiled loops (built on first use), or None where they cannot be built."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(None if os.environ.get("MQLML_KERNELS") == "0" else _load())
    return _loaded[0]


def _load() -> ctypes.CDLL | None:
    try:
        source = _SOURCE.read_bytes()
    except OSError as exc:  # a copy of the package without its C source
        return _unavailable(exc)
    compiler = os.environ.get("CC") or "cc"
    key = hashlib.sha256(source + f"{compiler}:{sys.platform}".encode()).hexdigest()[:16]
    entry = f"kernels-{key}.so"
    cache = PrivateCache("kernels")
    try:
        if cache.verified(entry):
            lib = ctypes.CDLL(str(cache.path(entry)))
        else:
            with tempfile.TemporaryDirectory(prefix="mqlml-kernels-") as work:
                built = Path(work) / "kernels.so"
                _compile(compiler, built)
                cached = cache.write(entry, built.read_bytes())
                lib = ctypes.CDLL(str(cached or built))  # a read-only cache: the build itself
    except (OSError, subprocess.SubprocessError) as exc:
        return _unavailable(exc)
    for name, (arguments, result) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = arguments, result
    return lib


def _compile(compiler: str, target: Path) -> None:
    command = [compiler, "-O3", "-std=c99", "-fPIC", "-shared", "-o", str(target), str(_SOURCE)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _unavailable(exc: BaseException) -> None:
    detail = getattr(exc, "stderr", b"") or b""
    log.info(
        "mqlml.scoring._kernels: numpy loops used, the C loops did not build: %s %s",
        exc,
        detail[:200],
    )
    return None


def _address(array: np.ndarray) -> int:
    return array.ctypes.data


def _path_sums_numpy(leaves, offsets, flat, out):
    from scipy.sparse import csr_matrix

    trees = len(offsets)
    index = (leaves.astype(np.int64) + offsets).ravel()
    starts = np.arange(0, index.size + 1, trees, dtype=np.int64)
    picks = csr_matrix((np.ones(index.size), index, starts), shape=(len(leaves), len(flat)))
    out[:] = picks @ flat


_LEAF_TYPES = {np.dtype(np.int32): "i32", np.dtype(np.uint16): "u16", np.dtype(np.uint8): "u8"}
"""Integer leaf types the C loops read, by the suffix of their names."""


def path_sums(
    leaves: np.ndarray, offsets: np.ndarray, flat: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Sum one row of ``flat`` per tree for each row of leaves, in tree order.

    Parameters
    ----------
    leaves : numpy.ndarray of shape (n_rows, n_trees)
        Leaf index per tree (integers, uint8, uint16 and int32 read as they are, or
        whole floats as compiled trees give them).
    offsets : numpy.ndarray of int64, shape (n_trees,)
        Where each tree's leaves start in ``flat``.
    flat : numpy.ndarray of shape (n_leaves, k)
        One row per leaf of the model, the trees' leaves stacked.
    out : numpy.ndarray of float64, shape (n_rows, k), C-contiguous, optional
        Written in place and returned (a new array when omitted).

    Returns
    -------
    numpy.ndarray of shape (n_rows, k)
        ``sum(flat[offsets[t] + leaves[:, t]] for t in trees)``, summed from 0.0 in tree
        order (the same numbers with or without the C loops).
    """
    if out is None:
        out = np.empty((len(leaves), flat.shape[1]), dtype=np.float64)
    elif out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous float64 array.")
    if len(leaves) and len(offsets):
        lib = _library()
        if lib is None:
            _path_sums_numpy(leaves, offsets, flat, out)
        else:
            flat = np.ascontiguousarray(flat, dtype=np.float64)
            offsets = np.ascontiguousarray(offsets, dtype=np.int64)
            kind = leaves.dtype if leaves.dtype in _LEAF_TYPES else np.dtype(np.float64)
            leaves = np.ascontiguousarray(leaves, dtype=kind)
            call = getattr(lib, f"path_sums_{_LEAF_TYPES.get(kind, 'f64')}")
            n, trees = leaves.shape
            call(_address(leaves), n, trees, _address(offsets), _address(flat), flat.shape[1],
                 _address(out))  # fmt: skip
    else:
        out[:] = 0.0
    return out


def leaf_type(bits: int) -> np.dtype:
    """The smallest integer type of ``bits``-bit leaf numbers (uint8, uint16 or int32)."""
    return np.dtype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.int32)


def _unpack_leaves_numpy(packed, trees, bits, out):
    k = packed.shape[1]
    whole = packed.astype(np.int64)
    for i in range(-(-trees // k)):
        end = min(trees, (i + 1) * k)
        out[:, i * k : end] = (whole[:, : end - i * k] >> (bits * i)) & ((1 << bits) - 1)


def unpack_leaves(
    packed: np.ndarray, trees: int, bits: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Each row's leaf numbers from the packed outputs of the compiled trees.

    Parameters
    ----------
    packed : numpy.ndarray of float64, shape (n_rows, k)
        Output ``j`` is the sum over trees ``t = i * k + j`` of the leaf number of tree
        ``t`` times ``2 ** (bits * i)`` (whole numbers below ``2 ** 53``).
    trees : int
        Trees in the model.
    bits : int
        Bits per leaf number.
    out : numpy.ndarray, optional
        Written in place and returned: shape (n_rows, trees), C-contiguous, of
        :func:`leaf_type` ``(bits)`` (a new array when omitted).

    Returns
    -------
    numpy.ndarray of shape (n_rows, trees), of :func:`leaf_type` ``(bits)``
    """
    packed = np.ascontiguousarray(packed, dtype=np.float64)
    kind = leaf_type(bits)
    if out is None:
        out = np.empty((len(packed), trees), dtype=kind)
    elif out.dtype != kind or out.shape != (len(packed), trees) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {kind} array of {len(packed)} x {trees}.")
    if not out.size:
        return out
    lib = _library()
    if lib is None:
        _unpack_leaves_numpy(packed, trees, bits, out)
    else:
        call = getattr(lib, f"unpack_leaves_{_LEAF_TYPES[kind]}")
        call(_address(packed), len(packed), packed.shape[1], trees, bits, _address(out))
    return out


def _reason_slots_numpy(values, top, floor, positive, rows, columns, picked, counts):
    order = np.argsort(-values, axis=1, kind="stable")
    chosen = order[:, :top] if positive else order[:, ::-1][:, :top]
    got = np.take_along_axis(values, chosen, axis=1)
    keep = got > floor if positive else got < -floor
    keep = np.cumprod(keep, axis=1).astype(bool)  # kept reasons are a prefix
    r, s = np.nonzero(keep)
    at = len(r)
    rows[:at], columns[:at], picked[:at] = r, chosen[r, s], got[r, s]
    counts[:] = keep.sum(axis=1)
    return at


def reason_slots(
    values: np.ndarray, top: int, *, positive: bool, floor: float = 0.005
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``top`` strongest contributions of each row on one side, strongest first.

    Parameters
    ----------
    values : numpy.ndarray of shape (n_rows, n_features)
        Contributions.
    top : int
        At most this many per row (``top <= n_features``).
    positive : bool
        The largest values above ``floor`` (ties: the first column), or the smallest
        below ``-floor`` (ties: the last column).
    floor : float
        Contributions no larger in size are no reason.

    Returns
    -------
    (rows, columns, values, counts)
        One entry per reason, row by row and strongest first within a row; ``counts``
        is the number of reasons of each row.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    n, top = len(values), min(top, values.shape[1])
    rows = np.empty(n * top, dtype=np.int64)
    columns = np.empty(n * top, dtype=np.int64)
    picked = np.empty(n * top, dtype=np.float64)
    counts = np.zeros(n, dtype=np.int64)
    if n and top:
        lib = _library()
        if lib is None:
            at = _reason_slots_numpy(values, top, floor, positive, rows, columns, picked, counts)
        else:
            used = np.zeros(values.shape[1], dtype=np.uint8)
            at = lib.reason_slots(
                _address(values), n, values.shape[1], top, floor, int(positive),
                _address(rows), _address(columns), _address(picked), _address(counts),
                _address(used),
            )  # fmt: skip
    else:
        at = 0
    return rows[:at], columns[:at], picked[:at], counts


def _xor_hashes_numpy(data, firsts, lengths, table, out):
    out[:] = 0
    end = int(lengths.sum())
    if end:
        position = np.arange(end, dtype=np.int64) - np.repeat(firsts, lengths)
        values = table.ravel()[position * 256 + data[:end].astype(np.int64)]
        full = lengths > 0
        out[full] = np.bitwise_xor.reduceat(values, firsts[full])


def xor_hashes(data: np.ndarray, firsts: np.ndarray, lengths: np.ndarray, table: np.ndarray):
    """Tabulation hashes: per string, the XOR of ``table[position, byte]`` over its bytes.

    Parameters
    ----------
    data : numpy.ndarray of uint8
        The strings' bytes back to back (no gaps), as in an Arrow string array.
    firsts, lengths : numpy.ndarray of int64
        Where each string starts in ``data`` and how many bytes it has.
    table : numpy.ndarray of uint64, shape (>= max length, 256)
        One random word per byte position and value.

    Returns
    -------
    numpy.ndarray of uint64
        0 for an empty string.
    """
    out = np.zeros(len(firsts), dtype=np.uint64)
    if len(firsts):
        lib = _library()
        if lib is None:
            _xor_hashes_numpy(data, firsts, lengths, table, out)
        else:
            data = np.ascontiguousarray(data, dtype=np.uint8)
            firsts = np.ascontiguousarray(firsts, dtype=np.int64)
            lengths = np.ascontiguousarray(lengths, dtype=np.int64)
            table = np.ascontiguousarray(table, dtype=np.uint64)
            lib.xor_hashes(_address(data), _address(firsts), _address(lengths), len(firsts),
                           _address(table), _address(out))  # fmt: skip
    return out


_CENTS = 10_000  # signed strings kept in a table up to +-100.00
_SIGNED: list[pa.Array] = []  # "+0.00" ... "+99.99", then "-0.00" ... "-99.99"


def _signed(cents: np.ndarray, negative: np.ndarray) -> pa.Array:
    """``+0.81`` / ``-0.20`` for each number of cents, from a table of them."""
    if len(cents) and cents.max() >= _CENTS:  # rare: formatted one by one
        return pa.array(
            [
                f"{'-' if m else '+'}{c // 100}.{c % 100:02d}"
                for m, c in zip(negative, cents, strict=True)
            ],
            pa.string(),
        )
    if not _SIGNED:
        text = [f"{c // 100}.{c % 100:02d}" for c in range(_CENTS)]
        _SIGNED.append(pa.array([f"+{t}" for t in text] + [f"-{t}" for t in text]))
    return _SIGNED[0].take(pa.array(cents + np.where(negative, _CENTS, 0)))


def _join_reasons_arrow(counts, columns, cents, negative, prefixes, texts, index):
    pieces = pc.binary_join_element_wise(
        pa.array(prefixes, pa.string()).take(pa.array(columns)),
        texts.take(pa.array(index)),
        " (",
        _signed(cents, negative),
        ")",
        "",
    )
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), pieces), "; ")


def join_reasons(
    counts: np.ndarray,
    columns: np.ndarray,
    values: np.ndarray,
    prefixes: Sequence[str],
    texts: pa.Array,
    index: np.ndarray,
) -> pa.Array:
    """Reason strings: ``"visits=4 (+0.81); country=missing (-0.20)"`` per row.

    Parameters
    ----------
    counts : numpy.ndarray of int64, shape (n_rows,)
        How many reasons each row has; row ``i`` takes the next ``counts[i]`` reasons.
    columns : numpy.ndarray of int64, shape (n_reasons,)
        Each reason's column, an index into ``prefixes``.
    values : numpy.ndarray of float64, shape (n_reasons,)
        Each reason's contribution, shown signed with two decimals.
    prefixes : sequence of str
        Per column, what a reason starts with (``"visits="``).
    texts : pyarrow.Array of strings
        The values shown; reason ``r`` shows ``texts[index[r]]``.
    index : numpy.ndarray of int64, shape (n_reasons,)

    Returns
    -------
    pyarrow.Array of strings, one per row
        Reasons joined by ``"; "``; empty for a row with none.
    """
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    cents = np.rint(np.abs(values) * 100).astype(np.int64)
    negative = np.ascontiguousarray(values < 0, dtype=np.uint8)
    texts = texts.cast(pa.string())
    lib = _library()
    if lib is None:
        return _join_reasons_arrow(counts, columns, cents, negative, prefixes, texts, index)
    encoded = [p.encode() for p in prefixes]
    prefix_data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    prefix_offsets = np.concatenate([[0], np.cumsum([len(p) for p in encoded])]).astype(np.int64)
    _, offsets, data = texts.buffers()
    text_offsets = np.frombuffer(offsets, np.int32, len(texts) + 1, texts.offset * 4)
    empty = data is None or not data.size
    text_data = np.zeros(1, np.uint8) if empty else np.frombuffer(data, np.uint8)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    index = np.ascontiguousarray(index, dtype=np.int64)
    ends = np.empty(len(counts), dtype=np.int64)
    arrays = [counts, columns, cents, negative, index, prefix_data, prefix_offsets, text_data,
              text_offsets, ends]  # fmt: skip
    arguments = [len(counts), *map(_address, arrays)]
    total = lib.join_reasons(*arguments, None)  # the sizes, then the bytes
    out = np.empty(max(total, 1), dtype=np.uint8)
    lib.join_reasons(*arguments, _address(out))
    kind, width = (pa.string(), np.int32) if total < 2**31 else (pa.large_string(), np.int64)
    buffers = [None, pa.py_buffer(np.concatenate([[0], ends]).astype(width)), pa.py_buffer(out)]
    return pa.Array.from_buffers(kind, len(counts), buffers)
