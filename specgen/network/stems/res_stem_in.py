"""ResNet's ImageNet stem: 7x7 conv with stride 2, BN, ReLU, 3x3 max pool with stride 2."""

from __future__ import annotations

from specgen.network.layers import IN, BatchNorm, Conv, Layer, Pool, act_name, activation
from specgen.network.stems.base import StemType


def layers(w_in, w_out, act: str = "Relu") -> list[Layer]:
    return [
        Conv("conv", IN, w_in, w_out, 7, 2),
        BatchNorm("bn", "conv", w_out),
        activation(act_name("", act), "bn", act),
        Pool("pool", act_name("", act), w_out, 3, 2),
    ]


STEM = StemType(name="res_stem_in", layers=layers, renames={}, preact=False)
