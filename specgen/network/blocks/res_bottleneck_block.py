"""Residual bottleneck block (the paper's X block; Y with SE): ReLU(shortcut + f(x)).

f is a 1x1 conv to the bottleneck width w_b = w / b, a 3x3 group conv (group width g) with
the stride, SE on the bottleneck (its width from the block's input width), and a 1x1 conv to
w, each conv followed by BN and all but the last by ReLU. The shortcut projects when the
shape changes.
"""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType
from specgen.network.layers import (
    IN,
    BatchNorm,
    Conv,
    Layer,
    Op,
    chosen,
    projects,
    relu,
    squeeze_excitation,
)


def layers(b: BlockShape) -> list[Layer]:
    proj = projects(b.w_in, b.w_out, b.stride)
    transformed = chosen(b.se, "f.se", "f.b_relu")
    return [
        Conv("proj", IN, b.w_in, b.w_out, 1, b.stride, present=proj),
        BatchNorm("bn", "proj", b.w_out, present=proj),
        Conv("f.a", IN, b.w_in, b.w_b),
        BatchNorm("f.a_bn", "f.a", b.w_b),
        relu("f.a_relu", "f.a_bn"),
        Conv("f.b", "f.a_relu", b.w_b, b.w_b, 3, b.stride, b.group_width),
        BatchNorm("f.b_bn", "f.b", b.w_b),
        relu("f.b_relu", "f.b_bn"),
        *squeeze_excitation("f.se", "f.b_relu", b.w_b, b.w_se, present=b.se),
        Conv("f.c", transformed, b.w_b, b.w_out),
        BatchNorm("f.c_bn", "f.c", b.w_out),
        Op("add", "Add", (chosen(proj, "bn", IN), "f.c_bn")),
        relu("relu", "add"),
    ]


BLOCK = BlockType(
    name="res_bottleneck_block",
    layers=layers,
    grouped=True,
    se=True,
    renames={
        "torchvision": [
            (r"\.proj\.0\.", ".proj."),
            (r"\.proj\.1\.", ".bn."),
            (r"\.f\.([abc])\.0\.", r".f.\1."),
            (r"\.f\.([abc])\.1\.", r".f.\1_bn."),
            (r"\.f\.se\.fc1\.", ".f.se.f_ex.0."),
            (r"\.f\.se\.fc2\.", ".f.se.f_ex.2."),
        ],
        "timm": [
            (r"\.downsample\.conv\.", ".proj."),
            (r"\.downsample\.bn\.", ".bn."),
            (r"\.conv1\.conv\.", ".f.a."),
            (r"\.conv1\.bn\.", ".f.a_bn."),
            (r"\.conv2\.conv\.", ".f.b."),
            (r"\.conv2\.bn\.", ".f.b_bn."),
            (r"\.conv3\.conv\.", ".f.c."),
            (r"\.conv3\.bn\.", ".f.c_bn."),
            (r"\.se\.fc1\.", ".f.se.f_ex.0."),
            (r"\.se\.fc2\.", ".f.se.f_ex.2."),
        ],
    },
)
