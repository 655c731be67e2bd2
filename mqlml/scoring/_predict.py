"""Predictors: LightGBM itself, or the same trees compiled to native code, behind one interface.

A predictor turns the model's prepared frame (``LeadScorer._prepare``: category codes and
floats) into what scoring needs:

``raw(inputs)``
    the log-odds;
``scores(inputs)``
    the log-odds and the group parts of the path attribution (fit and engagement
    sub-scores, see mqlml.scoring), which sum with the base to the log-odds;
``contributions(inputs, rows)``
    per-column path contributions of some rows (the leads that get reasons);
``explain(inputs, select)``
    all three at once, the rows chosen from the log-odds (both predictors then read
    everything from one walk of each row's leaves).

``lightgbm``
    ``booster.predict`` (one ``pred_leaf`` call, then per-leaf sums of the leaf values and
    the path parts, in tree order: the log-odds LightGBM gives): no extra needed.
``compiled``
    the trees compiled to native code by pylignum (the ``fast`` extra, a C
    compiler at first use). Its log-odds equal LightGBM's bit for bit on every model
    tried. The sub-scores are tree ensembles too, with the same splits and the path
    attribution of each leaf as leaf values, so they are compiled with the model into
    one multi-output ensemble (subtrees with one value merged; the model's own output
    stays bit-identical). The trees are compiled once more with their leaf numbers as
    values, packed several trees to an output (:meth:`ModelText.leaf_numbers`): one
    walk gives the leaves every row reaches, unpacked by mqlml.scoring. Batch scoring
    walks those leaves once per row and sums over them, in tree order, the leaf values
    (the log-odds, bit for bit what LightGBM and the scores engine give), the sub-score
    parts and, for the rows with reasons, the path tables: cheaper than the scores
    engine (two outputs, the fit sub-score pruned) even without reasons. The scores
    engine serves the parity check, :meth:`CompiledPredictor.raw` and batches whose
    leaves exceed :data:`LEAVES_BUDGET`.
``auto``
    ``compiled`` when it is installed, compiles and passes the parity check, otherwise
    ``lightgbm``, with one logged line saying why; likewise the leaves behind reasons
    (compiled and checked when first needed) come from LightGBM when they fail.

The parity check predicts a sample built from the model's own split points (each
threshold, its neighbours, NaN, every category code incl. the rare level) plus any rows the
caller passes, with LightGBM and with the compiled trees: the largest difference in
log-odds (and in sub-scores against the path attribution from LightGBM's leaves) must be
at most :data:`PARITY_TOLERANCE`, and the compiled leaf numbers must equal LightGBM's
``pred_leaf`` exactly. LightGBM's answers on the sample are kept in the cache (plain
arrays, keyed by the model text, the LightGBM version, the groups and the caller's rows);
the compiled trees predict the sample again on every load.

Compiled libraries are built once per model and kept in the private cache (mqlml.scoring:
``$XDG_CACHE_HOME/mqlml/compiled``, never beside the bundle), keyed by the sha256 of the
model text. Every entry (library, lignum model, per-leaf tables, LightGBM's answers) is
written with a keyed hash and read only when it matches, so a planted or edited file is
rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mqlml.errors import MqlmlError
from mqlml.scoring._ahead import thread_count
from mqlml.scoring._cache import PrivateCache, cache_home
from mqlml.scoring._explain import PathAttribution
from mqlml.scoring._kernels import leaf_type, unpack_leaves
from mqlml.scoring._trees import ModelText

__all__ = [
    "PARITY_TOLERANCE",
    "PREDICTORS",
    "CompiledPredictor",
    "LightGBMPredictor",
    "PredictorError",
    "default_cache_dir",
    "float_matrix",
    "make_predictor",
]

PredictorName = Literal["auto", "lightgbm", "compiled"]
Selector = Callable[[np.ndarray], np.ndarray]
Explained = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
PREDICTORS: tuple[str, ...] = ("auto", "lightgbm", "compiled")
_DERIVATION = 1  # how the compiled ensembles are derived from the model (in cache names)
PARITY_TOLERANCE = 1e-9
"""Largest difference in log-odds the compiled trees may show against LightGBM."""
LEAVES_BUDGET = 64 * 2**20
"""Most bytes of leaf numbers held for one batch with reasons (larger frames walk the
scores first)."""
LEAVES_SLICE = 2_000_000
"""Leaf numbers walked and summed at a time (slices that stay in the caches)."""
_FROM_LIGHTGBM = object()  # the leaves engine failed: leaves come from pred_leaf

log = logging.getLogger(__name__)
# The fallback warnings already logged by this process: one job builds a predictor for
# each step (report, scores, monitoring...), and the same reason is said once.
_SAID: set[str] = set()
_SAID_LOCK = threading.Lock()


def _warn_once(message: str) -> None:
    """Log ``message`` as a warning, unless this process has logged it already."""
    with _SAID_LOCK:
        if message in _SAID:
            return
        _SAID.add(message)
    log.warning(message)


class PredictorError(MqlmlError, RuntimeError):
    """The compiled predictor is not installed, failed to compile or disagrees with LightGBM."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mqlml/compiled`` (``~/.cache/mqlml/compiled`` by default)."""
    return cache_home() / "compiled"


def float_matrix(data: pd.DataFrame) -> np.ndarray:
    """The model's prepared frame as a C-contiguous float64 matrix.

    Category columns become their codes, missing as NaN: what LightGBM itself makes of a
    pandas frame with categorical columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": pd.Categorical(["x", None, "y"]), "b": [1.0, 2.0, 3.0]})
    >>> float_matrix(frame).tolist()
    [[0.0, 1.0], [nan, 2.0], [1.0, 3.0]]
    """
    out = np.empty((len(data), data.shape[1]), dtype=np.float64)
    for j, name in enumerate(data.columns):
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy()
            out[:, j] = codes
            out[codes < 0, j] = np.nan
        else:
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _leaf_outputs(text: ModelText, path: PathAttribution, groups: np.ndarray) -> list:
    """Per output, per tree, the leaf values: the model's own, then each leaf's path part
    of each group but the last (which is what remains of the log-odds)."""
    values = [np.array(t["leaf_value"].split(" "), dtype=np.float64) for t in text.trees]
    return [values] + [[t @ g for t in path.tables] for g in groups.T[:-1]]


def _stacked(outputs: list) -> np.ndarray:
    """:func:`_leaf_outputs` as one row per leaf (trees stacked as the path tables), one
    column per output: summed in tree order over a row's leaves, the log-odds as LightGBM
    sums them and the parts as the compiled scores give them, bit for bit."""
    return np.column_stack([np.concatenate(o) for o in outputs])


def _parts(out: np.ndarray, base: float) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds and group parts from the summed outputs (the last group is the log-odds
    minus the base and the others)."""
    raw = np.ascontiguousarray(out[:, 0])
    sub = np.empty((len(raw), out.shape[1]))
    sub[:, :-1] = out[:, 1:]
    sub[:, -1] = raw - base - out[:, 1:].sum(axis=1)
    return raw, sub


class LightGBMPredictor:
    """Predict with the LightGBM booster (``pred_leaf`` and per-leaf path sums).

    Parameters
    ----------
    model : mqlml.model.LeadScorer
        A fitted LightGBM scorer.
    groups : numpy.ndarray of shape (n_features, k)
        0/1 matrix of the sub-score groups (mqlml.scoring.group_matrix).
    path : PathAttribution, optional
        The model's per-leaf tables (built when omitted).
    """

    name = "lightgbm"

    def __init__(self, model, groups: np.ndarray, path: PathAttribution | None = None) -> None:
        self.model = model
        self.groups = np.asarray(groups, dtype=np.float64)
        self.path = path or PathAttribution.from_booster(model.booster_, model.best_iteration_)
        self.base = self.path.base
        text = ModelText(model.booster_.model_to_string(num_iteration=model.best_iteration_))
        self._values = _stacked(_leaf_outputs(text, self.path, self.groups))
        self.note = ""
        self.threads = thread_count(model.n_jobs)

    def _kwargs(self) -> dict[str, Any]:
        return {"num_iteration": self.model.best_iteration_, **self.model._threads()}

    def inputs(self, data: pd.DataFrame) -> dict[str, Any]:
        """Engine input for the model's prepared frame (leaf indices are kept once computed)."""
        return {"data": data}

    def from_matrix(self, matrix: np.ndarray) -> dict[str, Any]:
        """Engine input for the model's float64 matrix (mqlml.scoring): the same codes
        LightGBM makes of the prepared frame, without its pandas conversion."""
        return {"data": np.ascontiguousarray(matrix, dtype=np.float64)}

    def raw(self, inputs: dict[str, Any]) -> np.ndarray:
        """Log-odds, exactly ``booster.predict(raw_score=True)``."""
        out = self.model.booster_.predict(inputs["data"], raw_score=True, **self._kwargs())
        return np.asarray(out, dtype=np.float64)

    def leaves(self, inputs: dict[str, Any]) -> np.ndarray:
        """Leaf index per row and tree, shape (n, n_trees)."""
        if "leaves" not in inputs:
            data = inputs["data"]
            out = self.model.booster_.predict(data, pred_leaf=True, **self._kwargs())
            inputs["leaves"] = np.asarray(out, dtype=np.int32).reshape(len(data), -1)
        return inputs["leaves"]

    def scores(self, inputs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds (the leaf values summed in tree order, as LightGBM sums them) and the
        group parts (the last one what remains of the log-odds), shape (n,) and (n, k)."""
        out = self.path.sum_leaves(self.leaves(inputs), self._values, threads=self.threads)
        return _parts(out, self.base)

    def contributions(self, inputs: dict[str, Any], rows: np.ndarray) -> np.ndarray:
        """Per-column path contributions of ``rows``, shape (len(rows), n_features)."""
        return self.path.contributions(self.leaves(inputs)[rows], threads=self.threads)

    def explain(self, inputs: dict[str, Any], select: Selector | None = None) -> Explained:
        """Log-odds, group parts, the rows ``select`` picks and their contributions.

        Parameters
        ----------
        inputs : engine input
            From :meth:`inputs`.
        select : callable, optional
            Log-odds -> indices of the rows that need per-column contributions.

        Returns
        -------
        (log_odds, parts, rows, contributions)
            Shapes (n,), (n, k), (m,), (m, n_features); ``contributions`` is None when
            ``select`` is.
        """
        log_odds, sub = self.scores(inputs)
        if select is None:
            return log_odds, sub, np.zeros(0, dtype=np.intp), None
        rows = select(log_odds)
        return log_odds, sub, rows, self.contributions(inputs, rows)

    def __repr__(self) -> str:
        return "LightGBMPredictor()"


class CompiledPredictor:
    """The model's trees compiled to native code (pylignum), with sub-scores and leaves.

    Built by :func:`make_predictor`; compiles on first use and then loads from the cache.

    Parameters
    ----------
    model : mqlml.model.LeadScorer
        A fitted LightGBM scorer.
    groups : numpy.ndarray of shape (n_features, k)
        0/1 matrix of the sub-score groups.
    cache_dir : path, optional
        Where compiled libraries are kept (:func:`default_cache_dir` when omitted); held
        to the private cache's rules (mqlml.scoring), its key kept in the folder itself.
    path : PathAttribution, optional
        The model's per-leaf tables (built when omitted).
    sample : pandas.DataFrame, optional
        Prepared rows added to the parity sample.
    fallback : bool, default=False
        When the leaves for reasons (compiled on first use) fail to compile or to match
        LightGBM's, read them from LightGBM's ``pred_leaf`` with one logged warning
        (``auto``) instead of raising.

    Raises
    ------
    PredictorError
        pylignum is not installed, compilation failed, or the parity check failed.
    """

    name = "compiled"

    def __init__(
        self,
        model,
        groups: np.ndarray,
        *,
        cache_dir: str | Path | None = None,
        path: PathAttribution | None = None,
        sample: pd.DataFrame | None = None,
        fallback: bool = False,
    ) -> None:
        try:
            import lignum
        except ImportError:
            raise PredictorError(
                "predictor 'compiled' must have its engine installed; pylignum is missing. "
                "Install it (the fast extra: pip install '.[fast]' in the mqlml repository) or "
                "use --predictor lightgbm."
            ) from None
        self._lignum = lignum
        self.model = model
        self.groups = np.asarray(groups, dtype=np.float64)
        self._cache_arg = None if cache_dir is None else str(cache_dir)
        self.cache = PrivateCache("compiled", cache_dir)
        self.cache_dir = self.cache.folder
        self.note = ""
        text = model.booster_.model_to_string(num_iteration=model.best_iteration_)
        self._text = ModelText(text)
        self.key = hashlib.sha256(text.encode()).hexdigest()
        self.path = path or self._cached_path()
        self.base = self.path.base
        # One compiled multi-output ensemble: output 0 the model itself, then one per
        # sub-score but the last; the same leaf values stacked for sums over leaves.
        outputs = _leaf_outputs(self._text, self.path, self.groups)
        self._scores = self._engine(
            "scores", lambda: self._text.multi_output(outputs), self.groups.tobytes()
        )
        self._values = _stacked(outputs)
        widest = max((len(t) for t in self.path.tables), default=1)
        self._bits = max(1, int(widest - 1).bit_length())  # per leaf number
        self._leaf_engine = None
        self._building = threading.Lock()
        self.fallback = fallback
        self.threads = thread_count(model.n_jobs)
        self._parity = self._lightgbm_answers(sample)
        self._check(self._parity)

    # ------------------------------------------------------------ building
    def _cached_path(self) -> PathAttribution:
        """The model's per-leaf tables, from the cache (plain arrays) or built into it."""
        entry = f"{self.key}.path.{_DERIVATION}.npz"
        saved = _load_arrays(self.cache, entry, ("tables", "sizes", "base"))
        if saved is not None:
            flat, sizes = saved["tables"], saved["sizes"]
            tables = np.split(flat, np.cumsum(sizes)[:-1]) if len(sizes) else []
            return PathAttribution(tables=list(tables), base=float(saved["base"]))
        model = self.model
        path = PathAttribution.from_booster(model.booster_, model.best_iteration_)
        sizes = np.array([len(t) for t in path.tables], dtype=np.int64)
        width = len(model.feature_names_in_)
        flat = np.concatenate(path.tables) if path.tables else np.zeros((0, width))
        _save_arrays(self.cache, entry, tables=flat, sizes=sizes, base=np.float64(path.base))
        return path

    def _lightgbm_answers(self, sample: pd.DataFrame | None) -> dict[str, np.ndarray]:
        """The parity sample with LightGBM's log-odds, sub-scores and leaves on it.

        They are LightGBM's own answers for this model text, so they come from the cache
        (keyed by the model, the LightGBM version, the groups and the caller's rows) after
        the first load; the compiled side of the check runs on every load.
        """
        import lightgbm

        extra = float_matrix(sample) if sample is not None and len(sample) else None
        detail = f"{_DERIVATION}:{lightgbm.__version__}:".encode() + self.groups.tobytes()
        if extra is not None:
            detail += np.ascontiguousarray(extra).tobytes()
        tag = hashlib.sha256(detail).hexdigest()[:12]
        entry = f"{self.key}.parity.{tag}.npz"
        saved = _load_arrays(self.cache, entry, ("inputs", "raw", "sub", "leaves"))
        if saved is not None:
            return saved
        inputs = self._parity_sample(extra)
        leaves = self._lightgbm_leaves(inputs)
        answers = {
            "inputs": inputs,
            "raw": np.asarray(
                self.model.booster_.predict(inputs, raw_score=True, **self._kwargs()), np.float64
            ),
            "sub": self.path.contributions(leaves, self.groups)[:, :-1],
            "leaves": leaves,
        }
        _save_arrays(self.cache, entry, **answers)
        return answers

    def _engine(self, part: str, text: Callable[[], str], detail: bytes = b""):
        """A compiled lignum model, loaded from the cache or built (from ``text()``) into it.

        The cache holds lignum's binary model (``.bin``) and the library (``.so``), named
        by the sha256 of the booster's model text, the part and what it is derived with;
        both are loaded only when their keyed hashes match.
        """
        lignum = self._lignum
        tag = hashlib.sha256(f"{_DERIVATION}:{part}:".encode() + detail).hexdigest()[:12]
        stem = f"{self.key}.{part}.{tag}"
        model_entry, library_entry = f"{stem}.bin", f"{stem}.so"
        if self.cache.verified(model_entry, library_entry):
            try:
                return lignum.load(
                    str(self.cache.path(model_entry)),
                    compiled=str(self.cache.path(library_entry)),
                )
            except (RuntimeError, ValueError, OSError):
                pass  # another lignum version: build it again
        with tempfile.TemporaryDirectory(prefix="mqlml-compile-") as work:
            source = Path(work) / "model.txt"
            source.write_text(text())
            try:
                engine = lignum.load(str(source))
            except (RuntimeError, ValueError) as exc:
                raise PredictorError(
                    f"model must be readable by the compiled engine; pylignum refused it: {exc}. "
                    "Use --predictor lightgbm."
                ) from None
            model_file, library = Path(work) / "model.bin", Path(work) / "model.so"
            try:
                engine.compile(work_dir=work, library=str(library))
                engine.save(str(model_file))
            except (RuntimeError, OSError) as exc:
                raise PredictorError(
                    f"the model's trees must compile to native code; {exc}. Install a C "
                    "compiler (cc) or use --predictor lightgbm."
                ) from None
            self.cache.write(model_entry, model_file.read_bytes())
            self.cache.write(library_entry, library.read_bytes())
        return engine

    def _leaves_engine(self):
        """The model's trees with their leaf numbers as values, packed
        (:meth:`ModelText.leaf_numbers`; built on first use): each row's leaves. None
        when they failed and ``fallback`` reads the leaves from LightGBM instead."""
        with self._building:  # built once, whichever batch asks first
            if self._leaf_engine is None:
                self._leaf_engine = self._build_leaves_engine()
        return None if self._leaf_engine is _FROM_LIGHTGBM else self._leaf_engine

    def _build_leaves_engine(self):
        try:
            engine = self._engine(
                "packed-leaves", lambda: self._text.leaf_numbers(self._bits), bytes([self._bits])
            )
            got = self._compiled_leaves(engine, self._parity["inputs"])
            want = self._parity["leaves"]
            if not np.array_equal(got, want):
                bad = int(np.sum(np.any(got != want, axis=1)))
                raise PredictorError(
                    f"compiled leaf numbers must equal LightGBM's pred_leaf; {bad} of "
                    f"{len(want)} parity rows differ. Use --predictor lightgbm."
                )
        except PredictorError as exc:
            if not self.fallback:
                raise
            self.note = f"predictor auto: reasons use LightGBM's leaves, because {exc}"
            _warn_once(self.note)
            return _FROM_LIGHTGBM
        return engine

    def _lightgbm_leaves(self, matrix: np.ndarray) -> np.ndarray:
        leaves = self.model.booster_.predict(matrix, pred_leaf=True, **self._kwargs())
        return np.asarray(leaves, dtype=np.int32).reshape(len(matrix), -1)

    def _kwargs(self) -> dict[str, Any]:
        return {"num_iteration": self.model.best_iteration_, **self.model._threads()}

    def _parity_sample(self, extra: np.ndarray | None, rows: int = 2000) -> np.ndarray:
        """Rows at and around every split point, NaN and each category code (seeded), then
        the ``extra`` rows."""
        rng = np.random.default_rng(0)
        columns = []
        for values in self._text.split_points():
            candidates = np.concatenate([values, [np.nan, 0.0]])
            columns.append(rng.choice(candidates, size=rows))
        out = np.column_stack(columns) if columns else np.empty((rows, 0))
        if extra is not None:
            out = np.concatenate([out, extra])
        return np.ascontiguousarray(out)

    def _check(self, lightgbm: dict[str, np.ndarray]) -> None:
        want = lightgbm["raw"]
        got = self._outputs(lightgbm["inputs"])
        diff = float(np.max(np.abs(got[:, 0] - want))) if len(want) else 0.0
        if not diff <= PARITY_TOLERANCE:
            raise PredictorError(
                f"compiled log-odds must be within {PARITY_TOLERANCE:g} of LightGBM's; got a "
                f"max abs difference of {diff:.3g} on {len(want)} parity rows. Use "
                "--predictor lightgbm (and report the model)."
            )
        diff = float(np.max(np.abs(got[:, 1:] - lightgbm["sub"]))) if got.size else 0.0
        if not diff <= PARITY_TOLERANCE:
            raise PredictorError(
                f"compiled sub-scores must be within {PARITY_TOLERANCE:g} of the path "
                f"attribution; got a max abs difference of {diff:.3g}. Use "
                "--predictor lightgbm."
            )

    # ---------------------------------------------------------- predicting
    def _predict(self, engine, matrix: np.ndarray) -> np.ndarray:
        out = engine.predict(matrix, raw_score=True, n_jobs=self.threads)
        return np.asarray(out, np.float64)

    def inputs(self, data: pd.DataFrame) -> np.ndarray:
        """The float64 matrix of the model's prepared frame (:func:`float_matrix`)."""
        return float_matrix(data)

    def from_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Engine input for the model's float64 matrix (mqlml.scoring)."""
        return np.ascontiguousarray(matrix, dtype=np.float64)

    def _outputs(self, inputs: np.ndarray) -> np.ndarray:
        out = self._predict(self._scores, inputs)
        return out.reshape(len(inputs), -1)

    def raw(self, inputs: np.ndarray) -> np.ndarray:
        """Log-odds, bit-identical to ``booster.predict(raw_score=True)`` on the models tried."""
        return np.ascontiguousarray(self._outputs(inputs)[:, 0])

    def scores(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds and the group parts (the last group is the log-odds minus the others)."""
        return _parts(self._outputs(inputs), self.base)

    def contributions(self, inputs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per-column path contributions of ``rows``, shape (len(rows), n_features):
        their leaves from the compiled trees, then the path tables summed over them."""
        if not len(rows):
            return np.zeros((0, len(self.model.feature_names_in_)))
        engine, rows = self._leaves_engine(), np.asarray(rows)
        out = np.empty((len(rows), len(self.model.feature_names_in_)))
        for start in range(0, len(rows), self._step):
            matrix = np.ascontiguousarray(inputs[rows[start : start + self._step]])
            if engine is None:
                leaves = self._lightgbm_leaves(matrix)
            else:
                leaves = self._compiled_leaves(engine, matrix)
            out[start : start + len(matrix)] = self.path.contributions(leaves, threads=self.threads)
        return out

    @property
    def _step(self) -> int:
        """Rows per walk of the leaves: ~16 MB of leaf numbers from LightGBM (int32)."""
        return max(1, 4_000_000 // max(1, len(self._text.trees)))

    def _compiled_leaves(self, engine, matrix: np.ndarray, out: np.ndarray | None = None):
        packed = self._predict(engine, np.ascontiguousarray(matrix)).reshape(len(matrix), -1)
        return unpack_leaves(packed, len(self._text.trees), self._bits, out)

    def explain(self, inputs: np.ndarray, select: Selector | None = None) -> Explained:
        """As :meth:`LightGBMPredictor.explain`.

        One walk of the packed leaves for every row, a slice of rows at a time, gives the
        log-odds and group parts, the leaf values summed over those leaves in tree order
        (bit for bit what the scores engine gives). With ``select`` the batch's leaves are
        kept (when they fit in :data:`LEAVES_BUDGET`) for the contributions of the rows
        it picks. Without the compiled leaves, or for a larger batch with ``select``, the
        scores engine, then the leaves of those rows.
        """
        n, trees = len(inputs), len(self._text.trees)
        kind, keep = leaf_type(self._bits), select is not None
        held = n * trees * kind.itemsize if keep else 0  # the batch's leaves, kept
        engine = None if held > LEAVES_BUDGET else self._leaves_engine()
        if engine is None:
            raw, sub = self.scores(inputs)
            if not keep:
                return raw, sub, np.zeros(0, dtype=np.intp), None
            rows = np.asarray(select(raw))
            return raw, sub, rows, self.contributions(inputs, rows)
        leaves = np.empty((n, trees), dtype=kind) if keep else None
        out = np.empty((n, self._values.shape[1]))
        step = max(1, LEAVES_SLICE // max(1, trees))
        for start in range(0, n, step):
            stop = min(n, start + step)
            part = self._compiled_leaves(
                engine, inputs[start:stop], None if leaves is None else leaves[start:stop]
            )
            self.path.sum_leaves(part, self._values, threads=1, out=out[start:stop])
        raw, sub = _parts(out, self.base)
        if not keep:
            return raw, sub, np.zeros(0, dtype=np.intp), None
        rows = np.asarray(select(raw))
        return raw, sub, rows, self.path.contributions(leaves[rows], threads=self.threads)

    def __reduce__(self):  # engines do not pickle: rebuild (from the cache) where unpickled
        return (_rebuild_compiled, (self.model, self.groups, self._cache_arg))

    def __repr__(self) -> str:
        return f"CompiledPredictor(key={self.key[:12]!r})"


def _load_arrays(cache: PrivateCache, entry: str, names: Sequence[str]):
    """The arrays of a verified cache entry (``.npz``), or None when absent or damaged."""
    data = cache.read(entry)
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            return {name: saved[name] for name in names}
    except (OSError, ValueError, KeyError):
        return None


def _save_arrays(cache: PrivateCache, entry: str, **arrays: np.ndarray) -> None:
    """Store ``arrays`` as the cache entry ``entry`` (``.npz``); a read-only cache is left
    as it is (they are computed again next time)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    cache.write(entry, buffer.getvalue())


def _rebuild_compiled(model, groups, cache_dir):
    return make_predictor(model, "auto", groups=groups, cache_dir=cache_dir)


def make_predictor(
    model,
    predictor: PredictorName = "auto",
    *,
    groups: np.ndarray,
    cache_dir: str | Path | None = None,
    path: PathAttribution | None = None,
    sample: pd.DataFrame | None = None,
) -> LightGBMPredictor | CompiledPredictor:
    """The predictor for a fitted LightGBM scorer.

    Parameters
    ----------
    model : mqlml.model.LeadScorer
        A fitted scorer with ``model="lightgbm"``.
    predictor : {"auto", "lightgbm", "compiled"}
        ``auto`` tries ``compiled`` and falls back to ``lightgbm`` with a logged warning
        that says why, once per process for one reason; ``compiled`` raises instead.
    groups : numpy.ndarray of shape (n_features, k)
        0/1 matrix of the sub-score groups.
    cache_dir : path, optional
        Folder for compiled libraries (:func:`default_cache_dir` when omitted; see
        mqlml.scoring._cache for the rules it is held to).
    path : PathAttribution, optional
        The model's per-leaf tables, when the caller has them.
    sample : pandas.DataFrame, optional
        Prepared rows added to the parity sample.

    Returns
    -------
    LightGBMPredictor or CompiledPredictor
        Its ``note`` says why ``auto`` fell back (empty otherwise).

    Raises
    ------
    ValueError
        For an unknown ``predictor`` name or a model without trees.
    PredictorError
        ``compiled`` was asked for and is unavailable or fails the parity check.
    """
    if predictor not in PREDICTORS:
        raise ValueError(
            f"predictor must be one of {', '.join(PREDICTORS)}; got {predictor!r}. "
            "Pick one of those."
        )
    if getattr(model, "model", None) != "lightgbm":
        raise ValueError(
            f"a predictor needs model='lightgbm'; got {getattr(model, 'model', None)!r}. "
            "The logistic model predicts with scikit-learn."
        )
    if predictor != "lightgbm":
        try:
            return CompiledPredictor(
                model, groups, cache_dir=cache_dir, path=path, sample=sample,
                fallback=predictor == "auto",
            )  # fmt: skip
        except PredictorError as exc:
            if predictor == "compiled":
                raise
            fallback = LightGBMPredictor(model, groups, path)
            fallback.note = f"predictor auto: using lightgbm, because {exc}"
            _warn_once(fallback.note)
            return fallback
    return LightGBMPredictor(model, groups, path)
