"""Hypothesis strategies for specgen specs, for our tests and for users' property tests.

Every strategy is constructive (built with `st.composite`, not by filtering):
a valid network is drawn group width first, so the bottleneck width is a
multiple of it by construction; a valid RegNet bounds wa so the rule yields
at most `max_stages` stages. `invalid_specs` draws a valid spec and breaks
exactly one rule, labelled with the rule and the field path that breaks.
`space_samples(space)` draws samples from any design space (a built-in name,
a space file's DesignSpace, or one built in code), and `near_space_specs`
draws specs around a space for testing what its constraints accept: they are
written in `specgen.space.strategies`, beside the constraints whose strategy
hooks they use, and this public module gives them with the spec strategies.

    from hypothesis import given
    from specgen.testing import network_specs

    @given(network_specs())
    def test_depths_positive(net):
        assert all(d >= 1 for d in net.depths)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from hypothesis import assume
from hypothesis import strategies as st

from specgen.network import limits
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.blocks import DEFAULT as DEFAULT_BLOCK
from specgen.network.layers import se_width
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec, Stage, block_input_widths
from specgen.network.stems import DEFAULT as DEFAULT_STEM
from specgen.space.strategies import near_space_specs, space_samples

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
    stem_types: tuple[str, ...] = (DEFAULT_STEM,),
    block_types: tuple[str, ...] = (DEFAULT_BLOCK,),
) -> NetworkSpec:
    """Small valid AnyNet networks (defaults keep them cheap to build and run).

    A block type without groups gets b = g = 1 and widths up to max_group_width * max_groups;
    one without SE gets se_ratio 0.
    """
    stem_type = draw(st.sampled_from(stem_types)) if len(stem_types) > 1 else stem_types[0]
    block_type = draw(st.sampled_from(block_types)) if len(block_types) > 1 else block_types[0]
    block = BLOCK_TYPES[block_type]
    if not block.grouped:
        max_group_width, max_groups, bottleneck_ratios = 1, max_group_width * max_groups, (1.0,)
    n = draw(st.integers(1, max_stages))
    body = [draw(stages(max_depth, max_group_width, max_groups, bottleneck_ratios)) for _ in range(n)]
    stem = draw(st.sampled_from([8, 16, 32]))
    se_ratio = draw(st.sampled_from(se_ratios if block.se else (0.0,)))
    # SE needs a width of at least one channel in every block; narrow nets go without.
    if se_width(min(block_input_widths(stem, body)), se_ratio) < 1:
        se_ratio = 0.0
    return NetworkSpec(
        name=draw(names),
        stem_type=stem_type,
        block_type=block_type,
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


__all__ = [
    "InvalidSpec",
    "invalid_specs",
    "names",
    "near_space_specs",
    "network_specs",
    "regnet_specs",
    "space_samples",
    "stages",
]
