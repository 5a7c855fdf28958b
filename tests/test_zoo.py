"""All 24 model-zoo specs resolve and count exactly as the paper's reference numbers."""

import json

import pytest

from specgen.network import complexity
from specgen.specfile import load_spec

from .conftest import MODEL_ZOO, SPECS

ZOO = json.loads(MODEL_ZOO.read_text())


def test_every_zoo_model_has_a_spec_file():
    assert sorted(p.stem for p in SPECS.glob("*.json")) == sorted(m["slug"] for m in ZOO)
    assert len(ZOO) == 24


@pytest.mark.parametrize("model", ZOO, ids=[m["slug"] for m in ZOO])
def test_zoo_spec_matches_reference(model):
    spec = load_spec(SPECS / f"{model['slug']}.json")
    assert (spec.depth, spec.w0, spec.wa, spec.wm) == (model["depth"], model["w0"], model["wa"], model["wm"])
    net = spec.resolve()
    assert net.widths == model["stage_widths"]
    assert net.depths == model["stage_depths"]
    assert net.group_widths == model["stage_group_widths"]
    assert all(s.stride == 2 for s in net.stages)
    assert net.stem_width == 32
    cx = complexity.count(net)
    assert (cx.flops, cx.params, cx.acts) == (model["flops"], model["params"], model["acts"])


def test_regnetx_8gf_group_widths_differ_by_stage():
    # g = min(g, w·m) in the first stage: docs/reference.md §2, step 6.
    assert load_spec(SPECS / "regnetx_8_0gf.json").resolve().group_widths == [80, 120, 120, 120]


def test_regnetx_400mf_ties_move_widths():
    spec = load_spec(SPECS / "regnetx_400mf.json")
    # 24, 152, 392 move to 32, 160, 384 (Python's round halves to even); 64 stays.
    assert spec.stage_widths_and_depths()[0] == [24, 64, 152, 392]
    assert spec.resolve().widths == [32, 64, 160, 384]
