"""The quantized linear fit of a network's per-block widths (REFERENCE.md §6).

d is fixed to the network's total depth; w0, wa and wm are found by grid
search, minimizing e_fit = mean_j |log(fitted_j / observed_j)|. The search
goes coarse to fine: a log-spaced grid over the whole range, then finer grids
around the best few points so far, until a grid fits exactly or the rounds
run out. Each grid is scored at once by broadcasting `regnet.block_widths`
over it (in chunks of w0, to bound memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specgen.regnet import block_widths

WM_RANGE = (1.1, 4.0)
SLOPE_RANGE = (1e-3, 20.0)
"""wa is searched relative to w0: u_j / w0 = 1 + (wa / w0)·j."""
_COARSE = 32
_FINE = 17
_ROUNDS = 8
_KEEP = 4
_CHUNK = 1 << 21


@dataclass(frozen=True)
class QuantizedLinearFit:
    w0: int
    wa: float
    wm: float
    e_fit: float

    def widths(self, depth: int, q: int = 8) -> np.ndarray:
        return block_widths(depth, self.w0, self.wa, self.wm, q)


def e_fit(fitted: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Mean |log(fitted / observed)| over the last axis (the blocks)."""
    return np.mean(np.abs(np.log(fitted / observed)), axis=-1)


def _score(observed: np.ndarray, w0: np.ndarray, slope: np.ndarray, wm: np.ndarray, q: int) -> np.ndarray:
    """e_fit at every point of the grid w0 × slope × wm."""
    rows = max(1, _CHUNK // (slope.size * wm.size * observed.size))
    parts = []
    for start in range(0, w0.size, rows):
        w = w0[start : start + rows, None, None, None]
        fitted = block_widths(observed.size, w, w * slope[None, :, None, None], wm[None, None, :, None], q)
        parts.append(e_fit(np.maximum(fitted, q), observed))
    return np.concatenate(parts)


def _coarse_grid(observed: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = max(1, round(observed.min() / q / 2)), max(1, round(observed.max() / q))
    # The rule's first block is w0 itself: the grid holds the first observed width and its neighbours.
    first = max(1, round(observed[0] / q)) + np.arange(-1, 2)
    w0 = np.unique(np.concatenate([np.geomspace(lo, hi, _COARSE).round(), first[first >= 1]])) * q
    slope = np.concatenate([[0.0], np.geomspace(*SLOPE_RANGE, _COARSE)])
    return w0, slope, np.geomspace(*WM_RANGE, _COARSE)


def _fine_grid(w0: float, slope: float, wm: float, q: int, zoom: float) -> tuple[np.ndarray, ...]:
    """A grid around one point, spanning the coarse range divided by `zoom` in slope and wm."""
    steps = np.linspace(-1.0, 1.0, _FINE)
    w0_grid = np.unique(np.clip(w0 + q * np.arange(-2, 3), q, None))
    if slope > 0:
        slopes = slope * (SLOPE_RANGE[1] / SLOPE_RANGE[0]) ** (steps / zoom)
    else:
        slopes = np.geomspace(SLOPE_RANGE[0], 10 * SLOPE_RANGE[0], _FINE)
    wm_grid = np.clip(wm * (WM_RANGE[1] / WM_RANGE[0]) ** (steps / zoom), *WM_RANGE)
    return w0_grid, np.concatenate([[0.0], np.minimum(slopes, SLOPE_RANGE[1])]), wm_grid


def fit_quantized_linear(widths: np.ndarray, q: int = 8) -> QuantizedLinearFit:
    """The (w0, wa, wm) whose quantized linear widths best match these per-block widths."""
    observed = np.asarray(widths, dtype=np.float64)
    if observed.ndim != 1 or observed.size == 0 or np.any(observed <= 0):
        raise ValueError("per-block widths must be a non-empty 1-D array of positive numbers")
    grids = [_coarse_grid(observed, q)]
    best: list[tuple[float, float, float, float]] = []
    for round_ in range(_ROUNDS):
        for w0, slope, wm in grids:
            score = _score(observed, w0, slope, wm, q)
            for flat in np.argsort(score, axis=None, kind="stable")[:_KEEP]:
                i, j, k = np.unravel_index(flat, score.shape)
                best.append((float(score[i, j, k]), float(w0[i]), float(slope[j]), float(wm[k])))
        best = sorted(set(best))[:_KEEP]
        if best[0][0] == 0.0:
            break
        zoom = (_COARSE / 2) * 4.0**round_
        grids = [_fine_grid(w0, slope, wm, q, zoom) for _, w0, slope, wm in best]
    score, w0, slope, wm = best[0]
    return QuantizedLinearFit(int(w0), round(w0 * slope, 6), round(wm, 6), score)
