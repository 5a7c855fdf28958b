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
    order = np.argsort(errors, kind="stable")
    e, w = errors[order], weights[order] / weights.sum()
    above = np.clip(np.cumsum(w[::-1])[::-1], 0.0, 1.0)  # the mass at or above each sorted error
    beyond = np.append(above[1:], 0.0)
    return float(np.sum(e * (above**n - beyond**n)))


def curve(errors: np.ndarray, weights: np.ndarray | None = None, seed: int = 0) -> list[Point]:
    """The num_samples curve of one space's errors (weights: the normalized EDF's, or None for equal)."""
    errors = np.asarray(errors, dtype=np.float64)
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=np.float64)
    p = w / w.sum()
    rng = np.random.default_rng(seed)
    points = []
    n = 1
    while n <= errors.size:
        draws = errors.size // n
        minima = errors[rng.choice(errors.size, size=(draws, n), p=p)].min(axis=1)
        mean, std = float(minima.mean()), float(minima.std())
        points.append(Point(n, expected_min(errors, w, n), mean, mean - 2 * std, mean + 2 * std, draws))
        n *= 2
    return points
