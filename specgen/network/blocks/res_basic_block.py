"""Residual basic block (ResNet's): ReLU(shortcut + f(x)), f = 3x3 conv with the stride, BN,
ReLU, 3x3 conv, BN. No bottleneck, no groups, no SE (pycls has none for it). The shortcut
projects when the shape changes."""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType
from specgen.network.layers import IN, BatchNorm, Conv, Layer, Op, chosen, projects, relu


def layers(b: BlockShape) -> list[Layer]:
    proj = projects(b.w_in, b.w_out, b.stride)
    return [
        Conv("proj", IN, b.w_in, b.w_out, 1, b.stride, present=proj),
        BatchNorm("bn", "proj", b.w_out, present=proj),
        Conv("f.a", IN, b.w_in, b.w_out, 3, b.stride),
        BatchNorm("f.a_bn", "f.a", b.w_out),
        relu("f.a_relu", "f.a_bn"),
        Conv("f.b", "f.a_relu", b.w_out, b.w_out, 3),
        BatchNorm("f.b_bn", "f.b", b.w_out),
        Op("add", "Add", (chosen(proj, "bn", IN), "f.b_bn")),
        relu("relu", "add"),
    ]


BLOCK = BlockType(name="res_basic_block", layers=layers, grouped=False, se=False, renames={})
