"""Space sizes: the paper's nominal figures, exact counts against enumeration, the share in a band."""

import itertools
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.cli import main
from specgen.network import complexity
from specgen.network.regnet import block_widths_batch, stages_from_blocks_batch
from specgen.space import sizes
from specgen.space.builtins import load_space
from specgen.space.constraints.band import Band
from specgen.space.schema import validate_space
from specgen.space.sizes import (
    band_fraction,
    degrees_of_freedom,
    exact_size,
    nominal_size,
    regnet_configurations,
)

from .conftest import ROOT
from .test_spaces import BUILTIN

SPACES = ROOT / "specs" / "spaces"


def test_nominal_sizes_are_the_papers():
    a, b, c, d, e = (nominal_size(load_space(f"anynetx_{x}")) for x in "abcde")
    assert a == (16 * 128 * 3 * 6) ** 4  # ≈ 1.8·10^18
    assert b == (16 * 128 * 6) ** 4 * 3  # ≈ 6.8·10^16
    assert c == (16 * 128) ** 4 * 3 * 6  # ≈ 3.2·10^14
    assert d == c / math.factorial(4)  # ≈ 1.3·10^13
    assert e == c / math.factorial(4) ** 2  # ≈ 5.5·10^11
    assert nominal_size(load_space("regnetx")) == 64**4 * 6 * 3  # ≈ 3.0·10^8
    assert [round(x / 10 ** math.floor(math.log10(x)), 1) for x in (a, b, c, d, e)] == [
        1.8,
        6.8,
        3.2,
        1.3,
        5.5,
    ]


def test_degrees_of_freedom():
    dof = {n: degrees_of_freedom(load_space(n)) for n in ("anynetx_a", "anynetx_b", "anynetx_c", "regnetx")}
    assert dof == {"anynetx_a": 16, "anynetx_b": 13, "anynetx_c": 10, "regnetx": 6}
    assert degrees_of_freedom(load_space("regnetx_constrained")) == 5  # b = 1 is fixed


def _buildable_widths(b: int, g: int) -> int:
    """Widths (multiples of 8 up to 1024) whose stage is buildable with b and g: b·g divides w."""
    return sum(w % (b * g) == 0 for w in range(8, 1025, 8))


def test_exact_sizes_of_the_full_anynet_spaces_by_closed_forms():
    """Exact counts equal the closed forms: the paper's products with buildable stages only,
    and binomial coefficients where it divides by 4! (C(m + 3, 4) non-decreasing sequences)."""
    bs, gs = (1, 2, 4), (1, 2, 4, 8, 16, 32)
    m = {(b, g): _buildable_widths(b, g) for b in bs for g in gs}
    per_stage = 16 * sum(m.values())
    assert exact_size(load_space("anynetx_a")) == per_stage**4
    assert exact_size(load_space("anynetx_b")) == sum((16 * sum(m[b, g] for g in gs)) ** 4 for b in bs)
    assert exact_size(load_space("anynetx_c")) == sum((16 * m[k]) ** 4 for k in m)
    assert exact_size(load_space("anynetx_d")) == sum(16**4 * math.comb(m[k] + 3, 4) for k in m)
    assert exact_size(load_space("anynetx_e")) == sum(math.comb(19, 4) * math.comb(m[k] + 3, 4) for k in m)
    # The nominal figures ignore buildability and approximate the orderings by 1/4!.
    exact_e, nominal_e = exact_size(load_space("anynetx_e")), nominal_size(load_space("anynetx_e"))
    assert 0.5 < exact_e / nominal_e < 1


def test_exact_size_when_every_parameter_is_shared():
    """No per-stage parameter: a network is one buildable stage, repeated (was a StopIteration)."""
    data = _reduced("anynetx_c", width={"type": "int", "min": 64, "max": 256, "step": 64})
    data["constraints"] = [
        c
        if c["name"] != "shared"
        else {**c, "parameters": ["depth", "width", "bottleneck_ratio", "group_width"]}
        for c in data["constraints"]
    ]
    space = validate_space(data, "all_shared")
    bs, gs = (1, 2, 4), (1, 2, 4, 8, 16, 32)
    assert exact_size(space) == 16 * sum(
        w % (b * g) == 0 for w in (64, 128, 192, 256) for b in bs for g in gs
    )


def _reduced(name: str, **domains) -> object:
    data = json.loads((SPACES / f"{name}.json").read_text())
    data["name"] = f"{name}_reduced"
    for p, domain in domains.items():
        data["parameters"][p] = domain
    return data


def _brute_anynet(space) -> int:
    """Enumerate every configuration and keep those the rules (restated here) allow."""
    s = space.num_stages
    per_stage = list(
        itertools.product(
            *(space.support(p).tolist() for p in ("depth", "width", "bottleneck_ratio", "group_width"))
        )
    )
    kept = 0
    for stages in itertools.product(per_stage, repeat=s):
        d, w, b, g = (list(x) for x in zip(*stages, strict=True))
        if any(wi % (bi * gi) for wi, bi, gi in zip(w, b, g, strict=True)):
            continue
        cols = {"depth": d, "width": w, "bottleneck_ratio": b, "group_width": g}
        if any(len(set(cols[p])) > 1 for p in space.shared):
            continue
        if any(cols[p] != sorted(cols[p]) for p in space.non_decreasing):
            continue
        kept += 1
    return kept


@pytest.mark.parametrize("name", ["anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e"])
def test_exact_anynet_sizes_match_enumeration_of_reduced_spaces(name):
    data = _reduced(
        name,
        depth={"type": "int", "min": 1, "max": 2},
        width={"type": "int", "min": 8, "max": 24, "step": 8},
        bottleneck_ratio={"type": "choice", "values": [1, 2, 4]},
        group_width={"type": "choice", "values": [1, 4, 8]},
    )
    data["constraints"][0]["value"] = 3
    space = validate_space(data, "reduced.json")
    assert exact_size(space) == _brute_anynet(space) > 0


def test_exact_size_of_the_five_stage_anynet_space_matches_enumeration_when_reduced():
    data = _reduced(
        "anynetx_e5",
        depth={"type": "int", "min": 1, "max": 2},
        width={"type": "int", "min": 8, "max": 16, "step": 8},
        bottleneck_ratio={"type": "choice", "values": [1, 2]},
        group_width={"type": "choice", "values": [1, 8]},
    )
    space = validate_space(data, "reduced.json")
    assert space.num_stages == 5
    assert exact_size(space) == _brute_anynet(space) > 0


@settings(max_examples=25)
@given(
    shared=st.sets(st.sampled_from(["depth", "width", "bottleneck_ratio", "group_width"]), max_size=2),
    ordered=st.sets(st.sampled_from(["depth", "width", "bottleneck_ratio", "group_width"]), max_size=3),
    stages=st.integers(1, 3),
    widths=st.integers(1, 4),
)
def test_exact_sizes_of_random_small_anynet_spaces_match_enumeration(shared, ordered, stages, widths):
    ordered = ordered - shared
    data = _reduced(
        "anynetx_a",
        depth={"type": "int", "min": 1, "max": 2},
        width={"type": "int", "min": 8, "max": 8 * widths, "step": 8},
        bottleneck_ratio={"type": "choice", "values": [1, 2]},
        group_width={"type": "choice", "values": [1, 4, 16]},
    )
    data["constraints"][0]["value"] = stages
    if shared:
        data["constraints"].append({"name": "shared", "parameters": sorted(shared)})
    if ordered:
        data["constraints"].append({"name": "non_decreasing", "parameters": sorted(ordered)})
    space = validate_space(data, "random.json")
    assert exact_size(space) == _brute_anynet(space)


def _brute_regnet(depths, w0s, was, wms, q, num_stages, contiguous=False) -> int:
    grid = [g.ravel() for g in np.meshgrid(depths, w0s, was, wms, indexing="ij")]
    widths, mask = block_widths_batch(*grid, q)
    ok = stages_from_blocks_batch(widths, mask, 8)[2] == num_stages
    if contiguous:  # pycls's test: as many stages as the largest level plus one
        levels = np.round(
            np.log((np.arange(mask.shape[1]) * grid[2][:, None] + grid[1][:, None]) / grid[1][:, None])
            / np.log(grid[3][:, None])
        )
        ok &= np.where(mask, levels, 0).max(axis=1) + 1 == num_stages
    return int(ok.sum())


@pytest.mark.parametrize("contiguous", [False, True])
@pytest.mark.parametrize("num_stages", [2, 3, 4, 5])
def test_exact_regnet_counts_match_enumeration_including_ties_and_merged_levels(num_stages, contiguous):
    """wm = 2.25 puts breakpoints (wm^(k-1/2) - 1)/j exactly on the wa grid (e.g. w0 = 80, wa = 8,
    j = 5); wm < 2 with w0 = 8 merges levels whose snapped widths coincide (8·1.5 and 8·1.5^2 -> 16)."""
    depths = np.arange(1, 16)
    w0s = np.array([8, 16, 24, 40, 80])
    was = np.arange(10, 400) / 10
    wms = np.array([1.5, 1.55, 1.618, 1.7, 2.0, 2.25, 2.5, 2.718, 3.0])
    expected = _brute_regnet(depths, w0s, was, wms, 8, num_stages, contiguous)
    assert regnet_configurations(depths, w0s, was, wms, 8, num_stages, contiguous) == expected > 0


@settings(max_examples=15)
@given(
    d_max=st.integers(4, 20),
    w0_max=st.integers(1, 6),
    wa_step=st.sampled_from([0.1, 0.5, 1.0]),
    wm_low=st.integers(1500, 2900),
    q=st.sampled_from([8, 16]),
)
def test_exact_regnet_counts_of_random_grids_match_enumeration(d_max, w0_max, wa_step, wm_low, q):
    depths = np.arange(1, d_max + 1)
    w0s = np.arange(1, w0_max + 1) * q
    was = np.round(np.arange(8, 9 + 60 * wa_step, wa_step), 1)
    wms = np.arange(wm_low, min(3001, wm_low + 100), 7) / 1000
    for s, contiguous in itertools.product((3, 4), (False, True)):
        assert regnet_configurations(depths, w0s, was, wms, q, s, contiguous) == _brute_regnet(
            depths, w0s, was, wms, q, s, contiguous
        )


def test_exact_regnet_space_size_multiplies_the_free_group_widths_and_ratios():
    data = _reduced(
        "regnetx",
        depth={"type": "int", "min": 4, "max": 12},
        w0={"type": "int", "min": 8, "max": 64, "step": 8},
        wa={"type": "float", "min": 8, "max": 40, "quantum": 0.5},
        wm={"type": "float", "min": 1.5, "max": 3.0, "quantum": 0.05},
    )
    space = validate_space(data, "reduced.json")
    grid = [space.support(p) for p in ("depth", "w0", "wa", "wm")]
    assert exact_size(space) == 6 * 3 * _brute_regnet(*grid, 8, 4, contiguous=True)


def test_band_fraction_contains_the_enumerated_share():
    data = _reduced(
        "anynetx_c",
        depth={"type": "int", "min": 1, "max": 3},
        width={"type": "int", "min": 8, "max": 64, "step": 8},
        bottleneck_ratio={"type": "choice", "values": [1, 2]},
        group_width={"type": "choice", "values": [1, 8]},
    )
    data["constraints"][0]["value"] = 2
    space = validate_space(data, "reduced.json")
    band = Band(name="flops", min=20e6, max=60e6)
    inside = total = 0
    for b, g in itertools.product((1, 2), (1, 8)):
        for stages in itertools.product(range(1, 4), range(8, 65, 8), range(1, 4), range(8, 65, 8)):
            d1, w1, d2, w2 = stages
            if w1 % (b * g) or w2 % (b * g):
                continue
            total += 1
            cx = complexity.count_batch([[d1, d2]], [[w1, w2]], g, float(b))
            inside += 20e6 <= cx.flops[0] <= 60e6
    assert total == exact_size(space)
    # A 95% interval covers the truth for about 19 seeds in 20 (17 or more of 20: probability ≈ 0.98).
    shares = [band_fraction(space, [band], draws=10_000, seed=seed) for seed in range(20)]
    assert sum(s.low <= inside / total <= s.high for s in shares) >= 17
    assert all(s.high - s.low < 0.03 for s in shares)


EXACT_SIZES = {
    "anynetx_a": 314_432_039_157_760_000,
    "anynetx_b": 14_231_962_814_251_008,
    "anynetx_c": 161_843_226_083_328,
    "anynetx_d": 7_072_275_628_032,
    "anynetx_e": 418_276_067_112,
    "regnetx": 22_317_983_190,
    "regnety": 22_317_983_190,
    "regnetx_constrained": 7_257_239_040,
    "anynetx_e5": 43_664_052_007_296,
    "regnetx5": 6_788_061_144,
    "regnety5": 6_788_061_144,
    "cifar_anynetx_e": 11_211_296,
    "cifar_regnetx": 2_355_572_286,
    "nds_vanilla": 16_777_216,
    "nds_resnet": 16_777_216,
    "nds_resnext_a": 12_230_590_464,
    "nds_resnext_b": 39_027_212_288,
    "blocks_vrx": 24_797_759_100,
}
"""The exact sizes `specgen spaces` printed before the constraints became classes (and of the 5-stage
spaces when added); the counting methods are checked against enumeration above."""


def test_exact_sizes_of_the_builtin_spaces_stay_the_same():
    assert {name: exact_size(load_space(name)) for name in BUILTIN} == EXACT_SIZES


def test_spaces_command_lists_every_builtin_space():
    result = CliRunner().invoke(main, ["spaces", "--json"])
    assert result.exit_code == 0, result.stderr
    listing = json.loads(result.stdout)
    assert [s["name"] for s in listing] == BUILTIN
    a = listing[0]
    assert a["degrees_of_freedom"] == 16 and a["nominal_size"] == (16 * 128 * 3 * 6) ** 4
    assert isinstance(a["exact_size"], int) and a["parameters"]["width"]["values"] == 128
    text = CliRunner().invoke(main, ["spaces", "anynetx_e", "--flops", "360M:400M"]).stdout
    header, _, row = text.splitlines()
    assert header.split() == [
        "space",
        "family",
        "dof",
        "nominal",
        "size",
        "exact",
        "size",
        "in",
        "band",
        "95%",
        "CI",
    ]
    assert row.split()[:5] == [
        "anynetx_e",
        "anynet",
        "10",
        "5.5e11",
        f"{exact_size(load_space('anynetx_e')):,}",
    ]


def test_readme_shows_real_output_of_sample_and_spaces(tmp_path):
    """The README's design-space section: its outputs are what the commands print (abridged with ...)."""
    section = (ROOT / "README.md").read_text().split("## Design spaces", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```\n")[1::2]
    sample_block, spaces_block = blocks
    runner = CliRunner()
    out = tmp_path / "samples.jsonl"
    result = runner.invoke(
        main, ["sample", "anynetx_e", "--n", "500", "--flops", "360M:400M", "--seed", "0", "-o", str(out)]
    )
    assert result.exit_code == 0
    shown = sample_block.splitlines()[-1].removesuffix("...")
    assert out.read_text().splitlines()[0].startswith(shown)
    assert len(out.read_text().splitlines()) == 500
    listing = runner.invoke(main, ["spaces"]).stdout.splitlines()
    banded = runner.invoke(
        main, ["spaces", "anynetx_e", "regnetx", "--flops", "360M:400M"]
    ).stdout.splitlines()
    for line in spaces_block.splitlines():
        if line.startswith("$") or line == "...":
            continue
        assert line in listing or line in banded, line


def test_counting_a_space_too_large_to_count_is_refused_at_once(tmp_path):
    """100 x 100 shared b, g values over 32 x 16,384 ordered stages took 8.5 min; now one line."""
    data = _reduced(
        "anynetx_e",
        depth={"type": "int", "min": 1, "max": 32},
        width={"type": "int", "min": 1, "max": 16384},
        bottleneck_ratio={"type": "choice", "values": [64 - k / 64 for k in range(100)]},
        group_width={"type": "int", "min": 1, "max": 100},
    )
    path = tmp_path / "big.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["spaces", str(path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"{path}: parameters: expected a space that counts exactly within 2,000,000,000 array elements, "
        "got at least 68,157,440,000; sample it instead, or narrow its domains\n"
    )


def test_a_regnet_count_stops_at_the_work_budget(monkeypatch):
    monkeypatch.setattr(sizes, "MAX_COUNT_WORK", 1_000_000)
    sizes._cached_configurations.cache_clear()
    result = CliRunner().invoke(main, ["spaces", "regnetx_constrained"])
    sizes._cached_configurations.cache_clear()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(
        "regnetx_constrained: parameters: expected a space that counts exactly within 1,000,000 array "
        "elements, got at least 1,0"
    )


def _hopeless(name: str, tmp_path) -> str:
    """The space with a flops band of its own that no network meets (at most 1,000 flops)."""
    data = json.loads((SPACES / f"{name}.json").read_text())
    data["constraints"].append({"name": "flops", "max": 1000})
    path = tmp_path / f"{name}_hopeless.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_space_whose_band_is_never_met_is_refused_after_a_bounded_estimate(tmp_path):
    """16 M RegNet candidates took 80-105 s; the estimate now stops at 2^19 and says what it learned."""
    path = _hopeless("anynetx_a", tmp_path)
    result = CliRunner().invoke(main, ["spaces", path, "--flops", "1K:2K"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "anynetx_a: constraints: no configuration satisfies the constraints in 524,288 uniform draws: "
        "fewer than 0.000733% of the space's configurations do (95% confidence); widen the band or "
        "loosen the constraints\n"
    )


def test_the_estimates_bound_scales_with_a_regnets_blocks(monkeypatch, tmp_path):
    monkeypatch.setattr(sizes, "MAX_ESTIMATE_WORK", 2 * sizes.BATCH * 63)  # regnetx: depth up to 63
    result = CliRunner().invoke(main, ["spaces", _hopeless("regnetx", tmp_path), "--flops", "1K:2K"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "no configuration satisfies the constraints in 32,768 uniform draws: fewer than 0.0117%" in (
        result.stderr
    )


def test_a_band_no_network_reaches_is_a_share_of_zero_with_its_interval():
    share = band_fraction(load_space("anynetx_e"), [Band(name="flops", min=3e12)])
    assert (share.value, share.low, share.draws) == (0.0, 0.0, 50_000)
    assert share.high == pytest.approx(1.96**2 / (50_000 + 1.96**2), rel=1e-3)
