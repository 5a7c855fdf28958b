"""How big a design space is: nominal (the paper's convention), exact, and the share inside a band.

- Nominal size, as docs/reference.md §4 states it: the product of the domain sizes (per
  stage, to the power S), divided by S! for every non-decreasing parameter
  (the paper's approximation); a RegNet space counts about 64 values for each of
  d, w0, wa, wm, times its group widths and bottleneck ratios.
- Exact size: the number of distinct configurations of the free parameters that
  satisfy the constraints (not the bands), as an exact integer. Each constraint says how
  it enters the count (`SpaceConstraint.count`); a space with a constraint that does not
  has no exact size ("not known exactly", null in JSON), never a wrong one. AnyNet spaces are
  counted by dynamic programming over stages (non-decreasing sequences are
  counted exactly, a binomial coefficient for one parameter, not /S!). RegNet spaces
  are counted by the structure of the quantized linear rule: for fixed d and wm,
  the stage count depends on (w0, wa) only through r = wa / w0 and changes only at
  the breakpoints r = (wm^(k-1/2) - 1) / j, so each interval between breakpoints is
  counted at once; the few grid points within 1e-9 of a breakpoint are resolved by
  the rule itself, so the count agrees with the sampler's floating-point rule.
- Where the exact size and the sampler differ: every sample must be a valid NetworkSpec, so
  the sampler also refuses networks over its params and flops limits (bands at the sampling
  resolution, and like every band not in the exact size) and, in a RegNet space, stages
  deeper than 128 blocks or wider than 16,384 channels and SE widths of 0, which the exact
  size still counts (the built-in RegNet spaces have none; AnyNet spaces that could are refused).
- Training hyperparameters (lr, weight_decay, epochs) are drawn independently of the network: both
  sizes are multiplied by the number of their combinations, a float domain counting its grid values
  (a log-uniform lr in [0.25, 5] with quantum 1e-4 is 47,501 values).
- The fraction of a space's configurations inside a complexity band, estimated by
  drawing configurations uniformly, with a 95% Wilson interval.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from specgen.errors import SpecError, how_many
from specgen.fmt import table
from specgen.network.regnet import block_levels_batch, level_widths_batch
from specgen.space.batch import Batch, measured_rules
from specgen.space.constraints import Counting
from specgen.space.constraints.band import Band
from specgen.space.sampler import BATCH, Mixture, draw_limit, grid
from specgen.space.schema import DesignSpace

REGNET_NOMINAL_VALUES = 64
"""The paper's convention counts about 64 values for each of d, w0, wa and wm."""
MAX_ESTIMATE_DRAWS = 2**19
MAX_ESTIMATE_WORK = 2**25
"""Candidates drawn at most when estimating a band's share: MAX_ESTIMATE_DRAWS, and MAX_ESTIMATE_WORK
over the columns each is resolved over (a RegNet's blocks), so that a space whose constraints are
(nearly) never met is answered in seconds (about 2 s for regnetx on one core), not minutes."""
NEAR = 1e-9
"""Grid points within this relative distance of a breakpoint are resolved by the rule itself."""
MAX_COUNT_WORK = 2_000_000_000
"""Array elements an exact count may touch (up to about 20 s on one core); past it a space is refused."""


class TooMuchWork(ValueError):
    """Counting a space exactly would touch more than MAX_COUNT_WORK array elements."""

    def __init__(self, work: float) -> None:
        super().__init__(f"counting exactly would touch at least {work:,.0f} array elements")
        self.work = work


def degrees_of_freedom(space: DesignSpace) -> int:
    """Free parameters: per-stage ones count once per stage; fixed ones (one value) not at all; each
    drawn hyperparameter once; a drawn stem type, block type or stage count once (with the most a
    variant of the space has)."""
    network = max(
        sum((v.num_stages if v.per_stage(p) else 1) for p in v.parameters if len(v.support(p)) > 1)
        for v in space.variants()
    )
    drawn = sum(len(x) > 1 for x in (space.stem_types, space.block_types, space.stage_counts))
    return network + drawn + sum(len(d.support) > 1 for d in space.hyperparameters.values())


def hyperparameter_configurations(space: DesignSpace) -> int:
    """The hyperparameters' combinations: each is independent of the network, so every size is multiplied
    by it. A float domain counts its grid values (its quantum makes a log-uniform range countable)."""
    return math.prod(len(d.support) for d in space.hyperparameters.values())


def nominal_size(space: DesignSpace) -> float:
    """The paper's figure: (16·128·3·6)^4 ≈ 1.8·10^18 for AnyNetX_A, 64^4·6·3 ≈ 3.0·10^8 for RegNet;
    times the hyperparameters' configurations."""
    networks = sum(_network_nominal_size(v) for v in space.variants())
    return networks * float(hyperparameter_configurations(space))


def _network_nominal_size(space: DesignSpace) -> float:
    if space.family == "regnet":
        size = 1.0
        for p in space.parameters:
            n = len(space.support(p))
            size *= REGNET_NOMINAL_VALUES if p in ("depth", "w0", "wa", "wm") and n > 1 else n
        return size
    s = space.num_stages
    size = 1.0
    for p in space.parameters:
        size *= len(space.support(p)) ** (s if space.per_stage(p) else 1)
    return size / math.factorial(s) ** len(space.non_decreasing)


# --- exact sizes: AnyNet ------------------------------------------------------------------------


def counting(space: DesignSpace) -> Counting:
    """What each of the space's constraints says about its count."""
    parts = Counting()
    for c in space.constraints:
        c.count(parts)
    return parts


def _anynet_size(space: DesignSpace, parts: Counting) -> int:
    """Σ over shared values σ of the number of S-stage sequences of stages that pass the per-stage rules.

    With non-decreasing parameters, a DP over stages: f_1 = h, f_{i+1}[k] = h[k]·Σ_{k' <= k} f_i[k'],
    where h[k] counts the admitted stages whose ordered parameters take the values k.
    """
    s = parts.num_stages
    shared_params = [p for p in space.parameters if p in parts.shared]
    stage_params = [p for p in space.parameters if p not in parts.shared]
    ordered = [p for p in stage_params if p in parts.ordered]
    stages = grid(space, stage_params)
    n = math.prod(len(space.support(p)) for p in stage_params)  # 1 when every parameter is shared
    keys = tuple(np.searchsorted(space.support(p), stages[p]) for p in ordered)
    shape = tuple(len(space.support(p)) for p in ordered)
    # Every shared value walks the stage table; with ordering the DP walks it S more times, in
    # Python integers (about three times the cost of an int64 element).
    work = math.prod(len(space.support(p)) for p in shared_params) * n * (1 + 3 * s * bool(ordered))
    if work > MAX_COUNT_WORK:
        raise TooMuchWork(work)
    total = 0
    for sigma in itertools.product(*(space.support(p) for p in shared_params)):
        values = {**stages, **{p: np.full(n, v) for p, v in zip(shared_params, sigma, strict=True)}}
        ok = np.ones(n, dtype=bool)
        for params, mask in parts.stage_masks:
            ok &= mask(*(values[p] for p in params))
        if not ordered:
            total += int(ok.sum()) ** s
            continue
        h = np.zeros(shape, dtype=np.int64)
        np.add.at(h, tuple(k[ok] for k in keys), 1)
        h = h.astype(object)
        f = h
        for _ in range(s - 1):
            below = f
            for axis in range(below.ndim):
                below = np.cumsum(below, axis=axis)
            f = h * below
        total += int(f.sum())
    return total


# --- exact sizes: RegNet ------------------------------------------------------------------------


def _stage_counts(widths: np.ndarray) -> np.ndarray:
    """Stage counts for every depth 1..D of rows of block widths (the rule is a prefix in depth)."""
    change = np.concatenate([np.zeros((len(widths), 1), np.int64), np.diff(widths, axis=1) != 0], axis=1)
    return 1 + np.cumsum(change, axis=1)


def regnet_configurations(
    depths: np.ndarray,
    w0s: np.ndarray,
    was: np.ndarray,
    wms: np.ndarray,
    q: int,
    num_stages: int,
    contiguous: bool = False,
) -> int:
    """#{(d, w0, wa, wm) in the grid whose quantized linear widths form exactly `num_stages` stages}
    (and, when `contiguous`, whose largest level is num_stages - 1: none skipped or merged)."""
    depths, w0s, was = np.sort(depths), np.sort(w0s), np.sort(was)
    d_max = int(depths[-1])
    use_depth = np.isin(np.arange(1, d_max + 1), depths)
    j = np.arange(d_max)
    r_min, r_max = was[0] / w0s[-1], was[-1] / w0s[0]
    total = work = 0
    for wm in wms:
        log_wm = math.log(wm)
        top = round(math.log1p(r_max * (d_max - 1)) / log_wm) + 1
        if top > 62:
            raise ValueError(f"wm = {wm:g} reaches {top} width levels; the exact count handles at most 62")
        k = np.arange(1, top + 1)
        breaks = ((np.power(wm, k - 0.5) - 1)[None, :] / j[1:, None]).ravel()
        breaks = np.unique(breaks[(breaks > r_min * (1 - 1e-6)) & (breaks < r_max * (1 + 1e-6))])
        # Snapped widths per level; levels whose snapped widths coincide are one stage. Columns
        # (w0 values) that merge the same levels are counted together.
        snapped = np.round(w0s[:, None] * np.power(wm, np.arange(top + 1, dtype=np.float64))[None, :] / q) * q
        classes = np.concatenate(
            [np.zeros((len(w0s), 1), np.int64), np.cumsum(np.diff(snapped, axis=1) != 0, axis=1)], axis=1
        )
        identity = (classes == np.arange(top + 1)).all(axis=1)
        merges, merge_of = np.unique(classes[~identity], axis=0, return_inverse=True)
        merge_of = merge_of.ravel()
        work += (len(breaks) + 1) * (d_max * (3 + len(merges) * (top + 1)) + 2 * len(w0s))
        if work > MAX_COUNT_WORK:
            raise TooMuchWork(work)
        # Outer edges at the grid's extreme ratios: no breakpoint lies between them and the grid.
        edges = np.concatenate([[r_min], breaks, [r_max]])
        reps = (edges[:-1] + edges[1:]) / 2
        levels = np.rint(np.log1p(reps[:, None] * j[None, :]) / log_wm).astype(np.int64)
        masks = np.bitwise_or.accumulate(np.left_shift(1, levels), axis=1)
        # Depths whose largest level allows the count (every depth unless `contiguous`).
        fits = (np.maximum.accumulate(levels, axis=1)[:, use_depth] + 1 == num_stages) | (not contiguous)
        # Grid points strictly inside each interval, for every w0 (columns).
        low = np.searchsorted(was, np.outer(w0s, breaks * (1 + NEAR)).ravel(), side="right")
        low = low.reshape(len(w0s), -1).T
        high = np.searchsorted(was, np.outer(w0s, breaks * (1 - NEAR)).ravel(), side="left")
        high = high.reshape(len(w0s), -1).T
        inside = np.vstack([high, np.full((1, len(w0s)), len(was))]) - np.vstack(
            [np.zeros((1, len(w0s)), np.int64), low]
        )
        inside = np.maximum(inside, 0)
        stages = np.bitwise_count(masks)[:, use_depth]
        ok = ((stages == num_stages) & fits).sum(axis=1)
        total += int(ok @ inside[:, identity].sum(axis=1))
        merged_inside = inside[:, ~identity]
        for m, merge in enumerate(merges):
            merged = np.zeros_like(masks)
            for level in range(top + 1):
                merged |= ((masks >> level) & 1) << merge[level]
            ok_merged = ((np.bitwise_count(merged)[:, use_depth] == num_stages) & fits).sum(axis=1)
            total += int(ok_merged @ merged_inside[:, merge_of == m].sum(axis=1))
        # Points near a breakpoint: the rule itself decides.
        work += int(np.maximum(low - high, 0).sum()) * d_max
        if work > MAX_COUNT_WORK:
            raise TooMuchWork(work)
        near = {
            (c, i) for b, c in zip(*np.nonzero(low > high), strict=True) for i in range(high[b, c], low[b, c])
        }
        if near:
            cols, rows = (np.array(x) for x in zip(*sorted(near), strict=True))
            block_levels, _ = block_levels_batch(
                np.full(len(cols), d_max), w0s[cols], was[rows], np.full(len(cols), wm)
            )
            widths = level_widths_batch(w0s[cols], np.full(len(cols), wm), block_levels, q)
            counts = _stage_counts(widths)[:, use_depth]
            tops = np.maximum.accumulate(block_levels, axis=1)[:, use_depth] + 1
            total += int(((counts == num_stages) & ((tops == num_stages) | (not contiguous))).sum())
    return total


@cache
def _cached_configurations(grid: tuple[bytes, ...], q: int, num_stages: int, contiguous: bool) -> int:
    depths, w0s, was, wms = (np.frombuffer(b, dtype=t) for b, t in zip(grid, _GRID_TYPES, strict=True))
    return regnet_configurations(depths, w0s, was, wms, q, num_stages, contiguous)


_GRID_TYPES = (np.int64, np.int64, np.float64, np.float64)


def _regnet_size(space: DesignSpace, parts: Counting) -> int:
    rest = len(space.support("group_width")) * len(space.support("bottleneck_ratio"))
    grid = tuple(
        space.support(p).astype(t).tobytes()
        for p, t in zip(("depth", "w0", "wa", "wm"), _GRID_TYPES, strict=True)
    )
    return rest * _cached_configurations(grid, parts.quantization, parts.num_stages, parts.contiguous)


def exact_size(space: DesignSpace, source: str | None = None) -> int | None:
    """Distinct configurations of the free parameters that satisfy the constraints (bands aside),
    None when a constraint has no counting rule, or one SpecError line (naming `source`, default
    the space) when counting would take too long."""
    variants = space.variants()
    parts = [counting(v) for v in variants]
    if any(p.unknown for p in parts):
        return None
    try:
        networks = sum(
            _anynet_size(v, p) if p.quantization is None else _regnet_size(v, p)
            for v, p in zip(variants, parts, strict=True)
        )
        return networks * hyperparameter_configurations(space)
    except TooMuchWork as e:
        raise SpecError(
            space.name if source is None else source,
            "parameters",
            f"expected a space that counts exactly within {MAX_COUNT_WORK:,} array elements, got at least "
            f"{how_many(e.work)}; sample it instead, or narrow its domains",
        ) from None


# --- the share inside a band --------------------------------------------------------------------


@dataclass(frozen=True)
class Fraction:
    """An estimated proportion with its 95% confidence interval (Wilson score)."""

    value: float
    low: float
    high: float
    draws: int


def wilson(hits: int, n: int, z: float = 1.959963984540054) -> Fraction:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Fraction(p, max(0.0, centre - half), min(1.0, centre + half), n)


def band_fraction(space: DesignSpace, bands: list[Band], draws: int = 50_000, seed: int = 0) -> Fraction:
    """Share of the space's configurations (drawn uniformly) that lie inside all the bands.

    The share is of the configurations that satisfy the space's own constraints: when those are
    rarely met, the draws end at the bound with fewer than `draws` of them (a wider interval).
    """
    rng = np.random.default_rng(seed)
    # Uniform over configurations: a variant is drawn in proportion to how many it holds.
    variants = space.variants()
    weights = None if len(variants) == 1 else [exact_size(v) or nominal_size(v) for v in variants]
    mixture = Mixture(space, space.bands, uniform=True, weights=weights)
    limit = min(MAX_ESTIMATE_DRAWS, draw_limit(space, MAX_ESTIMATE_WORK))
    hits = valid = drawn = 0
    while drawn < limit:
        pieces = mixture(rng, BATCH)
        drawn += BATCH
        verdicts, positions = [], []
        for piece in pieces:
            inside = np.ones(len(piece.positions), dtype=bool)
            for rule in measured_rules(Batch(piece.space, piece.designs, piece.stages), bands):
                inside &= rule.rows()
            verdicts.append(inside)
            positions.append(piece.positions)
        inside = np.concatenate(verdicts)[np.argsort(np.concatenate(positions), kind="stable")]
        inside = inside[: draws - valid]
        valid += len(inside)
        hits += int(inside.sum())
        if valid == draws:
            break
    if valid == 0:
        bound = wilson(0, drawn).high
        raise SpecError(
            space.name,
            "constraints",
            f"no configuration satisfies the constraints in {drawn:,} uniform draws: fewer than "
            f"{_percent(bound)} of the space's configurations do (95% confidence); widen the band or "
            "loosen the constraints",
        )
    return wilson(hits, valid)


# --- the `specgen spaces` listing ---------------------------------------------------------------


def summary(space: DesignSpace, bands: list[Band] | None = None, source: str | None = None) -> dict:
    """A space's parameters and sizes as plain data (`specgen spaces --json`); `source` names it in errors."""
    info = {
        "name": space.name,
        "family": space.family,
        "num_stages": space.num_stages,
        "degrees_of_freedom": degrees_of_freedom(space),
        "nominal_size": nominal_size(space),
        "exact_size": exact_size(space, source),
        "parameters": {
            p: {
                "per_stage": space.per_stage(p),
                "distribution": space.parameters[p].distribution,
                "values": len(space.support(p)),
                "min": space.support(p)[0].item(),
                "max": space.support(p)[-1].item(),
            }
            for p in space.parameters
        },
        "constraints": [c.model_dump(exclude_none=True) for c in space.constraints],
    }
    if space.hyperparameters:
        info["hyperparameters"] = {
            name: {
                "distribution": domain.distribution,
                "values": len(domain.support),
                "min": domain.support[0].item(),
                "max": domain.support[-1].item(),
            }
            for name, domain in space.hyperparameters.items()
        }
    if bands:
        share = band_fraction(space, bands)
        info["band"] = {
            "bands": [b.model_dump(exclude_none=True) for b in bands],
            "fraction": share.value,
            "ci95": [share.low, share.high],
            "draws": share.draws,
        }
    return info


def _scientific(x: float) -> str:
    """1.8e18, as the paper writes 1.8·10^18."""
    return f"{x:.1e}".replace("e+0", "e").replace("e+", "e")


def _percent(x: float) -> str:
    return f"{100 * x:.3g}%"


def render(summaries: list[dict]) -> str:
    """The listing as an aligned table."""
    banded = any("band" in s for s in summaries)
    headers = ["space", "family", "dof", "nominal size", "exact size"]
    if banded:
        headers += ["in band", "95% CI"]
    rows = []
    for s in summaries:
        row = [
            s["name"],
            s["family"],
            s["degrees_of_freedom"],
            _scientific(s["nominal_size"]),
            "not known exactly" if s["exact_size"] is None else f"{s['exact_size']:,}",
        ]
        if banded:
            band = s["band"]
            row += [_percent(band["fraction"]), f"[{_percent(band['ci95'][0])}, {_percent(band['ci95'][1])}]"]
        rows.append(row)
    return table(headers, rows, right=[False, False, True, True, True] + [True, True] * banded)
