"""Model scaling (Dollár, Singh, Girshick, CVPR 2021): the factors, the snapping rules, the paper's
complexity growth, properties over networks, and `specgen scale` with its one-line errors."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgen.cli import main
from specgen.emit.python import render_module
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec, Stage
from specgen.scale import (
    FAST_COMPOUND,
    factor_for_flops,
    parse_strategy,
    scale,
    scaled_name,
    snap_group_width,
)
from specgen.specfile import dump_spec, load_spec
from specgen.testing import network_specs

from .conftest import ROOT, SPECS

X400 = str(SPECS / "regnetx_400mf.json")
FAST = parse_strategy(FAST_COMPOUND)
SHORTHANDS = ["d", "w", "r", "dw", "dr", "wr", "dwr", "dwgr", "d1_w8_r1", FAST_COMPOUND, "d2.5_w1_g0.5"]
weights = st.floats(0, 16, allow_nan=False).map(lambda x: round(x, 3))


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="specgen")


@given(st.tuples(weights, weights, weights, weights), st.floats(1e-3, 1e4))
def test_factors_multiply_to_s(w, s):
    d, wd, g, r = w
    if d + wd + r == 0:
        return
    f = parse_strategy(f"d{d}_w{wd}_g{g}_r{r}").factors(s)
    assert math.isclose(f.depth * f.width**2 * f.resolution**2, s, rel_tol=1e-9)


def test_fast_compound_is_mostly_width():
    f = FAST.factors(4.0)
    assert math.isclose(f.depth, 4**0.1) and math.isclose(f.width, 4**0.4)
    assert math.isclose(f.group_width, f.width) and math.isclose(f.resolution, 4**0.05)


@pytest.mark.parametrize(
    ("short", "long"),
    [("dw", "d1_w1"), ("d", "d1_w0_g0_r0"), ("dwr", "r1_w1_d1"), ("w", "w2"), ("dwgr", "d1_w1_g1_r1")],
)
def test_letters_weigh_one_each(short, long):
    assert parse_strategy(short).factors(9.0) == parse_strategy(long).factors(9.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1", "expected letters of d, w, g, r (e.g. dwr) or weights such as d1_w8_g8_r1, got 'x1'"),
        ("d1_w", "expected letters of d, w, g, r (e.g. dwr) or weights such as d1_w8_g8_r1, got 'd1_w'"),
        ("d-1_w8", "expected letters of d, w, g, r (e.g. dwr) or weights such as d1_w8_g8_r1, got 'd-1_w8'"),
        ("", "expected letters of d, w, g, r (e.g. dwr) or weights such as d1_w8_g8_r1, got ''"),
        ("dd", "expected each of d, w, g, r at most once, got 'dd'"),
        ("d1_d2", "expected each of d, w, g, r at most once, got 'd1_d2'"),
        ("g", "expected a weight > 0 on d, w or r (what flops grow with), got 'g'"),
        ("d0_w0_r0", "expected a weight > 0 on d, w or r (what flops grow with), got 'd0_w0_r0'"),
    ],
)
def test_bad_strategies(text, message):
    with pytest.raises(ValueError) as e:
        parse_strategy(text)
    assert str(e.value) == message


def test_group_widths_snap_to_1_2_4_or_multiples_of_8():
    assert [snap_group_width(g) for g in (0.2, 1, 2.4, 3, 5.4, 5.6, 11.4, 11.5, 20, 27.9)] == [
        1, 1, 2, 4, 4, 8, 8, 16, 16, 32,
    ]  # fmt: skip


def test_regnetx_400mf_by_4_by_hand():
    """f_d = 4^0.1, f_w = f_g = 4^0.4, f_r = 4^0.05: depths round(d·1.149); widths 32·1.741 = 55.7 -> 56,
    group widths 16·1.741 = 27.9 -> 28 -> 32, then 56 -> 64 (a multiple of 32); 224·1.072 = 240.1 -> 240."""
    net = scale(load_spec(X400), 4, FAST)
    assert net.depths == [1, 2, 8, 14]
    assert net.widths == [64, 128, 288, 672]
    assert net.group_widths == [32, 32, 32, 32]
    assert net.resolution == 240
    assert net.name == "regnetx_400mf"


def test_fields_scaling_leaves_alone_carry_over():
    net = NetworkSpec(
        name="tiny",
        stem_width=24,
        stages=[Stage(depth=1, width=64, stride=1, bottleneck_ratio=2.0, group_width=8)],
        se_ratio=0.25,
        num_classes=10,
        in_channels=1,
        resolution=64,
    )
    out = scale(net, 8, FAST, "tiny_x8")
    assert out.name == "tiny_x8"
    unchanged = {"kind", "stem_width", "se_ratio", "num_classes", "in_channels"}
    assert {k: getattr(out, k) for k in unchanged} == {k: getattr(net, k) for k in unchanged}
    assert (out.stages[0].stride, out.stages[0].bottleneck_ratio) == (1, 2.0)


def test_a_regnet_resolves_with_its_own_rounding_first():
    tv = load_spec(SPECS / "torchvision" / "regnet_x_400mf.json")
    assert isinstance(tv, RegNetSpec) and tv.rounding == "torchvision"
    assert scale(tv, 1, FAST).stages == tv.resolve().stages
    assert tv.resolve().stages != load_spec(X400).resolve().stages


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.json")) + sorted(SPECS.glob("torchvision/*.json")))
def test_the_zoo_is_its_own_scale_at_s_1(path):
    spec = load_spec(path)
    assert scale(spec, 1, FAST) == spec.resolve()


@pytest.mark.parametrize(
    ("strategy", "params", "acts"),
    [("d", 1, 1), ("w", 1, 0.5), ("r", 0, 1), (FAST_COMPOUND, 0.9, 0.6), ("dwr", 2 / 3, 5 / 6)],
)
def test_growth_follows_the_papers_table(strategy, params, acts):
    """The paper's Table 1: as flops grow by s, params grow as s^(e_d + e_w) and activations as
    s^(e_d + e_w/2 + e_r) (depth: s, s; width: s, √s; resolution: 1, s). Fitted over s from 1 to 8 on
    RegNetX-400MF; the stem, the head and a first stage of depth 1 do not grow, so the measured
    exponents run a little under the table's."""
    spec, how = load_spec(X400), parse_strategy(strategy)
    cx = [complexity.count(scale(spec, s, how)) for s in np.geomspace(1, 8, 16)]
    flops = np.log([c.flops for c in cx])
    assert np.polyfit(flops, np.log([c.params for c in cx]), 1)[0] == pytest.approx(params, abs=0.2)
    assert np.polyfit(flops, np.log([c.acts for c in cx]), 1)[0] == pytest.approx(acts, abs=0.2)


def test_fast_compound_grows_activations_slowest_but_width():
    spec = load_spec(X400)
    acts = {k: complexity.count(scale(spec, 16, parse_strategy(k))).acts for k in ("w", FAST_COMPOUND, "dwr")}
    assert acts["w"] < acts[FAST_COMPOUND] < acts["dwr"]


settings_small = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@settings_small
@given(network_specs(), st.floats(0.05, 40), st.sampled_from(SHORTHANDS))
def test_every_output_is_valid_and_emittable(net, s, strategy):
    how = parse_strategy(strategy)
    try:
        out = scale(net, s, how, scaled_name(net.name, s))
    except ValueError as e:  # only past the spec's limits, said in one line
        assert str(e).startswith(f"scaled by {s:g} ({strategy}), the network's ") and "\n" not in str(e)
        return
    assert NetworkSpec.model_validate(out.model_dump()) == out
    assert load_spec_text(dump_spec(out)) == out
    ast.parse(render_module(out))
    assert out.resolution % 4 == 0 and all(d >= 1 for d in out.depths)


def load_spec_text(text: str) -> NetworkSpec:
    from specgen.specfile import parse_json, validate_spec

    return validate_spec(parse_json(text, "scaled.json"), "scaled.json")


@settings_small
@given(network_specs(), st.sampled_from(SHORTHANDS))
def test_s_1_puts_a_network_on_the_grid_and_is_then_the_identity(net, strategy):
    how = parse_strategy(strategy)
    once = scale(net, 1, how)
    assert scale(once, 1, how) == once
    assert once.depths == net.depths


@settings_small
@given(network_specs(), st.floats(0.05, 20), st.floats(1, 4), st.sampled_from(SHORTHANDS))
def test_monotone_in_s(net, s, more, strategy):
    """Depths and resolution never shrink as s grows; with group widths held (weight g = 0) neither
    do widths, so neither do flops, params and acts."""
    how = parse_strategy(strategy)
    try:
        a, b = scale(net, s, how), scale(net, s * more, how)
    except ValueError:
        return
    assert all(x <= y for x, y in zip(a.depths, b.depths, strict=True)) and a.resolution <= b.resolution
    if how.g == 0:
        assert all(x <= y for x, y in zip(a.widths, b.widths, strict=True))
        ca, cb = complexity.count(a), complexity.count(b)
        assert ca.flops <= cb.flops and ca.params <= cb.params and ca.acts <= cb.acts


def test_snapping_group_widths_can_make_flops_dip():
    """Why --to-flops searches: a group width that snaps up (32 -> 40) moves the width to a multiple
    of it below (224 -> 200), so a larger s can give fewer flops (pycls's rule, kept)."""
    net = NetworkSpec(name="a", stages=[Stage(depth=2, width=48, group_width=8)], resolution=32)
    how = parse_strategy("w1_g1")
    a, b = scale(net, 20.81, how), scale(net, 20.82, how)
    assert (a.widths, a.group_widths, b.widths, b.group_widths) == ([224], [32], [200], [40])
    assert complexity.count(b).flops < complexity.count(a).flops


@pytest.mark.parametrize("target", [1e9, 4e9, 16e9, 100e6])
def test_to_flops_lands_closest_to_the_target(target):
    spec = load_spec(X400)
    s = factor_for_flops(spec, target, FAST)

    def miss(factor: float) -> float:
        return abs(math.log(complexity.count(scale(spec, factor, FAST)).flops / target))

    ideal = target / complexity.count(spec.resolve()).flops
    assert miss(s) <= min(miss(ideal), miss(s * 2 ** (1 / 64)), miss(s / 2 ** (1 / 64)))
    assert miss(s) < 0.05


def test_scaled_names_stay_valid():
    assert scaled_name("regnetx_400mf", 4) == "regnetx_400mf_x4"
    assert scaled_name("a", 1e6) == "a_x1e06"
    long = scaled_name("n" * 64, 2.5)
    assert len(long) == 64 and long.endswith("_x2.5")


# The command.


def test_scale_writes_the_spec_and_reports(tmp_path):
    out = tmp_path / "scaled.json"
    result = run("scale", X400, "--factor", "4", "-o", str(out))
    assert result.exit_code == 0, result.output
    written = load_spec(out)
    assert written == scale(load_spec(X400), 4, FAST, "regnetx_400mf_x4")
    assert out.read_text() == dump_spec(written)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("regnetx_400mf scaled by 4 with d1_w8_g8_r1: depth x1.149, width x1.741")
    assert "flops x4.42 for x4 asked: +10.6%" in lines and lines[-1] == f"wrote {out}"


def test_without_output_the_spec_goes_to_stdout():
    result = run("scale", X400, "--factor", "2", "--strategy", "dw")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "regnetx_400mf_x2"
    assert "scaled by 2 with dw" in result.stderr


def test_to_flops_reports_against_the_target():
    result = run("scale", X400, "--to-flops", "4G")
    assert result.exit_code == 0, result.output
    assert "flops 4.02 GF for 4.00 GF asked: +0.4%" in result.stderr.splitlines()


def test_scale_never_imports_torch(tmp_path):
    code = (
        "import sys\n"
        "from specgen.cli import main\n"
        "try:\n"
        f"    main(['scale', {X400!r}, '--to-flops', '1G', '-o', sys.argv[1]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.json")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--factor", "2", "--strategy", "q"], "--strategy: $: expected letters of d, w, g, r (e.g. dwr) or "
         "weights such as d1_w8_g8_r1, got 'q'"),
        (["--to-flops", "lots"], "--to-flops: $: expected a count >= 1 with an optional K, M or G suffix, "
         "got 'lots'"),
        (["--to-flops", "0.5"], "--to-flops: $: expected a count >= 1 with an optional K, M or G suffix, "
         "got '0.5'"),
        (["--to-flops", "nanG"], "--to-flops: $: expected a count >= 1 with an optional K, M or G suffix, "
         "got 'nanG'"),
        (["--factor", "1000"], "{spec}: $: scaled by 1000 (d1_w8_g8_r1), the network is invalid: network too "
         "large: 2,438,453,128 params and 379,435,098,472 flops; expected at most 2,000,000,000 params and "
         "2,000,000,000,000 flops"),
        (["--factor", "1e5"], "{spec}: $: scaled by 100000 (d1_w8_g8_r1), the network's stages[3].width is "
         "invalid: expected a value <= 16384, got 38400"),
        (["--factor", "50", "--strategy", "d"], "{spec}: $: scaled by 50 (d), the network's "
         "stages[2].depth is invalid: expected a value <= 128, got 350"),
        (["--factor", "0"], "specgen scale: Invalid value for '--factor': 0.0 is not in the range "
         "0<x<=1000000.0. (see 'specgen scale --help')"),
        (["--factor", "nan"], "specgen scale: Invalid value for '--factor': 'nan' is not a finite number. "
         "(see 'specgen scale --help')"),
        ([], "specgen scale: expected one of --factor and --to-flops (see 'specgen scale --help')"),
        (["--factor", "2", "--to-flops", "1G"], "specgen scale: expected one of --factor and --to-flops "
         "(see 'specgen scale --help')"),
        (["--factor", "2", "-o", "{tmp}/no/such/folder/s.json"], "{tmp}/no/such/folder/s.json: $: expected a "
         "file in an existing folder"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_nothing_written(tmp_path, args, line):
    out = tmp_path / "kept.json"
    out.write_text("before")
    args = [a.format(tmp=tmp_path) for a in args]
    if "-o" not in args:
        args += ["-o", str(out)]
    result = run("scale", X400, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == line.format(spec=X400, tmp=tmp_path) + "\n"
    assert out.read_text() == "before"
    assert {p.name for p in tmp_path.iterdir()} == {"kept.json"}


@pytest.mark.parametrize(
    "name", ["depth_zero.json", "invalid_json.json", "does_not_exist.json", "nan_value.json"]
)
def test_bad_spec_files_get_their_corpus_line(name):
    corpus = ROOT / "tests" / "bad_specs"
    expected = dict(line.split("\t", 1) for line in (corpus / "expected.txt").read_text().splitlines())
    result = run("scale", str(corpus / name), "--factor", "2")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"{corpus / name}: {expected[name]}\n"


def test_output_into_a_folder_is_one_line(tmp_path):
    result = run("scale", X400, "--factor", "2", "-o", str(tmp_path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"specgen scale: Invalid value for '-o' / '--output': File '{tmp_path}' is a directory. "
        "(see 'specgen scale --help')\n"
    )


def test_a_scaled_network_builds_with_the_params_it_counts(tmp_path):
    import torch

    from .oracles import emitted_class

    net = scale(load_spec(SPECS / "regnety_200mf.json"), 3, FAST, "regnety_200mf_x3")
    model = emitted_class(net, tmp_path)()
    assert sum(p.numel() for p in model.parameters()) == complexity.count(net).params
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 1000)


def test_a_spec_on_a_full_disk_is_one_line_and_leaves_nothing(full_disk):
    disk, fill = full_disk
    fill()
    out = disk / "scaled.json"
    result = run("scale", X400, "--factor", "2", "-o", str(out))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"{out}: $: cannot write: No space left on device\n"
    assert [p.name for p in disk.iterdir()] == [".filler"]
