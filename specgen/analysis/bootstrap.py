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
_CHUNK = 1 << 22


@dataclass(frozen=True)
class Range:
    low: float
    best: float
    high: float


def bootstrap_range(
    values: np.ndarray,
    errors: np.ndarray,
    *,
    samples: int = DEFAULT_SAMPLES,
    fraction: float = DEFAULT_FRACTION,
    seed: int = 0,
) -> Range:
    """The 2.5/50/97.5 percentiles of the best model's value over `samples` bootstrap draws.

    Each draw takes max(1, round(fraction · n)) models with replacement; ties in
    error go to the model drawn first. Seeded, so the same inputs give the same range.
    """
    values = np.asarray(values, dtype=np.float64)
    errors = np.asarray(errors, dtype=np.float64)
    if values.shape != errors.shape or values.ndim != 1 or values.size == 0:
        raise ValueError("values and errors must be non-empty 1-D arrays of one length")
    if samples < 1 or not 0 < fraction <= 1:
        raise ValueError("samples must be >= 1 and fraction in (0, 1]")
    rng = np.random.default_rng(seed)
    k = max(1, round(fraction * values.size))
    rows = max(1, _CHUNK // k)
    best = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, rows):
        drawn = rng.integers(0, values.size, size=(min(rows, samples - start), k))
        winner = np.take_along_axis(drawn, np.argmin(errors[drawn], axis=1)[:, None], axis=1)[:, 0]
        best[start : start + drawn.shape[0]] = values[winner]
    low, mid, high = np.percentile(best, [2.5, 50.0, 97.5])
    return Range(float(low), float(mid), float(high))
