"""ONNX emission: valid graphs, equal to pycls's AnyNet under onnxruntime, with the spec's structure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings
from pydantic import ValidationError

from specgen.emit.onnx import MIN_OPSET, build_onnx, onnx_bytes, render
from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.layers import se_width
from specgen.network.spec import NetworkSpec, Stage
from specgen.specfile import load_spec
from specgen.testing import names, network_specs
from tests import oracles
from tests.conftest import ROOT, SPECS
from tests.oracles import emitted_class, randomized

TOLERANCE = 1e-4
ZOO = sorted(SPECS.glob("*.json"))
ZOO_RESOLUTION = 32  # parameters do not depend on it; small keeps the big models cheap to run


pytestmark = pytest.mark.usefixtures("one_thread")


# -- helpers -----------------------------------------------------------------------------------------


def pycls_anynet(net: NetworkSpec, seed: int = 0) -> torch.nn.Module:
    """pycls 0.1.1's AnyNet for the same network (its stem takes 3 channels), randomized."""
    torch.manual_seed(seed)
    return randomized(oracles.pycls_anynet(net), torch.Generator().manual_seed(seed))


def with_rgb_input(net: NetworkSpec) -> NetworkSpec:
    """pycls's stem takes 3 channels."""
    return NetworkSpec.model_validate({**net.model_dump(), "in_channels": 3})


def at_resolution(net: NetworkSpec, resolution: int) -> NetworkSpec:
    return NetworkSpec.model_validate({**net.model_dump(), "resolution": resolution})


def checked_session(model: onnx.ModelProto) -> ort.InferenceSession:
    """The model passes ONNX's full check (with shape inference), then loads into onnxruntime."""
    data = onnx_bytes(model)  # serialized once: the checker and the runtime read the same bytes
    onnx.checker.check_model(data, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # no spinning thread pool per session to contend with torch's threads
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def onnx_logits(sess: ort.InferenceSession, x: torch.Tensor) -> np.ndarray:
    return sess.run(["logits"], {"input": x.numpy()})[0]


def torch_logits(module: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return module(x).numpy()


def random_input(net: NetworkSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, net.in_channels, net.resolution, net.resolution, generator=g)


def numpy_weights(net: NetworkSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Random NumPy weights under the names and shapes of pycls's state dict (any input channels)."""
    rng = np.random.default_rng(seed)
    shapes = {k: tuple(v.shape) for k, v in pycls_anynet(with_rgb_input(net)).state_dict().items()}
    shapes["stem.conv.weight"] = (net.stem_width, net.in_channels, 3, 3)  # pycls builds RGB stems only
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def small_net() -> NetworkSpec:
    return NetworkSpec(
        name="small",
        stem_width=8,
        stages=[
            Stage(depth=1, width=16, stride=2, group_width=8),
            Stage(depth=2, width=32, stride=2, bottleneck_ratio=2.0, group_width=4),
        ],
        se_ratio=0.25,
        num_classes=5,
        resolution=16,
    )


def op_histogram(model: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def nodes_by_name(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {node.name: node for node in model.graph.node}


def attribute(node: onnx.NodeProto, name: str):
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


def block_inputs(net: NetworkSpec):
    """(stage index, block index, stage, w_in, stride) for every block, read off the spec."""
    w_in = net.stem_width
    for i, stage in enumerate(net.stages, 1):
        for j in range(1, stage.depth + 1):
            yield i, j, stage, w_in, stage.stride if j == 1 else 1
            w_in = stage.width


def expected_ops(net: NetworkSpec) -> Counter:
    """Op counts the spec implies: stem, per block a/b/c (+ projection, + SE), head."""
    n_blocks = sum(net.depths)
    n_proj = sum(w_in != s.width or stride != 1 for _, _, s, w_in, stride in block_inputs(net))
    n_se = n_blocks if net.se_ratio > 0 else 0
    return Counter(
        {
            "Conv": 1 + 3 * n_blocks + n_proj + 2 * n_se,
            "BatchNormalization": 1 + 3 * n_blocks + n_proj,
            "Relu": 1 + 3 * n_blocks + n_se,
            "Sigmoid": n_se,
            "Mul": n_se,
            "Add": n_blocks,
            "GlobalAveragePool": 1 + n_se,
            "Flatten": 1,
            "Gemm": 1,
        }
    )


def assert_matches_torch(net: NetworkSpec, module: torch.nn.Module, model: onnx.ModelProto) -> None:
    """A valid graph whose logits equal the module's (eval mode, random input)."""
    x = random_input(net)
    got, want = onnx_logits(checked_session(model), x), torch_logits(module, x)
    assert got.shape == want.shape == (2, net.num_classes)
    assert np.abs(got - want).max() <= TOLERANCE


# -- equal to pycls under onnxruntime ----------------------------------------------------------------


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_zoo_graph_is_valid_and_equals_pycls(path: Path):
    net = at_resolution(load_spec(path).resolve(), ZOO_RESOLUTION)
    module = pycls_anynet(net)
    model = build_onnx(net, module.state_dict())
    assert op_histogram(model) == expected_ops(net)
    assert_matches_torch(net, module, model)


@settings(max_examples=200)
@given(network_specs(resolutions=(8, 16, 32)).map(with_rgb_input))
def test_drawn_graph_is_valid_and_equals_pycls(net: NetworkSpec):
    module = pycls_anynet(net)
    model = build_onnx(net, module.state_dict())
    assert_matches_torch(net, module, model)


@settings(max_examples=100)
@given(network_specs())
def test_initializers_are_the_state_dict_with_the_analytical_params(net: NetworkSpec):
    weights = numpy_weights(net)
    model = build_onnx(net, weights)
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert stored.keys() == {k for k in weights if not k.endswith("num_batches_tracked")}
    assert all(np.array_equal(stored[k], weights[k]) for k in stored)
    learned = [v.size for k, v in stored.items() if not k.endswith(("running_mean", "running_var"))]
    assert sum(learned) == complexity.count(net).params


# -- structure: the spec, op for op ------------------------------------------------------------------


@settings(max_examples=150)
@given(network_specs(max_stages=5, max_depth=4))
def test_ops_follow_the_spec(net: NetworkSpec):
    model = build_onnx(net, numpy_weights(net))
    assert op_histogram(model) == expected_ops(net)
    nodes = nodes_by_name(model)
    projections = set()
    for i, j, stage, w_in, stride in block_inputs(net):
        block = f"s{i}.b{j}"
        grouped = nodes[f"{block}.f.b"]
        assert attribute(grouped, "group") == stage.bottleneck_width // stage.group_width
        assert attribute(grouped, "strides") == [stride, stride]
        assert attribute(grouped, "kernel_shape") == [3, 3]
        if w_in != stage.width or stride != 1:
            projections.add(f"{block}.proj")
        if net.se_ratio > 0:
            se = f"{block}.f.se"
            assert nodes[se].op_type == "Mul"
            assert list(nodes[se].input) == [f"{block}.f.b_relu", f"{se}.f_ex.3"]
            w_se = se_width(w_in, net.se_ratio)
            assert next(t.dims for t in model.graph.initializer if t.name == f"{se}.f_ex.0.weight")[0] == w_se
    assert {name for name in nodes if name.endswith(".proj")} == projections
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            assert attribute(node, "epsilon") == pytest.approx(1e-5)


def test_batch_is_symbolic():
    net = at_resolution(load_spec(SPECS / "regnety_200mf.json").resolve(), 32)
    module = pycls_anynet(net)
    model = build_onnx(net, module.state_dict())
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, 32, 32]
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = checked_session(model)
    for batch in (1, 3):
        x = random_input(net, batch, seed=batch)
        got, want = onnx_logits(sess, x), torch_logits(module, x)
        assert got.shape == (batch, net.num_classes)
        assert np.abs(got - want).max() <= TOLERANCE


@pytest.mark.parametrize("opset", [MIN_OPSET, 21, onnx.defs.onnx_opset_version()])
def test_opset_is_honoured(opset: int):
    net = small_net()
    module = pycls_anynet(net)
    model = build_onnx(net, module.state_dict(), opset=opset)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    assert_matches_torch(net, module, model)


@pytest.mark.parametrize("opset", [MIN_OPSET - 1, onnx.defs.onnx_opset_version() + 1, "17", True])
def test_bad_opset_is_refused(opset):
    net = small_net()
    with pytest.raises(SpecError, match="expected an ONNX opset from 17"):
        build_onnx(net, numpy_weights(net), opset=opset)


@settings(max_examples=50)
@given(network_specs(), names)
def test_text_holds_only_the_structure(net: NetworkSpec, name: str):
    """The spec's name is set on the parsed proto, never rendered; so are no other strings of the spec."""
    renamed = NetworkSpec.model_validate({**net.model_dump(), "name": name})
    assert render(renamed) == render(net)
    assert build_onnx(renamed, numpy_weights(net)).graph.name == name


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
@pytest.mark.parametrize("field", ["num_classes", "resolution", "stem_width"])
def test_unvalidated_values_never_reach_the_text(field: str):
    hostile = small_net().model_copy(update={field: "1] x) => (float[1] y) {\n  y = Identity(x)\n}\n#"})
    with pytest.raises(ValidationError):
        render(hostile)


# -- deterministic bytes -----------------------------------------------------------------------------

_DIGEST = """
import hashlib, numpy as np
from specgen.emit.layout import parameter_shapes
from specgen.emit.onnx import build_onnx, onnx_bytes
from specgen.specfile import load_spec
net = load_spec({spec!r}).resolve()
rng = np.random.default_rng(0)
weights = {{k: rng.standard_normal(s).astype(np.float32) for k, s in parameter_shapes(net).items()}}
print(hashlib.sha256(onnx_bytes(build_onnx(net, weights))).hexdigest())
"""


def test_bytes_are_deterministic_across_builds_inputs_and_hash_seeds():
    net = small_net()
    weights = pycls_anynet(net).state_dict()
    first = onnx_bytes(build_onnx(net, weights))
    assert onnx_bytes(build_onnx(net, dict(reversed(weights.items())))) == first
    assert onnx_bytes(build_onnx(net, {k: v.numpy() for k, v in weights.items()})) == first
    script = _DIGEST.format(spec=str(SPECS / "regnety_200mf.json"))
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(digests) == 1 and len(next(iter(digests)).strip()) == 64


# -- bad weights -------------------------------------------------------------------------------------


def test_num_batches_tracked_is_ignored():
    net = small_net()
    weights = numpy_weights(net)
    assert any(k.endswith("num_batches_tracked") for k in weights)
    without = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    assert onnx_bytes(build_onnx(net, weights)) == onnx_bytes(build_onnx(net, without))


@pytest.mark.parametrize("key", ["stem.conv.weight", "s2.b2.f.se.f_ex.2.bias", "s1.b1.bn.running_var"])
def test_missing_tensor_is_named(key: str):
    net = small_net()
    weights = numpy_weights(net)
    del weights[key]
    with pytest.raises(SpecError) as e:
        build_onnx(net, weights, source="ckpt.pt")
    assert (e.value.source, e.value.path) == ("ckpt.pt", key)
    assert "missing" in e.value.message


@pytest.mark.parametrize("key", ["s1.b1.f.b.weight", "head.fc.bias", "s2.b1.f.a_bn.running_mean"])
def test_misshapen_tensor_is_named(key: str):
    net = small_net()
    weights = numpy_weights(net)
    want = list(weights[key].shape)
    weights[key] = np.zeros([n + 1 for n in want], np.float32)
    with pytest.raises(SpecError) as e:
        build_onnx(net, weights)
    assert e.value.path == key
    assert str(e.value) == f"state dict: {key}: expected shape {want}, got {[n + 1 for n in want]}"


def test_unexpected_or_non_numeric_tensor_is_named():
    net = small_net()
    with pytest.raises(SpecError, match=r"^state dict: s3\.b1\.f\.a\.weight: unexpected tensor"):
        build_onnx(net, {**numpy_weights(net), "s3.b1.f.a.weight": np.zeros(1)})
    with pytest.raises(
        SpecError, match=r"^state dict: head\.fc\.bias: expected a tensor of numbers, got str"
    ):
        build_onnx(net, {**numpy_weights(net), "head.fc.bias": "0"})


# -- the emitted module, run against its own graph ---------------------------------------------------


def emitted_module(net: NetworkSpec, folder: Path) -> torch.nn.Module:
    """The emitted .py, written to `folder` and imported from there as a user would, randomized."""
    torch.manual_seed(0)
    return randomized(emitted_class(net, folder)())


@settings(max_examples=25)
@given(net=network_specs(resolutions=(16, 32)))
def test_emitted_module_equals_its_graph(net: NetworkSpec, tmp_path_factory):
    module = emitted_module(net, tmp_path_factory.mktemp("emitted"))
    assert_matches_torch(net, module, build_onnx(net, module.state_dict()))


@pytest.mark.parametrize("name", ["regnetx_600mf", "regnety_800mf"])
def test_emitted_zoo_module_equals_its_graph(name: str, tmp_path: Path):
    net = at_resolution(load_spec(SPECS / f"{name}.json").resolve(), ZOO_RESOLUTION)
    module = emitted_module(net, tmp_path)
    assert_matches_torch(net, module, build_onnx(net, module.state_dict()))
