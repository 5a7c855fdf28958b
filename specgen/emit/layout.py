"""pycls's layout of a NetworkSpec: its stem and blocks in order, with the layers their types'
descriptions give them, and the state dict they hold.

The ONNX graph names its initializers after these keys, and weights from
other layouts are checked against them; neither needs onnx or torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from specgen.errors import SpecError
from specgen.network.blocks import BLOCK_TYPES, BlockShape
from specgen.network.layers import ACTIVATIONS, IN, Layer, act_name, activation, built, se_width
from specgen.network.layers import parameter_shapes as layer_parameter_shapes
from specgen.network.spec import NetworkSpec
from specgen.network.stems import STEM_TYPES

BN_COUNTER = ".num_batches_tracked"
"""BN's batch counter: in every torch state dict, never in the graph; ignored."""


@dataclass(frozen=True)
class Part:
    """The stem or one block, placed in a network: its pycls name, the tensor it reads, the layers
    it has (from its type's description)."""

    name: str
    input: str
    layers: list[Layer]

    def tensor(self, layer_name: str) -> str:
        """A tensor's name in the network: its layer's module path, or the part's input."""
        return self.input if layer_name == IN else f"{self.name}.{layer_name}"

    def tensor_names(self, layer_names: tuple[str, ...]) -> list[str]:
        return [self.tensor(name) for name in layer_names]

    @property
    def output(self) -> str:
        return self.tensor(self.layers[-1].name)


def block_shapes(net: NetworkSpec) -> list[tuple[str, BlockShape]]:
    """Every block of the body in order, named `s{i}.b{j}` as pycls does (from 1)."""
    out, w_in, se = [], net.stem_width, net.se_ratio > 0
    options = {
        "act": ACTIVATIONS[net.activation],
        "shortcut": net.shortcut,
        "linear_out": net.linear_out,
        "preact": net.preact,
    }
    for i, stage in enumerate(net.stages, 1):
        for j in range(1, stage.depth + 1):
            stride = stage.stride if j == 1 else 1
            w_se = se_width(w_in, net.se_ratio) if se else 0
            w_b, g = stage.bottleneck_width, stage.group_width
            shape = BlockShape(w_in, stage.width, stride, w_b, g, w_se, se, **options)
            out.append((f"s{i}.b{j}", shape))
            w_in = stage.width
    return out


def parts(net: NetworkSpec) -> list[Part]:
    """The stem and every block, in order, each reading the one before; with `linear_out` or
    `preact`, the activation the blocks leave out, once before the head (timm's final_conv)."""
    act = ACTIVATIONS[net.activation]
    stem = STEM_TYPES[net.stem_type].described(net.in_channels, net.stem_width, act, net.preact)
    out, block = [Part("stem", "input", built(stem))], BLOCK_TYPES[net.block_type]
    for name, shape in block_shapes(net):
        out.append(Part(name, out[-1].output, built(block.layers(shape))))
    if net.linear_out or net.preact:
        out.append(Part("final", out[-1].output, [activation(act_name("", act), IN, act)]))
    return out


@dataclass(frozen=True)
class Feature:
    """One output of forward_features: the stem's or a stage's, the graph tensor that holds it,
    its channels and how many times smaller than the input it is."""

    name: str
    tensor: str
    channels: int
    reduction: int


def features(net: NetworkSpec) -> list[Feature]:
    """The stem's output and each stage's (its last block's), in order, as timm's features_only."""
    by_name = {part.name: part for part in parts(net)}
    reduction = STEM_TYPES[net.stem_type].stride
    out = [Feature("stem", by_name["stem"].output, net.stem_width, reduction)]
    for i, stage in enumerate(net.stages, 1):
        reduction *= stage.stride
        out.append(Feature(f"s{i}", by_name[f"s{i}.b{stage.depth}"].output, stage.width, reduction))
    return out


def parameter_shapes(net: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """The state dict the graph expects (pycls names, BN running stats included), in graph order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for part in parts(net):
        for layer in part.layers:
            shapes |= layer_parameter_shapes(layer, f"{part.name}.")
    width = net.stages[-1].width
    return shapes | {"head.fc.weight": (net.num_classes, width), "head.fc.bias": (net.num_classes,)}


def check_state_dict(net: NetworkSpec, state_dict: Mapping, source: str) -> dict[str, tuple[int, ...]]:
    """The expected shapes, once `state_dict` (tensors or arrays under pycls's names) holds exactly
    those tensors, BN counters aside; otherwise a SpecError naming the key (`source`: where from)."""
    shapes = parameter_shapes(net)
    for key in state_dict:
        if key not in shapes and not str(key).endswith(BN_COUNTER):
            raise SpecError(source, key, f"unexpected tensor: network {net.name} has no such parameter")
    for key, shape in shapes.items():
        if key not in state_dict:
            raise SpecError(source, key, f"required tensor of shape {list(shape)} is missing")
        value = state_dict[key]
        if not hasattr(value, "shape"):
            raise SpecError(source, key, f"expected a tensor of numbers, got {type(value).__name__}")
        if tuple(value.shape) != shape:
            raise SpecError(source, key, f"expected shape {list(shape)}, got {list(value.shape)}")
        problem = _not_weights(value)
        if problem:
            raise SpecError(source, key, problem)
    return shapes


def _not_weights(value: object) -> str | None:
    """Why a tensor or array of the right shape still holds no usable weights, or None.

    Duck-typed (torch's is_meta, layout and dtype.is_floating_point; NumPy's dtype.kind) so
    that this module needs no torch: a meta tensor has no data, a sparse one no dense
    storage, and integers or booleans are no trained weights.
    """
    if getattr(value, "is_meta", False):
        return "expected a tensor with data, got a meta tensor"
    layout = getattr(value, "layout", None)
    if layout is not None and str(layout) != "torch.strided":
        return f"expected a dense tensor, got layout {layout}"
    dtype = getattr(value, "dtype", None)
    floating = getattr(dtype, "is_floating_point", None)
    if floating is None:
        floating = getattr(dtype, "kind", "") == "f"
    return None if floating else f"expected floating-point numbers, got dtype {dtype}"
