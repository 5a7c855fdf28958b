"""Model scaling: "Fast and Accurate Model Scaling" (Dollár, Singh, Girshick, CVPR 2021).

Flops grow as d·w²·r² with depth, width and resolution, so scaling a network by a flops factor s
takes d = s^e_d, w = s^(e_w/2), r = s^(e_r/2) with e_d + e_w + e_r = 1; a strategy weighs the three
dimensions (e_x = weight_x / the sum of the three) and may scale group widths too, by s^(e_g/2). The
paper's fast compound scaling, `d1_w8_g8_r1`, scales mostly width (e_w = 0.8), so activations grow
about as √s rather than s. Each stage is then snapped as pycls's scaler snaps it (depth to a whole
number of blocks, width to a multiple of 8, group width to 1, 2, 4 or a multiple of 8, then the
block-compatibility rule) and the resolution to a multiple of 4, so the flops factor achieved is
near s, not s itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pydantic import ValidationError

from specgen.errors import ROOT, first_error
from specgen.fmt import count_human, flops_human, table
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec, pycls_compatible
from specgen.network.spec import NetworkSpec

FAST_COMPOUND = "d1_w8_g8_r1"
"""The paper's recommended strategy (dWr): mostly width, groups with it, a little depth and resolution."""

DIMENSIONS = "dwgr"
_LETTERS = re.compile(r"[dwgr]+")
_WEIGHT = re.compile(r"([dwgr])(\d+(?:\.\d+)?)")
_SEARCH_STEPS = 32
_SEARCH_STEP = 2 ** (1 / 64)
_NAME_LENGTH = 64  # limits.NAME_PATTERN: a letter or digit and up to 63 more


@dataclass(frozen=True)
class Strategy:
    """Weights of depth, width, groups and resolution; `name` as the user wrote it."""

    name: str
    d: float
    w: float
    g: float
    r: float

    def factors(self, s: float) -> Factors:
        """Per-dimension multipliers whose d·w²·r² is s."""
        total = self.d + self.w + self.r
        return Factors(
            depth=s ** (self.d / total),
            width=s ** (self.w / total / 2),
            group_width=s ** (self.g / total / 2),
            resolution=s ** (self.r / total / 2),
        )


@dataclass(frozen=True)
class Factors:
    depth: float
    width: float
    group_width: float
    resolution: float


def parse_strategy(text: str) -> Strategy:
    """`dwr` (each letter weight 1) or `d1_w8_g8_r1` (a weight per letter; others 0), or ValueError."""
    if _LETTERS.fullmatch(text):
        weights = {letter: 1.0 for letter in text}
        repeated = len(weights) != len(text)
    else:
        parts = [_WEIGHT.fullmatch(part) for part in text.split("_")]
        if not all(parts):
            raise ValueError(
                f"expected letters of d, w, g, r (e.g. dwr) or weights such as {FAST_COMPOUND}, got {text!r}"
            )
        weights = {m[1]: float(m[2]) for m in parts}
        repeated = len(weights) != len(parts)
    if repeated:
        raise ValueError(f"expected each of d, w, g, r at most once, got {text!r}")
    strategy = Strategy(text, *(weights.get(x, 0.0) for x in DIMENSIONS))
    if not strategy.d + strategy.w + strategy.r > 0:
        raise ValueError(f"expected a weight > 0 on d, w or r (what flops grow with), got {text!r}")
    return strategy


def snap_group_width(g: float) -> int:
    """1, 2 or 4 for narrow groups, else the nearest multiple of 8 (pycls's scaler)."""
    g = max(1, round(g))
    return g if g <= 2 else 4 if g <= 5 else round(g / 8) * 8


def scale(
    spec: NetworkSpec | RegNetSpec, s: float, strategy: Strategy, name: str | None = None
) -> NetworkSpec:
    """The network scaled by flops factor s; a RegNet resolves first (its own rounding), and every
    field scaling does not touch (stem, SE, head, and fields added later) carries over.

    ValueError when s is not a positive number or the scaled network is not a valid one.
    """
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"expected a flops factor > 0, got {s!r}")
    net = spec.resolve()
    f = strategy.factors(s)
    stages = []
    for stage in net.stages:
        width = max(1, round(stage.width * f.width / 8)) * 8
        group_width = snap_group_width(stage.group_width * f.group_width)
        width, group_width = pycls_compatible(width, stage.bottleneck_ratio, group_width)
        depth = max(1, round(stage.depth * f.depth))
        stages.append({**stage.model_dump(), "depth": depth, "width": width, "group_width": group_width})
    changes = {
        "name": net.name if name is None else name,
        "stages": stages,
        "resolution": max(1, round(net.resolution * f.resolution / 4)) * 4,
    }
    try:
        return type(net).model_validate({**net.model_dump(), **changes})
    except ValidationError as e:
        path, message = first_error(e)
        what = "the network" if path == ROOT else f"the network's {path}"
        raise ValueError(f"scaled by {s:g} ({strategy.name}), {what} is invalid: {message}") from None


def factor_for_flops(spec: NetworkSpec | RegNetSpec, flops: float, strategy: Strategy) -> float:
    """The factor whose scaled network's flops land closest to `flops` (in ratio), searched on a grid
    of 2^(1/64) steps within √2 of the ideal factor; ties go to the factor nearest the ideal.

    Snapping makes the achieved flops a step function of s, so the ideal factor is rarely the best.
    """
    if not (math.isfinite(flops) and flops > 0):
        raise ValueError(f"expected target flops > 0, got {flops!r}")
    ideal = flops / complexity.count(spec.resolve()).flops
    best, best_miss, error = None, math.inf, None
    for k in sorted(range(-_SEARCH_STEPS, _SEARCH_STEPS + 1), key=abs):
        s = ideal * _SEARCH_STEP**k
        try:
            achieved = complexity.count(scale(spec, s, strategy)).flops
        except ValueError as e:
            error = error or e
            continue
        miss = abs(math.log(achieved / flops))
        if miss < best_miss:
            best, best_miss = s, miss
    if best is None:
        raise error
    return best


def scaled_name(name: str, s: float) -> str:
    """`regnetx_400mf_x4`: the factor as a suffix, the base name cut so the whole stays a valid name."""
    suffix = f"_x{s:g}".replace("+", "")  # 1e+06 -> 1e06: a name has no plus sign
    return name[: _NAME_LENGTH - len(suffix)] + suffix


def render(
    before: NetworkSpec, after: NetworkSpec, s: float, strategy: Strategy, target: float | None
) -> str:
    """The factors, the two networks side by side, and how far the achieved flops are from those asked."""
    f = strategy.factors(s)
    old, new = complexity.count(before), complexity.count(after)
    rows = []
    for net, cx in ((before, old), (after, new)):
        rows.append(
            [
                net.name,
                net.resolution,
                " ".join(map(str, net.depths)),
                " ".join(map(str, net.widths)),
                " ".join(map(str, net.group_widths)),
                flops_human(cx.flops),
                count_human(cx.params),
                count_human(cx.acts),
            ]
        )
    headers = ["network", "resolution", "depths", "widths", "group widths", "flops", "params", "acts"]
    achieved = new.flops / old.flops
    if target is None:
        miss = f"flops x{achieved:.3g} for x{s:g} asked: {achieved / s - 1:+.1%}"
    else:
        miss = (
            f"flops {flops_human(new.flops)} for {flops_human(target)} asked: {new.flops / target - 1:+.1%}"
        )
    return "\n".join(
        [
            f"{before.name} scaled by {s:.6g} with {strategy.name}: depth x{f.depth:.3f}, "
            f"width x{f.width:.3f}, group width x{f.group_width:.3f}, resolution x{f.resolution:.3f}",
            "",
            table(headers, rows, right=[False, True, False, False, False, True, True, True]),
            "",
            miss,
        ]
    )
