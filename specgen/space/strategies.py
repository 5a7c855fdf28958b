"""Hypothesis strategies over design spaces (public through `specgen.testing`).

`space_samples(space)` draws a sample constructively: the design's values from the
supports (an AnyNet's stages whole, from the table of stages that pass every per-stage
constraint), then each constraint's `strategy` hook makes it satisfy that constraint,
so Hypothesis can shrink it; a constraint that cannot be built into (a band) hands
over to the sampler with a drawn seed. `near_space_specs(space)` draws specs around a
space for testing what its constraints accept.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from specgen.network.blocks import BLOCK_TYPES
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec, Stage
from specgen.space.batch import Designs, admitted, measure, resolve
from specgen.space.builtins import load_space
from specgen.space.constraints.band import Band
from specgen.space.sampler import Sample, StageTables, sample, to_sample
from specgen.space.schema import DesignSpace

# --- design spaces --------------------------------------------------------------------------------


def _space(space: DesignSpace | str) -> DesignSpace:
    return space if isinstance(space, DesignSpace) else load_space(space)


def _variant(draw, space: DesignSpace) -> DesignSpace:
    """One of the fixed spaces a space mixes (its stem type, block type and stage count drawn)."""
    return draw(st.sampled_from(space.variants())) if space.mixed else space


@lru_cache(maxsize=16)
def _stage_tables(space_json: str) -> StageTables:
    return StageTables(DesignSpace.model_validate_json(space_json), uniform=True)


def _drawn(draw, space: DesignSpace) -> dict:
    """A design before the constraints' hooks: an AnyNet's shared values and its stages whole from the
    table of stages that pass every per-stage constraint for them; a RegNet's values from the supports."""
    if space.family != "anynet":
        return {p: draw(st.sampled_from(space.support(p).tolist())) for p in space.parameters}
    tables = _stage_tables(space.model_dump_json())
    sigma = draw(st.sampled_from([int(k) for k in np.flatnonzero(tables.sizes)]))
    rows = [
        draw(st.integers(int(tables.first[sigma]), int(tables.last[sigma]))) for _ in range(space.num_stages)
    ]
    values = {p: v[rows] for p, v in tables.stage_values.items()}
    return values | {p: np.full(space.num_stages, v[sigma]) for p, v in tables.shared_values.items()}


@st.composite
def space_samples(draw, space: DesignSpace | str, resolution: int | None = None) -> Sample:
    """A Sample (design, resolved NetworkSpec, complexity) from any DesignSpace, built-in or user-given.

    Drawn constructively from the space's supports and its constraints' strategy hooks, so
    Hypothesis can shrink it. A constraint that cannot be built into (a complexity band)
    makes the sample come from the sampler with a drawn seed.
    """
    space = _variant(draw, _space(space))
    res = space.resolution if resolution is None else resolution

    def pick(values: list):
        assume(len(values) > 0)
        return draw(st.sampled_from(values))

    values = _drawn(draw, space)
    for _, c in space.ranked_constraints:
        values = c.strategy(pick, space, values)
        if values is None:
            return sample(space, 1, seed=draw(st.integers(0, 2**32 - 1)), resolution=res)[0]
    designs = Designs({p: np.array([v]) for p, v in values.items()})
    stages = resolve(space, designs)
    # A hook that could not order coupled values, and the rare networks over NetworkSpec's limits
    # (as the sampler refuses them).
    assume(admitted(space, designs, stages, Band.limits(res))[0])
    hyperparameters = {n: draw(st.sampled_from(d.support.tolist())) for n, d in space.hyperparameters.items()}
    cx = measure(space, stages, res)
    return to_sample(
        space, designs, stages, cx, 0, seed=0, index=0, resolution=res, hyperparameters=hyperparameters
    )


def _near(values: np.ndarray, draw) -> int | float:
    """A value of the domain, or one just outside it (below, above, or between two values)."""
    inside = values.tolist()
    x = draw(st.sampled_from(inside))
    step = (values[-1] - values[0]) / max(1, len(values) - 1) if len(values) > 1 else 1
    off = draw(st.sampled_from([0, 0, 0, 1]))
    if not off:
        return x
    delta = step / 2 if isinstance(x, float) else max(1, int(step) // 2)
    return x + draw(st.sampled_from([-1, 1])) * delta


def _near_integral(values: np.ndarray, draw) -> int | float:
    """A value of the domain, or a positive integer next to one (b and g stay whole off the domain)."""
    x = draw(st.sampled_from(values.tolist()))
    if draw(st.sampled_from([0, 0, 0, 1])):
        return max(1, round(x) + draw(st.sampled_from([-1, 1])))
    return x


@st.composite
def near_space_specs(draw, space: DesignSpace | str) -> NetworkSpec | RegNetSpec:
    """Specs near a space, for testing that validation accepts exactly what its constraints allow.

    Values come from the space's domains (now and then just outside them), stage counts
    around `num_stages`, and shared / non-decreasing rules are not enforced. Every spec
    is itself valid (buildable), so only the space's rules can refuse it.
    """
    space = _variant(draw, _space(space))
    fixed = {**space.fixed_fields(), "resolution": space.resolution}
    if space.resolver is not None:
        rule = space.resolver.spec_fields()
        values = {p: _near(space.support(p), draw) for p in space.parameters}
        w0 = max(rule["q"], int(values["w0"]) // rule["q"] * rule["q"])
        b = float(values["bottleneck_ratio"])
        assume(b > 0 and abs(math.log2(b) - round(math.log2(b))) < 1e-12)
        try:
            return RegNetSpec(
                name="near", **rule, depth=max(1, int(values["depth"])), w0=w0,
                wa=max(0.0, float(values["wa"])), wm=max(1.01, float(values["wm"])),
                group_width=max(1, int(values["group_width"])), bottleneck_ratio=b, **fixed,
            )  # fmt: skip
        except ValueError:
            assume(False)
    n = draw(
        st.sampled_from(
            [space.num_stages, space.num_stages, max(1, space.num_stages - 1), space.num_stages + 1]
        )
    )
    # Half the time stages share b and g, half the time they are ordered by width and depth,
    # so specs that keep the space's rules are as common as specs that break them.
    tie, order = draw(st.booleans()), draw(st.booleans())
    stages = []
    for _ in range(n):
        if not BLOCK_TYPES[space.block_type].grouped:  # b = g = 1 is all such a block builds
            b, g = 1.0, 1
        elif tie and stages:
            b, g = stages[0][2], stages[0][3]
        else:
            b = float(_near_integral(space.support("bottleneck_ratio"), draw))
            g = int(_near_integral(space.support("group_width"), draw))
        # A width that is a multiple of b·g keeps the stage buildable.
        target = _near(space.support("width"), draw)
        width = int(b * g * max(1, round(target / (b * g))))
        stages.append((max(1, int(_near(space.support("depth"), draw))), width, b, g))
    if order:
        stages.sort(key=lambda t: t[1])
        depths = sorted(t[0] for t in stages)
        stages = [(d, *t[1:]) for d, t in zip(depths, stages, strict=True)]
    strides = space.stage_strides(len(stages))
    body = [
        Stage(depth=d, width=w, stride=t, bottleneck_ratio=b, group_width=g)
        for (d, w, b, g), t in zip(stages, strides, strict=True)
    ]
    return NetworkSpec(name="near", stages=body, **fixed)
