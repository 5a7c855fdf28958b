"""Rules of specs, RegNet resolution and complexity, stated as properties."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec, Stage
from specgen.specfile import dump_spec, parse_json, validate_spec
from specgen.testing import network_specs, regnet_specs

from .oracles import pycls_complexity


@given(regnet_specs())
def test_resolved_regnet_is_buildable_and_ordered(spec):
    before, _ = spec.stage_widths_and_depths()
    assert before == sorted(set(before)), "the quantized linear rule gives strictly increasing widths"
    net = spec.resolve()
    assert net.widths == sorted(net.widths), "compatibility may merge widths but never reorder them"
    for stage in net.stages:
        assert stage.bottleneck_width % stage.group_width == 0
        assert stage.width % spec.q == 0 or stage.group_width < spec.q
        assert stage.stride == 2
    assert sum(net.depths) == spec.depth


@given(regnet_specs())
def test_block_widths_lie_on_the_quantized_grid(spec):
    from specgen.network.regnet import block_widths

    widths = block_widths(spec.depth, spec.w0, spec.wa, spec.wm, spec.q)
    assert widths[0] == spec.w0
    assert np.all(widths % spec.q == 0)
    assert np.all(np.diff(widths) >= 0)


@given(regnet_specs(rounding=("pycls",)))
def test_pycls_and_torchvision_roundings_agree_on_everything_but_widths_and_groups(spec):
    ours = spec.resolve()
    theirs = spec.model_copy(update={"rounding": "torchvision"}).resolve()
    assert ours.depths == theirs.depths
    assert ours.stem_width == theirs.stem_width and ours.se_ratio == theirs.se_ratio


@given(st.one_of(network_specs(), regnet_specs()))
def test_spec_json_round_trips(spec):
    text = dump_spec(spec)
    again = validate_spec(parse_json(text, "mem"), "mem")
    assert again == spec
    assert dump_spec(again) == text


def _deeper(net: NetworkSpec, i: int) -> NetworkSpec:
    stages = list(net.stages)
    stages[i] = stages[i].model_copy(update={"depth": stages[i].depth + 1})
    return net.model_copy(update={"stages": stages})


def _wider(net: NetworkSpec, i: int) -> NetworkSpec:
    """Scale one stage's width and group width by 2: still buildable."""
    s = net.stages[i]
    stages = list(net.stages)
    stages[i] = Stage(
        depth=s.depth,
        width=2 * s.width,
        stride=s.stride,
        bottleneck_ratio=s.bottleneck_ratio,
        group_width=2 * s.group_width,
    )
    return net.model_copy(update={"stages": stages})


@given(network_specs(), st.data())
def test_complexity_grows_with_depth_and_width(net, data):
    i = data.draw(st.integers(0, len(net.stages) - 1))
    base = complexity.count(net)
    for bigger in (_deeper(net, i), _wider(net, i)):
        cx = complexity.count(bigger)
        assert cx.flops > base.flops
        assert cx.params > base.params
        assert cx.acts > base.acts


@settings(max_examples=50)
@given(st.lists(network_specs(max_stages=5), min_size=1, max_size=12), st.sampled_from([16, 32, 224]))
def test_vectorized_count_equals_scalar_count(nets, resolution):
    """Batches mix stage counts (padded with absent depth-0 stages) and SE ratios."""
    n, s = len(nets), max(len(net.stages) for net in nets)
    arrays = {k: np.zeros((n, s), dtype=np.int64) for k in ("depths", "widths", "group_widths", "strides")}
    ratios = np.ones((n, s))
    for row, net in enumerate(nets):
        for col, st_ in enumerate(net.stages):
            arrays["depths"][row, col] = st_.depth
            arrays["widths"][row, col] = st_.width
            arrays["group_widths"][row, col] = st_.group_width
            arrays["strides"][row, col] = st_.stride
            ratios[row, col] = st_.bottleneck_ratio
    batch = complexity.count_batch(
        arrays["depths"],
        arrays["widths"],
        arrays["group_widths"],
        ratios,
        arrays["strides"],
        stem_width=[net.stem_width for net in nets],
        se_ratio=[net.se_ratio for net in nets],
        resolution=resolution,
        num_classes=[net.num_classes for net in nets],
        in_channels=[net.in_channels for net in nets],
    )
    for row, net in enumerate(nets):
        cx = complexity.count(net, resolution)
        assert (batch.flops[row], batch.params[row], batch.acts[row]) == (cx.flops, cx.params, cx.acts)


@given(network_specs(bottleneck_ratios=(1.0,), resolutions=(7, 32, 224)), st.sampled_from([None, 56, 97]))
def test_complexity_agrees_with_pycls_counter(net, resolution):
    """pycls 0.1.1 counts its stem with 3 input channels: compare networks that have 3."""
    net = net.model_copy(update={"in_channels": 3})
    res = net.resolution if resolution is None else resolution
    cx = complexity.count(net, resolution)
    assert {"flops": cx.flops, "params": cx.params, "acts": cx.acts} == pycls_complexity(net, res)


def test_regnet_spec_from_file_resolves_like_the_model():
    data = {"kind": "regnet", "name": "x", "depth": 16, "w0": 48, "wa": 36.97, "wm": 2.24, "group_width": 24}
    spec = validate_spec(json.loads(json.dumps(data)), "mem")
    assert isinstance(spec, RegNetSpec)
    assert spec.resolve().widths == [48, 96, 240, 528]


def test_se_width_rule_follows_block_input_widths():
    """SE width comes from a block's input width: a last stage of depth 1 is no block's input."""
    narrow_last = {"depth": 1, "width": 2, "group_width": 1}
    body = {
        "kind": "anynet",
        "name": "se",
        "se_ratio": 0.25,
        "stages": [{"depth": 1, "width": 16, "group_width": 8}],
    }
    net = validate_spec({**body, "stages": [*body["stages"], narrow_last]}, "mem")
    assert net.widths == [16, 2]
    assert complexity.count(net).params > 0
    with pytest.raises(SpecError) as err:
        validate_spec({**body, "stages": [*body["stages"], {**narrow_last, "depth": 2}]}, "mem")
    assert str(err.value) == (
        "mem: se_ratio: gives an SE width of 0 for a block of input width 2; "
        "expected 0 or a ratio that keeps every SE width >= 1"
    )


def test_a_negative_zero_is_zero_in_the_spec_and_its_hash():
    """JSON keeps the sign of zero; the network is the same, so the content hash must be too."""
    stages = [{"depth": 1, "width": 16, "group_width": 8}]
    signed = validate_spec({"kind": "anynet", "name": "a", "stages": stages, "se_ratio": -0.0}, "a.json")
    plain = validate_spec({"kind": "anynet", "name": "a", "stages": stages, "se_ratio": 0.0}, "a.json")
    assert signed.content_hash() == plain.content_hash()
    assert math.copysign(1, signed.se_ratio) == 1
    regnet = {"kind": "regnet", "name": "r", "depth": 3, "w0": 16, "wm": 2, "group_width": 8}
    spec = validate_spec({**regnet, "wa": -0.0, "se_ratio": -0.0}, "r.json")
    assert (math.copysign(1, spec.wa), math.copysign(1, spec.se_ratio)) == (1, 1)
    assert (
        spec.resolve().content_hash()
        == validate_spec({**regnet, "wa": 0.0}, "r.json").resolve().content_hash()
    )


@given(network_specs(bottleneck_ratios=(0.25, 0.5, 1.0, 2.0), se_ratios=(0.25,)))
def test_network_strategy_draws_inverted_bottlenecks_whole(net):
    assert all(s.width == s.bottleneck_width * s.bottleneck_ratio for s in net.stages)
