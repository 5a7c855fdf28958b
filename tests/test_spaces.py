"""Design spaces: the built-in files, the bad-space corpus, and validating specs against a space."""

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pycls.models.regnet import generate_regnet

from specgen.cli import main
from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.space.batch import resolve
from specgen.space.builtins import builtin_spaces, load_space
from specgen.space.domains import FloatDomain
from specgen.space.sampler import sample
from specgen.space.schema import validate_space
from specgen.space.validate import design_of, validate
from specgen.testing import near_space_specs, regnet_specs

from .conftest import ROOT

SPACES = ROOT / "specs" / "spaces"
CORPUS = ROOT / "tests" / "bad_spaces"
EXPECTED = dict(line.split("\t", 1) for line in (CORPUS / "expected.txt").read_text().splitlines())
BUILTIN = [
    "anynetx_a",
    "anynetx_b",
    "anynetx_c",
    "anynetx_d",
    "anynetx_e",
    "regnetx",
    "regnety",
    "regnetx_constrained",
    "anynetx_e5",
    "regnetx5",
    "regnety5",
    "cifar_anynetx_e",
    "cifar_regnetx",
    "nds_vanilla",
    "nds_resnet",
    "nds_resnext_a",
    "nds_resnext_b",
    "blocks_vrx",
]


def test_builtin_spaces_are_the_papers_and_load_like_user_files():
    assert builtin_spaces() == BUILTIN
    for name in BUILTIN:
        by_name = load_space(name)
        by_path = load_space(str(SPACES / f"{name}.json"))
        assert by_name == by_path
        assert by_name.name == name


def test_builtin_spaces_declare_the_papers_constraints():
    a, b, c, d, e = (load_space(f"anynetx_{x}") for x in "abcde")
    assert [s.shared for s in (a, b, c, d, e)] == [
        frozenset(),
        {"bottleneck_ratio"},
        {"bottleneck_ratio", "group_width"},
        {"bottleneck_ratio", "group_width"},
        {"bottleneck_ratio", "group_width"},
    ]
    assert [s.non_decreasing for s in (a, b, c, d, e)] == [set(), set(), set(), {"width"}, {"width", "depth"}]
    assert a.support("width").tolist() == list(range(8, 1025, 8))
    assert a.support("depth").tolist() == list(range(1, 17))
    assert a.support("group_width").tolist() == [1, 2, 4, 8, 16, 32]
    x, y, constrained = (load_space(n) for n in ("regnetx", "regnety", "regnetx_constrained"))
    assert (x.se_ratio, y.se_ratio) == (0.0, 0.25)
    assert all(s.family == "regnet" and s.num_stages == 4 for s in (x, y, constrained))
    assert constrained.support("bottleneck_ratio").tolist() == [1]
    assert constrained.support("depth").tolist() == list(range(12, 29))
    assert constrained.support("wm")[0] == 2.0
    # pycls's sampler defaults: quantized steps 8, 0.1 and 0.001; g a multiple of 8 in [8, 128].
    assert constrained.support("w0").tolist() == list(range(8, 257, 8))
    assert constrained.support("wa")[:3].tolist() == [8.0, 8.1, 8.2]
    assert constrained.support("wm")[:2].tolist() == [2.0, 2.001]
    assert constrained.support("group_width").tolist() == list(range(8, 129, 8))
    assert {constrained.parameters[p].distribution for p in ("w0", "wa", "wm", "group_width")} == {
        "pycls_log_uniform"
    }


def test_corpus_is_large_and_complete():
    assert len(EXPECTED) >= 30
    assert {p.name for p in CORPUS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("command", ["sample", "spaces"])
def test_bad_space_gets_one_exact_line(name, command):
    path = str(CORPUS / name)
    result = CliRunner().invoke(main, [command, path])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}: {EXPECTED[name]}\n"


def test_unknown_space_name_is_one_line():
    result = CliRunner().invoke(main, ["sample", "anynetx_z"])
    assert result.exit_code == 2
    assert result.stderr.startswith("anynetx_z: $: unknown design space; expected one of anynetx_a, ")


# --- a spec against a space: accepted exactly when its constraints allow it ----------------------


def _in(value, support) -> bool:
    return any(abs(float(value) - float(v)) <= 1e-12 * max(1.0, abs(float(v))) for v in support.tolist())


def _allowed(space, spec) -> bool:
    """The space's rules, restated in plain Python as the oracle."""
    fixed = ("stem_width", "se_ratio", "num_classes", "in_channels")
    if any(getattr(spec, f) != getattr(space, f) for f in fixed):
        return False
    if space.family == "regnet":
        rule = next(c for c in space.constraints if c.name == "quantized_linear")
        if not isinstance(spec, RegNetSpec) or (spec.q, spec.rounding) != (rule.q, rule.rounding):
            return False
        if not all(_in(getattr(spec, p), space.support(p)) for p in space.parameters):
            return False
        _, num_stages, max_stage, _ = generate_regnet(spec.wa, spec.w0, spec.wm, spec.depth, spec.q)
        contiguous = any(c.name == "contiguous_levels" for c in space.constraints)
        if contiguous and num_stages != max_stage:  # pycls's own test
            return False
        net = spec.resolve()
    else:
        net = spec.resolve()
        columns = {
            "depth": net.depths,
            "width": net.widths,
            "bottleneck_ratio": net.bottleneck_ratios,
            "group_width": net.group_widths,
        }
        strides = space.stage_strides(len(net.stages))
        if len(net.stages) != space.num_stages or [s.stride for s in net.stages] != strides:
            return False
        for p, values in columns.items():
            if not all(_in(v, space.support(p)) for v in values):
                return False
            if p in space.shared and len(set(values)) != 1:
                return False
            if p in space.non_decreasing and values != sorted(values):
                return False
    if len(net.stages) != space.num_stages:
        return False
    for band in space.bands:
        cx = complexity.count(net, band.resolution or space.resolution)
        value = getattr(cx, band.name)
        if (band.min is not None and value < band.min) or (band.max is not None and value > band.max):
            return False
    return True


def _accepts(space, spec) -> bool:
    try:
        validate(space, spec, "spec.json")
    except SpecError:
        return False
    return True


def _check_exactly(space):
    seen = set()

    @settings(max_examples=60)
    @given(near_space_specs(space))
    def run(spec):
        accepted = _accepts(space, spec)
        assert accepted == _allowed(space, spec)
        seen.add(accepted)

    run()
    assert seen == {True, False}, "the strategy must reach both sides of the space's boundary"


BANDED = {"cifar_anynetx_e", "cifar_regnetx", "blocks_vrx"}
"""Built-in spaces with a narrow band, which specs near the space reach too rarely to see both sides
(the banded rule is tested on a wider band below; drawn block types in test_space_families)."""


@pytest.mark.parametrize("name", [n for n in BUILTIN if n not in BANDED])
def test_validation_accepts_exactly_what_the_constraints_allow(name):
    _check_exactly(load_space(name))


def test_validation_with_bands_accepts_exactly_what_the_constraints_allow():
    data = json.loads((SPACES / "anynetx_e.json").read_text())
    data["name"] = "banded"
    data["parameters"]["depth"]["max"] = 3
    data["parameters"]["width"]["max"] = 128
    data["constraints"].append({"name": "flops", "min": 20e6, "max": 120e6})
    data["constraints"].append({"name": "params", "max": 1.5e6, "resolution": 160})
    _check_exactly(validate_space(data, "banded.json"))


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"stages": 3}, "stages", "expected 4 stages (num_stages), got 3"),
        ({"width": [64, 48, 96, 128]}, "stages[1].width", "expected values that never decrease"),
        ({"group_width": [8, 16, 8, 8]}, "stages[1].group_width", "expected the same value in every stage"),
        (
            {"width": [64, 64, 96, 1032]},
            "stages[3].width",
            "expected a value of the space's domain, got 1,032",
        ),
        ({"se_ratio": 0.25}, "se_ratio", "expected 0 as in the space, got 0.25"),
    ],
)
def test_validation_names_the_rule_and_the_stage(change, path, message):
    from specgen.network.spec import NetworkSpec, Stage

    space = load_space("anynetx_d")
    widths = change.get("width", [64, 64, 96, 128])
    gws = change.get("group_width", [8, 8, 8, 8])
    stages = [
        Stage(depth=2, width=w, stride=2, bottleneck_ratio=1.0, group_width=g)
        for w, g in zip(widths, gws, strict=True)
    ][: change.get("stages", 4)]
    net = NetworkSpec(name="n", stages=stages, se_ratio=change.get("se_ratio", 0.0))
    with pytest.raises(SpecError) as e:
        validate(space, net, "n.json")
    assert e.value.path == path
    assert e.value.message.startswith(message)


def test_regnet_space_checks_the_stage_count_of_the_rule():
    space = load_space("regnetx_constrained")
    three = RegNetSpec(name="r", depth=12, w0=64, wa=8.0, wm=3.0, group_width=8)
    assert len(three.resolve().stages) != 4
    with pytest.raises(SpecError, match=r"stages; expected 4 \(num_stages\)"):
        validate(space, three, "r.json")
    zoo = RegNetSpec(name="r", depth=22, w0=24, wa=24.4, wm=2.54, group_width=16)
    validate(space, zoo, "r.json")


def test_regnet_spaces_refuse_a_skipped_level_as_pycls_does():
    skipped = RegNetSpec(name="r", depth=20, w0=8, wa=31.4, wm=2.704, group_width=8)
    _, num_stages, max_stage, _ = generate_regnet(skipped.wa, skipped.w0, skipped.wm, skipped.depth)
    assert num_stages == 4 and max_stage == 5
    with pytest.raises(SpecError) as e:
        validate(load_space("regnetx"), skipped, "r.json")
    assert str(e.value) == (
        "r.json: $: resolves to 4 stages from 5 width levels; expected one stage per level, "
        "none skipped or merged (contiguous_levels)"
    )


@settings(max_examples=300)
@given(regnet_specs(max_depth=63, max_w0=248, group_widths=(8,), rounding=("pycls",), se_ratios=(0.0,)))
def test_contiguous_levels_agrees_with_pycls(spec):
    """The constraint holds exactly when pycls's sampler would keep the network: num_stages == max_stage."""
    _, num_stages, max_stage, _ = generate_regnet(spec.wa, spec.w0, spec.wm, spec.depth)
    space = load_space("regnetx")
    stages = resolve(space, design_of(space, spec, "r"))
    assert (stages.count[0] == stages.levels[0]) == (num_stages == max_stage)


@settings(max_examples=200)
@given(
    digits=st.integers(1, 999),
    exponent=st.integers(0, 4),
    low=st.integers(0, 10_000),
    count=st.integers(1, 500),
)
def test_float_grid_values_are_the_decimals_they_stand_for(digits, exponent, low, count):
    """Each value is the float nearest to k·quantum, so it prints as that decimal (62.7, never
    62.699999999999996) and a spec holding the printed value is inside the domain."""
    step = Decimal(digits).scaleb(-exponent)
    quantum, lo, hi = float(step), float(low * step), float((low + count) * step)
    grid = FloatDomain(type="float", min=lo, max=hi, quantum=quantum).grid()
    assert len(grid) == count + 1
    for v in grid.tolist():
        assert Decimal(repr(v)) % Decimal(repr(quantum)) == 0 and lo <= v <= hi


def test_a_sampled_slope_on_a_decimal_grid_round_trips(tmp_path):
    data = json.loads((SPACES / "regnetx.json").read_text())
    data["parameters"]["wa"].update(min=8.0, max=64.0, quantum=0.3)
    (tmp_path / "s.json").write_text(json.dumps(data))
    space = load_space(str(tmp_path / "s.json"))
    assert 62.7 in space.support("wa").tolist()
    for s in sample(space, 200, seed=0):
        assert len(repr(s.design["wa"]).split(".")[1]) == 1
        validate(space, RegNetSpec(name="r", **json.loads(json.dumps(s.design))), "r.json")


def test_a_file_or_folder_named_like_a_builtin_space_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "regnetx").mkdir()
    (tmp_path / "anynetx_e").write_text("not a space")
    assert load_space("regnetx").name == "regnetx" and load_space("anynetx_e").name == "anynetx_e"
    (tmp_path / "mine").write_text((SPACES / "anynetx_b.json").read_text())
    assert load_space("mine").name == "anynetx_b"
    with pytest.raises(SpecError, match=r"^\./anynetx_e: \$: invalid JSON"):
        load_space("./anynetx_e")
    with pytest.raises(SpecError, match=r"^regnetz: \$: unknown design space"):
        load_space("regnetz")


# --- extreme numeric domains: a space or one line, never a NumPy error ----------------------------

EXTREME_INTS = st.sampled_from(
    [0, 1, -1, 3, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), 2**1024, -(2**1024)]
)
EXTREME_FLOATS = st.sampled_from(
    [0.0, 5e-324, 2.2250738585072014e-308, 1e-300, 1e-9, 0.1, 1.5, 1e300, 1.7976931348623157e308]
)
EXTREME = st.one_of(
    EXTREME_INTS,
    EXTREME_FLOATS,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
DISTRIBUTIONS = st.sampled_from(["uniform", "log_uniform", "pycls_log_uniform", "power_of_two"])
DOMAINS = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("int"), "min": EXTREME_INTS, "max": EXTREME_INTS, "distribution": DISTRIBUTIONS},
        optional={"step": EXTREME_INTS},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("float"),
            "min": EXTREME,
            "max": EXTREME,
            "quantum": EXTREME,
            "distribution": DISTRIBUTIONS,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("choice"),
            "values": st.lists(EXTREME, min_size=1, max_size=4),
            "distribution": DISTRIBUTIONS,
        }
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["anynetx_a", "anynetx_e", "regnetx"]), st.data())
def test_extreme_numeric_domains_give_a_space_or_one_line(name, data):
    """Bounds past int64 or a float, subnormal quanta and 10^300-value grids are refused before a grid
    is built (they raised NumPy's 'Maximum allowed size exceeded' or OverflowError)."""
    space = json.loads((SPACES / f"{name}.json").read_text())
    parameter = data.draw(st.sampled_from(sorted(space["parameters"])))
    space["parameters"][parameter] = data.draw(DOMAINS)
    try:
        loaded = validate_space(space, "extreme.json")
    except SpecError as e:
        assert "\n" not in str(e) and len(str(e)) < 300
        assert e.path.startswith(("parameters", "constraints", "se_ratio"))
        return
    domain = loaded.parameters[parameter]
    assert domain.size() == len(domain.grid()) <= 100_000
