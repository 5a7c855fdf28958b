"""Residual basic block (ResNet's): ReLU(shortcut + f(x)), f = 3x3 conv with the stride, BN,
ReLU, 3x3 conv, BN. No bottleneck, no groups, no SE (pycls has none for it). The shortcut
projects when the shape changes."""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType, residual_sum, shortcut
from specgen.network.layers import IN, BatchNorm, Conv, Layer, act_name, activation


def layers(b: BlockShape) -> list[Layer]:
    a_act = act_name("f.a_", b.act)
    return [
        *shortcut(b),
        Conv("f.a", IN, b.w_in, b.w_out, 3, b.stride),
        BatchNorm("f.a_bn", "f.a", b.w_out),
        activation(a_act, "f.a_bn", b.act),
        Conv("f.b", a_act, b.w_out, b.w_out, 3),
        BatchNorm("f.b_bn", "f.b", b.w_out),
        *residual_sum(b, "f.b_bn"),
    ]


BLOCK = BlockType(
    name="res_basic_block", layers=layers, grouped=False, se=False, residual=True, preact=False, renames={}
)
