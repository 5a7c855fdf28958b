"""The sampler: every sample satisfies its space, draws follow the declared laws, output is deterministic."""

import itertools
import json
import math
import os
import subprocess
import sys
import warnings
from collections import Counter
from functools import cache

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from specgen.cli import main
from specgen.errors import SpecError
from specgen.network import complexity, limits
from specgen.network.regnet import (
    COMPATIBILITY,
    COMPATIBILITY_BATCH,
    RegNetSpec,
    block_widths,
    block_widths_batch,
    stages_from_blocks_batch,
)
from specgen.space.builtins import load_space
from specgen.space.constraints.divisible import Divisible
from specgen.space.sampler import draw, draw_limit, sample
from specgen.testing import regnet_specs, space_samples

from .conftest import ROOT
from .test_spaces import BUILTIN

ANYNET = [name for name in BUILTIN if name.startswith("anynet")]
REGNET = [name for name in BUILTIN if name.startswith("regnet")]


@cache
def _plain(name: str, n: int = 1500):
    """A large sample without a band (cheap), shared by the rule tests."""
    return sample(load_space(name), n, seed=1)


def _could_be_quantized_linear(depths: list[int]) -> bool:
    """A necessary condition of the RegNet rule with wm >= 1.5 (and no merged levels).

    Block widths grow linearly while stage boundaries grow geometrically, so an interior
    stage holds about wm times the blocks of the interior stage before it: with L_k blocks
    of room, d_k <= L_k + 1 and d_{k+1} >= wm·L_k - 1, hence d_{k+1} >= 1.5·(d_k - 1) - 1.
    """
    interior = depths[1:-1]
    return all(b >= 1.5 * (a - 1) - 1 for a, b in itertools.pairwise(interior))


def _rules_of(s, space) -> dict[str, bool]:
    """Which of the paper's rules hold in one sample."""
    net = s.spec
    if space.family == "regnet":
        fixed = ("stem_type", "block_type", "stem_width", "num_classes", "in_channels", "resolution")
        regnet = RegNetSpec(
            name="r", se_ratio=space.se_ratio, **s.design, **{f: getattr(net, f) for f in fixed}
        ).resolve()
        quantized_linear = regnet.model_dump(exclude={"name"}) == net.model_dump(exclude={"name"})
    else:
        quantized_linear = _could_be_quantized_linear(net.depths)
    return {
        "shared b": len(set(net.bottleneck_ratios)) == 1,
        "shared g": len(set(net.group_widths)) == 1,
        "non_decreasing widths": net.widths == sorted(net.widths),
        "non_decreasing depths": net.depths == sorted(net.depths),
        "quantized_linear": quantized_linear,
    }


def _declared(space) -> dict[str, bool]:
    regnet = space.family == "regnet"
    return {
        "shared b": regnet or "bottleneck_ratio" in space.shared,
        "shared g": "group_width" in space.shared,
        "non_decreasing widths": regnet or "width" in space.non_decreasing,
        "non_decreasing depths": "depth" in space.non_decreasing,
        "quantized_linear": regnet,
    }


def _breakable(space, rule: str) -> bool:
    """Whether the space's domains let an undeclared rule be broken at all: not when its parameter
    takes one value (b and g of vanilla and basic blocks), nor the quantized linear condition with
    fewer than two interior stages (it compares interior stages)."""
    parameter = {"shared b": "bottleneck_ratio", "shared g": "group_width"}.get(rule)
    if parameter is not None:
        return any(len(v.support(parameter)) > 1 for v in space.variants())
    return rule != "quantized_linear" or space.num_stages >= 4


@pytest.mark.parametrize("name", BUILTIN)
def test_declared_rules_hold_in_every_sample_and_others_are_broken_somewhere(name):
    space = load_space(name)
    samples = _plain(name)
    declared = _declared(space)
    held = {rule: all(_rules_of(s, space)[rule] for s in samples) for rule in declared}
    for rule, is_declared in declared.items():
        if is_declared:
            assert held[rule], f"{name}: {rule} is declared but broken"
        elif _breakable(space, rule) and not (
            space.family == "regnet" and rule in ("shared g", "non_decreasing depths")
        ):
            # pycls rounding can give RegNet stages different group widths (RegNetX-8.0GF), and
            # the rule's first stage may be deeper than the second: neither is a RegNet rule.
            assert not held[rule], f"{name}: {rule} is not declared but holds in all {len(samples)} samples"


@pytest.mark.parametrize("name", REGNET)
def test_regnet_samples_are_their_parameters_resolved(name):
    space = load_space(name)
    for s in _plain(name)[:200]:
        spec = RegNetSpec(name="r", se_ratio=space.se_ratio, **s.design)
        assert spec.resolve().model_dump(exclude={"name"}) == s.spec.model_dump(exclude={"name"})
        assert len(s.spec.stages) == space.num_stages


@pytest.mark.parametrize("name", REGNET)
def test_regnet_samples_have_one_stage_per_level_as_pycls_keeps_them(name):
    from pycls.models.regnet import generate_regnet

    expected = load_space(name).num_stages
    for s in _plain(name):
        d = s.design
        _, num_stages, max_stage, _ = generate_regnet(d["wa"], d["w0"], d["wm"], d["depth"])
        assert num_stages == max_stage == expected, d


def _check_sample(space, s, bands=()):
    """Every constraint of the space, and the reported complexity, for one sample."""
    net = s.spec
    assert s.space == space.name and net.name == f"{space.name}-{s.id[:12]}"
    assert s.id == net.content_hash()
    cx = complexity.count(net)
    assert (s.flops, s.params, s.acts) == (cx.flops, cx.params, cx.acts)
    assert len(net.stages) == space.num_stages
    design = s.design
    if space.family == "anynet":
        columns = {
            "depth": design["depths"],
            "width": design["widths"],
            "bottleneck_ratio": design["bottleneck_ratios"],
            "group_width": design["group_widths"],
        }
        assert columns == {
            "depth": net.depths,
            "width": net.widths,
            "bottleneck_ratio": net.bottleneck_ratios,
            "group_width": net.group_widths,
        }
        for p, values in columns.items():
            assert set(values) <= set(space.support(p).tolist())
            if p in space.shared:
                assert len(set(values)) == 1
            if p in space.non_decreasing:
                assert values == sorted(values)
    else:
        for p, value in design.items():
            assert value in space.support(p).tolist()
    for stage in net.stages:  # divisible (NetworkSpec would refuse it otherwise, but say it)
        assert stage.width % stage.bottleneck_ratio == 0 and stage.bottleneck_width % stage.group_width == 0
    for name, (lo, hi) in bands:
        assert lo <= getattr(cx, name) <= hi


@pytest.mark.parametrize("name", BUILTIN)
def test_strategy_samples_satisfy_their_space(name):
    space = load_space(name)

    @settings(max_examples=25)
    @given(space_samples(space))
    def run(s):
        _check_sample(space, s)

    run()


def test_strategy_draws_from_a_user_space_with_a_band(tmp_path):
    data = json.loads((ROOT / "specs" / "spaces" / "anynetx_c.json").read_text())
    data["name"] = "mine"
    data["constraints"].append({"name": "flops", "min": 100e6, "max": 200e6})
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    space = load_space(str(path))

    @settings(max_examples=5)
    @given(space_samples(space))
    def run(s):
        _check_sample(space, s, [("flops", (100e6, 200e6))])

    run()


@pytest.mark.parametrize(
    "name", ["anynetx_a", "anynetx_e", "regnetx", "regnetx_constrained", "anynetx_e5", "regnetx5", "regnety5"]
)
def test_sampled_complexity_lies_in_the_band(name):
    space = load_space(name)
    samples = sample(space, 40, seed=3, flops=(360e6, 400e6), params=(None, 6e6))
    assert len(samples) == 40
    for s in samples:
        _check_sample(space, s, [("flops", (360e6, 400e6)), ("params", (0, 6e6))])


@pytest.mark.parametrize("name", ["anynetx_e5", "regnetx5", "regnety5"])
def test_five_stage_samples_in_the_papers_band_build_as_pycls_builds_them(name):
    """500 samples in 360-400 MF, each a 5-stage network that pycls 0.1.1 counts the same; a few built."""
    from .oracles import pycls_anynet, pycls_complexity

    space = load_space(name)
    samples = sample(space, 500, seed=0, flops=(360e6, 400e6))
    assert len(samples) == 500 and len({s.id for s in samples}) > 450
    for s in samples:
        _check_sample(space, s, [("flops", (360e6, 400e6))])
        assert pycls_complexity(s.spec, 224) == {"flops": s.flops, "params": s.params, "acts": s.acts}
    for s in samples[:3]:
        model = pycls_anynet(s.spec)
        assert [n for n, _ in model.named_children()] == ["stem", "s1", "s2", "s3", "s4", "s5", "head"]
        assert sum(p.numel() for p in model.parameters()) == s.params


@pytest.mark.parametrize("name", BUILTIN)
@settings(max_examples=4)
@given(seed=st.integers(0, 2**32 - 1), resolution=st.sampled_from([32, 224, 1024, 2048]))
def test_every_sample_is_a_valid_network_spec(name, seed, resolution):
    """NetworkSpec's limits are the sampler's too: building the samples' specs never raises."""
    samples = sample(load_space(name), 100, seed=seed, resolution=resolution)
    assert all(s.params <= limits.MAX_PARAMS and s.flops <= limits.MAX_FLOPS for s in samples)


@pytest.mark.parametrize(
    ("name", "n", "seed", "resolution"),
    [("regnety", 500, 9, None), ("regnetx", 3000, 1, None), ("anynetx_a", 20, 0, 2048)],
)
def test_networks_over_the_spec_limits_are_refused_not_raised(name, n, seed, resolution):
    """Seeds that once drew a network with more than 2e9 params, or 2e12 flops at 2048 px."""
    assert len(sample(load_space(name), n, seed=seed, resolution=resolution)) == n


def _user_regnet(tmp_path, name, num_stages=4, **parameters):
    data = json.loads((ROOT / "specs" / "spaces" / "regnetx.json").read_text())
    data["name"] = name
    data["parameters"].update(parameters)
    data["constraints"] = [c for c in data["constraints"] if c["name"] == "quantized_linear"]
    data["constraints"].append({"name": "num_stages", "value": num_stages})
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return load_space(str(path))


def test_regnet_stages_past_the_spec_limits_are_refused(tmp_path):
    one = {"type": "choice", "values": [8]}
    deep = _user_regnet(
        tmp_path, "deep", num_stages=1, depth={"type": "int", "min": 126, "max": 132},
        wa={"type": "float", "min": 0.0, "max": 1.0, "quantum": 0.5},
        wm={"type": "float", "min": 2.0, "max": 3.0, "quantum": 0.5}, group_width=one, bottleneck_ratio=one,
    )  # fmt: skip
    assert {s.spec.depths[0] for s in sample(deep, 200, seed=0)} == {126, 127, 128}
    # Levels 0, 1, 2 and 4 (one skipped) reach 120 * 4^4 channels, past 16,384.
    wide = _user_regnet(
        tmp_path, "wide", depth={"type": "int", "min": 40, "max": 61},
        w0={"type": "choice", "values": [120]}, wa={"type": "float", "min": 100, "max": 4096, "quantum": 1},
        wm={"type": "float", "min": 3.5, "max": 4.0, "quantum": 0.1}, group_width=one, bottleneck_ratio=one,
    )  # fmt: skip
    assert max(s.spec.widths[-1] for s in sample(wide, 50, seed=0)) <= limits.MAX_WIDTH


@pytest.mark.parametrize("name", ["anynetx_a", "regnety"])
def test_strategy_samples_are_valid_at_any_resolution(name):
    @settings(max_examples=30)
    @given(space_samples(name, resolution=2048))
    def run(s):
        assert s.flops <= limits.MAX_FLOPS and s.spec.resolution == 2048

    run()


@settings(max_examples=200)
@given(
    regnet_specs(
        max_depth=63, max_w0=248, max_wa=255.9, group_widths=(1, 2, 4, 8, 16, 32),
        bottleneck_ratios=(1.0, 2.0, 4.0), se_ratios=(0.25,),
    )
)  # fmt: skip
def test_regnet_strategy_in_the_papers_ranges_draws_buildable_specs(spec):
    assert complexity.count(spec.resolve()).params <= limits.MAX_PARAMS


def test_bands_are_counted_at_the_resolution_asked_for():
    space = load_space("anynetx_e")
    for s in sample(space, 20, seed=0, flops=(100e6, 120e6), resolution=128):
        assert s.resolution == 128 and s.spec.resolution == 128
        assert 100e6 <= complexity.count(s.spec, 128).flops <= 120e6


def test_same_seed_same_samples_and_a_prefix_for_fewer():
    space = load_space("regnety")
    a = [s.to_json() for s in sample(space, 30, seed=7, flops=(360e6, 400e6))]
    b = [s.to_json() for s in sample(space, 30, seed=7, flops=(360e6, 400e6))]
    c = [s.to_json() for s in sample(space, 10, seed=7, flops=(360e6, 400e6))]
    d = [s.to_json() for s in sample(space, 10, seed=8, flops=(360e6, 400e6))]
    assert a == b and a[:10] == c and c != d
    assert list(a[0]) == [
        "id",
        "space",
        "seed",
        "index",
        "design",
        "resolution",
        "flops",
        "params",
        "acts",
        "spec",
    ]
    assert [s["index"] for s in a] == list(range(30))


def test_unique_skips_networks_already_drawn(tmp_path):
    data = json.loads((ROOT / "specs" / "spaces" / "anynetx_e.json").read_text())
    data["name"] = "tiny"
    data["parameters"]["depth"].update(max=2)
    data["parameters"]["width"].update(min=8, max=16)
    data["parameters"]["group_width"]["values"] = [1]
    data["parameters"]["bottleneck_ratio"]["values"] = [1]
    (tmp_path / "tiny.json").write_text(json.dumps(data))
    space = load_space(str(tmp_path / "tiny.json"))
    # Non-decreasing depths in {1, 2} and widths in {8, 16}: C(5, 4)^2 = 25 networks.
    ids = [s.id for s in sample(space, 25, unique=True)]
    assert len(set(ids)) == 25
    with pytest.raises(SpecError, match="found 25 distinct networks of the 26 asked for, then 10,501 "):
        sample(space, 26, unique=True)


def test_unique_with_fewer_networks_than_asked_for_fails_fast(tmp_path):
    data = json.loads((ROOT / "specs" / "spaces" / "anynetx_a.json").read_text())
    data["name"] = "two"
    data["parameters"].update(
        depth={"type": "int", "min": 1, "max": 2},
        width={"type": "choice", "values": [16]},
        bottleneck_ratio={"type": "choice", "values": [1]},
        group_width={"type": "choice", "values": [8]},
    )
    data["constraints"][0]["value"] = 1
    (tmp_path / "two.json").write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["sample", str(tmp_path / "two.json"), "--n", "3", "--unique"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "two: constraints: found 2 distinct networks of the 3 asked for, then 10,041 repeats in a row; "
        "the space (within its bands) holds no more\n"
    )


def test_draws_are_bounded_whatever_n_is(tmp_path):
    """100,000 samples at AnyNetX_A's acceptance rate in 360-370 MF would need about 500 M candidates,
    and a RegNet of up to 256 blocks costs 64 times an AnyNet's 4 stages a candidate."""
    with pytest.raises(SpecError, match=r"drew 1,015,808 candidates .* \(at most 150,000,000 candidates"):
        sample(load_space("anynetx_a"), 100_000, flops=(360e6, 370e6))
    deep = _user_regnet(tmp_path, "deep", depth={"type": "int", "min": 1, "max": 256})
    assert draw_limit(deep) == 2_343_750 and draw_limit(load_space("regnetx")) == 9_523_809


def test_an_empty_band_stops_with_the_acceptance_rate():
    with pytest.raises(SpecError) as e:
        sample(load_space("anynetx_a"), 5, flops=(1, 2), max_draws=100_000)
    assert "acceptance rate 0.00e+00" in e.value.message
    result = CliRunner().invoke(main, ["sample", "anynetx_d", "--n", "5", "--flops", "1G:1.000001G"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("anynetx_d: constraints: drew ")
    assert "acceptance rate" in result.stderr and result.stderr.count("\n") == 1


# --- draws follow the declared distributions -------------------------------------------------------


def _chi_square(observed: Counter, support, probabilities) -> float:
    counts = np.array([observed.get(v, 0) for v in support.tolist()])
    assert counts.sum() == sum(observed.values()), "a draw fell outside the support"
    return stats.chisquare(counts, probabilities * counts.sum()).pvalue


def _log_uniform_masses(values: np.ndarray) -> np.ndarray:
    """Mass of each value under exp(U(log lo, log hi)) snapped to the nearest value."""
    cuts = np.concatenate([[values[0]], (values[1:] + values[:-1]) / 2, [values[-1]]])
    return np.diff(np.log(cuts)) / math.log(values[-1] / values[0])


def test_draws_follow_the_declared_distributions():
    space = load_space("regnetx")
    designs, _ = draw(space, np.random.default_rng(0), 60_000)
    v = designs.values
    depth = space.support("depth")
    assert _chi_square(Counter(v["depth"].tolist()), depth, np.full(len(depth), 1 / len(depth))) > 1e-3
    w0 = space.support("w0")
    assert _chi_square(Counter(v["w0"].tolist()), w0, _log_uniform_masses(w0.astype(float))) > 1e-3
    g = space.support("group_width")
    assert _chi_square(Counter(v["group_width"].tolist()), g, np.full(len(g), 1 / len(g))) > 1e-3
    # wm: log-uniform over 1,501 values; compare log(wm) with a uniform law.
    u = (np.log(v["wm"]) - math.log(1.5)) / (math.log(3) - math.log(1.5))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # A log-uniform law is not a uniform one: the test can tell them apart.
    assert stats.kstest((v["wm"] - 1.5) / 1.5, "uniform").pvalue < 1e-6


def _pycls_log_uniform(rng, low, high, q, n):
    """The law of pycls's sweep sampler (pycls.sweep.random.log_uniform, newer than pycls 0.1.1, so
    restated from its definition): x log-uniform in (low - q', high] with q' = min(q, low / 2),
    rounded up to a multiple of q. Its power2_or_log_uniform(8, 128, 8) is this law too."""
    x = np.exp(rng.uniform(math.log(low - min(q, low / 2)), math.log(high), n))
    return np.round(np.ceil(x / q - 1e-9) * q, 3)


@pytest.mark.parametrize(("parameter", "low", "high", "q"), [("w0", 8, 256, 8), ("group_width", 8, 128, 8)])
def test_pycls_log_uniform_draws_as_pycls_does(parameter, low, high, q):
    domain = load_space("regnetx_constrained").parameters[parameter]
    ours = domain.draw(np.random.default_rng(0), 100_000)
    theirs = _pycls_log_uniform(np.random.default_rng(1), low, high, q, 400_000)
    values = domain.support.tolist()
    table = [[np.sum(x == v) for v in values] for x in (ours, theirs)]
    assert sum(table[1]) == len(theirs), "pycls drew a value outside the domain"
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # The smallest value gets log 2 / log(high / (low / 2)) of the mass: 1/6 for w0 (was 0.117 when snapped).
    assert domain.probabilities()[0] == pytest.approx(math.log(2) / math.log(high / (low / 2)))
    assert _chi_square(Counter(ours.tolist()), domain.support, domain.probabilities()) > 1e-3


def test_pycls_log_uniform_of_floats_draws_as_pycls_does():
    space = load_space("regnetx_constrained")
    for parameter, low, high, q in (("wa", 8.0, 256.0, 0.1), ("wm", 2.0, 3.0, 0.001)):
        ours = space.parameters[parameter].draw(np.random.default_rng(0), 50_000)
        theirs = _pycls_log_uniform(np.random.default_rng(1), low, high, q, 50_000)
        assert set(theirs.tolist()) <= set(space.support(parameter).tolist())
        assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_non_decreasing_draws_are_uniform_over_ordered_sequences():
    """AnyNetX_E's depths: every non-decreasing sequence equally likely, as i.i.d. draws kept when ordered.

    All four equal has probability 16 / C(19, 4) = 16/3876 under that law (sorting i.i.d.
    draws would give 16/65536 instead).
    """
    samples = _plain("anynetx_e")
    equal = sum(len(set(s.design["depths"])) == 1 for s in samples)
    expected = len(samples) * 16 / math.comb(19, 4)
    assert abs(equal - expected) < 4 * math.sqrt(expected)


def test_anynet_a_depths_are_uniform_and_stages_buildable_without_bias():
    """Depth is untouched by divisibility, so its law stays uniform; widths of 8 are rarer (fewer b, g)."""
    samples = _plain("anynetx_a")
    depths = Counter(d for s in samples for d in s.design["depths"])
    assert _chi_square(depths, np.arange(1, 17), np.full(16, 1 / 16)) > 1e-3
    # Under "keep the buildable draws", a stage of width w has weight #(b, g) buildable with w.
    pairs = {
        w: sum(w % (b * g) == 0 for b in (1, 2, 4) for g in (1, 2, 4, 8, 16, 32)) for w in range(8, 1025, 8)
    }
    total = sum(pairs.values())
    low = sum(1 for s in samples for w in s.design["widths"] if w <= 64)
    expected = 4 * len(samples) * sum(pairs[w] for w in range(8, 65, 8)) / total
    assert abs(low - expected) < 4 * math.sqrt(expected)


# --- the vectorized quantized linear rule agrees with the scalar one -------------------------------


@settings(max_examples=150)
@given(regnet_specs(max_depth=40), st.sampled_from([1.0, 2.0, 4.0, 0.5]))
def test_vectorized_regnet_rule_agrees_with_the_scalar_rule(spec, b):
    widths, mask = block_widths_batch([spec.depth], [spec.w0], [spec.wa], [spec.wm], spec.q)
    assert widths[0][mask[0]].tolist() == block_widths(spec.depth, spec.w0, spec.wa, spec.wm, spec.q).tolist()
    stage_widths, depths, count = stages_from_blocks_batch(widths, mask, 8)
    expected_widths, expected_depths = spec.stage_widths_and_depths()
    assert count[0] == len(expected_widths)
    assert stage_widths[0][: count[0]].tolist() == expected_widths
    assert depths[0][: count[0]].tolist() == expected_depths
    for rounding in ("pycls", "torchvision"):
        w, g = COMPATIBILITY_BATCH[rounding](
            np.array(expected_widths),
            np.full(len(expected_widths), b),
            np.full(len(expected_widths), spec.group_width),
        )
        scalar = [COMPATIBILITY[rounding](x, b, spec.group_width) for x in expected_widths]
        assert list(zip(w.tolist(), g.tolist(), strict=True)) == scalar


def test_a_bottleneck_width_of_zero_is_refused_by_the_scalar_rule_and_unbuildable_in_the_batch_rule():
    # torchvision itself divides by zero here: its group width becomes min(g, int(w / b)) = 0.
    with pytest.raises(ValueError, match=r"int\(8 / 16\) = 0"):
        COMPATIBILITY["torchvision"](8, 16.0, 8)
    ratios = np.full(3, 16.0)
    widths, group_widths = COMPATIBILITY_BATCH["torchvision"](np.array([8, 16, 32]), ratios, np.full(3, 8))
    assert list(zip(widths.tolist()[1:], group_widths.tolist()[1:], strict=True)) == [
        COMPATIBILITY["torchvision"](w, 16.0, 8) for w in (16, 32)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Divisible(name="divisible").stage_mask(widths, ratios, group_widths).tolist() == [
            False,
            True,
            True,
        ]


# --- the command line ------------------------------------------------------------------------------


def test_sample_command_writes_the_same_bytes_for_a_seed(tmp_path):
    out = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for i, path in enumerate(out):
        env = {**os.environ, "PYTHONHASHSEED": str(i + 1)}
        cmd = [sys.executable, "-m", "specgen", "sample", "anynetx_e", "--n", "50", "--flops", "360M:400M"]
        subprocess.run([*cmd, "--seed", "0", "-o", str(path)], check=True, env=env, capture_output=True)
    assert out[0].read_bytes() == out[1].read_bytes()
    lines = out[0].read_text().splitlines()
    assert len(lines) == 50
    first = json.loads(lines[0])
    assert first["space"] == "anynetx_e" and 360e6 <= first["flops"] <= 400e6
    assert first["spec"]["kind"] == "anynet" and first["spec"]["name"] == f"anynetx_e-{first['id'][:12]}"


def test_a_space_file_samples_like_its_builtin_name(tmp_path):
    copy = tmp_path / "my_space.json"
    copy.write_text((ROOT / "specs" / "spaces" / "regnetx.json").read_text())
    runner = CliRunner()
    by_name = runner.invoke(main, ["sample", "regnetx", "--n", "20", "--flops", "360M:400M"])
    by_file = runner.invoke(main, ["sample", str(copy), "--n", "20", "--flops", "360M:400M"])
    assert by_name.exit_code == by_file.exit_code == 0
    assert by_name.stdout == by_file.stdout and by_name.stdout.count("\n") == 20


@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("--flops", "360M-400M", "--flops: $: expected LO:HI with optional K, M or G suffixes"),
        ("--params", "5M:1M", "--params: $: expected LO <= HI, got '5M:1M'"),
        ("--acts", "lots:", "--acts: $: expected LO:HI with optional K, M or G suffixes"),
    ],
)
def test_bad_bands_are_one_line(option, text, message):
    result = CliRunner().invoke(main, ["sample", "anynetx_e", option, text])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_band_suffixes_and_open_ends():
    from specgen.space.constraints.band import parse_band

    assert (parse_band("360M:400M", "flops").min, parse_band("360M:400M", "flops").max) == (360e6, 400e6)
    assert (parse_band("1.5g:", "flops").min, parse_band("1.5g:", "flops").max) == (1.5e9, None)
    assert (parse_band(":20K", "params").min, parse_band(":20K", "params").max) == (None, 20e3)


def test_sample_and_spaces_never_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from specgen.cli import main\n"
        "for args in (['sample', 'anynetx_e', '--n', '3', '-o', sys.argv[1]], ['spaces', 'anynetx_b']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.jsonl")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s.jsonl").read_text().count("\n") == 3


def test_sample_command_holds_lines_not_spec_objects(tmp_path):
    """30,000 samples once peaked near 350 MB (950 MB for 100,000), holding every Sample object."""
    code = (
        "import sys\n"
        "from specgen.cli import main\n"
        "try:\n"
        "    main(['sample', 'anynetx_a', '--n', '30000', '-o', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        # VmHWM is this process's own peak (ru_maxrss would count pytest's from before exec).
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.jsonl")], capture_output=True, text=True, check=True
    )
    assert int(result.stdout) < 250_000, f"peak {int(result.stdout) // 1000} MB"
    assert (tmp_path / "s.jsonl").read_text().count("\n") == 30_000
