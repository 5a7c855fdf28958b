"""Draw networks from a design space, as the paper does for its EDFs (n = 500 in 360–400 MF).

Candidates are drawn in fixed-size NumPy batches from the declared
distributions, resolved (the RegNet rule, vectorized) and counted
(`complexity.count_batch`) a batch at a time, then filtered by the space's
constraints' masks (`batch.admitted`), so every sample satisfies every
constraint. Shared parameters are drawn once per network; a constraint may
construct a parameter's draws instead of filtering them (`draw_parameter`:
non_decreasing's stars and bars), and whatever the construction ensures is not
checked again (`guaranteed`). AnyNet spaces whose stages are coupled only through
shared values draw whole stages from a table of the stages that pass every
per-stage constraint (`StageTables`): the same law as rejecting the others,
without the rejections.

Every sample is also a valid NetworkSpec: NetworkSpec's structural limits are
a rule (`spec_limits.within_limits`) and its params and flops limits are bands
at the samples' resolution (`Band.limits`).

The batch size is fixed, so a seed gives the same samples whatever n is
(the first n of a larger draw), and the draws are bounded by work, whatever n
is: a band that is empty or nearly so ends with an error that states the
acceptance rate seen, and `unique` ends after a long run of repeats.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.spec import MEASURED, NetworkSpec, Stage
from specgen.space.batch import Designs, Stages, admitted, measure, resolve, stage_buildable
from specgen.space.constraints.band import Band
from specgen.space.schema import DesignSpace

BATCH = 16384
MAX_TABLE = 4_000_000
"""Product of an AnyNet space's domain sizes up to which buildable stages are tabulated."""
MAX_DRAW_WORK = 600_000_000
"""Candidates drawn at most, times the columns each is resolved over (a RegNet's blocks, an AnyNet's
stages), whatever n is: about half a minute of drawing on one core."""
PATIENCE = 1_000_000
"""After this many candidates, stop early when the acceptance rate seen cannot finish in time."""
REPEATS_PER_NETWORK = 20
"""With `unique`: give up after this many accepted repeats in a row per distinct network found
(plus `MIN_REPEATS`); were one network still unseen, it would have been missed with chance e^-20."""
MIN_REPEATS = 10_000


@dataclass(frozen=True)
class Sample:
    """One network drawn from a space: its free parameters, what it resolves to, and its complexity."""

    id: str
    space: str
    seed: int
    index: int
    design: dict
    resolution: int
    flops: int
    params: int
    acts: int
    spec: NetworkSpec
    hyperparameters: dict = field(default_factory=dict)
    """The training hyperparameters drawn with the network (none unless the space declares some)."""

    def to_json(self) -> dict:
        """One line of a samples file (keys in this order; `hyperparameters` only when drawn)."""
        drawn = {"hyperparameters": self.hyperparameters} if self.hyperparameters else {}
        return {
            "id": self.id,
            "space": self.space,
            "seed": self.seed,
            "index": self.index,
            "design": self.design,
            **drawn,
            "resolution": self.resolution,
            "flops": self.flops,
            "params": self.params,
            "acts": self.acts,
            "spec": self.spec.model_dump(mode="json"),
        }


def run_hash(net: NetworkSpec, hyperparameters: dict) -> str:
    """A sample's id: the network's content hash, or, with hyperparameters, the hash of both (the
    same network trained with another lr is another run)."""
    if not hyperparameters:
        return net.content_hash()
    both = {"network": net.content_hash(), "hyperparameters": hyperparameters}
    canonical = json.dumps(both, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def hyperparameter_rng(seed: int) -> np.random.Generator:
    """The hyperparameters' own stream: the networks a seed draws are the same with or without them."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def draw_hyperparameters(space: DesignSpace, rng: np.random.Generator, n: int) -> list[dict]:
    """n independent draws of the space's hyperparameters, as plain JSON values (none declared: n {})."""
    columns = {name: domain.draw(rng, n).tolist() for name, domain in space.hyperparameters.items()}
    return [{name: column[i] for name, column in columns.items()} for i in range(n)]


def draw(
    space: DesignSpace, rng: np.random.Generator, n: int, uniform: bool = False
) -> tuple[Designs, np.ndarray]:
    """n candidate designs, each parameter drawn independently (shared ones once per network),
    and the rows whose construction succeeded (before any other constraint).

    `uniform` draws every parameter uniformly over its support: the sizes module uses it to
    estimate what fraction of the space's configurations lies in a band.
    """
    values, ok = {}, np.ones(n, dtype=bool)
    s = space.num_stages
    for name, domain in space.parameters.items():

        def independent(shape, domain=domain):
            if uniform:
                return domain.support[rng.integers(0, len(domain.support), shape)]
            return domain.draw(rng, shape)

        if not space.per_stage(name):
            x = independent(n)
            values[name] = x if space.family == "regnet" else np.repeat(x[:, None], s, axis=1)
            continue
        built = (c.draw_parameter(space, name, domain, rng, n, uniform) for c in space.constraints)
        made = next((m for m in built if m is not None), None)
        if made is None:
            values[name] = independent((n, s))
        else:
            values[name], constructed = made
            ok &= constructed
    return Designs(values), ok


def grid(space: DesignSpace, params: list[str]) -> dict[str, np.ndarray]:
    """Every combination of the parameters' support values, one flat column per parameter."""
    supports = [space.support(p) for p in params]
    return {p: m.ravel() for p, m in zip(params, np.meshgrid(*supports, indexing="ij"), strict=True)}


class StageTables:
    """Buildable stages, tabulated, so AnyNet spaces without ordering draw them without rejections.

    Given the shared values σ, a stage is a tuple of the per-stage parameters that passes
    every per-stage constraint (`divisible`); its weight is the product of the parameters' probabilities.
    Drawing σ with weight p(σ)·Z(σ)^S (Z: the total weight of σ's table) and then each
    stage from σ's table in proportion to its weight is exactly drawing every parameter
    independently and keeping the networks whose stages are all buildable.
    """

    def __init__(self, space: DesignSpace, uniform: bool) -> None:
        self.num_stages = space.num_stages

        def weights(params: list[str]) -> np.ndarray:
            if not params:
                return np.ones(1)
            probs = [
                np.ones(len(space.support(p))) if uniform else space.parameters[p].probabilities()
                for p in params
            ]
            return np.prod([m.ravel() for m in np.meshgrid(*probs, indexing="ij")], axis=0)

        stage_cols, stage_weight = grid(space, space.stage_parameters), weights(space.stage_parameters)
        self.shared_values = grid(space, space.network_parameters)
        shared_weight = weights(space.network_parameters)
        tables, totals = [], []
        for k in range(len(shared_weight)):
            both = {
                **stage_cols,
                **{p: np.full(len(stage_weight), v[k]) for p, v in self.shared_values.items()},
            }
            tables.append(np.flatnonzero(stage_buildable(space, both)))
            totals.append(stage_weight[tables[-1]].sum())
        rows = np.concatenate(tables)
        self.stage_values = {p: c[rows] for p, c in stage_cols.items()}
        self.cumulative = np.cumsum(stage_weight[rows])
        self.sizes = np.array([len(t) for t in tables])
        self.equal_weights = bool(np.all(stage_weight == stage_weight[0]))
        ends = np.cumsum(self.sizes)
        self.first = ends - self.sizes
        self.last = np.maximum(ends - 1, 0)
        self.total = np.array(totals)
        self.offset = self.cumulative[self.last] - self.total if len(rows) else np.zeros(len(tables))
        with np.errstate(divide="ignore", invalid="ignore"):  # empty tables get weight 0
            log_p = np.log(shared_weight) + self.num_stages * np.log(self.total)
            p = np.exp(log_p - log_p.max())
        self.shared_cumulative = np.cumsum(p) / p.sum()

    def draw(self, rng: np.random.Generator, n: int) -> Designs:
        s = self.num_stages
        sigma = np.searchsorted(self.shared_cumulative, rng.random(n), side="right")
        sigma = np.minimum(sigma, len(self.total) - 1)
        u = rng.random((n, s))
        if self.equal_weights:
            idx = self.first[sigma][:, None] + (u * self.sizes[sigma][:, None]).astype(np.int64)
        else:
            target = self.offset[sigma][:, None] + u * self.total[sigma][:, None]
            idx = np.searchsorted(self.cumulative, target, side="right")
        idx = np.clip(idx, self.first[sigma][:, None], self.last[sigma][:, None])
        values = {p: v[idx] for p, v in self.stage_values.items()}
        values.update({p: np.repeat(v[sigma][:, None], s, axis=1) for p, v in self.shared_values.items()})
        return Designs(values)


def tabulable(space: DesignSpace) -> bool:
    """AnyNet spaces whose stages are coupled only through shared values (no ordered parameters), and
    whose tables are small enough."""
    if space.family != "anynet" or space.non_decreasing:
        return False
    return np.prod([len(space.support(p)) for p in space.parameters], dtype=np.float64) <= MAX_TABLE


def _bands(space: DesignSpace, resolution: int, flops, params, acts) -> list[Band]:
    """The space's bands, the ones asked for, and NetworkSpec's limits at the samples' resolution."""
    extra = [
        Band(name=name, min=band[0], max=band[1], resolution=resolution)
        for name, band in (("flops", flops), ("params", params), ("acts", acts))
        if band is not None
    ]
    return [*space.bands, *extra, *Band.limits(resolution)]


class Candidates:
    """Batches of candidates: drawn (from stage tables when the space allows), resolved, filtered."""

    def __init__(self, space: DesignSpace, bands: list[Band], uniform: bool = False) -> None:
        self.space, self.bands, self.uniform = space, bands, uniform
        self.tables = StageTables(space, uniform) if tabulable(space) else None
        if self.tables is not None and not self.tables.sizes.any():
            self.tables = None  # nothing is buildable: draw and reject, and report the rate
        # What construction ensures (values come from the supports): the constraints that say so,
        # and the per-stage ones when stages come from the tables.
        self.guaranteed = frozenset(
            i
            for i, c in enumerate(space.constraints)
            if c.guaranteed(space) or (self.tables is not None and c.stage_parameters)
        )

    def __call__(self, rng: np.random.Generator, n: int) -> tuple[Designs, Stages, np.ndarray]:
        """A batch: designs, what they resolve to, and which satisfy every constraint and band."""
        if self.tables is not None:
            designs, ok = self.tables.draw(rng, n), np.ones(n, dtype=bool)
        else:
            designs, ok = draw(self.space, rng, n, self.uniform)
        stages = resolve(self.space, designs)
        admits = admitted(self.space, designs, stages, self.bands, self.guaranteed, domains=False)
        return designs, stages, ok & admits


@dataclass(frozen=True)
class Piece:
    """A batch's candidates that one fixed space (a variant) drew and that satisfy every constraint:
    their designs, stages, and positions among the batch's draws."""

    space: DesignSpace
    designs: Designs
    stages: Stages
    positions: np.ndarray


class Mixture:
    """Batches of candidates from a space that may draw its stem type, block type or stage count.

    Each candidate's variant (`DesignSpace.variants`) is drawn first, with `weights` (default
    equal), then the candidate as that variant's own `Candidates` draw it; bands filter the
    pair. A space that draws none of them is its one variant, drawn as before (the same
    random stream, so the same samples).
    """

    def __init__(
        self,
        space: DesignSpace,
        bands: list[Band],
        uniform: bool = False,
        weights: list[float] | None = None,
    ) -> None:
        self.variants = space.variants()
        self.parts = [Candidates(v, bands, uniform) for v in self.variants]
        w = np.ones(len(self.variants)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.p = w / w.sum()

    def __call__(self, rng: np.random.Generator, n: int) -> list[Piece]:
        if len(self.parts) == 1:
            designs, stages, ok = self.parts[0](rng, n)
            rows = np.flatnonzero(ok)
            return [Piece(self.variants[0], designs.take(rows), stages.take(rows), rows)]
        picks = rng.choice(len(self.parts), size=n, p=self.p)
        pieces = []
        for k, part in enumerate(self.parts):
            at = np.flatnonzero(picks == k)
            if len(at):
                designs, stages, ok = part(rng, len(at))
                rows = np.flatnonzero(ok)
                pieces.append(Piece(self.variants[k], designs.take(rows), stages.take(rows), at[rows]))
        return pieces


def _design_json(space: DesignSpace, designs: Designs, row: int) -> dict:
    v = designs.values
    if space.family == "regnet":
        return {
            "depth": int(v["depth"][row]),
            "w0": int(v["w0"][row]),
            "wa": float(v["wa"][row]),
            "wm": float(v["wm"][row]),
            "group_width": int(v["group_width"][row]),
            "bottleneck_ratio": float(v["bottleneck_ratio"][row]),
        }
    return {
        "depths": [int(x) for x in v["depth"][row]],
        "widths": [int(x) for x in v["width"][row]],
        "bottleneck_ratios": [float(x) for x in v["bottleneck_ratio"][row]],
        "group_widths": [int(x) for x in v["group_width"][row]],
    }


def network(
    space: DesignSpace,
    stages: Stages,
    row: int,
    resolution: int,
    measured: complexity.Complexity,
    name: str = "sample",
) -> NetworkSpec:
    """The concrete NetworkSpec of one resolved candidate, `measured` at `resolution`."""
    present = stages.depths[row] > 0
    strides = space.stage_strides(int(present.sum()))
    body = [
        Stage(depth=int(d), width=int(w), stride=t, bottleneck_ratio=float(b), group_width=int(g))
        for d, w, b, g, t in zip(
            stages.depths[row][present],
            stages.widths[row][present],
            stages.bottleneck_ratios[row][present],
            stages.group_widths[row][present],
            strides,
            strict=True,
        )
    ]
    fields = {"name": name, **space.fixed_fields(), "stages": body, "resolution": resolution}
    return NetworkSpec.model_validate(fields, context={MEASURED: measured})


def to_sample(
    space: DesignSpace,
    designs: Designs,
    stages: Stages,
    cx: complexity.BatchComplexity,
    row: int,
    *,
    seed: int,
    index: int,
    resolution: int,
    hyperparameters: dict | None = None,
) -> Sample:
    """A Sample from row `row` of a resolved, measured batch; its name is the space's and its id's."""
    measured = complexity.Complexity(int(cx.flops[row]), int(cx.params[row]), int(cx.acts[row]))
    net = network(space, stages, row, resolution, measured)
    hyperparameters = hyperparameters or {}
    digest = run_hash(net, hyperparameters)
    net = net.model_copy(update={"name": f"{space.name[:51]}-{digest[:12]}"})
    return Sample(
        id=digest,
        space=space.name,
        seed=seed,
        index=index,
        design=_design_json(space, designs, row),
        resolution=resolution,
        flops=measured.flops,
        params=measured.params,
        acts=measured.acts,
        spec=net,
        hyperparameters=hyperparameters,
    )


def draw_limit(space: DesignSpace, work: int = MAX_DRAW_WORK) -> int:
    """Candidates drawn at most: `work` over the columns each candidate is resolved over."""
    columns = int(space.support("depth")[-1]) if space.family == "regnet" else space.num_stages
    return work // columns


def _structures(stages: Stages) -> np.ndarray:
    """One row of bytes per network: equal exactly when the networks are (same content hash),
    since everything else in a sample's spec is the space's."""
    columns = (stages.depths, stages.widths, stages.group_widths, stages.bottleneck_ratios)
    rows = np.ascontiguousarray(np.concatenate([c.astype(np.float64) for c in columns], axis=1))
    return rows.view(np.dtype((np.void, rows.shape[1] * 8))).ravel()


def samples(
    space: DesignSpace,
    n: int,
    *,
    seed: int = 0,
    flops: tuple[float | None, float | None] | None = None,
    params: tuple[float | None, float | None] | None = None,
    acts: tuple[float | None, float | None] | None = None,
    resolution: int | None = None,
    unique: bool = False,
    max_draws: int | None = None,
) -> Iterator[Sample]:
    """n networks from `space` satisfying its constraints and the given bands (absolute units),
    one at a time, so a caller that writes them out need not hold them all.

    Bands and the samples' complexity are at `resolution` (default: the space's). With
    `unique`, a sample already drawn (same id) is skipped, and the draw ends
    once long runs of repeats show the space holds no more. A space's hyperparameters are drawn
    for every accepted network from their own stream, after it. Too few samples raise SpecError
    after the last one.
    """
    res = space.resolution if resolution is None else resolution
    bands = _bands(space, res, flops, params, acts)
    max_draws = draw_limit(space) if max_draws is None else max_draws
    rng = np.random.default_rng(seed)
    hyper_rng = hyperparameter_rng(seed)
    mixture = Mixture(space, bands)
    found = 0
    seen: set = set()
    drawn = kept = repeats = 0
    while found < n and drawn < max_draws:
        pieces = mixture(rng, BATCH)
        accepted = sum(len(piece.positions) for piece in pieces)
        drawn += BATCH
        kept += accepted
        if drawn >= PATIENCE and (kept == 0 or drawn * n / kept > max_draws):
            break
        if not accepted:
            continue
        measured = [measure(piece.space, piece.stages, res) for piece in pieces]
        # The batch's accepted candidates in the order they were drawn, whichever variant drew them.
        which = np.concatenate([np.full(len(piece.positions), k) for k, piece in enumerate(pieces)])
        rows = np.concatenate([np.arange(len(piece.positions)) for piece in pieces])
        order = np.argsort(np.concatenate([piece.positions for piece in pieces]), kind="stable")
        which, rows = which[order].tolist(), rows[order].tolist()
        drawn_hyper = draw_hyperparameters(space, hyper_rng, accepted)
        structures = [_structures(piece.stages).tolist() if unique else [] for piece in pieces]
        keys = [(k, structures[k][row]) for k, row in zip(which, rows, strict=True)] if unique else []
        if unique and space.hyperparameters:
            keys = [(k, tuple(h.values())) for k, h in zip(keys, drawn_hyper, strict=True)]
        for i, (k, row) in enumerate(zip(which, rows, strict=True)):
            if unique:
                if keys[i] in seen:
                    repeats += 1
                    if repeats > REPEATS_PER_NETWORK * len(seen) + MIN_REPEATS:
                        raise SpecError(
                            space.name,
                            "constraints",
                            f"found {len(seen):,} distinct networks of the {n:,} asked for, then "
                            f"{repeats:,} repeats in a row; the space (within its bands) holds no more",
                        )
                    continue
                seen.add(keys[i])
                repeats = 0
            piece = pieces[k]
            yield to_sample(
                piece.space, piece.designs, piece.stages, measured[k], row,
                seed=seed, index=found, resolution=res, hyperparameters=drawn_hyper[i],
            )  # fmt: skip
            found += 1
            if found == n:
                break
    if found < n:
        rate = kept / drawn if drawn else 0.0
        raise SpecError(
            space.name,
            "constraints",
            f"drew {drawn:,} candidates and kept {kept:,} (acceptance rate {rate:.2e}), "
            f"{found:,} {'distinct ' if unique else ''}of the {n:,} asked for (at most {max_draws:,} "
            "candidates are drawn); widen the band or loosen the constraints",
        )


def sample(space: DesignSpace, n: int, **options) -> list[Sample]:
    """`samples` as a list."""
    return list(samples(space, n, **options))
