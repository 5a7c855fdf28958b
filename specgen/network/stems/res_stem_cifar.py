"""pycls's CIFAR stem: 3x3 conv at full resolution, BN, ReLU (a 32 px image stays 32 px)."""

from __future__ import annotations

from specgen.network.layers import IN, BatchNorm, Conv, Layer, act_name, activation
from specgen.network.stems.base import StemType


def layers(w_in, w_out, act: str = "Relu") -> list[Layer]:
    return [
        Conv("conv", IN, w_in, w_out, 3),
        BatchNorm("bn", "conv", w_out),
        activation(act_name("", act), "bn", act),
    ]


STEM = StemType(name="res_stem_cifar", layers=layers, renames={}, preact=True)
