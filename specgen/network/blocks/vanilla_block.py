"""Vanilla block (the NDS paper's): [3x3 conv, BN, ReLU] x 2, the first with the stride, and no
shortcut. No bottleneck, no groups, no SE (pycls has none for it)."""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType
from specgen.network.layers import IN, BatchNorm, Conv, Layer, act_name, activation


def layers(b: BlockShape) -> list[Layer]:
    return [
        Conv("a", IN, b.w_in, b.w_out, 3, b.stride),
        BatchNorm("a_bn", "a", b.w_out),
        activation(act_name("a_", b.act), "a_bn", b.act),
        Conv("b", act_name("a_", b.act), b.w_out, b.w_out, 3),
        BatchNorm("b_bn", "b", b.w_out),
        activation(act_name("b_", b.act), "b_bn", b.act),
    ]


BLOCK = BlockType(
    name="vanilla_block", layers=layers, grouped=False, se=False, residual=False, preact=False, renames={}
)
