"""The vocabulary every block and stem is described in: convs, BNs, activations, pools, sums.

A description is a list of layers in execution order. Each layer is named after its pycls
module (which is also its output tensor, and its parameters' state-dict prefix) and names
its input tensors; `IN` is the block's or stem's input. Widths and strides are Python ints
for one network or int64 arrays for a batch of networks: complexity counts either, and the
ONNX graph and the state dict read the ints. A layer whose `present` is False (one network)
is not there; in a batch `present` is a mask and the layer counts where it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

IN = "in"
"""The tensor a block or stem takes as input."""


def se_width(w_in, se_ratio):
    """SE width from the block's *input* width, as pycls and the paper do (half to even, like
    Python's round), for Python numbers or arrays."""
    if isinstance(w_in, np.ndarray) or isinstance(se_ratio, np.ndarray):
        return np.rint(w_in * se_ratio).astype(np.int64)
    return round(w_in * se_ratio)


def projects(w_in, w_out, stride):
    """A block's shortcut projects (1x1 conv with the stride, then BN) when its shape changes."""
    return (w_in != w_out) | (stride != 1)


def out_size(h, stride):
    """Spatial size after a layer with 'same' padding (odd kernel k, padding k // 2)."""
    return (h - 1) // stride + 1


def chosen(flag, yes: str, no: str) -> str:
    """The input tensor a block's flag selects. In a batch the flag is a mask and the choice
    changes no count (a sum's inputs have the same shape), so either will do."""
    return yes if isinstance(flag, np.ndarray) or flag else no


@dataclass(slots=True)
class Conv:
    """A 2-D convolution with 'same' padding; `group_width` input channels per group (None: dense)."""

    kind = "Conv"  # its ONNX operator (a class attribute, not a field)

    name: str
    input: str
    w_in: Any
    w_out: Any
    k: int = 1
    stride: Any = 1
    group_width: Any = None
    bias: bool = False
    present: Any = True

    @property
    def groups(self) -> int:
        return 1 if self.group_width is None else self.w_in // self.group_width

    @property
    def fan_in(self):
        """Input channels each output channel sees."""
        return self.w_in if self.group_width is None else self.group_width


@dataclass(slots=True)
class BatchNorm:
    """Batch normalization over `width` channels (pycls's eps 1e-5)."""

    kind = "BatchNorm"  # its ONNX operator (a class attribute, not a field)

    name: str
    input: str
    width: Any
    present: Any = True


@dataclass(slots=True)
class Pool:
    """k x k pooling with the stride: MaxPool with 'same' padding (pycls's ResNet stem), or
    AveragePool without padding, rounding the size up and averaging only what lies inside (timm's
    average-pool shortcut). Either gives out_size(h, stride) for the kernels used here."""

    name: str
    input: str
    width: Any
    k: int
    stride: Any
    kind: str = "MaxPool"
    present: Any = True

    @property
    def padding(self) -> int:
        return self.k // 2 if self.kind == "MaxPool" else 0


@dataclass(slots=True)
class Op:
    """A layer with no parameters: Relu, Silu (x * sigmoid(x)), Sigmoid, Add, Mul (of its inputs)
    or GlobalAveragePool."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    present: Any = True

    @property
    def input(self) -> str:
        return self.inputs[0]


Layer = Conv | BatchNorm | Pool | Op

ACTIVATIONS = {"relu": "Relu", "silu": "Silu"}
"""The spec's `activation` values and their layer kinds."""


def activation(name: str, x: str, kind: str = "Relu", present: Any = True) -> Op:
    return Op(name, kind, (x,), present)


def act_name(prefix: str, kind: str) -> str:
    """An activation's module name after the layer it follows: f.a -> f.a_relu (or f.a_silu)."""
    return f"{prefix}{kind.lower()}"


def squeeze_excitation(
    name: str, x: str, w: Any, w_se: Any, act: str = "Relu", present: Any = True
) -> list[Layer]:
    """pycls's SE: global average pool, 1x1 conv to w_se, activation, 1x1 conv back to w,
    sigmoid, and the channels of `x` scaled by the result."""
    return [
        Op(f"{name}.avg_pool", "GlobalAveragePool", (x,), present),
        Conv(f"{name}.f_ex.0", f"{name}.avg_pool", w, w_se, bias=True, present=present),
        activation(f"{name}.f_ex.1", f"{name}.f_ex.0", act, present),
        Conv(f"{name}.f_ex.2", f"{name}.f_ex.1", w_se, w, bias=True, present=present),
        Op(f"{name}.f_ex.3", "Sigmoid", (f"{name}.f_ex.2",), present),
        Op(name, "Mul", (x, f"{name}.f_ex.3"), present),
    ]


def built(layers: list[Layer]) -> list[Layer]:
    """The layers one network has (its `present` flags are Python booleans)."""
    return [layer for layer in layers if layer.present]


def parameter_shapes(layer: Layer, prefix: str) -> dict[str, tuple[int, ...]]:
    """The state-dict entries of one layer of one network, named `prefix + layer name`."""
    name = prefix + layer.name
    if isinstance(layer, Conv):
        shapes = {f"{name}.weight": (layer.w_out, layer.fan_in, layer.k, layer.k)}
        return shapes | ({f"{name}.bias": (layer.w_out,)} if layer.bias else {})
    if isinstance(layer, BatchNorm):
        return {f"{name}.{key}": (layer.width,) for key in ("weight", "bias", "running_mean", "running_var")}
    return {}
