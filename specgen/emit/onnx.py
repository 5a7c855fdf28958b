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

import numpy as np
import onnx
from onnx import helper

from specgen import __version__
from specgen.emit.layout import check_state_dict, features, parts
from specgen.emit.templates import environment
from specgen.errors import ROOT, SpecError
from specgen.network.layers import out_size
from specgen.network.spec import NetworkSpec

MIN_OPSET = 17
BN_EPSILON = 1e-5
INLINE_WEIGHTS_LIMIT = 2_000_000_000
"""Most bytes of weights kept inside the .onnx. protobuf cannot serialize a message of 2 GiB or
more, so heavier weights (above about 500 M params) go to one external data file beside it."""
_TEMPLATE = "network.onnx.j2"


def check_opset(opset: int) -> int:
    """An opset this onnx package knows, 17 or newer; anything else is bad input."""
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        expected = f"expected an ONNX opset from {MIN_OPSET} to {newest}, got {opset!r}"
        raise SpecError("--opset", ROOT, expected)
    return opset


OUTPUTS = ("logits", "features")
"""What a graph returns: the classifier's logits, or forward_features' outputs (one per stage)."""


def check_outputs(outputs: str) -> str:
    if outputs not in OUTPUTS:
        raise SpecError("--outputs", ROOT, f"expected logits or features, got {outputs!r}")
    return outputs


def render(net: NetworkSpec, opset: int = MIN_OPSET, outputs: str = "logits") -> str:
    """The network in ONNX's textual syntax, without weights.

    The spec is validated again, strictly, so that one built in code with
    `model_copy` or `model_construct` cannot bring anything but integers here.
    """
    opset = check_opset(opset)
    chosen = features(net) if check_outputs(outputs) == "features" else []
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
            parts=parts(net),
            num_classes=net.num_classes,
            features=[f | {"size": out_size(net.resolution, f["reduction"])} for f in map(vars, chosen)],
        )
    )


def _as_float32(value: object, key: str, source: str) -> np.ndarray:
    """A checked tensor or array of floats as a C-ordered float32 array, or a SpecError naming the key."""
    if hasattr(value, "detach"):  # a torch.Tensor; duck-typed so this module does not import torch
        value = value.detach().cpu().float().numpy()
    if not isinstance(value, np.ndarray):
        raise SpecError(source, key, f"expected a tensor of numbers, got {type(value).__name__}")
    return np.ascontiguousarray(value, dtype=np.float32)


def checked_weights(
    net: NetworkSpec, state_dict: Mapping[str, object], source: str = "state dict"
) -> dict[str, np.ndarray]:
    """The state dict as float32 arrays in graph order, checked key by key against the spec."""
    shapes = check_state_dict(net, state_dict, source)
    return {key: _as_float32(state_dict[key], key, source) for key in shapes}


def _attach(graph: onnx.GraphProto, weights: Mapping[str, np.ndarray]) -> None:
    """Initializers written in place (one copy of the data, little-endian as ONNX requires)."""
    for key, array in weights.items():
        tensor = graph.initializer.add()
        tensor.name = key
        tensor.data_type = onnx.TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype("<f4", copy=False).tobytes()


def _attach_external(graph: onnx.GraphProto, weights: Mapping[str, np.ndarray], data_file: str) -> None:
    """Initializers that point into `data_file` (ONNX's external data: location, offset, length),
    where the weights lie one after another in graph order."""
    offset = 0
    for key, array in weights.items():
        tensor = graph.initializer.add()
        tensor.name = key
        tensor.data_type = onnx.TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for field, value in (("location", data_file), ("offset", offset), ("length", array.nbytes)):
            entry = tensor.external_data.add()
            entry.key, entry.value = field, str(value)
        offset += array.nbytes


def _used(weights: dict[str, np.ndarray], outputs: str) -> dict[str, np.ndarray]:
    """The weights a graph returning `outputs` uses: all of them, or without the head's for features."""
    if check_outputs(outputs) == "features":
        return {k: v for k, v in weights.items() if not k.startswith("head.")}
    return weights


def build_onnx(
    net: NetworkSpec,
    state_dict: Mapping[str, object],
    opset: int = MIN_OPSET,
    *,
    source: str = "state dict",
    data_file: str | None = None,
    outputs: str = "logits",
) -> onnx.ModelProto:
    """The network as an ONNX model: input "input" [batch, C, H, W], output "logits" [batch, classes],
    or with `outputs="features"` forward_features' outputs "stem", "s1", ... [batch, C, H', W'].

    `state_dict` holds torch tensors or NumPy arrays under pycls's names;
    `num_batches_tracked` is ignored. A missing, unexpected or misshapen
    tensor is a SpecError naming its key (`source` names where it came from).
    With `data_file` (a file name beside the model) the initializers refer to
    the weights there instead of holding them (see `onnx_files`).
    """
    check_outputs(outputs)  # before the weights: a bad argument is the first thing to say
    weights = _used(checked_weights(net, state_dict, source), outputs)
    model = onnx.parser.parse_model(render(net, opset, outputs))
    if data_file is None:
        _attach(model.graph, weights)
    else:
        _attach_external(model.graph, weights, data_file)
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


def onnx_files(
    net: NetworkSpec,
    state_dict: Mapping[str, object],
    opset: int,
    data_file: str,
    *,
    source: str,
    outputs: str = "logits",
) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """The model, and the arrays to write to `data_file` in order: none when the weights fit inside
    the model (one self-contained file), all of them when they would pass INLINE_WEIGHTS_LIMIT.

    The model is returned unserialized so that a caller can drop `state_dict` first: serializing
    holds two more copies of inline weights.
    """
    weights = checked_weights(net, state_dict, source)
    if sum(a.nbytes for a in _used(weights, outputs).values()) <= INLINE_WEIGHTS_LIMIT:
        return build_onnx(net, weights, opset, source=source, outputs=outputs), []
    model = build_onnx(net, weights, opset, source=source, data_file=data_file, outputs=outputs)
    return model, [a.astype("<f4", copy=False) for a in _used(weights, outputs).values()]
