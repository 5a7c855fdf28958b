"""Hypothesis strategies for specgen specs, for our tests and for users' property tests.

Every strategy is constructive (built with `st.composite`, not by filtering):
a valid network is drawn group width first, so the bottleneck width is a
multiple of it by construction; a valid RegNet bounds wa so the rule yields
at most `max_stages` stages. `invalid_specs` draws a valid spec and breaks
exactly one rule, labelled with the rule and the field path that breaks.
`space_samples(space)` draws samples from any design space (a built-in name,
a space file's DesignSpace, or one built in code), and `near_space_specs`
draws specs around a space for testing what its constraints accept.

    from hypothesis import given
    from specgen.testing import network_specs

    @given(network_specs())
    def test_depths_positive(net):
        assert all(d >= 1 for d in net.depths)
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from specgen import limits
from specgen.constraints import Designs, admitted, limit_bands, measure, resolve
from specgen.regnet import RegNetSpec
from specgen.sampler import Sample, StageTables, sample, to_sample
from specgen.spaces import DesignSpace, load_space
from specgen.spec import NetworkSpec, Stage, block_input_widths, se_width

names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
"""Safe spec names."""


@st.composite
def stages(
    draw,
    max_depth: int = 3,
    max_group_width: int = 16,
    max_groups: int = 4,
    bottleneck_ratios: tuple[float, ...] = (1.0, 2.0, 4.0),
    strides: tuple[int, ...] = (1, 2),
) -> Stage:
    """One valid stage: w = b * w_b, with w_b a multiple of the group width (and of b's denominator).

    b = p / r in lowest terms (b = 0.25 is 1 / 4), so w = w_b * p / r is whole when r divides w_b.
    """
    g = draw(st.integers(1, max_group_width))
    b = draw(st.sampled_from(bottleneck_ratios))
    ratio = Fraction(b).limit_denominator(round(1 / limits.MIN_BOTTLENECK_RATIO))
    w_b = math.lcm(g, ratio.denominator) * draw(st.integers(1, max_groups))
    return Stage(
        depth=draw(st.integers(1, max_depth)),
        width=w_b * ratio.numerator // ratio.denominator,
        stride=draw(st.sampled_from(strides)),
        bottleneck_ratio=b,
        group_width=g,
    )


@st.composite
def network_specs(
    draw,
    max_stages: int = 4,
    max_depth: int = 3,
    max_group_width: int = 16,
    max_groups: int = 4,
    bottleneck_ratios: tuple[float, ...] = (1.0, 2.0, 4.0),
    se_ratios: tuple[float, ...] = (0.0, 0.25),
    resolutions: tuple[int, ...] = (16, 32, 64),
    max_classes: int = 16,
) -> NetworkSpec:
    """Small valid AnyNet networks (defaults keep them cheap to build and run)."""
    n = draw(st.integers(1, max_stages))
    body = [draw(stages(max_depth, max_group_width, max_groups, bottleneck_ratios)) for _ in range(n)]
    stem = draw(st.sampled_from([8, 16, 32]))
    se_ratio = draw(st.sampled_from(se_ratios))
    # SE needs a width of at least one channel in every block; narrow nets go without.
    if se_width(min(block_input_widths(stem, body)), se_ratio) < 1:
        se_ratio = 0.0
    return NetworkSpec(
        name=draw(names),
        stem_width=stem,
        stages=body,
        se_ratio=se_ratio,
        num_classes=draw(st.integers(1, max_classes)),
        in_channels=draw(st.sampled_from([1, 3])),
        resolution=draw(st.sampled_from(resolutions)),
    )


@st.composite
def regnet_specs(
    draw,
    max_depth: int = 28,
    max_w0: int = 256,
    max_wa: float = 256.0,
    wm_range: tuple[float, float] = (1.5, 3.0),
    group_widths: tuple[int, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64),
    bottleneck_ratios: tuple[float, ...] = (1.0,),
    se_ratios: tuple[float, ...] = (0.0, 0.25),
    rounding: tuple[str, ...] = ("pycls", "torchvision"),
    max_stages: int = limits.MAX_STAGES,
    q: int = 8,
    resolution: int = 224,
    num_classes: int = 1000,
) -> RegNetSpec:
    """Valid RegNet parameters in the paper's ranges, resolving to <= max_stages stages.

    The few draws NetworkSpec refuses (over its params or flops limits: deep, wide and
    ungrouped at once) are discarded.
    """
    depth = draw(st.integers(1, max_depth))
    w0 = q * draw(st.integers(1, max_w0 // q))
    wm = round(draw(st.floats(*wm_range)), 3)
    # s_max = round(log(u_max / w0) / log wm) stays <= max_stages - 1 when u_max is below this.
    u_cap = w0 * wm ** (max_stages - 1.5)
    wa_cap = max_wa if depth == 1 else min(max_wa, (u_cap - w0) / (depth - 1))
    wa = round(draw(st.floats(0.0, max(0.0, wa_cap))), 2)
    wa = math.floor(wa * 100) / 100 if wa > wa_cap else wa
    fields = {
        "name": draw(names),
        "group_width": draw(st.sampled_from(group_widths)),
        "bottleneck_ratio": draw(st.sampled_from(bottleneck_ratios)),
        "se_ratio": draw(st.sampled_from(se_ratios)),
        "rounding": draw(st.sampled_from(rounding)),
    }
    try:
        return RegNetSpec(
            depth=depth, w0=w0, wa=wa, wm=wm, q=q, resolution=resolution, num_classes=num_classes, **fields
        )
    except ValueError:  # a pydantic ValidationError: the network is over NetworkSpec's limits
        assume(False)


class InvalidSpec(NamedTuple):
    """A spec that breaks exactly one rule: the data, the rule, and the path it must be reported at."""

    data: dict
    rule: str
    path: str


def _regnet_breakers(spec: dict) -> list[tuple[str, str, dict]]:
    q = spec["q"]
    return [
        ("w0 is not a multiple of q", "w0", {"w0": spec["w0"] + max(1, q // 2)}),
        ("wm must exceed 1", "wm", {"wm": 1.0}),
        ("wa must not be negative", "wa", {"wa": -1.0}),
        ("depth must be at least 1", "depth", {"depth": 0}),
        ("depth is bounded", "depth", {"depth": limits.MAX_TOTAL_DEPTH + 1}),
        ("rounding is pycls or torchvision", "rounding", {"rounding": "nearest"}),
        ("group width must be an integer", "group_width", {"group_width": "8"}),
    ]


def _network_breakers(spec: dict) -> list[tuple[str, str, dict]]:
    first = dict(spec["stages"][0])
    w_b = int(first["width"] / first["bottleneck_ratio"])
    bad_g = next(g for g in range(2, w_b + 2) if w_b % g)
    return [
        (
            "group width must divide the bottleneck width",
            "stages[0].group_width",
            {"stages": [{**first, "group_width": bad_g}, *spec["stages"][1:]]},
        ),
        ("stage width is bounded", "stages[0].width", {"stages": [{**first, "width": limits.MAX_WIDTH + 1}]}),
        ("a network has at least one stage", "stages", {"stages": []}),
        ("stem width must be positive", "stem_width", {"stem_width": 0}),
        ("resolution is bounded", "resolution", {"resolution": limits.MAX_RESOLUTION + 1}),
    ]


_COMMON_BREAKERS = [
    ("name may not hold a path separator", "name", {"name": "../evil"}),
    ("name may not hold quotes", "name", {"name": 'a"b'}),
    ("name may not hold whitespace", "name", {"name": "a b"}),
    ("name may not hold code", "name", {"name": "x;import os"}),
    ("unknown fields are refused", "extra", {"extra": 1}),
    ("kind is regnet or anynet", "kind", {"kind": "resnet"}),
]


@st.composite
def invalid_specs(draw) -> InvalidSpec:
    """A valid spec (either kind) with exactly one rule broken, labelled."""
    if draw(st.booleans()):
        spec = draw(regnet_specs(max_depth=12)).model_dump(mode="json")
        breakers = _regnet_breakers(spec)
    else:
        spec = draw(network_specs()).model_dump(mode="json")
        breakers = _network_breakers(spec)
    rule, path, change = draw(st.sampled_from(breakers + _COMMON_BREAKERS))
    return InvalidSpec({**spec, **change}, rule, path)


# --- design spaces --------------------------------------------------------------------------------


def _space(space: DesignSpace | str) -> DesignSpace:
    return space if isinstance(space, DesignSpace) else load_space(space)


_COUPLED = ("width", "bottleneck_ratio", "group_width")
"""The per-stage parameters that `divisible` ties together; depth is free of it."""


@lru_cache(maxsize=16)
def _stage_tables(space_json: str) -> StageTables:
    return StageTables(DesignSpace.model_validate_json(space_json), uniform=True)


def _anynet_design(draw, space: DesignSpace) -> Designs:
    """Constructive: shared values, then each stage from the buildable stages for them, then ordering.

    Stages are drawn whole from the table of buildable stages (so each is buildable); a
    non-decreasing depth is sorted on its own, a non-decreasing coupled parameter sorts
    the stages by it (they stay buildable). Two ordered coupled parameters are rare in
    practice; the second is then assumed.
    """
    tables = _stage_tables(space.model_dump_json())
    sigma = draw(st.sampled_from([int(k) for k in np.flatnonzero(tables.sizes)]))
    rows = [
        draw(st.integers(int(tables.first[sigma]), int(tables.last[sigma]))) for _ in range(space.num_stages)
    ]
    values = {p: v[rows] for p, v in tables.stage_values.items()}
    coupled = [p for p in _COUPLED if p in space.non_decreasing]
    if coupled:
        order = np.argsort(values[coupled[0]], kind="stable")
        values = {p: v if p not in _COUPLED else v[order] for p, v in values.items()}
        for p in coupled[1:]:
            assume(bool(np.all(np.diff(values[p]) >= 0)))
    if "depth" in space.non_decreasing:
        values["depth"] = np.sort(values["depth"])
    values.update({p: np.full(space.num_stages, v[sigma]) for p, v in tables.shared_values.items()})
    return Designs({p: v[None, :] for p, v in values.items()})


def _regnet_design(draw, space: DesignSpace) -> Designs:
    """Constructive: d, w0, wm, g, b from their supports, then wa among the slopes the constraints admit."""
    pick = {
        p: draw(st.sampled_from(space.support(p).tolist()))
        for p in ("w0", "wm", "group_width", "bottleneck_ratio")
    }
    depths = space.support("depth")
    depth = draw(st.sampled_from(depths[depths >= space.num_stages].tolist()))
    was = space.support("wa")
    every_wa = Designs({p: np.full(len(was), v) for p, v in {**pick, "depth": depth}.items()} | {"wa": was})
    fitting = was[admitted(space, every_wa, bands=[])]
    assume(len(fitting) > 0)
    wa = draw(st.sampled_from(fitting.tolist()))
    return Designs({p: np.array([v]) for p, v in {**pick, "depth": depth, "wa": wa}.items()})


@st.composite
def space_samples(draw, space: DesignSpace | str, resolution: int | None = None) -> Sample:
    """A Sample (design, resolved NetworkSpec, complexity) from any DesignSpace, built-in or user-given.

    Drawn constructively from the space's supports and constraints, so Hypothesis can shrink
    it. A space with complexity bands cannot be built into constructively: its samples come
    from the sampler with a drawn seed.
    """
    space = _space(space)
    res = space.resolution if resolution is None else resolution
    if space.bands:
        return sample(space, 1, seed=draw(st.integers(0, 2**32 - 1)), resolution=res)[0]
    designs = _anynet_design(draw, space) if space.family == "anynet" else _regnet_design(draw, space)
    stages = resolve(space, designs)
    # The rare networks over NetworkSpec's limits (as the sampler refuses them).
    assume(admitted(space, designs, stages, limit_bands(res))[0])
    return to_sample(space, designs, stages, measure(space, stages, res), 0, seed=0, index=0, resolution=res)


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
    space = _space(space)
    fixed = {
        "stem_width": space.stem_width,
        "se_ratio": space.se_ratio,
        "num_classes": space.num_classes,
        "in_channels": space.in_channels,
        "resolution": space.resolution,
    }
    if space.family == "regnet":
        rule = space.quantized_linear
        values = {p: _near(space.support(p), draw) for p in space.parameters}
        w0 = max(rule.q, int(values["w0"]) // rule.q * rule.q)
        b = float(values["bottleneck_ratio"])
        assume(b > 0 and abs(math.log2(b) - round(math.log2(b))) < 1e-12)
        try:
            return RegNetSpec(
                name="near", q=rule.q, rounding=rule.rounding, depth=max(1, int(values["depth"])), w0=w0,
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
        if tie and stages:
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
    body = [Stage(depth=d, width=w, stride=2, bottleneck_ratio=b, group_width=g) for d, w, b, g in stages]
    return NetworkSpec(name="near", stages=body, **fixed)
