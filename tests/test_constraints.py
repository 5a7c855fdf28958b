"""One class per constraint: the registry, the parts every class carries, and what a missing part does."""

import json
from typing import get_args

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from specgen.cli import main
from specgen.network import limits
from specgen.network.spec import Stage
from specgen.space import sizes, spec_limits
from specgen.space.batch import Batch, Designs, admitted, resolve
from specgen.space.builtins import builtin_spaces, load_space
from specgen.space.constraints import CONSTRAINTS, Constraint, SpaceConstraint
from specgen.space.constraints.non_decreasing import NonDecreasing
from specgen.space.constraints.quantized_linear import QuantizedLinear
from specgen.testing import space_samples

from .conftest import ROOT

PARTS = ("check", "rules", "explain", "count", "strategy")


@pytest.mark.parametrize("kind", CONSTRAINTS, ids=lambda k: k.__name__)
def test_every_registered_constraint_has_every_part(kind):
    tags = get_args(kind.model_fields["name"].annotation)
    assert tags, f"{kind.__name__} has no name tag"
    schema = kind.model_json_schema()
    assert set(tags) <= set(
        schema["properties"]["name"].get("enum", [schema["properties"]["name"].get("const")])
    )
    missing = [part for part in PARTS if getattr(kind, part) is getattr(SpaceConstraint, part)]
    assert not missing, f"{kind.__name__} lacks {', '.join(missing)}"
    assert (
        kind.__doc__ and kind.__module__ == f"specgen.space.constraints.{kind.__module__.rsplit('.', 1)[1]}"
    )


def test_the_schema_union_is_the_registry():
    members = get_args(get_args(Constraint)[0])
    assert members == CONSTRAINTS
    modules = [k.__module__ for k in CONSTRAINTS]
    assert len(set(modules)) == len(modules), "one module per constraint class"


def test_every_builtin_space_is_counted_by_its_constraints_parts():
    stages = {"anynetx_e5": 5, "regnetx5": 5, "regnety5": 5, "cifar_anynetx_e": 2, "cifar_regnetx": 2}
    assert {
        n: load_space(n).num_stages for n in builtin_spaces() if load_space(n).num_stages != 4
    } == stages | {n: 3 for n in ("nds_vanilla", "nds_resnet", "nds_resnext_a", "nds_resnext_b")}
    for name in builtin_spaces():
        space = load_space(name)
        for variant in space.variants():
            parts = sizes.counting(variant)
            assert parts.unknown == [] and parts.num_stages == space.num_stages


def test_a_constraint_without_a_counting_rule_makes_the_exact_size_unknown(monkeypatch):
    known = sizes.exact_size(load_space("anynetx_e"))
    assert known == 418_276_067_112
    monkeypatch.setattr(NonDecreasing, "count", SpaceConstraint.count)
    assert sizes.exact_size(load_space("anynetx_e")) is None
    assert sizes.exact_size(load_space("anynetx_c")) == 161_843_226_083_328  # declares no non_decreasing
    runner = CliRunner()
    listing = runner.invoke(main, ["spaces", "anynetx_d", "anynetx_c"])
    assert listing.exit_code == 0
    rows = listing.output.splitlines()[2:]
    assert rows[0].split()[0] == "anynetx_d" and rows[0].endswith("not known exactly")
    assert rows[1].endswith("161,843,226,083,328")
    as_json = json.loads(runner.invoke(main, ["spaces", "anynetx_d", "--json"]).output)
    assert as_json[0]["exact_size"] is None


def test_the_spec_limits_the_sampler_keeps_are_networkspecs_own():
    for field, bound in (("depth", spec_limits.MAX_STAGE_DEPTH), ("width", spec_limits.MAX_WIDTH)):
        stage = {"depth": 1, "width": 64, "bottleneck_ratio": 1.0, "group_width": 1}
        Stage(**{**stage, field: bound})
        with pytest.raises(ValidationError):
            Stage(**{**stage, field: bound + 1})
    assert (spec_limits.MAX_STAGE_DEPTH, spec_limits.MAX_WIDTH) == (limits.MAX_STAGE_DEPTH, limits.MAX_WIDTH)


def _torchvision_space(tmp_path, ratio):
    data = json.loads((ROOT / "specs" / "spaces" / "regnetx.json").read_text())
    data |= {"name": "tv"}
    data["constraints"][1]["rounding"] = "torchvision"
    data["parameters"]["bottleneck_ratio"] = {"type": "choice", "values": [ratio]}
    data["parameters"]["w0"] = {"type": "choice", "values": [8, 64]}
    path = tmp_path / "tv.json"
    path.write_text(json.dumps(data))
    return load_space(str(path))


def test_quantized_linear_refuses_stages_that_torchvision_rounding_cannot_build(tmp_path):
    space = _torchvision_space(tmp_path, 16)
    rule = space.resolver
    assert isinstance(rule, QuantizedLinear)
    # w0 = 8 with b = 16: int(8 / 16) = 0, a group width of 0; w0 = 64 builds.
    designs = Designs(
        {
            "depth": np.array([8, 8]),
            "w0": np.array([8, 64]),
            "wa": np.array([8.0, 8.0]),
            "wm": np.array([2.5, 2.5]),
            "group_width": np.array([8, 8]),
            "bottleneck_ratio": np.array([16.0, 16.0]),
        }
    )
    (verdict,) = rule.rules(Batch(space, designs, resolve(space, designs)))
    assert verdict.rows().tolist() == [False, True]
    error = rule.explain(space, designs.take(np.array([0])), verdict, "tv.json")
    assert str(error) == (
        "tv.json: bottleneck_ratio: expected a ratio that leaves every stage a bottleneck width w / b of at "
        "least 1 under torchvision rounding (quantized_linear), got 16"
    )
    assert not admitted(space, designs.take(np.array([0])), bands=[])[0]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["anynetx_b", "anynetx_e", "regnetx_constrained"]), st.data())
def test_strategy_hooks_build_samples_that_every_mask_admits(name, data):
    space = load_space(name)
    sample = data.draw(space_samples(space))
    design = sample.design
    if space.family == "anynet":
        values = {
            "depth": design["depths"],
            "width": design["widths"],
            "bottleneck_ratio": design["bottleneck_ratios"],
            "group_width": design["group_widths"],
        }
        designs = Designs({p: np.array([v]) for p, v in values.items()})
    else:
        designs = Designs({p: np.array([design[p]]) for p in space.parameters})
    assert admitted(space, designs)[0]
