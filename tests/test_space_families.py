"""The CIFAR, NDS and block-type spaces, and the dimensions they need: a drawn stem or block type,
a range of stage counts, and per-space strides (their bad forms are in tests/bad_spaces)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from specgen.cli import main
from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.nds import net_from_spec, spec_from_net
from specgen.network.spec import NetworkSpec, Stage
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.space.schema import validate_space
from specgen.space.sizes import exact_size, nominal_size
from specgen.space.validate import validate
from tests.oracles import emitted_class

SPACES = Path(__file__).resolve().parent.parent / "specs" / "spaces"
R56 = {"flops": (120e6, 130e6), "params": (0, 2e6), "acts": (0, 1e6)}
NDS = ["nds_vanilla", "nds_resnet", "nds_resnext_a", "nds_resnext_b"]
NDS_BAND = (20e6, 60e6)
NET_FIELDS = ("block_type", "ds", "ws", "ss", "bot_muls", "num_gs")
"""The `net` fields of the NDS data."""
NDS_NAMES = {
    "nds_vanilla": "double_plain_block",
    "nds_resnet": "res_basic_block",
    "nds_resnext_a": "res_bottleneck_block",
    "nds_resnext_b": "res_bottleneck_block",
}
BLOCKS = {
    "nds_vanilla": "vanilla_block",
    "nds_resnet": "res_basic_block",
    "nds_resnext_a": "res_bottleneck_block",
    "nds_resnext_b": "res_bottleneck_block",
}


def _data(name: str) -> dict:
    return json.loads((SPACES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["cifar_anynetx_e", "cifar_regnetx"])
def test_cifar_samples_land_in_resnet56s_band(name):
    space = load_space(name)
    samples = sample(space, 200, seed=1)
    for s in samples:
        net = s.spec
        assert (net.stem_type, net.stem_width, net.num_classes, net.resolution) == (
            "res_stem_cifar",
            16,
            10,
            32,
        )
        assert len(net.stages) == 2
        for key, (lo, hi) in R56.items():
            assert lo <= getattr(s, key) <= hi
        cx = complexity.count(net)
        assert (s.flops, s.params, s.acts) == (cx.flops, cx.params, cx.acts)


@pytest.mark.parametrize("name", NDS)
def test_nds_samples_are_3_stages_of_strides_1_2_2_and_convert_to_nds_nets(name):
    samples = sample(load_space(name), 200, seed=2, flops=NDS_BAND)
    for s in samples:
        net = s.spec
        assert net.block_type == BLOCKS[name] and net.stem_type == "res_stem_cifar"
        assert [st.stride for st in net.stages] == [1, 2, 2]
        assert NDS_BAND[0] <= s.flops <= NDS_BAND[1]
        nds = net_from_spec(net)
        assert set(NET_FIELDS) <= set(nds) and nds["block_type"] == NDS_NAMES[name]
        assert nds["ss"][1:] == [1, 2, 2] and nds["ds"][1:] == net.depths and nds["ws"][1:] == net.widths
        assert NetworkSpec.model_validate(spec_from_net(json.loads(json.dumps(nds)), net.name)) == net
    assert "PROVISIONAL" in load_space(name).description


def test_blocks_vrx_draws_every_block_type_in_one_band():
    samples = sample(load_space("blocks_vrx"), 300, seed=0)
    kinds = {s.spec.block_type for s in samples}
    assert kinds == {"vanilla_block", "res_basic_block", "res_bottleneck_block"}
    for s in samples:
        assert 360e6 <= s.flops <= 400e6
        if s.spec.block_type != "res_bottleneck_block":
            assert set(s.spec.group_widths) == {1} and set(s.spec.bottleneck_ratios) == {1}


def test_a_drawn_block_type_counts_networks_without_groups_once():
    # V and R networks take b = g = 1: each (d, w0, wa, wm) is one network, an X network 6 x 3.
    per_design = exact_size(load_space("regnetx")) // 18
    assert exact_size(load_space("blocks_vrx")) == (1 + 1 + 18) * per_design
    fixed = {k: exact_size(v) for k, v in zip("vrx", load_space("blocks_vrx").variants(), strict=True)}
    assert fixed == {"v": per_design, "r": per_design, "x": 18 * per_design}
    assert nominal_size(load_space("blocks_vrx")) == nominal_size(load_space("regnetx")) * (1 + 2 / 18)


def test_a_drawn_stem_type_doubles_the_space_and_both_stems_are_drawn():
    stems = ["res_stem_cifar", "simple_stem_in"]
    space = validate_space(_data("nds_resnet") | {"stem_type": {"type": "choice", "values": stems}}, "s")
    assert exact_size(space) == 2 * exact_size(load_space("nds_resnet"))
    samples = sample(space, 100, seed=0)
    assert {s.spec.stem_type for s in samples} == set(stems)
    for s in samples[:10]:
        validate(space, s.spec, "x.json")


def _small(**changes) -> dict:
    data = _data("anynetx_e")
    data["parameters"]["depth"]["max"] = 3
    data["parameters"]["width"].update(min=8, max=32)
    data["constraints"][0] = {"name": "num_stages", "value": 2, "max": 3}
    return data | changes


def test_a_range_of_stage_counts_is_sampled_and_counted_as_the_sum_of_its_counts():
    space = validate_space(_small(), "small.json")
    assert space.stage_counts == [2, 3]
    two, three = (validate_space(_small(), "s") for _ in range(2))
    two.constraints[0] = two.constraints[0].model_copy(update={"max": None})
    three.constraints[0] = three.constraints[0].model_copy(update={"value": 3, "max": None})
    assert exact_size(space) == exact_size(two) + exact_size(three) > exact_size(three)
    counts = {len(s.spec.stages) for s in sample(space, 200, seed=0)}
    assert counts == {2, 3}
    for s in sample(space, 20, seed=1):
        validate(space, s.spec, "x.json")


def test_a_stage_count_outside_the_range_is_one_line():
    space = validate_space(_small(), "small.json")
    stage = Stage(depth=1, width=8, stride=2, bottleneck_ratio=1, group_width=1)
    net = NetworkSpec(name="n", stages=[stage] * 4)
    with pytest.raises(SpecError, match=r"^x.json: stages: expected 2 to 3 stages \(num_stages\), got 4$"):
        validate(space, net, "x.json")


def test_a_block_type_outside_the_choice_is_one_line():
    net = sample(load_space("nds_resnet"), 1, seed=0)[0].spec.model_copy(
        update={"block_type": "vanilla_block"}
    )
    data = _data("nds_resnet") | {"block_type": {"type": "choice", "values": ["res_basic_block"]}}
    space = validate_space(data, "s.json")
    with pytest.raises(
        SpecError, match=r"^x.json: block_type: expected one of res_basic_block as in the space"
    ):
        validate(space, net, "x.json")


def test_strides_are_the_spaces():
    space = load_space("nds_vanilla")
    net = sample(space, 1, seed=0)[0].spec
    validate(space, net, "x.json")
    moved = net.model_copy(update={"stages": [s.model_copy(update={"stride": 2}) for s in net.stages]})
    with pytest.raises(SpecError, match=r"^x.json: stages\[0\].stride: expected 1 as in the space, got 2$"):
        validate(space, moved, "x.json")


@pytest.mark.parametrize("name", ["cifar_anynetx_e", "cifar_regnetx", *NDS, "blocks_vrx"])
def test_a_few_samples_build_and_run_at_32_px(name, tmp_path, one_thread):
    for s in sample(load_space(name), 2, seed=5, flops=NDS_BAND if name in NDS else None):
        net = s.spec.model_copy(update={"resolution": 32})
        module = emitted_class(net, tmp_path)().eval()
        with torch.no_grad():
            out = module(torch.randn(2, net.in_channels, 32, 32))
        assert out.shape == (2, net.num_classes)
        assert sum(p.numel() for p in module.parameters()) == complexity.count(net).params


def test_a_tiny_cifar_sweep_runs_end_to_end_on_synthetic_data(tmp_path, one_thread):
    args = ["sweep", "cifar_regnetx", "--n", "2", "--epochs", "1", "--data", "synthetic:64",
            "--resolution", "32", "--batch-size", "32", "--device", "cpu", "--store", str(tmp_path / "s.db"),
            "--cache", str(tmp_path / "cache")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["counts"] == {"done": 2}
