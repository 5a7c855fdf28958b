"""ONNX graphs built from the spec, not by tracing.

`templates/network.onnx.j2` writes the network op for op in ONNX's textual
syntax, with pycls's module names as node and tensor names; `onnx.parser`
turns the text into a ModelProto, and the weights are attached as
initializers named after pycls's state-dict keys. Only integers and names
built here reach the text, so a spec cannot inject anything into it; the
spec's own name is set on the parsed proto, never rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from specgen import __version__
from specgen.emit.templates import environment
from specgen.errors import ROOT, SpecError
from specgen.spec import NetworkSpec, se_width

MIN_OPSET = 17
BN_EPSILON = 1e-5
_TEMPLATE = "network.onnx.j2"
_IGNORED_SUFFIX = ".num_batches_tracked"


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


def check_opset(opset: int) -> int:
    """An opset this onnx package knows, 17 or newer; anything else is bad input."""
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        expected = f"expected an ONNX opset from {MIN_OPSET} to {newest}, got {opset!r}"
        raise SpecError("--opset", ROOT, expected)
    return opset


def render(net: NetworkSpec, opset: int = MIN_OPSET) -> str:
    """The network in ONNX's textual syntax, without weights.

    The spec is validated again, strictly, so that one built in code with
    `model_copy` or `model_construct` cannot bring anything but integers here.
    """
    opset = check_opset(opset)
    net = NetworkSpec.model_validate(net.model_dump(), strict=True)
    ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return (
        environment()
        .get_template(_TEMPLATE)
        .render(
            ir_version=ir_version,
            opset=opset,
            epsilon=BN_EPSILON,
            in_channels=net.in_channels,
            resolution=net.resolution,
            stem_width=net.stem_width,
            blocks=blocks(net),
            num_classes=net.num_classes,
        )
    )


def _as_float32(value: object, key: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    """A tensor or array as a C-ordered float32 array of the expected shape, or a SpecError naming the key."""
    if hasattr(value, "detach"):  # a torch.Tensor; duck-typed so this module does not import torch
        value = value.detach().cpu().float().numpy()
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise SpecError(source, key, f"expected a tensor of numbers, got {type(value).__name__}")
    if value.shape != shape:
        raise SpecError(source, key, f"expected shape {list(shape)}, got {list(value.shape)}")
    return np.ascontiguousarray(value, dtype=np.float32)


def checked_weights(
    net: NetworkSpec, state_dict: Mapping[str, object], source: str = "state dict"
) -> dict[str, np.ndarray]:
    """The state dict as float32 arrays in graph order, checked key by key against the spec."""
    shapes = parameter_shapes(net)
    for key in state_dict:
        if key not in shapes and not key.endswith(_IGNORED_SUFFIX):
            raise SpecError(source, key, "unexpected tensor: this network has no such parameter")
    weights = {}
    for key, shape in shapes.items():
        if key not in state_dict:
            raise SpecError(source, key, f"required tensor of shape {list(shape)} is missing")
        weights[key] = _as_float32(state_dict[key], key, shape, source)
    return weights


def _attach(graph: onnx.GraphProto, weights: Mapping[str, np.ndarray]) -> None:
    """Initializers written in place (one copy of the data, little-endian as ONNX requires)."""
    for key, array in weights.items():
        tensor = graph.initializer.add()
        tensor.name = key
        tensor.data_type = onnx.TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype("<f4", copy=False).tobytes()


def build_onnx(
    net: NetworkSpec,
    state_dict: Mapping[str, object],
    opset: int = MIN_OPSET,
    *,
    source: str = "state dict",
) -> onnx.ModelProto:
    """The network as an ONNX model: input "input" [batch, C, H, W], output "logits" [batch, classes].

    `state_dict` holds torch tensors or NumPy arrays under pycls's names;
    `num_batches_tracked` is ignored. A missing, unexpected or misshapen
    tensor is a SpecError naming its key (`source` names where it came from).
    """
    weights = checked_weights(net, state_dict, source)
    model = onnx.parser.parse_model(render(net, opset))
    _attach(model.graph, weights)
    model.graph.name = net.name
    model.producer_name = "specgen"
    model.producer_version = __version__
    model.doc_string = f"AnyNet network {net.name}, generated by specgen from its spec (`specgen emit`)."
    metadata = {"specgen.spec": net.model_dump_json(), "specgen.spec_hash": net.content_hash()}
    helper.set_model_props(model, metadata)
    return model


def onnx_bytes(model: onnx.ModelProto) -> bytes:
    """The serialized model; the same model always gives the same bytes."""
    return model.SerializeToString(deterministic=True)
