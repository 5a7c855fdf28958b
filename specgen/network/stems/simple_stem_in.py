"""The RegNet paper's ImageNet stem: 3x3 conv with stride 2, BN, ReLU."""

from __future__ import annotations

from specgen.network.layers import IN, BatchNorm, Conv, Layer, act_name, activation
from specgen.network.stems.base import StemType


def layers(w_in, w_out, act: str = "Relu") -> list[Layer]:
    return [
        Conv("conv", IN, w_in, w_out, 3, 2),
        BatchNorm("bn", "conv", w_out),
        activation(act_name("", act), "bn", act),
    ]


STEM = StemType(
    name="simple_stem_in",
    layers=layers,
    renames={
        "torchvision": [(r"^stem\.0\.", "stem.conv."), (r"^stem\.1\.", "stem.bn.")],
        "timm": [(r"^stem\.weight$", "stem.conv.weight")],  # RegNetV's stem: its conv alone
    },
    preact=True,
)
