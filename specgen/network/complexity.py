"""Flops, params and activations of an AnyNet network, by the pycls convention.

One walk of the network (docs/reference.md §3) serves both forms: `count` for one
NetworkSpec, in Python integers (exact at any size), and `count_batch` for
many networks at once, in int64 NumPy arrays (the sampler's hot path).
"flops" are multiply-adds. The stem's and blocks' layers come from their type's
description (`specgen.network.stems`, `specgen.network.blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from specgen.network.blocks import BLOCK_TYPES, BlockShape, BlockType
from specgen.network.blocks import DEFAULT as DEFAULT_BLOCK
from specgen.network.layers import IN, BatchNorm, Layer, Op, Pool, out_size, se_width
from specgen.network.stems import DEFAULT as DEFAULT_STEM
from specgen.network.stems import STEM_TYPES, StemType

if TYPE_CHECKING:
    from specgen.network.spec import NetworkSpec


@dataclass(frozen=True)
class Complexity:
    flops: int
    params: int
    acts: int


class BatchComplexity(NamedTuple):
    flops: np.ndarray
    params: np.ndarray
    acts: np.ndarray


_PIXEL = (1, 1)
"""Size of a tensor after global average pooling, and its square."""


def count_layers(layers: list[Layer], h):
    """Flops, params and acts of a stem's or block's layers on an h x h input, and the size of
    its output (its last layer's), by pycls's rules: a conv counts k*k*fan_in multiply-adds per
    output value (plus its bias) and its outputs as activations, BN its 2 params per channel, a
    max pool its outputs. Ints or arrays alike; a layer whose `present` is a mask counts where
    it holds."""
    sizes = {IN: (h, h * h)}  # tensor -> (h, h*h)
    strided: dict[tuple, tuple] = {}  # one computation per (input size, stride)
    flops = params = acts = 0
    for layer in layers:
        present = layer.present
        if present is False:
            continue
        if isinstance(layer, Op):
            sizes[layer.name] = _PIXEL if layer.kind == "GlobalAveragePool" else sizes[layer.input]
            continue
        size = sizes[layer.input]
        if isinstance(layer, BatchNorm):
            sizes[layer.name] = size
            params = params + (2 * layer.width if present is True else present * 2 * layer.width)
            continue
        stride = layer.stride
        if isinstance(stride, np.ndarray) or stride != 1:
            key = (id(size), stride if isinstance(stride, int) else id(stride))
            if key not in strided:
                h_out = out_size(size[0], stride)
                strided[key] = (h_out, h_out * h_out)
            size = strided[key]
        sizes[layer.name] = size
        if isinstance(layer, Pool):
            f, p, a = 0, 0, layer.width * size[1]
        else:
            p = layer.k * layer.k * layer.fan_in * layer.w_out
            f = p * size[1]
            if layer.bias:
                f, p = f + layer.w_out, p + layer.w_out
            a = layer.w_out * size[1]
        if present is not True:
            f, p, a = present * f, present * p, present * a
        flops, params, acts = flops + f, params + p, acts + a
    return flops, params, acts, sizes[layers[-1].name][0]


def _walk(
    stem: StemType,
    block: BlockType,
    stem_width,
    stages,
    se_ratio,
    resolution,
    num_classes,
    in_channels,
    shortcut="conv1x1",
    linear_out=False,
    preact=False,
):
    """Sum over stem, stages and head; `stages` yields (d, w, stride, w_b, g).

    A stage of depth 0 is absent: it adds nothing and changes no size, which
    lets a batch mix networks with different numbers of stages.
    """
    has_se = se_ratio > 0 if isinstance(se_ratio, np.ndarray) else bool(se_ratio > 0)  # a bool skips SE
    flops, params, acts, h = count_layers(stem.described(in_channels, stem_width, preact=preact), resolution)
    w_in = stem_width
    for d, w, stride, w_b, g in stages:
        present = d > 0
        options = {
            "shortcut": shortcut,
            "linear_out": linear_out,
            "preact": preact,
        }  # activations count nothing
        first = BlockShape(w_in, w, stride, w_b, g, se_width(w_in, se_ratio), has_se, **options)
        f1, p1, a1, h1 = count_layers(block.layers(first), h)
        other = BlockShape(w, w, 1, w_b, g, se_width(w, se_ratio), has_se, **options)
        fr, pr, ar, _ = count_layers(block.layers(other), h1)
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
        STEM_TYPES[net.stem_type],
        BLOCK_TYPES[net.block_type],
        net.stem_width,
        stages,
        net.se_ratio,
        net.resolution if resolution is None else resolution,
        net.num_classes,
        net.in_channels,
        net.shortcut,
        net.linear_out,
        net.preact,
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
    stem_type=DEFAULT_STEM,
    block_type=DEFAULT_BLOCK,
    shortcut="conv1x1",
    linear_out=False,
    preact=False,
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
        STEM_TYPES[stem_type],
        BLOCK_TYPES[block_type],
        _column(stem_width, n, np.int64),
        stages,
        float(se_ratio) if np.ndim(se_ratio) == 0 else _column(se_ratio, n, np.float64),
        _column(resolution, n, np.int64),
        _column(num_classes, n, np.int64),
        _column(in_channels, n, np.int64),
        shortcut,
        linear_out,
        preact,
    )
    return BatchComplexity(flops, params, acts)
