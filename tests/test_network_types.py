"""Stem and block types: each described once, and every reader of the description agrees with
pycls 0.1.1 (complexity, the emitted .py and its state dict, the ONNX graph), for every type."""

from __future__ import annotations

import itertools
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgen.emit.layout import parameter_shapes
from specgen.emit.onnx import build_onnx, onnx_bytes
from specgen.emit.templates import environment
from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.network.stems import STEM_TYPES
from specgen.space.sampler import sample
from specgen.space.schema import validate_space
from specgen.space.validate import validate
from specgen.specfile import validate_spec
from specgen.testing import network_specs

from .conftest import ROOT
from .oracles import emitted_class, pycls_anynet, pycls_complexity, randomized

pytestmark = pytest.mark.usefixtures("one_thread")

COMBINATIONS = [
    (stem, block, se)
    for stem, block in itertools.product(STEM_TYPES, BLOCK_TYPES)
    for se in ((0.0, 0.25) if BLOCK_TYPES[block].se else (0.0,))
]


def typed_networks(stem_type: str, block_type: str, se_ratio: float):
    """Small random networks of one stem and block type (3 input channels: pycls's stem takes 3)."""
    nets = network_specs(
        max_stages=3,
        max_depth=2,
        max_group_width=8,
        max_groups=3,
        se_ratios=(se_ratio,),
        resolutions=(8, 16, 32),
        stem_types=(stem_type,),
        block_types=(block_type,),
    )
    return nets.map(lambda net: NetworkSpec.model_validate({**net.model_dump(), "in_channels": 3}))


def small(stem_type: str, block_type: str) -> NetworkSpec:
    grouped = BLOCK_TYPES[block_type].grouped
    return NetworkSpec.model_validate(
        {
            "name": "small",
            "stem_type": stem_type,
            "block_type": block_type,
            "stem_width": 8,
            "stages": [
                {"depth": 2, "width": 8, "stride": 1, "group_width": 4 if grouped else 1},
                {"depth": 1, "width": 16, "stride": 2, "group_width": 4 if grouped else 1},
            ],
            "se_ratio": 0.25 if BLOCK_TYPES[block_type].se else 0.0,
            "num_classes": 5,
            "resolution": 16,
        }
    )


@pytest.mark.parametrize("stem_type, block_type, se_ratio", COMBINATIONS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_type_equals_pycls(stem_type, block_type, se_ratio, data, tmp_path):
    """Complexity to the integer; pycls's state dict loads strictly into the emitted module, which
    then gives pycls's outputs (random BN statistics), and so does the ONNX graph under onnxruntime."""
    net = data.draw(typed_networks(stem_type, block_type, se_ratio))
    expected = pycls_complexity(net, net.resolution)
    cx = complexity.count(net)
    assert (cx.flops, cx.params, cx.acts) == (expected["flops"], expected["params"], expected["acts"])
    batch = complexity.count_batch(
        [net.depths],
        [net.widths],
        [net.group_widths],
        [net.bottleneck_ratios],
        [[s.stride for s in net.stages]],
        stem_width=net.stem_width,
        se_ratio=net.se_ratio,
        resolution=net.resolution,
        num_classes=net.num_classes,
        stem_type=stem_type,
        block_type=block_type,
    )
    assert (int(batch.flops[0]), int(batch.params[0]), int(batch.acts[0])) == (cx.flops, cx.params, cx.acts)

    theirs = randomized(pycls_anynet(net))
    ours = emitted_class(net, tmp_path)().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, net.resolution, net.resolution, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = theirs(x).numpy()
        assert np.abs(ours(x).numpy() - want).max() <= 1e-5
    opset = data.draw(st.sampled_from([17, onnx.defs.onnx_opset_version()]))
    model = onnx_bytes(build_onnx(net, theirs.state_dict(), opset))
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    assert np.abs(session.run(["logits"], {"input": x.numpy()})[0] - want).max() <= 1e-4


@pytest.mark.parametrize("stem_type, block_type", itertools.product(STEM_TYPES, BLOCK_TYPES))
def test_a_registered_type_has_every_reader(stem_type, block_type, tmp_path):
    """A type added to a registry without its template fragment, ONNX layers, state-dict names
    or complexity fails here, whatever pycls knows: the emitted module's parameters are exactly
    the names and shapes the description gives, and as many as complexity counts."""
    for fragment in (STEM_TYPES[stem_type].template, BLOCK_TYPES[block_type].template):
        environment().get_template(fragment)
    net = small(stem_type, block_type)
    module = emitted_class(net, tmp_path)()
    state = {
        k: tuple(v.shape) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")
    }
    assert state == parameter_shapes(net)
    assert sum(p.numel() for p in module.parameters()) == complexity.count(net).params
    weights = {k: np.zeros(s, np.float32) for k, s in parameter_shapes(net).items()}
    onnx.checker.check_model(onnx_bytes(build_onnx(net, weights)), full_check=True)


def test_types_left_out_mean_the_defaults_and_hash_the_same():
    net = small("simple_stem_in", "res_bottleneck_block")
    body = net.model_dump()
    assert "stem_type" not in body and "block_type" not in body
    named = {**body, "stem_type": "simple_stem_in", "block_type": "res_bottleneck_block"}
    assert NetworkSpec.model_validate(named).content_hash() == net.content_hash()
    other = NetworkSpec.model_validate({**body, "stem_type": "res_stem_cifar"})
    assert other.content_hash() != net.content_hash() and other.model_dump()["stem_type"] == "res_stem_cifar"


def test_an_ungrouped_block_needs_no_group_width_and_a_regnet_resolves_the_same_widths():
    vanilla = {"name": "v", "block_type": "vanilla_block", "stages": [{"depth": 1, "width": 24}]}
    assert NetworkSpec.model_validate(vanilla).stages[0].group_width == 1
    regnet = {"kind": "regnet", "name": "r", "depth": 6, "w0": 24, "wa": 12.0, "wm": 2.0}
    default = RegNetSpec.model_validate({**regnet, "group_width": 8}).resolve()
    basic = RegNetSpec.model_validate({**regnet, "block_type": "res_basic_block"}).resolve()
    assert basic.block_type == "res_basic_block" and basic.depths == default.depths
    assert basic.widths == RegNetSpec.model_validate({**regnet, "group_width": 1}).resolve().widths


BAD = [
    (
        {"block_type": "vanilla_block", "stages": [{"depth": 1, "width": 24, "bottleneck_ratio": 2}]},
        "stages[0].bottleneck_ratio: vanilla_block has no bottleneck; expected 1, got 2",
    ),
    (
        {"block_type": "res_basic_block", "stages": [{"depth": 1, "width": 24, "group_width": 8}]},
        "stages[0].group_width: res_basic_block has no group conv; expected 1, got 8",
    ),
    (
        {"block_type": "vanilla_block", "se_ratio": 0.25, "stages": [{"depth": 1, "width": 24}]},
        "se_ratio: vanilla_block has no place for SE; expected 0, got 0.25",
    ),
    (
        {"kind": "regnet", "block_type": "res_basic_block", "depth": 6, "w0": 24, "wa": 12, "wm": 2,
         "group_width": 8},
        "group_width: res_basic_block has no group conv; expected 1, got 8",
    ),
    (
        {"stem_type": "res_stem", "stages": [{"depth": 1, "width": 24, "group_width": 8}]},
        "stem_type: expected 'simple_stem_in', 'res_stem_cifar' or 'res_stem_in', got \"res_stem\"",
    ),
]  # fmt: skip


@pytest.mark.parametrize("body, message", BAD)
def test_a_type_without_room_for_a_field_gets_one_line(body, message):
    with pytest.raises(SpecError) as e:
        validate_spec({"kind": "anynet", "name": "bad", **body}, "bad.json")
    assert str(e.value) == f"bad.json: {message}"


def test_a_space_fixes_the_types_and_its_samples_are_networks_of_them():
    data = json.loads((ROOT / "specs" / "spaces" / "anynetx_e.json").read_text())
    one = {"type": "choice", "values": [1], "distribution": "uniform"}
    data |= {
        "name": "cifar_basic",
        "stem_type": "res_stem_cifar",
        "block_type": "res_basic_block",
        "resolution": 32,
    }
    data["parameters"] |= {"bottleneck_ratio": one, "group_width": one}
    space = validate_space(data, "cifar_basic.json")
    drawn = sample(space, 20, seed=0)
    assert {(s.spec.stem_type, s.spec.block_type) for s in drawn} == {("res_stem_cifar", "res_basic_block")}
    for s in drawn:
        cx = complexity.count(s.spec)
        assert (s.flops, s.params, s.acts) == (cx.flops, cx.params, cx.acts)
    with pytest.raises(SpecError, match=r"^x\.json: block_type: expected res_basic_block as in the space"):
        validate(space, small("res_stem_cifar", "vanilla_block"), "x.json")


def _allowed(stem_type: str, block_type: str, options: dict) -> bool:
    block, stem = BLOCK_TYPES[block_type], STEM_TYPES[stem_type]
    if not block.residual and (options["shortcut"] != "conv1x1" or options["linear_out"]):
        return False
    return not options["preact"] or (block.preact and stem.preact and not options["linear_out"])


OPTION_COMBINATIONS = [
    (stem, block, options)
    for stem, block in itertools.product(STEM_TYPES, BLOCK_TYPES)
    for shortcut, linear_out, preact, activation in itertools.product(
        ("conv1x1", "avg"), (False, True), (False, True), ("relu", "silu")
    )
    if _allowed(
        stem,
        block,
        options := {
            "shortcut": shortcut,
            "linear_out": linear_out,
            "preact": preact,
            "activation": activation,
        },
    )
]


@pytest.mark.parametrize("stem_type, block_type, options", OPTION_COMBINATIONS)
def test_every_option_reads_the_same_description_everywhere(stem_type, block_type, options, tmp_path):
    """Whatever pycls or timm build: the emitted module holds the description's parameters (as many
    as complexity counts), and the ONNX graph computes what the module does."""
    net = NetworkSpec.model_validate({**small(stem_type, block_type).model_dump(), **options})
    module = randomized(emitted_class(net, tmp_path)())
    state = module.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items() if not k.endswith("tracked")} == parameter_shapes(net)
    assert sum(p.numel() for p in module.parameters()) == complexity.count(net).params
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = module(x).numpy()
    session = ort.InferenceSession(onnx_bytes(build_onnx(net, state)), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(["logits"], {"input": x.numpy()})[0] - want).max() <= 1e-4
