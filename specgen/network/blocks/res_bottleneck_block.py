"""Residual bottleneck block (the paper's X block; Y with SE): ReLU(shortcut + f(x)).

f is a 1x1 conv to the bottleneck width w_b = w / b, a 3x3 group conv (group width g) with
the stride, SE on the bottleneck (its width from the block's input width), and a 1x1 conv to
w, each conv followed by BN and all but the last by ReLU. The shortcut projects when the
shape changes.
"""

from __future__ import annotations

from specgen.network.blocks.base import BlockShape, BlockType, residual_sum, shortcut
from specgen.network.layers import (
    IN,
    BatchNorm,
    Conv,
    Layer,
    act_name,
    activation,
    chosen,
    squeeze_excitation,
)


def layers(b: BlockShape) -> list[Layer]:
    return preact_layers(b) if b.preact else post_act_layers(b)


def post_act_layers(b: BlockShape) -> list[Layer]:
    a_act, b_act = act_name("f.a_", b.act), act_name("f.b_", b.act)
    return [
        *shortcut(b),
        Conv("f.a", IN, b.w_in, b.w_b),
        BatchNorm("f.a_bn", "f.a", b.w_b),
        activation(a_act, "f.a_bn", b.act),
        Conv("f.b", a_act, b.w_b, b.w_b, 3, b.stride, b.group_width),
        BatchNorm("f.b_bn", "f.b", b.w_b),
        activation(b_act, "f.b_bn", b.act),
        *squeeze_excitation("f.se", b_act, b.w_b, b.w_se, b.act, present=b.se),
        Conv("f.c", chosen(b.se, "f.se", b_act), b.w_b, b.w_out),
        BatchNorm("f.c_bn", "f.c", b.w_out),
        *residual_sum(b, "f.c_bn"),
    ]


def preact_layers(b: BlockShape) -> list[Layer]:
    """timm's PreBottleneck (RegNetV): BN and activation before each conv, the first shared by
    the shortcut; no BN on the projection, no activation after the sum."""
    a_act, b_act, c_act = (act_name(f"f.{x}_", b.act) for x in "abc")
    return [
        BatchNorm("f.a_bn", IN, b.w_in),
        activation(a_act, "f.a_bn", b.act),
        Conv("f.a", a_act, b.w_in, b.w_b),
        BatchNorm("f.b_bn", "f.a", b.w_b),
        activation(b_act, "f.b_bn", b.act),
        Conv("f.b", b_act, b.w_b, b.w_b, 3, b.stride, b.group_width),
        *squeeze_excitation("f.se", "f.b", b.w_b, b.w_se, b.act, present=b.se),
        BatchNorm("f.c_bn", chosen(b.se, "f.se", "f.b"), b.w_b),
        activation(c_act, "f.c_bn", b.act),
        Conv("f.c", c_act, b.w_b, b.w_out),
        *shortcut(b, a_act),
        *residual_sum(b, "f.c", a_act),
    ]


BLOCK = BlockType(
    name="res_bottleneck_block",
    layers=layers,
    grouped=True,
    se=True,
    residual=True,
    preact=True,
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
            (r"\.downsample\.(1\.)?conv\.", ".proj."),
            (r"\.downsample\.(1\.)?bn\.", ".bn."),
            (r"\.conv1\.conv\.", ".f.a."),
            (r"\.conv1\.bn\.", ".f.a_bn."),
            (r"\.conv2\.conv\.", ".f.b."),
            (r"\.conv2\.bn\.", ".f.b_bn."),
            (r"\.conv3\.conv\.", ".f.c."),
            (r"\.conv3\.bn\.", ".f.c_bn."),
            (r"\.se\.fc1\.", ".f.se.f_ex.0."),
            (r"\.se\.fc2\.", ".f.se.f_ex.2."),
            # PreBottleneck (RegNetV): bare convs, a BN before each
            (r"\.norm([123])\.", lambda m: f".f.{'abc'[int(m[1]) - 1]}_bn."),
            (r"\.conv([123])\.weight$", lambda m: f".f.{'abc'[int(m[1]) - 1]}.weight"),
            (r"\.downsample\.(1\.)?weight$", ".proj.weight"),
        ],
    },
)
