"""Error EDFs: F(e) = Σ w_i 1[e_i < e] / Σ w_i, plain (w_i = 1) or weighted.

The normalized EDF of the NDS paper weights each model so that every occupied
complexity bin carries the same mass; the Kolmogorov–Smirnov statistic is the
largest gap between two EDFs, plain or weighted alike. Its p-values are our own
(numpy only): scipy is a test oracle, not a dependency.
"""

from __future__ import annotations

import math
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
    method: str
    """How the p-value was found: 'exact' or 'asymptotic'."""


EXACT_MAX_N = 10_000
"""Up to this many models in each space the plain KS p-value is exact (as scipy's default)."""


def effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw²; n for equal weights."""
    return float(weights.sum() ** 2 / np.square(weights).sum())


def exact_pvalue(d: float, m: int, n: int) -> float:
    """P(D >= d) between samples of m and n distinct values drawn from one distribution.

    The merged order of the samples is a uniformly random lattice path from (0, 0)
    to (m, n), and D is the largest |i/m - j/n| along it. The path is walked one
    step at a time as draws without replacement, and the probability of the paths
    that reach the band's edge is summed as they leave: only positive terms, each
    at most 1, so nothing overflows and small p-values keep their relative precision.
    """
    if m > n:
        m, n = n, m
    lcm = math.lcm(m, n)
    # i/m - j/n = (i·a - j·b) / lcm with whole a, b: the band's edge is |i·a - j·b| = h exactly.
    a, b, h = lcm // m, lcm // n, round(d * lcm)
    if h <= 0:
        return 1.0
    lo, alive, outside = 0, np.ones(1), 0.0
    for k in range(1, m + n + 1):
        i = np.arange(lo, lo + alive.size)
        left = m + n - (k - 1)
        step = np.zeros(alive.size + 1)
        step[:-1] += alive * ((n - (k - 1 - i)) / left)  # the next value is from the second sample
        step[1:] += alive * ((m - i) / left)  # from the first
        i = np.arange(lo, lo + step.size)
        inside = np.abs(i * a - (k - i) * b) < h
        outside += float(step[~inside].sum())
        kept = np.flatnonzero(inside & (i <= m) & (k - i <= n))
        if kept.size == 0:
            break
        lo, alive = lo + kept[0], step[kept[0] : kept[-1] + 1]
    return min(1.0, outside)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's limiting distribution, by whichever of its two series converges fast."""
    if x <= 0:
        return 1.0
    k = np.arange(1, 8)
    if x < 1:
        return float(
            1 - math.sqrt(2 * math.pi) / x * np.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)).sum()
        )
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k**2 * x * x)), 0.0, 1.0))


def asymptotic_pvalue(d: float, na: float, nb: float) -> float:
    """P(D >= d) by Kolmogorov's distribution at n = na·nb / (na + nb), with Stephens' small-n correction."""
    root = math.sqrt(na * nb / (na + nb))
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * d)


def ks_2samp(
    a: np.ndarray, b: np.ndarray, weights_a: np.ndarray | None = None, weights_b: np.ndarray | None = None
) -> KS:
    """Two-sample Kolmogorov–Smirnov test between two (weighted) error EDFs.

    The statistic is sup_e |F_a(e) - F_b(e)|. For plain EDFs of at most EXACT_MAX_N
    models each the p-value is exact (as `scipy.stats.ks_2samp`'s default; ties are
    not corrected for, as there); otherwise it is asymptotic, and for weighted EDFs
    n_a and n_b are Kish's effective sizes, so uneven weights count as fewer models.
    """
    fa, fb = edf(a, weights_a), edf(b, weights_b)
    at = np.union1d(fa.errors, fb.errors)
    d = float(np.max(np.abs(fa.at_or_below(at) - fb.at_or_below(at))))
    if weights_a is None and weights_b is None and max(fa.n, fb.n) <= EXACT_MAX_N:
        return KS(d, exact_pvalue(d, fa.n, fb.n), "exact")
    na = effective_size(np.ones(fa.n) if weights_a is None else np.asarray(weights_a, dtype=np.float64))
    nb = effective_size(np.ones(fb.n) if weights_b is None else np.asarray(weights_b, dtype=np.float64))
    return KS(d, asymptotic_pvalue(d, na, nb), "asymptotic")
