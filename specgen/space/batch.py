"""Candidate networks as NumPy arrays, the form every constraint's mask reads.

A batch holds the free parameters as drawn (`Designs`: AnyNet parameters are
(N, S) arrays, one column per stage; RegNet parameters are (N,) arrays) and
what they resolve to (`Stages`: (N, S) arrays, depth 0 for an absent stage).
`rules` runs the space's constraints over a batch (each through its own class,
in registry order), `admitted` combines their masks for the sampler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from specgen.network import complexity
from specgen.space import spec_limits

if TYPE_CHECKING:
    from specgen.space.constraints.base import SpaceConstraint
    from specgen.space.schema import DesignSpace


@dataclass(frozen=True)
class Designs:
    """Free parameters of N candidate networks, by parameter name."""

    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.values.values())))

    def take(self, rows: np.ndarray) -> Designs:
        return Designs({k: v[rows] for k, v in self.values.items()})


@dataclass(frozen=True)
class Stages:
    """What N designs resolve to: per-stage arrays (N, S), each network's stage count, and its
    largest width level plus one (a RegNet's levels; an AnyNet's stage count)."""

    depths: np.ndarray
    widths: np.ndarray
    group_widths: np.ndarray
    bottleneck_ratios: np.ndarray
    count: np.ndarray
    levels: np.ndarray

    def take(self, rows: np.ndarray) -> Stages:
        return Stages(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def resolve(space: DesignSpace, designs: Designs) -> Stages:
    """AnyNet designs are their stages; a constraint that makes the family (quantized_linear) resolves
    the others."""
    if space.resolver is not None:
        return space.resolver.resolve(designs)
    v = designs.values
    depths = v["depth"]
    count = np.full(len(depths), depths.shape[1], dtype=np.int64)
    ratios = v["bottleneck_ratio"].astype(np.float64)
    return Stages(depths, v["width"], v["group_width"], ratios, count, count)


def measure(space: DesignSpace, stages: Stages, resolution: int) -> complexity.BatchComplexity:
    """Flops, params and activations of every candidate, in one vectorized walk."""
    return complexity.count_batch(
        stages.depths,
        np.maximum(stages.widths, 1),
        np.maximum(stages.group_widths, 1),
        stages.bottleneck_ratios,
        2 if space.strides is None else np.array(space.stage_strides(stages.depths.shape[1])),
        stem_width=space.stem_width,
        se_ratio=space.se_ratio,
        stem_type=space.stem_type,
        block_type=space.block_type,
        resolution=resolution,
        num_classes=space.num_classes,
        in_channels=space.in_channels,
    )


@dataclass
class Batch:
    """Designs, their stages, and their complexity counted once per resolution when a band asks."""

    space: DesignSpace
    designs: Designs
    stages: Stages
    _measured: dict[int, complexity.BatchComplexity] = field(default_factory=dict)

    def measured(self, resolution: int) -> complexity.BatchComplexity:
        if resolution not in self._measured:
            self._measured[resolution] = measure(self.space, self.stages, resolution)
        return self._measured[resolution]

    def take(self, rows: np.ndarray) -> Batch:
        return Batch(self.space, self.designs.take(rows), self.stages.take(rows))


@dataclass(frozen=True)
class Rule:
    """One verdict on a batch: a label, the field it concerns, a mask, and the constraint that gave it
    (None for a parameter's domain and for NetworkSpec's limits).

    The mask is (N,) or (N, S) (per stage); a row passes when all its entries pass.
    """

    label: str
    field: str
    mask: np.ndarray
    constraint: SpaceConstraint | None = None

    def rows(self) -> np.ndarray:
        return self.mask if self.mask.ndim == 1 else self.mask.all(axis=1)


def stage_buildable(space: DesignSpace, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Which single stages (flat columns by parameter) pass every per-stage constraint of the space."""
    ok = np.ones(len(next(iter(columns.values()))), dtype=bool)
    for c in space.stage_constraints:
        ok &= c.stage_mask(*(columns[p] for p in c.stage_parameters))
    return ok


def structural_rules(
    batch: Batch, skip: frozenset[int] = frozenset(), domains: bool = True
) -> Iterator[Rule]:
    """The rules on parameters and stages, in the order `validate` reports them: the domains, the
    constraints (registry order) less the positions in `skip`, then NetworkSpec's structural limits."""
    space, v = batch.space, batch.designs.values
    if domains:
        for name, domain in space.parameters.items():
            yield Rule("domain", name, np.isin(v[name], domain.support))
    for i, c in space.ranked_constraints:
        if not c.measured and i not in skip:
            yield from c.rules(batch)
    yield Rule("limits", "stages", spec_limits.within_limits(space, batch.stages))


def measured_rules(batch: Batch, constraints: list[SpaceConstraint]) -> Iterator[Rule]:
    """The rules that need the networks' complexity (bands), each network counted once per resolution."""
    for c in constraints:
        yield from c.rules(batch)


def rules(space: DesignSpace, designs: Designs, bands: list | None = None) -> Iterator[Rule]:
    """Every constraint of the space on a batch; bands default to the space's own."""
    batch = Batch(space, designs, resolve(space, designs))
    yield from structural_rules(batch)
    yield from measured_rules(batch, space.bands if bands is None else bands)


def admitted(
    space: DesignSpace,
    designs: Designs,
    stages: Stages | None = None,
    bands: list | None = None,
    guaranteed: frozenset[int] = frozenset(),
    domains: bool = True,
) -> np.ndarray:
    """Which candidates satisfy every constraint.

    Bands are measured only on the candidates that pass the structural rules (the
    sampler's hot path). `guaranteed` holds the positions of the constraints that the
    candidates' construction already ensures, which are then skipped, as the domains are
    when `domains` is false.
    """
    batch = Batch(space, designs, resolve(space, designs) if stages is None else stages)
    ok = np.ones(len(designs), dtype=bool)
    for rule in structural_rules(batch, guaranteed, domains):
        ok &= rule.rows()
    rows = np.flatnonzero(ok)
    for rule in measured_rules(batch.take(rows), space.bands if bands is None else bands):
        ok[rows] &= rule.rows()
    return ok


def number(x) -> str:
    """A value as an error message shows it: 1,024, 0.25, 4 (not 4.0)."""
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"
