"""The empirical bootstrap of good parameter ranges (docs/reference.md §6).

Draw 25% of the models with replacement and keep the parameter value of the
best one; repeat. The 2.5 and 97.5 percentiles of the kept values bound the
95% range where good models lie; the median is the best value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SAMPLES = 2500
DEFAULT_FRACTION = 0.25
_CHUNK = 1 << 18
"""Models drawn per chunk: a chunk's draws and their gathered ranks stay in cache (about 3 MB)."""


@dataclass(frozen=True)
class Range:
    low: float
    best: float
    high: float


def _check(values: np.ndarray, errors: np.ndarray, samples: int, fraction: float) -> None:
    if values.shape != errors.shape or values.ndim != 1 or values.size == 0:
        raise ValueError("values and errors must be non-empty 1-D arrays of one length")
    if samples < 1 or not 0 < fraction <= 1:
        raise ValueError("samples must be >= 1 and fraction in (0, 1]")


def best_of_draws(
    errors: np.ndarray, *, samples: int = DEFAULT_SAMPLES, fraction: float = DEFAULT_FRACTION, seed: int = 0
) -> np.ndarray:
    """The index of the best model of each of `samples` bootstrap draws.

    Each draw takes max(1, round(fraction · n)) models with replacement; ties in error go to the model
    drawn first. The draws depend only on the errors, so every parameter of one set of models shares
    them. The best of a draw is found by its lowest error rank: ranks are dense (equal errors share
    one), so the first drawn among equals still wins, and int32 ranks gather at half the cost.
    """
    errors = np.asarray(errors, dtype=np.float64)
    _check(errors, errors, samples, fraction)
    ranks = np.unique(errors, return_inverse=True)[1].reshape(-1).astype(np.int32)
    rng = np.random.default_rng(seed)
    k = max(1, round(fraction * errors.size))
    rows = max(1, _CHUNK // k)
    best = np.empty(samples, dtype=np.int64)
    for start in range(0, samples, rows):
        drawn = rng.integers(0, errors.size, size=(min(rows, samples - start), k))
        best[start : start + drawn.shape[0]] = drawn[
            np.arange(drawn.shape[0]), np.argmin(ranks[drawn], axis=1)
        ]
    return best


def range_of(values: np.ndarray, best: np.ndarray) -> Range:
    """The 2.5/50/97.5 percentiles of the best models' values (`best` from `best_of_draws`)."""
    low, mid, high = np.percentile(np.asarray(values, dtype=np.float64)[best], [2.5, 50.0, 97.5])
    return Range(float(low), float(mid), float(high))


def bootstrap_range(
    values: np.ndarray,
    errors: np.ndarray,
    *,
    samples: int = DEFAULT_SAMPLES,
    fraction: float = DEFAULT_FRACTION,
    seed: int = 0,
) -> Range:
    """The 2.5/50/97.5 percentiles of the best model's value over `samples` bootstrap draws.

    Seeded, so the same inputs give the same range.
    """
    values, errors = np.asarray(values, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    _check(values, errors, samples, fraction)
    return range_of(values, best_of_draws(errors, samples=samples, fraction=fraction, seed=seed))
