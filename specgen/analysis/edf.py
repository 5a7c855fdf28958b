"""Error EDFs: F(e) = Σ w_i 1[e_i < e] / Σ w_i, plain (w_i = 1) or weighted.

The normalized EDF of the NDS paper weights each model so that every occupied
complexity bin carries the same mass; the Kolmogorov–Smirnov statistic is the
largest gap between two EDFs, plain or weighted alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_BINS = 10


@dataclass(frozen=True)
class EDF:
    """A step function: F is 0 up to and at errors[0], and mass[k] on (errors[k], errors[k+1]]."""

    errors: np.ndarray
    """The distinct errors, increasing."""
    mass: np.ndarray
    """Cumulative weight of the models with error <= errors[k]; the last is 1."""
    n: int
    """How many models it was made from."""

    def __call__(self, e: float | np.ndarray) -> np.ndarray:
        """F(e): the weight of the models with error strictly below e."""
        return self._cumulative(np.searchsorted(self.errors, e, side="left"))

    def at_or_below(self, e: float | np.ndarray) -> np.ndarray:
        """The right limit F(e+): the weight of the models with error <= e."""
        return self._cumulative(np.searchsorted(self.errors, e, side="right"))

    def _cumulative(self, k: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], self.mass])[k]

    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw with matplotlib's drawstyle="steps-post", starting from F = 0."""
        return np.concatenate([self.errors[:1], self.errors]), np.concatenate([[0.0], self.mass])


def edf(errors: np.ndarray, weights: np.ndarray | None = None) -> EDF:
    """The (weighted) EDF of finite errors; weights are non-negative with a positive sum."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1 or errors.size == 0 or not np.all(np.isfinite(errors)):
        raise ValueError("an EDF needs a non-empty 1-D array of finite errors")
    w = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != errors.shape or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("weights must match the errors, be non-negative and sum to more than 0")
    values, inverse = np.unique(errors, return_inverse=True)
    mass = np.cumsum(np.bincount(inverse, weights=w, minlength=values.size))
    return EDF(values, mass / mass[-1], errors.size)


def complexity_edges(complexities: list[np.ndarray], bins: int = DEFAULT_BINS) -> np.ndarray:
    """Equal-width bin edges over the complexities of all the spaces compared (shared edges)."""
    pooled = np.concatenate([np.asarray(c, dtype=np.float64) for c in complexities])
    return np.linspace(pooled.min(), pooled.max(), bins + 1)


def normalized_weights(complexity: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Weight 1 / (models in the model's bin × occupied bins): each occupied bin carries equal mass.

    Bins that hold none of this space's models are not counted, so the weights sum to one.
    """
    c = np.asarray(complexity, dtype=np.float64)
    nbins = edges.size - 1
    which = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, nbins - 1)
    counts = np.bincount(which, minlength=nbins)
    return 1.0 / (counts[which] * np.count_nonzero(counts))


@dataclass(frozen=True)
class KS:
    statistic: float
    pvalue: float


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw²; n for equal weights."""
    return float(weights.sum() ** 2 / np.square(weights).sum())


def ks_2samp(
    a: np.ndarray, b: np.ndarray, weights_a: np.ndarray | None = None, weights_b: np.ndarray | None = None
) -> KS:
    """Two-sample Kolmogorov–Smirnov test between two (weighted) error EDFs.

    The statistic is sup_e |F_a(e) - F_b(e)|. The p-value is the asymptotic one
    (Smirnov's: the Kolmogorov distribution for n = n_a·n_b / (n_a + n_b), as
    `scipy.stats.ks_2samp(method="asymp")` gives); for weighted EDFs n_a and
    n_b are Kish's effective sizes, so uneven weights count as fewer models.
    """
    from scipy.stats import kstwo

    fa, fb = edf(a, weights_a), edf(b, weights_b)
    at = np.union1d(fa.errors, fb.errors)
    d = float(np.max(np.abs(fa.at_or_below(at) - fb.at_or_below(at))))
    na = effective_size(np.ones(fa.n) if weights_a is None else np.asarray(weights_a, dtype=np.float64))
    nb = effective_size(np.ones(fb.n) if weights_b is None else np.asarray(weights_b, dtype=np.float64))
    n = max(1, round(na * nb / (na + nb)))
    return KS(d, float(np.clip(kstwo.sf(d, n), 0.0, 1.0)))
