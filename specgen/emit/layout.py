"""pycls's layout of a NetworkSpec: its blocks in order and the state dict they hold.

The ONNX graph names its initializers after these keys, and weights from
other layouts are checked against them; neither needs onnx or torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from specgen.errors import SpecError
from specgen.spec import NetworkSpec, se_width

BN_COUNTER = ".num_batches_tracked"
"""BN's batch counter: in every torch state dict, never in the graph; ignored."""


@dataclass(frozen=True)
class Block:
    """One residual bottleneck block as the graph needs it: pycls name, input tensor and widths."""

    name: str
    input: str
    w_in: int
    w_out: int
    stride: int
    w_b: int
    groups: int
    w_se: int

    @property
    def has_projection(self) -> bool:
        """A projection shortcut only where the width or the resolution changes."""
        return self.w_in != self.w_out or self.stride != 1


def blocks(net: NetworkSpec) -> list[Block]:
    """Every block of the body in order, named `s{i}.b{j}` as pycls does (from 1)."""
    out, x, w_in = [], "stem.relu", net.stem_width
    for i, stage in enumerate(net.stages, 1):
        for j in range(1, stage.depth + 1):
            name = f"s{i}.b{j}"
            w_se = se_width(w_in, net.se_ratio) if net.se_ratio > 0 else 0
            stride = stage.stride if j == 1 else 1
            out.append(Block(name, x, w_in, stage.width, stride, stage.bottleneck_width, stage.groups, w_se))
            x, w_in = f"{name}.relu", stage.width
    return out


def _conv(name: str, c_in: int, c_out: int, k: int = 1, groups: int = 1, bias: bool = False) -> dict:
    shapes = {f"{name}.weight": (c_out, c_in // groups, k, k)}
    return shapes | ({f"{name}.bias": (c_out,)} if bias else {})


def _bn(name: str, c: int) -> dict:
    return {f"{name}.{key}": (c,) for key in ("weight", "bias", "running_mean", "running_var")}


def parameter_shapes(net: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """The state dict the graph expects (pycls names, BN running stats included), in graph order."""
    shapes = _conv("stem.conv", net.in_channels, net.stem_width, 3) | _bn("stem.bn", net.stem_width)
    for b in blocks(net):
        if b.has_projection:
            shapes |= _conv(f"{b.name}.proj", b.w_in, b.w_out) | _bn(f"{b.name}.bn", b.w_out)
        f = f"{b.name}.f"
        shapes |= _conv(f"{f}.a", b.w_in, b.w_b) | _bn(f"{f}.a_bn", b.w_b)
        shapes |= _conv(f"{f}.b", b.w_b, b.w_b, 3, b.groups) | _bn(f"{f}.b_bn", b.w_b)
        if b.w_se:
            shapes |= _conv(f"{f}.se.f_ex.0", b.w_b, b.w_se, bias=True)
            shapes |= _conv(f"{f}.se.f_ex.2", b.w_se, b.w_b, bias=True)
        shapes |= _conv(f"{f}.c", b.w_b, b.w_out) | _bn(f"{f}.c_bn", b.w_out)
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
