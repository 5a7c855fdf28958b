"""What a stem type is: its description and its names elsewhere."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specgen.network.layers import Layer


@dataclass(frozen=True)
class StemType:
    name: str
    layers: Callable[..., list[Layer]]
    """The stem's layers from (input channels, stem width, activation kind), named as pycls names
    its modules."""
    renames: dict[str, list[tuple[str, Any]]]
    """Per other layout (torchvision, timm): rules from its names of the stem's parameters to ours."""
    preact: bool
    """Has a pre-activation form: its first conv alone (the first block's BN and activation
    follow it), as timm's RegNetV stem."""

    def described(self, w_in, w_out, act: str = "Relu", preact: bool = False) -> list[Layer]:
        """Its layers in a network with or without pre-activation blocks."""
        layers = self.layers(w_in, w_out, act)
        return layers[:1] if preact else layers

    @property
    def stride(self) -> int:
        """How much the stem reduces the resolution: an h x h input gives out_size(h, stride)
        (for 'same' padding, strides compose as their product)."""
        return math.prod(getattr(layer, "stride", 1) for layer in self.layers(1, 1))

    @property
    def template(self) -> str:
        """Its fragment of the emitted .py, under templates/."""
        return f"stems/{self.name}.py.j2"
