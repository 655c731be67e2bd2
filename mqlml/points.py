"""From a calibrated probability to what a CRM shows: a 0-100 score, a percentile, a tier.

The score is 100 x probability, so a score of 22 reads "about a 22 % chance of
converting": a continuous replacement for hand-set points that keeps its meaning when
the model is retrained.

Default tiers come from the MQL threshold ``t``: ``A`` at or above ``t`` (the MQLs), ``B``
from ``t/2``, ``C`` from ``t/4``, ``D`` below. Custom cut points (ascending
probabilities) give as many tiers as cuts plus one, named ``A`` (highest) onwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Tiers", "percentile_of", "reference_quantiles", "score_of"]

_N_QUANTILES = 1001


def score_of(probability: np.ndarray) -> np.ndarray:
    """The 0-100 score: ``100 x probability`` (float, not rounded).

    Examples
    --------
    >>> score_of(np.array([0.0, 0.221, 1.0])).tolist()
    [0.0, 22.1, 100.0]
    """
    return 100.0 * np.asarray(probability, dtype=np.float64)


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
    # Many leads can share a probability (isotonic steps): take the middle of their run.
    below = np.searchsorted(quantiles, p, side="left")
    at_or_below = np.searchsorted(quantiles, p, side="right")
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
                f"{list(cuts)}. Fix threshold.tiers in the config."
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
