"""The quantized linear fit of a network's per-block widths (docs/reference.md §6).

d is fixed to the network's total depth; w0, wa and wm are found by grid
search, minimizing e_fit = mean_j |log(fitted_j / observed_j)|.

The slope needs no grid. With r = wa / w0, block j sits at level
s_j = round(log(1 + r·j) / log wm), which changes only where r crosses
(wm^(k+1/2) - 1) / j; one r inside each interval between those breakpoints
gives every distinct set of levels for that wm. So the search is a grid over
w0 and wm, scored at once over all slopes: a log-spaced wm grid plus the wm
at which the observed widths can be levels of the rule (see `_level_wm`),
then finer wm grids around the best points until a fit is exact or the
rounds run out. Widths made by the rule are fitted exactly (e_fit = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specgen.network.regnet import block_widths

WM_RANGE = (1.1, 4.0)
MAX_SLOPE = 64.0
"""The largest wa / w0 searched (RegNet's wa < 256 with w0 >= 8 gives up to 32)."""
_COARSE = 24
_FINE = 11
_ROUNDS = 6
_KEEP = 8
"""Points refined each round, on a coarser fine grid (_FINE): with 4 points of 17, 12 of 600 drawn RegNets
whose widths compatibility had changed were fitted worse than by their own parameters; with 8 of 11, none,
for 11% more time."""
_MAX_LEVEL = 8
_CHUNK = 1 << 21
_SLOPE_BUDGET = 1 << 16


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


def slopes(wm: float, depth: int, top_level: int) -> np.ndarray:
    """One r = wa / w0 for each distinct set of levels s_j (j < depth, s_j <= top_level) at this wm."""
    j = np.arange(1, depth)[:, None]
    k = np.arange(top_level)[None, :]
    breaks = np.unique(((wm ** (k + 0.5) - 1) / j).ravel())
    breaks = breaks[breaks <= MAX_SLOPE]
    if breaks.size == 0:
        return np.zeros(1)
    return np.concatenate([[0.0], (breaks[:-1] + breaks[1:]) / 2, [min(MAX_SLOPE, breaks[-1] * 1.01)]])


def _best_at(
    observed: np.ndarray, w0: np.ndarray, wm: float, q: int, lowest: float
) -> tuple[np.ndarray, np.ndarray]:
    """For one wm: the lowest e_fit of each w0 over all slopes, and the slope that gives it (the slopes
    reach the levels of the grid's lowest w0, so a row scores alike whichever rows are scored with it)."""
    top = int(np.log(2 * observed.max() / lowest) / np.log(wm)) + 1
    r = slopes(wm, observed.size, top)
    if r.size * observed.size > _SLOPE_BUDGET:  # very deep networks: an even subset of the slopes
        r = r[np.linspace(0, r.size - 1, max(16, _SLOPE_BUDGET // observed.size)).astype(np.int64)]
    best, arg = np.full(w0.size, np.inf), np.zeros(w0.size)
    rows = max(1, _CHUNK // (w0.size * observed.size))
    blocks = np.arange(observed.size)
    for start in range(0, r.size, rows):
        part = r[start : start + rows]
        score = _scores(observed, w0[:, None, None], w0[:, None, None] * part[None, :, None], wm, q, blocks)
        i = np.argmin(score, axis=1)
        found = score[np.arange(w0.size), i]
        better = found < best
        best[better], arg[better] = found[better], part[i[better]]
    return best, arg


def _scores(
    observed: np.ndarray, w0: np.ndarray, wa: np.ndarray, wm: float, q: int, blocks: np.ndarray
) -> np.ndarray:
    """e_fit of `block_widths` (floored at q) for each w0 (rows) and wa (columns), in its arithmetic.

    A block's width depends on w0 and its level s only, and levels are few: each w0's width at each
    level, and its |log ratio| to each observed width, are computed once, then gathered by the levels.
    """
    u = blocks * wa + w0
    levels = np.round(np.log(u / w0) / np.log(wm)).astype(np.int64)
    top = int(levels.max()) + 1
    width = np.round(w0[:, 0] * np.power(wm, np.arange(top, dtype=np.float64)) / q) * q
    term = np.abs(np.log(np.maximum(width.astype(np.int64), q)[:, :, None] / observed))
    # term[w0, level, block], gathered flat for every (w0, wa, block).
    at = (levels + (np.arange(w0.shape[0]) * top)[:, None, None]) * observed.size + blocks
    return np.mean(term.reshape(-1)[at], axis=-1)


def _search(
    observed: np.ndarray, w0: np.ndarray, wm: np.ndarray, q: int
) -> list[tuple[float, int, float, float]]:
    """(e_fit, w0, wm, r) of the best points of the grid w0 × wm (wm increasing), best first.

    Only the row of w0 = the first observed width can fit exactly: the rule's first block is w0 itself
    (the grid's w0 are multiples of q). So that row is scored first, and its first exact fit (the
    smallest wm) is the best point of the whole grid, returned alone without scoring the other rows.
    """
    lowest, first = w0.min(), w0 == observed[0]
    points = []
    for m in wm if first.any() else ():
        best, arg = _best_at(observed, w0[first], float(m), q, lowest)
        points.append((float(best[0]), int(w0[first][0]), float(m), float(arg[0])))
        if best[0] == 0.0:
            return [points[-1]]
    rest = w0[~first]
    for m in wm if rest.size else ():
        best, arg = _best_at(observed, rest, float(m), q, lowest)
        points += [(float(e), int(w), float(m), float(r)) for e, w, r in zip(best, rest, arg, strict=True)]
    return sorted(points)[:_KEEP]


def _coarse_grid(observed: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = max(1, round(observed.min() / q / 2)), max(1, round(observed.max() / q))
    # The rule's first block is w0 itself: the grid holds the first observed width and its neighbours.
    first = max(1, round(observed[0] / q)) + np.arange(-1, 2)
    w0 = np.unique(np.concatenate([np.geomspace(lo, hi, _COARSE // 4).round(), first[first >= 1]])) * q
    return w0, np.unique(np.concatenate([np.geomspace(*WM_RANGE, _COARSE), _level_wm(observed, q)]))


def _level_wm(observed: np.ndarray, q: int) -> np.ndarray:
    """wm values at which the rule can make the observed levels.

    Level k of the rule is w0·wm^k snapped to q, so a width L at level k needs wm
    in [((L - q/2) / w0)^(1/k), ((L + q/2) / w0)^(1/k)], w0 being the first width.
    The wm that fit every level lie in an intersection of such windows, which
    starts or ends at one of their ends: just inside each end is a candidate.
    """
    levels = np.unique(observed[observed > observed[0]])
    k = np.arange(1, _MAX_LEVEL + 1)
    edges = np.concatenate([levels - q / 2, levels + q / 2]) / observed[0]
    wm = np.power(edges[:, None], 1.0 / k).ravel()
    wm = np.concatenate([wm * (1 + 1e-9), wm * (1 - 1e-9)])
    return wm[(wm >= WM_RANGE[0]) & (wm <= WM_RANGE[1])]


def fit_quantized_linear(widths: np.ndarray, q: int = 8) -> QuantizedLinearFit:
    """The (w0, wa, wm) whose quantized linear widths best match these per-block widths."""
    observed = np.asarray(widths, dtype=np.float64)
    if observed.ndim != 1 or observed.size == 0 or np.any(observed <= 0):
        raise ValueError("per-block widths must be a non-empty 1-D array of positive numbers")
    best = _search(observed, *_coarse_grid(observed, q), q)
    step = (WM_RANGE[1] / WM_RANGE[0]) ** (1 / (_COARSE - 1))
    for _ in range(_ROUNDS):
        if best[0][0] == 0.0:
            break
        found = []
        for _, w0, wm, _ in best:
            w0_grid = np.unique(np.clip(w0 + q * np.arange(-2, 3), q, None))
            wm_grid = np.clip(wm * step ** np.linspace(-1, 1, _FINE), *WM_RANGE)
            found += _search(observed, w0_grid, wm_grid, q)
        best = sorted(set(best) | set(found))[:_KEEP]
        step **= 2 / (_FINE - 1)
    score, w0, wm, r = best[0]
    return QuantizedLinearFit(w0, w0 * r, wm, score)
