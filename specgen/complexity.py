"""Flops, params and activations of an AnyNet network, by the pycls convention.

One walk of the network (docs/reference.md §3) serves both forms: `count` for one
NetworkSpec, in Python integers (exact at any size), and `count_batch` for
many networks at once, in int64 NumPy arrays (the sampler's hot path).
"flops" are multiply-adds. This module imports nothing else of specgen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from specgen.spec import NetworkSpec


@dataclass(frozen=True)
class Complexity:
    flops: int
    params: int
    acts: int


class BatchComplexity(NamedTuple):
    flops: np.ndarray
    params: np.ndarray
    acts: np.ndarray


def _round(x):
    """Half-to-even rounding to an integer, for Python numbers or arrays."""
    if isinstance(x, np.ndarray):
        return np.rint(x).astype(np.int64)
    return round(x)


def out_size(h, stride):
    """Spatial size after a conv with 'same' padding (k = 1 or 3)."""
    return (h - 1) // stride + 1


def _block(w_in, w_out, h_in, stride, w_b, g, se_ratio, has_se):
    """One residual bottleneck block: 1x1, 3x3 grouped, [SE], 1x1, projection."""
    h = out_size(h_in, stride)
    flops = w_in * w_b * h_in * h_in + 9 * w_b * g * h * h + w_b * w_out * h * h
    params = w_in * w_b + 9 * w_b * g + w_b * w_out + 2 * (2 * w_b + w_out)
    acts = w_b * h_in * h_in + w_b * h * h + w_out * h * h
    # SE: two 1x1 convs with bias at 1x1 spatial size; its width follows w_in.
    w_se = _round(w_in * se_ratio)
    se = has_se * (2 * w_se * w_b + w_se + w_b)
    flops, params, acts = flops + se, params + se, acts + has_se * (w_se + w_b)
    # Projection shortcut (1x1 conv with the stride, then BN) when the shape changes.
    proj = (w_in != w_out) | (stride != 1)
    flops = flops + proj * w_in * w_out * h * h
    params = params + proj * (w_in * w_out + 2 * w_out)
    acts = acts + proj * w_out * h * h
    return flops, params, acts, h


def _walk(stem_width, stages, se_ratio, resolution, num_classes, in_channels):
    """Sum over stem, stages and head; `stages` yields (d, w, stride, w_b, g).

    A stage of depth 0 is absent: it adds nothing and changes no size, which
    lets a batch mix networks with different numbers of stages.
    """
    has_se = se_ratio > 0
    h = out_size(resolution, 2)
    flops = 9 * in_channels * stem_width * h * h
    params = 9 * in_channels * stem_width + 2 * stem_width
    acts = stem_width * h * h
    w_in = stem_width
    for d, w, stride, w_b, g in stages:
        present = d > 0
        f1, p1, a1, h1 = _block(w_in, w, h, stride, w_b, g, se_ratio, has_se)
        fr, pr, ar, _ = _block(w, w, h1, 1, w_b, g, se_ratio, has_se)
        rest = (d - 1) * present
        flops = flops + present * f1 + rest * fr
        params = params + present * p1 + rest * pr
        acts = acts + present * a1 + rest * ar
        if isinstance(present, np.ndarray):
            h, w_in = np.where(present, h1, h), np.where(present, w, w_in)
        elif present:
            h, w_in = h1, w
    head = w_in * num_classes + num_classes
    return flops + head, params + head, acts + num_classes


def _column(x, n: int, dtype) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=dtype), (n,))


def count(net: NetworkSpec, resolution: int | None = None) -> Complexity:
    """Exact complexity of one network at `resolution` (default: the spec's)."""
    stages = [(s.depth, s.width, s.stride, s.bottleneck_width, s.group_width) for s in net.stages]
    flops, params, acts = _walk(
        net.stem_width,
        stages,
        net.se_ratio,
        net.resolution if resolution is None else resolution,
        net.num_classes,
        net.in_channels,
    )
    return Complexity(int(flops), int(params), int(acts))


def count_batch(
    depths,
    widths,
    group_widths,
    bottleneck_ratios=1.0,
    strides=2,
    *,
    stem_width=32,
    se_ratio=0.0,
    resolution=224,
    num_classes=1000,
    in_channels=3,
) -> BatchComplexity:
    """Complexity of N networks at once; per-stage arguments are (N, S) arrays.

    Scalars broadcast. Stages with depth 0 are absent. Agrees with `count`
    to the integer as long as the totals fit in int64.
    """
    depths = np.asarray(depths, dtype=np.int64)
    widths = np.broadcast_to(np.asarray(widths, dtype=np.int64), depths.shape)
    group_widths = np.broadcast_to(np.asarray(group_widths, dtype=np.int64), depths.shape)
    # Absent stages may hold anything (zeros as padding): give them harmless values.
    present = depths > 0
    strides = np.where(present, np.asarray(strides, dtype=np.int64), 1)
    ratios = np.where(present, np.asarray(bottleneck_ratios, dtype=np.float64), 1.0)
    w_b = np.rint(widths / ratios).astype(np.int64)
    n = depths.shape[0]
    stages = (
        (depths[:, i], widths[:, i], strides[:, i], w_b[:, i], group_widths[:, i])
        for i in range(depths.shape[1])
    )
    flops, params, acts = _walk(
        _column(stem_width, n, np.int64),
        stages,
        _column(se_ratio, n, np.float64),
        _column(resolution, n, np.int64),
        _column(num_classes, n, np.int64),
        _column(in_channels, n, np.int64),
    )
    return BatchComplexity(flops, params, acts)
