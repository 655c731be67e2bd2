"""From a calibrated probability to what a CRM shows: a 0-100 score, a percentile, a tier.

The score keeps the shape of the points it replaces (:class:`ScoreScale`): the MQL
threshold sits at a fixed line (``score.mql_at``, 50 by default, like "MQL at 50
points"), and a fixed number of score points doubles the odds of converting
(``score.points_to_double_odds``, 10 by default: the credit-scorecard convention)::

    score = mql_at + points_to_double_odds * log2(odds(p) / odds(threshold)),  odds(p) = p / (1 - p)

clipped to 0-100 and monotone in the probability. The clip puts every lead more than five
doublings of the odds from the line (with the defaults) at 0 or 100, where the score no
longer orders them and their probability still does.

Written outputs are rounded as a CRM stores them (:func:`written_score`: one decimal,
rounded down so that the MQL line and tier bounds hold on the written score;
:func:`written_probability`: 6 significant digits); the tier and the MQL flag come from
the exact probability.

Tiers are bands of the score: ``A`` is exactly the MQLs (score >= ``mql_at``), then one
tier per cut point below it (``score.tiers``, default ``[mql_at - 2 x pdo, mql_at -
pdo]``: B from 40, C from 30, D below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROBABILITY_DIGITS",
    "SCORE_DECIMALS",
    "SUB_SCORE_DECIMALS",
    "ScoreScale",
    "Tiers",
    "percentile_of",
    "reference_quantiles",
    "written_probability",
    "written_score",
]

_N_QUANTILES = 1001

#: Decimals of a written score and percentile (0-100).
SCORE_DECIMALS = 1
#: Significant digits of a written probability: ``0.0697449``, ``0.000123457``.
PROBABILITY_DIGITS = 6
#: Decimals of a written fit or engagement sub-score (parts of the log-odds).
SUB_SCORE_DECIMALS = 4
_EXACT_POWERS = 22  # 10**k is an exact double for k <= 22
_POWERS = 10.0 ** np.arange(_EXACT_POWERS + 1)


def written_score(score: np.ndarray) -> np.ndarray:
    """A 0-100 score as written: one decimal, rounded down.

    Rounded down, a written score keeps every comparison with a bound of one decimal: a
    score of 49.97 is written 49.9, not 50.0, so a written 50.0 or more is exactly an
    MQL (tier A) and the tier bounds (40, 30) hold on the written score as on the exact
    one. Each value is the double nearest its decimal (``72.1``, never ``72.10000001``).

    Examples
    --------
    >>> written_score(np.array([72.17963403519434, 49.97, 50.0, 0.0, 100.0])).tolist()
    [72.1, 49.9, 50.0, 0.0, 100.0]
    """
    s = np.asarray(score, dtype=np.float64)
    scale = 10.0**SCORE_DECIMALS
    tenths = np.floor(s * scale)
    tenths -= tenths / scale > s  # a product rounded up to the next integer
    return tenths / scale


def written_probability(probability: np.ndarray, digits: int = PROBABILITY_DIGITS) -> np.ndarray:
    """A probability as written: ``digits`` significant digits (6: ``0.0697449``).

    Significant digits rather than decimals keep the order of the smallest probabilities
    (``0.000123457`` and ``0.000123456`` stay apart), where the leads at score 0 sit.
    Rounding is monotone, so a higher probability is never written lower; the tier and
    ``is_mql`` come from the exact probability, before it is rounded. Each value is the
    double nearest its decimal.

    Examples
    --------
    >>> written_probability(np.array([0.0697449419100869, 1.23456789e-5, 0.0, 1.0])).tolist()
    [0.0697449, 1.23457e-05, 0.0, 1.0]
    """
    p = np.asarray(probability, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (digits - 1) - np.floor(np.log10(np.abs(p)))  # decimals to keep
    exact = (keep >= 0) & (keep <= _EXACT_POWERS)  # False for 0, NaN and infinity
    # an integer over an exact power of ten: the double nearest the decimal
    power = _POWERS[np.where(exact, keep, 0).astype(np.int64)]
    out = np.where(exact, np.round(p * power) / power, p)
    for i in np.flatnonzero(~exact & np.isfinite(p) & (p != 0)):
        out[i] = float(f"{p[i]:.{digits}g}")  # beyond 1e-16 (or above 1e6): rare
    return out


@dataclass(frozen=True)
class ScoreScale:
    """The 0-100 score on the points scale: the MQL threshold at ``mql_at``.

    Attributes
    ----------
    threshold : float
        The MQL threshold (probability).
    mql_at : float
        The score of the threshold.
    points_to_double_odds : float
        Score points that double the odds of converting.

    Examples
    --------
    >>> scale = ScoreScale(threshold=0.2, mql_at=50, points_to_double_odds=10)
    >>> scale.score(np.array([0.2, 1 / 3, 1 / 9])).round(6).tolist()
    [50.0, 60.0, 40.0]
    >>> round(float(scale.probability(60.0)), 6)
    0.333333
    """

    threshold: float
    mql_at: float = 50.0
    points_to_double_odds: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1); got {self.threshold!r}.")
        if not 0.0 < self.mql_at < 100.0:
            raise ValueError(
                f"score.mql_at must be between 0 and 100; got {self.mql_at!r}. Use e.g. 50."
            )
        if not self.points_to_double_odds > 0:
            raise ValueError(
                "score.points_to_double_odds must be > 0; got "
                f"{self.points_to_double_odds!r}. Use e.g. 10."
            )

    def score(self, probability: np.ndarray) -> np.ndarray:
        """The 0-100 score of probabilities (float, clipped, monotone)."""
        p = np.clip(np.asarray(probability, dtype=np.float64), 1e-300, 1 - 1e-16)
        t = self.threshold
        doublings = np.log2(p / (1 - p)) - np.log2(t / (1 - t))
        return np.clip(self.mql_at + self.points_to_double_odds * doublings, 0.0, 100.0)

    def probability(self, score: np.ndarray | float) -> np.ndarray:
        """The probability at a score (the inverse of :meth:`score` inside 0-100)."""
        s = np.asarray(score, dtype=np.float64)
        t = self.threshold
        log2_odds = np.log2(t / (1 - t)) + (s - self.mql_at) / self.points_to_double_odds
        odds = np.exp2(log2_odds)
        return odds / (1 + odds)

    def tiers(self, cuts: Sequence[float] | None = None) -> Tiers:
        """Tiers from score cut points below ``mql_at``; ``A`` is exactly the MQLs.

        Raises
        ------
        ValueError
            When the cuts are not strictly ascending scores between 0 and ``mql_at``.
        """
        pdo = self.points_to_double_odds
        if cuts is None:
            cuts = [c for c in (self.mql_at - 2 * pdo, self.mql_at - pdo) if c > 0]
        cuts = [float(c) for c in cuts]
        if any(not 0 < c < self.mql_at for c in cuts) or any(np.diff(cuts) <= 0):
            raise ValueError(
                f"score.tiers must be strictly ascending scores between 0 and the MQL line "
                f"{self.mql_at:g}; got {cuts}. Tier A is always the MQLs (score >= "
                f"{self.mql_at:g}); list the lower tiers' cut points, e.g. [30, 40]."
            )
        probabilities = [float(v) for v in self.probability(np.asarray(cuts))]
        return Tiers.from_threshold(self.threshold, [*probabilities, self.threshold])

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {
            "threshold": float(self.threshold),
            "mql_at": float(self.mql_at),
            "points_to_double_odds": float(self.points_to_double_odds),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ScoreScale:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: float(v) for k, v in data.items()})

    def table(self, scores: Sequence[float] = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)):
        """Score -> probability rows, for READMEs and reports."""
        return [{"score": float(s), "probability": float(self.probability(s))} for s in scores]


def reference_quantiles(probability: np.ndarray) -> np.ndarray:
    """1,001 quantiles of a reference distribution (the training leads' probabilities)."""
    return np.quantile(np.asarray(probability, dtype=np.float64), np.linspace(0, 1, _N_QUANTILES))


def percentile_of(probability: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Where each probability falls in the reference distribution, 0-100.

    A lead at percentile 90 scores higher than about 90 % of the training leads.

    Examples
    --------
    >>> q = reference_quantiles(np.linspace(0, 1, 101))
    >>> percentile_of(np.array([0.0, 0.5, 1.0]), q).round().tolist()
    [0.0, 50.0, 100.0]
    """
    p = np.asarray(probability, dtype=np.float64)
    # Many leads can share a probability (isotonic steps): take the middle of the run of
    # quantiles equal to it. One search among the distinct quantiles gives both ends (two
    # searches in all of them took twice as long): ``first`` of them lie below a distinct
    # value, ``first + count`` at or below it, and as many of either below a probability
    # between two of them.
    values, first, count = np.unique(quantiles, return_index=True, return_counts=True)
    r = np.searchsorted(values, p, side="right")  # distinct quantiles at or below p
    at_or_below = np.concatenate([[0], first + count])[r]
    tie = np.concatenate([[np.nan], values])[r] == p
    below = np.where(tie, np.concatenate([[0], first])[r], at_or_below)
    return 100.0 * (below + at_or_below) / (2.0 * len(quantiles))


@dataclass(frozen=True)
class Tiers:
    """Named probability bands, best first.

    Attributes
    ----------
    cuts : tuple of float
        Ascending probability cut points; a lead is in the band whose lower cut it reaches.
    names : tuple of str
        One more name than cuts, highest band first (``A``, ``B``, ...).
    """

    cuts: tuple[float, ...]
    names: tuple[str, ...]

    @classmethod
    def from_threshold(cls, threshold: float, cuts: Sequence[float] | None = None) -> Tiers:
        """Default tiers around the MQL threshold, or custom ascending ``cuts``.

        Raises
        ------
        ValueError
            When custom cuts are not strictly ascending probabilities in (0, 1).

        Examples
        --------
        >>> Tiers.from_threshold(0.2).label(np.array([0.3, 0.15, 0.06, 0.01])).tolist()
        ['A', 'B', 'C', 'D']
        """
        if cuts is None:
            cuts = (threshold / 4.0, threshold / 2.0, threshold)
        cuts = tuple(float(c) for c in cuts)
        if not cuts or any(not 0 < c < 1 for c in cuts) or any(np.diff(cuts) <= 0):
            raise ValueError(
                f"tier cut points must be strictly ascending probabilities in (0, 1); got "
                f"{list(cuts)}. Fix score.tiers in the config."
            )
        names = tuple(chr(ord("A") + i) for i in range(len(cuts) + 1))
        return cls(cuts=cuts, names=names)

    def label(self, probability: np.ndarray) -> np.ndarray:
        """The tier name of each probability (object array)."""
        band = np.searchsorted(np.asarray(self.cuts), np.asarray(probability), side="right")
        ordered = np.asarray(self.names[::-1], dtype=object)  # lowest band first
        return ordered[band]

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"cuts": list(self.cuts), "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: dict) -> Tiers:
        """Inverse of :meth:`to_dict`."""
        return cls(cuts=tuple(float(c) for c in data["cuts"]), names=tuple(data["names"]))
