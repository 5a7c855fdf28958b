"""Error against the number of models sampled: what a random search of n models finds (the NDS paper's
`num_samples` figure).

For n = 1, 2, 4, ... up to the models a space has: the expected minimum error of n models drawn at random
(with replacement, by the EDF's weights: plain or complexity-normalized), exactly, from the EDF; and as
the NDS notebook measures it, the minima of (models // n) draws of n with their mean and band of ±2
standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BUCKETS = 1 << 17
"""Equal steps of [0, 1) that start a draw's search in the CDF (a power of two: u · _BUCKETS is exact)."""


@dataclass(frozen=True)
class Point:
    n: int
    expected: float
    """E[min error of n draws], from the EDF."""
    mean: float
    """The mean of the drawn minima, and the band mean ± 2 std of the notebook."""
    low: float
    high: float
    draws: int


def expected_min(errors: np.ndarray, weights: np.ndarray, n: int) -> float:
    """E[min] of n draws: Σ_k e_k (P(min >= e_k) - P(min > e_k)), P(min >= e) = (mass at or above e)^n."""
    return _expected_min(*_mass_above(errors, weights), n)


def _mass_above(errors: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The errors sorted, and the mass at or above each: what every n's expectation shares."""
    order = np.argsort(errors, kind="stable")
    e, w = errors[order], weights[order] / weights.sum()
    return e, np.clip(np.cumsum(w[::-1])[::-1], 0.0, 1.0)


def _expected_min(e: np.ndarray, above: np.ndarray, n: int) -> float:
    # P(min > e_k) is the mass at or above the next error: the same powers, one place on.
    at_or_above = above**n
    return float(np.sum(e * (at_or_above - np.append(at_or_above[1:], 0.0))))


def _buckets(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CDF that `Generator.choice` draws from, +inf appended, and how many of its values lie at or below
    the start of each of _BUCKETS equal steps (and of 1, the end)."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return np.append(cdf, np.inf), cdf.searchsorted(np.arange(_BUCKETS + 1) / _BUCKETS, side="right")


def _choice(
    rng: np.random.Generator, cdf: np.ndarray, below: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """`rng.choice(models, shape, p=p)`'s draws (by `_buckets(p)`), the generator's state after them alike.

    choice draws u = rng.random(shape) and takes cdf.searchsorted(u, side="right"), how many CDF values
    are <= u: a binary search over every model for each draw. The count lies between its step's and the
    next step's, which are rarely more than a few apart, so the search starts there.
    """
    u = rng.random(shape)
    step = (u * _BUCKETS).astype(np.int64)
    lo, hi = below[step], below[step + 1]
    while np.any(lo < hi):  # where lo == hi, cdf[lo] > u: both stay
        mid = (lo + hi) >> 1
        up = cdf[mid] <= u
        lo, hi = np.where(up, mid + 1, lo), np.where(up, hi, mid)
    return lo


def curve(errors: np.ndarray, weights: np.ndarray | None = None, seed: int = 0) -> list[Point]:
    """The num_samples curve of one space's errors (weights: the normalized EDF's, or None for equal)."""
    errors = np.asarray(errors, dtype=np.float64)
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=np.float64)
    cdf, below = _buckets(w / w.sum())
    rng = np.random.default_rng(seed)
    sorted_errors, above = _mass_above(errors, w)
    points = []
    n = 1
    while n <= errors.size:
        draws = errors.size // n
        minima = errors[_choice(rng, cdf, below, (draws, n))].min(axis=1)
        mean, std = float(minima.mean()), float(minima.std())
        points.append(
            Point(n, _expected_min(sorted_errors, above, n), mean, mean - 2 * std, mean + 2 * std, draws)
        )
        n *= 2
    return points
