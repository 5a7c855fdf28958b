"""Vanilla block (the NDS paper's): [3x3 conv, BN, ReLU] x 2, the first with the stride, and no
shortcut. No bottleneck, no groups, no SE (pycls has none for it)."""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType
from specgen.network.layers import IN, BatchNorm, Conv, Layer, relu


def layers(b: BlockShape) -> list[Layer]:
    return [
        Conv("a", IN, b.w_in, b.w_out, 3, b.stride),
        BatchNorm("a_bn", "a", b.w_out),
        relu("a_relu", "a_bn"),
        Conv("b", "a_relu", b.w_out, b.w_out, 3),
        BatchNorm("b_bn", "b", b.w_out),
        relu("b_relu", "b_bn"),
    ]


BLOCK = BlockType(name="vanilla_block", layers=layers, grouped=False, se=False, renames={})
