"""The analysis library against its definitions (docs/reference.md §6)."""

import itertools
import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from specgen.analysis import bootstrap
from specgen.analysis.bootstrap import bootstrap_range
from specgen.analysis.bulk import plainly_valid_networks
from specgen.analysis.edf import (
    EXACT_MAX_N,
    asymptotic_pvalue,
    complexity_edges,
    edf,
    exact_pvalue,
    kolmogorov_sf,
    ks_2samp,
    normalized_weights,
)
from specgen.analysis.fit import MAX_SLOPE, e_fit, fit_quantized_linear, slopes
from specgen.analysis.parameters import parameter_columns
from specgen.analysis.results import load_results, load_table, plainly_valid_rows, result_from_row
from specgen.errors import SpecError
from specgen.network import limits
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.regnet import block_widths
from specgen.network.spec import LEFT_OUT_DEFAULTS, NetworkSpec, Stage
from specgen.network.stems import STEM_TYPES
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.testing import invalid_specs, network_specs, regnet_specs

# Errors on a coarse grid, so samples share values (ties) as real top-1 errors do.
errors = st.lists(st.integers(0, 40).map(lambda k: k / 40), min_size=1, max_size=60)


def test_edf_at_chosen_points():
    f = edf(np.array([0.3, 0.1, 0.2, 0.2]))
    # F(e) = (1/n) Σ 1[e_i < e]: strictly below, so F(0.2) does not count the two 0.2s.
    at = np.array([0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.31, 1.0])
    assert f(at).tolist() == [0.0, 0.0, 0.25, 0.25, 0.75, 0.75, 1.0, 1.0]
    assert f.at_or_below(at).tolist() == [0.0, 0.25, 0.25, 0.75, 0.75, 1.0, 1.0, 1.0]
    assert f.n == 4
    x, y = f.steps()
    assert x.tolist() == [0.1, 0.1, 0.2, 0.3] and y.tolist() == [0.0, 0.25, 0.75, 1.0]


def test_weighted_edf_at_chosen_points():
    f = edf(np.array([0.1, 0.2, 0.3]), weights=np.array([1.0, 2.0, 1.0]))
    assert f(np.array([0.1, 0.15, 0.25, 0.35])).tolist() == [0.0, 0.25, 0.75, 1.0]


@given(errors)
def test_edf_is_the_mean_of_indicators(e):
    e = np.array(e)
    at = np.linspace(-0.05, 1.05, 23)
    assert np.allclose(edf(e)(at), (e[None, :] < at[:, None]).mean(axis=1))


@pytest.mark.parametrize(
    ("values", "weights"), [([], None), ([0.1, np.nan], None), ([0.1], [-1.0]), ([0.1, 0.2], [0.0, 0.0])]
)
def test_edf_refuses_bad_input(values, weights):
    with pytest.raises(ValueError):
        edf(np.array(values), None if weights is None else np.array(weights))


@given(
    st.lists(st.integers(300, 400), min_size=1, max_size=80),
    st.lists(st.integers(200, 500), min_size=1, max_size=20),
    st.integers(1, 12),
)
def test_normalized_weights_give_each_occupied_bin_equal_mass(flops, other, bins):
    c = np.array(flops, dtype=float)
    edges = complexity_edges([c, np.array(other, dtype=float)], bins)
    w = normalized_weights(c, edges)
    assert w.sum() == pytest.approx(1.0)
    which = np.clip(np.digitize(c, edges) - 1, 0, bins - 1)
    mass = np.bincount(which, weights=w, minlength=bins)
    occupied = mass[mass > 0]
    assert np.allclose(occupied, 1.0 / occupied.size)
    # Within a bin the models share its mass equally: 1 / (models in bin × occupied bins).
    counts = np.bincount(which, minlength=bins)
    assert np.allclose(w, 1.0 / (counts[which] * occupied.size))


@given(errors, errors)
def test_ks_equals_scipy(a, b):
    """Statistic and p-value equal scipy's default (exact at these sizes; ties not corrected for)."""
    a, b = np.array(a), np.array(b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's exact method sometimes gives up and goes asymptotic
        try:
            theirs = scipy.stats.ks_2samp(a, b)
        except RuntimeWarning:
            assume(False)
    ours = ks_2samp(a, b)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-12)


@given(st.integers(1, 7), st.integers(1, 7), st.data())
def test_exact_ks_pvalue_counts_every_order(m, n, data):
    """The share of all C(m + n, m) orders of the two samples whose D reaches d, counted one by one."""
    lcm = math.lcm(m, n)
    d = data.draw(st.integers(0, lcm)) / lcm  # D is always a multiple of 1 / lcm(m, n)
    reach = 0
    orders = list(itertools.combinations(range(m + n), m))
    for first in orders:
        i = np.cumsum(np.isin(np.arange(m + n), first))
        j = np.arange(1, m + n + 1) - i
        reach += np.max(np.abs(i / m - j / n)) >= d - 1e-12
    assert exact_pvalue(d, m, n) == pytest.approx(reach / len(orders), rel=1e-12)


def test_ks_pvalue_of_spaces_that_do_not_overlap_is_exact():
    """3 models against 3 all better: 2 of the C(6, 3) = 20 orders are that extreme, p = 0.1, not 0."""
    ours = ks_2samp(np.array([0.1, 0.2, 0.3]), np.array([0.4, 0.5, 0.6]))
    assert (ours.statistic, ours.pvalue, ours.method) == (1.0, pytest.approx(0.1, rel=1e-12), "exact")


def test_exact_ks_pvalue_equals_scipy_on_drawn_sizes():
    """Unequal and equal sizes up to a few hundred, continuous and tied, small p-values included."""
    rng = np.random.default_rng(3)
    for _ in range(40):
        m, n = (int(x) for x in rng.integers(1, 400, 2))
        if rng.random() < 0.3:
            n = m
        shift = rng.choice([0.0, 0.05, 0.3])
        a, b = rng.uniform(0, 1, m), rng.uniform(shift, 1 + shift, n)
        if rng.random() < 0.5:
            a, b = np.round(a, 1), np.round(b, 1)
        theirs = scipy.stats.ks_2samp(a, b, method="exact").pvalue
        assert exact_pvalue(ks_2samp(a, b).statistic, m, n) == pytest.approx(theirs, rel=1e-8, abs=1e-14)


def test_kolmogorov_sf_equals_scipy():
    for x in np.concatenate([[0.0, 1e-3], np.linspace(0.05, 7, 300)]):
        assert kolmogorov_sf(float(x)) == pytest.approx(scipy.stats.kstwobign.sf(x), rel=1e-12, abs=1e-15)


def test_ks_pvalue_beyond_exact_sizes_is_asymptotic():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, EXACT_MAX_N + 1), rng.normal(0.1, 1, 300)
    ours = ks_2samp(a, b)
    assert ours.pvalue == asymptotic_pvalue(ours.statistic, a.size, b.size) and ours.method == "asymptotic"
    assert ours.pvalue == pytest.approx(scipy.stats.ks_2samp(a, b).pvalue, rel=0.02)  # scipy's "auto"


@given(errors, errors, st.data())
def test_weighted_ks_equals_ks_of_repeated_samples(a, b, data):
    """Whole-number weights count a model that many times: the weighted statistic is the repeated one."""
    a, b = np.array(a), np.array(b)
    wa = np.array(data.draw(st.lists(st.integers(1, 4), min_size=a.size, max_size=a.size)))
    wb = np.array(data.draw(st.lists(st.integers(1, 4), min_size=b.size, max_size=b.size)))
    repeated = scipy.stats.ks_2samp(np.repeat(a, wa), np.repeat(b, wb)).statistic
    assert ks_2samp(a, b, wa.astype(float), wb.astype(float)).statistic == pytest.approx(repeated, abs=1e-12)


def test_normalized_ks_with_equal_weights_is_plain_ks():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.3, 0.5, 200), rng.uniform(0.32, 0.52, 150)
    plain = ks_2samp(a, b)
    same = ks_2samp(a, b, np.full(200, 1 / 200), np.full(150, 1 / 150))
    assert same.statistic == pytest.approx(plain.statistic)
    # Weighted p-values are asymptotic: close to the exact one at these sizes.
    assert same.pvalue == pytest.approx(asymptotic_pvalue(plain.statistic, 200, 150))
    assert same.pvalue == pytest.approx(plain.pvalue, rel=0.05)


def test_weighted_ks_pvalue_uses_kish_effective_sizes():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.3, 0.5, 200), rng.uniform(0.32, 0.52, 150)
    uneven = np.where(np.arange(200) < 20, 9.0, 1.0)
    ours = ks_2samp(a, b, uneven, None)
    na = uneven.sum() ** 2 / np.square(uneven).sum()  # 380² / 1800 ≈ 80 effective models, not 200
    assert ours.pvalue == pytest.approx(asymptotic_pvalue(ours.statistic, na, 150))
    # Stephens' correction puts it near the exact one-sample law at n = na·nb / (na + nb).
    assert ours.pvalue == pytest.approx(
        scipy.stats.kstwo.sf(ours.statistic, round(na * 150 / (na + 150))), rel=0.05
    )


def _synthetic(seed: int, n: int = 400):
    """Depth in [1, 40] with the best error at depth 20."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(1, 41, n).astype(float)
    error = 0.3 + 0.0005 * (depth - 20) ** 2 + rng.normal(0, 0.01, n)
    return depth, error


def test_bootstrap_is_reproducible_per_seed():
    depth, error = _synthetic(0)
    depth += np.random.default_rng(5).uniform(-0.5, 0.5, depth.size)  # continuous, so seeds differ
    assert bootstrap_range(depth, error, seed=3) == bootstrap_range(depth, error, seed=3)
    # 2,500 draws settle on the same few best models whatever the seed; a few draws show the seed.
    few = {bootstrap_range(depth, error, samples=9, seed=seed) for seed in range(5)}
    assert len(few) > 1


def test_bootstrap_finds_a_known_optimum():
    depth, error = _synthetic(0)
    r = bootstrap_range(depth, error)
    assert r.low <= 20 <= r.high
    assert abs(r.best - 20) <= 3
    assert r.high - r.low < 20  # much narrower than the 1..40 the models span


def test_bootstrap_matches_its_definition():
    """Vectorized equals the plain loop: draw 25% with replacement, keep the best's value, repeat."""
    depth, error = _synthetic(1, n=40)
    rng = np.random.default_rng(7)
    drawn = rng.integers(0, 40, size=(300, 10))
    kept = [depth[row[np.argmin(error[row])]] for row in drawn]
    expected = np.percentile(kept, [2.5, 50, 97.5])
    r = bootstrap_range(depth, error, samples=300, seed=7)
    assert [r.low, r.best, r.high] == pytest.approx(expected.tolist())


def _loop_range(values, errors, samples, seed, k):
    """The definition, one draw at a time: np.argmin keeps the first drawn among equal errors."""
    drawn = np.random.default_rng(seed).integers(0, errors.size, size=(samples, k))
    return np.percentile([values[row[np.argmin(errors[row])]] for row in drawn], [2.5, 50, 97.5]).tolist()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 4), st.integers(1, 400), st.integers(0, 2**32))
def test_bootstrap_matches_its_definition_with_ties_and_chunks(n, levels, samples, seed):
    """Errors with many ties (models of equal error but other values), and draws across chunk edges."""
    rng = np.random.default_rng(seed)
    values, errors = rng.uniform(0, 100, n), rng.integers(0, levels, n) / 10
    got = bootstrap_range(values, errors, samples=samples, seed=seed)
    assert [got.low, got.best, got.high] == _loop_range(values, errors, samples, seed, max(1, round(n / 4)))


def test_bootstrap_draws_many_chunks_as_one_loop(monkeypatch):
    monkeypatch.setattr(bootstrap, "_CHUNK", 64)  # 40 models per draw: one draw per chunk
    values, errors = _synthetic(2, n=160)
    errors = np.round(errors, 2)  # ties
    got = bootstrap_range(values, errors, samples=50, seed=4)
    assert [got.low, got.best, got.high] == _loop_range(values, errors, 50, 4, 40)


def test_parameters_of_the_same_models_share_their_draws():
    depth, error = _synthetic(3)
    best = bootstrap.best_of_draws(error, seed=1)
    for values in (depth, -2 * depth, np.sqrt(depth)):
        assert bootstrap.range_of(values, best) == bootstrap_range(values, error, seed=1)


@given(regnet_specs())
def test_fit_recovers_quantized_linear_widths(spec):
    widths = block_widths(spec.depth, spec.w0, spec.wa, spec.wm, spec.q)
    fit = fit_quantized_linear(widths, spec.q)
    assert fit.e_fit == pytest.approx(0.0, abs=1e-12)
    assert fit.widths(spec.depth, spec.q).tolist() == widths.tolist()
    assert fit.w0 == spec.w0  # the first block of the rule is w0 itself


@given(st.floats(1.1, 4.0), st.integers(1, 30), st.floats(0.0, MAX_SLOPE))
def test_slopes_give_every_set_of_levels(wm, depth, r):
    """Whatever wa / w0 is, one of the enumerated slopes puts every block at the same level."""
    j = np.arange(depth)

    def levels(x):
        return np.round(np.log(1 + x * j) / np.log(wm))

    candidates = slopes(wm, depth, int(levels(r).max()) + 1)
    assert any((levels(c) == levels(r)).all() for c in candidates)


def test_fit_of_regnetx_600mf():
    widths = block_widths(16, 48, 36.97, 2.24)
    fit = fit_quantized_linear(widths)
    assert fit.e_fit == 0.0 and fit.w0 == 48
    assert fit.wm == pytest.approx(2.24, rel=0.05)


def test_fit_of_widths_off_the_rule_is_positive_and_no_worse_than_a_known_point():
    widths = np.array([32, 32, 64, 64, 64, 128, 256, 256])
    fit = fit_quantized_linear(widths)
    assert 0 < fit.e_fit <= e_fit(block_widths(8, 32, 16.0, 2.0), widths)
    assert fit.e_fit == pytest.approx(e_fit(fit.widths(8), widths))


def test_fit_is_no_worse_than_the_parameters_that_made_the_widths():
    """RegNetX (d=15, w0=40, wa=47.9, wm=2.65), its widths changed by compatibility with g=16:
    the search once settled in another basin (e_fit 0.0440 against 0.0411 for the truth)."""
    widths = np.array([32, 96, 96] + [288] * 6 + [736] * 6)
    truth = e_fit(np.maximum(block_widths(15, 40, 47.9, 2.65), 8), widths)
    assert fit_quantized_linear(widths).e_fit <= truth


def test_e_fit_is_the_mean_absolute_log_ratio():
    assert e_fit(np.array([16, 8]), np.array([8, 8])) == pytest.approx(np.log(2) / 2)


# --- reading results: rows checked column-wise give the same verdicts and messages as one by one ----------

_BIG, _NAN, _INF = 10**30, float("nan"), float("inf")
_NETWORK_EDGES = {
    "name": ["n", "a" * 64, "a" * 65, "a\n", "a\nb", "-a", "a.b_c-d", "", 7],
    "stem_width": [0, 1, 8, limits.MAX_STEM_WIDTH, limits.MAX_STEM_WIDTH + 1, _BIG, True, 8.0],
    "num_classes": [0, 1, limits.MAX_CLASSES, limits.MAX_CLASSES + 1],
    "in_channels": [0, 1, limits.MAX_IN_CHANNELS, limits.MAX_IN_CHANNELS + 1],
    "resolution": [0, 1, 2, 64, limits.MAX_RESOLUTION, limits.MAX_RESOLUTION + 1, -(2**70)],
    "se_ratio": [0.0, -0.0, 0.01, 0.05, 0.25, 1.0, 1.01, -0.5, _NAN, _INF, 0, True, None],
    "kind": ["anynet", "regnet", None],
    "extra": [1],  # an unknown field
}
_STAGE_EDGES = {
    "depth": [0, 1, 3, limits.MAX_STAGE_DEPTH, limits.MAX_STAGE_DEPTH + 1, 2.0],
    "width": [1, 3, 8, 24, 96, 7392, limits.MAX_WIDTH, limits.MAX_WIDTH + 1, _BIG, "8"],
    "stride": [0, 1, 2, limits.MAX_STRIDE, limits.MAX_STRIDE + 1],
    "bottleneck_ratio": [
        limits.MIN_BOTTLENECK_RATIO,
        1 / 65,
        1 / 3,
        0.25,
        1.0,
        1.5,
        3.0,
        64.0,
        65.0,
        _NAN,
        1,
    ],
    "group_width": [1, 2, 3, 8, 24, limits.MAX_GROUP_WIDTH, limits.MAX_GROUP_WIDTH + 1, False],
    "extra": [1],
}
_OPTION_EDGES = {
    "stem_type": [*STEM_TYPES, "res_stem", None, 1],
    "block_type": [*BLOCK_TYPES, "double_plain_block", None],
    "shortcut": ["conv1x1", "avg", "max", None],
    "linear_out": [True, False, 1, None],
    "preact": [True, False, 0],
    "activation": ["relu", "silu", "gelu", True],
}
"""The type and option fields: every value NetworkSpec takes, and some it does not."""
_MISSING = object()


@st.composite
def typed_networks(draw) -> NetworkSpec:
    """A valid network of any stem and block type, with each option that fits it drawn in turn."""
    net = draw(network_specs(stem_types=tuple(STEM_TYPES), block_types=tuple(BLOCK_TYPES)))
    data = net.model_dump()
    for field in draw(st.permutations(["shortcut", "linear_out", "preact", "activation"])):
        named = data | {field: draw(st.sampled_from(_OPTION_EDGES[field][:2]))}
        data = named if _accepted(named) else data
    return NetworkSpec.model_validate(data)


@st.composite
def near_networks(draw) -> dict:
    """A valid network's data with a few fields set to values at, past or off their bounds (or left out)."""
    spec = draw(typed_networks()).model_dump(mode="json")
    edges = _NETWORK_EDGES | _OPTION_EDGES
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(sorted(edges) + sorted(_STAGE_EDGES)))
        target = spec
        if field in _STAGE_EDGES:
            target = spec["stages"][draw(st.integers(0, len(spec["stages"]) - 1))]
        value = draw(st.sampled_from([*edges.get(field, _STAGE_EDGES.get(field)), _MISSING]))
        if value is _MISSING:
            target.pop(field, None)
        else:
            target[field] = value
    if draw(st.integers(0, 9)) == 0:  # every stage as deep, or as wide, as one may be
        field, value = draw(st.sampled_from([("depth", limits.MAX_STAGE_DEPTH), ("width", limits.MAX_WIDTH)]))
        spec["stages"] = [{**s, field: value, "group_width": 1} for s in spec["stages"]]
    return spec


def _outcome(read) -> tuple:
    """What reading gives: the networks and designs of the results, or the one line of its refusal."""
    try:
        return ("read", [(r.id, r.net, r.status, r.error, r.spec == r.net.model_dump()) for r in read()])
    except SpecError as e:
        return ("refused", str(e))


def _row_outcomes(rows: list, tmp: Path) -> tuple[tuple, tuple]:
    """The rows read in bulk (as `load_results` reads a file) and one by one by the models themselves."""
    path = tmp / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    bulk = _outcome(lambda: load_results(path))
    sources = [f"{path}:{i}" for i in range(1, len(rows) + 1)]
    one_by_one = _outcome(
        lambda: [result_from_row(r, s, str(path)) for r, s in zip(rows, sources, strict=True)]
    )
    return bulk, one_by_one


def _row(spec: dict, **fields) -> dict:
    row = {"id": "r1", "space": "s", "design": {"depth": 3}, "flops": 1, "params": 1, "spec": spec}
    return row | {"error": 0.5, "status": "done"} | fields


def _accepted(spec: dict) -> bool:
    try:
        NetworkSpec.model_validate(spec, strict=True)
    except ValueError:
        return False
    return True


@given(network_specs())
def test_valid_networks_are_plainly_valid(net):
    assert plainly_valid_networks([net.model_dump(mode="json")]).tolist() == [True]


@settings(max_examples=300)
@given(st.lists(typed_networks(), min_size=1, max_size=6))
def test_valid_networks_of_every_type_and_option_are_plainly_valid(nets):
    """Read together, whatever mix of stems, blocks and options: each is counted by its own description."""
    assert plainly_valid_networks([n.model_dump(mode="json") for n in nets]).all()


@given(invalid_specs())
def test_invalid_specs_get_the_same_line_read_in_bulk_as_one_by_one(bad):
    assert plainly_valid_networks([bad.data]).tolist() == [False]
    with tempfile.TemporaryDirectory() as tmp:
        bulk, one_by_one = _row_outcomes([_row(bad.data)], Path(tmp))
    assert bulk == one_by_one and bulk[0] == "refused"
    assert bulk[1].split(": ")[1] == f"spec.{bad.path}"


def _one_field_changed(spec: dict) -> list[dict]:
    """The spec with each field (of the network, its first and its last stage) set to each edge value or
    left out, one at a time."""
    out = []
    for field, edges in (_NETWORK_EDGES | _OPTION_EDGES).items():
        out += [{**spec, field: value} for value in edges]
        out.append({k: v for k, v in spec.items() if k != field})
    for i in {0, len(spec["stages"]) - 1}:
        for field, edges in _STAGE_EDGES.items():
            for value in [*edges, _MISSING]:
                stage = {k: v for k, v in spec["stages"][i].items() if k != field}
                stage |= {} if value is _MISSING else {field: value}
                out.append({**spec, "stages": [*spec["stages"][:i], stage, *spec["stages"][i + 1 :]]})
    return out


def test_every_field_at_its_edges_gets_networkspecs_verdict():
    """Every bound and rule, one field at a time, in one batch beside valid networks: plainly valid means
    valid, and for data in plain form the verdicts are equal."""
    nets = [
        NetworkSpec(name="one", stages=[Stage(depth=2, width=8, group_width=8)]),
        NetworkSpec(
            name="y",
            stem_width=16,
            stages=[Stage(depth=1, width=24, group_width=8), Stage(depth=3, width=96, group_width=24)],
            se_ratio=0.25,
        ),
        NetworkSpec(name="inverted", stages=[Stage(depth=2, width=8, bottleneck_ratio=0.25, group_width=16)]),
        NetworkSpec(
            name="cifar",
            stem_type="res_stem_cifar",
            block_type="res_basic_block",
            stem_width=16,
            stages=[
                Stage(depth=2, width=16, stride=1, group_width=1),
                Stage(depth=1, width=32, group_width=1),
            ],
            resolution=32,
        ),
        NetworkSpec(
            name="timm",
            stem_type="res_stem_in",
            shortcut="avg",
            linear_out=True,
            activation="silu",
            stages=[Stage(depth=2, width=24, group_width=8)],
            se_ratio=0.25,
        ),
    ]
    specs = [changed for net in nets for changed in _one_field_changed(net.model_dump())]
    plain = plainly_valid_networks(specs).tolist()
    accepted = [_accepted(spec) for spec in specs]
    assert all(a for p, a in zip(plain, accepted, strict=True) if p)
    assert [p for p, spec in zip(plain, specs, strict=True) if _plain_form(spec)] == [
        a for a, spec in zip(accepted, specs, strict=True) if _plain_form(spec)
    ]
    assert 0 < sum(plain) < sum(map(_plain_form, specs))  # both verdicts are given


@settings(max_examples=500)
@given(near_networks())
def test_networks_near_their_bounds_get_networkspecs_verdict_and_line(spec):
    """Plainly valid means valid; for data in plain form (every field, of its own type) the verdicts
    are equal; and reading in bulk gives what reading one by one gives, to the message."""
    plain = plainly_valid_networks([spec])[0]
    assert not plain or _accepted(spec)
    if _plain_form(spec):
        assert plain == _accepted(spec)
    with tempfile.TemporaryDirectory() as tmp:
        bulk, one_by_one = _row_outcomes([_row(spec)], Path(tmp))
    assert bulk == one_by_one


_NETWORK_TYPES = {
    "kind": str,
    "name": str,
    "stem_width": int,
    "stages": list,
    "se_ratio": float,
    "num_classes": int,
    "in_channels": int,
    "resolution": int,
}
_STAGE_TYPES = {"depth": int, "width": int, "stride": int, "bottleneck_ratio": float, "group_width": int}


def _plain_form(spec: dict) -> bool:
    """Every field given, of the type NetworkSpec holds it in (a float for a float), 1 to 8 stages; a type
    or option field only where named with a value other than its default, of the default's type."""

    def typed(data: object, types: dict) -> bool:
        return (
            type(data) is dict
            and data.keys() == types.keys()
            and all(type(data[k]) is t for k, t in types.items())
        )

    named = {k: v for k, v in spec.items() if k in LEFT_OUT_DEFAULTS} if type(spec) is dict else {}
    if any(type(v) is not type(LEFT_OUT_DEFAULTS[k]) or v == LEFT_OUT_DEFAULTS[k] for k, v in named.items()):
        return False
    spec = {k: v for k, v in spec.items() if k not in named} if type(spec) is dict else spec
    return (
        typed(spec, _NETWORK_TYPES)
        and 0 < len(spec["stages"]) <= limits.MAX_STAGES
        and all(typed(s, _STAGE_TYPES) for s in spec["stages"])
    )


_ROW_EDGES = {
    "id": ["r1", "", "x" * 128, "x" * 129, "a\x00b", "a\nb", 7, None],
    "space": ["s", "../x", "a" * 65, "", None, 1],
    "flops": [0, -1, limits.MAX_FLOPS, limits.MAX_FLOPS + 1, 10**400, 1.0, True, None],
    "params": [0, -1, limits.MAX_PARAMS, limits.MAX_PARAMS + 1, "1"],
    "error": [0, 1, 0.0, 1.0, 0.5, -0.1, 1.5, _NAN, _INF, None, True, "0.3"],
    "status": ["done", "diverged", "failed", "lost", None, 1, ["done"]],
    "design": [{}, {"w0": None}, [], None, "x"],
    "spec": [[], None],
    "forward_seconds": [0, 0.0, -0.0, 1e-4, 3, -1e-9, 86_400, 86_400.5, 1e308, _INF, _NAN, None, True, "0.1"],
    "forward_backward_seconds": [0.5, -1, _INF, False, 10**400],
}
_DESIGN_EDGES = {
    "w0": [0, 1, limits.MAX_W0, limits.MAX_W0 + 1, 8.0, True, None, 10**400],
    "wa": [0, 0.0, -0.0, -1e-9, limits.MAX_WA, 4096.5, _INF, _NAN, 1e308, True, "1"],
    "wm": [1, 1.0, 1.0000001, 2, limits.MAX_WM, 16.5, _NAN, None],
    "group_width": [0, 1, limits.MAX_GROUP_WIDTH, limits.MAX_GROUP_WIDTH + 1, 8.0],
    "bottleneck_ratio": [limits.MIN_BOTTLENECK_RATIO, 0.0, 1, 1.0, 64, 64.5, False],
    "extra": [None, "anything", [1, 2]],
}


def test_every_row_field_at_its_edges_gets_the_models_verdict():
    """Every rule of a row and its design, one field at a time, in one batch: the verdicts are equal."""
    row = _row(NetworkSpec(name="n", stages=[Stage(depth=2, width=8, group_width=8)]).model_dump())
    rows = [{k: v for k, v in row.items() if k != field} for field in row]
    rows += [row | {field: value} for field, edges in _ROW_EDGES.items() for value in edges]
    rows += [row | {"design": {field: value}} for field, edges in _DESIGN_EDGES.items() for value in edges]

    def accepted(row: dict) -> bool:
        try:
            result_from_row(row, "r.jsonl:1", "r.jsonl")
        except SpecError:
            return False
        return True

    verdicts = [accepted(r) for r in rows]
    assert plainly_valid_rows(rows).tolist() == verdicts
    assert 0 < sum(verdicts) < len(rows)


@settings(max_examples=500)
@given(network_specs(), st.data())
def test_rows_near_their_bounds_get_the_models_verdict_and_line(net, data):
    row = _row(net.model_dump(mode="json"))
    for _ in range(data.draw(st.integers(0, 3))):
        if data.draw(st.booleans()) and isinstance(row.get("design"), dict):
            field = data.draw(st.sampled_from(sorted(_DESIGN_EDGES)))
            row["design"] = row["design"] | {field: data.draw(st.sampled_from(_DESIGN_EDGES[field]))}
        else:
            field = data.draw(st.sampled_from(sorted(_ROW_EDGES)))
            value = data.draw(st.sampled_from([*_ROW_EDGES[field], _MISSING]))
            row = {k: v for k, v in row.items() if k != field} | ({} if value is _MISSING else {field: value})
    plain = plainly_valid_rows([row])[0]
    with tempfile.TemporaryDirectory() as tmp:
        bulk, one_by_one = _row_outcomes([row], Path(tmp))
    assert plain == (one_by_one[0] == "read")  # the row's rules hold no form: the verdicts are equal
    assert bulk == one_by_one


def test_the_first_bad_row_is_refused_whatever_was_read_in_bulk(tmp_path):
    """Rows in another form (a default left out) are read one by one between plain ones, in order."""
    nets = [NetworkSpec(name=f"n{i}", stages=[Stage(depth=1, width=8, group_width=8)]) for i in range(4)]
    rows = [_row(n.model_dump(mode="json"), id=f"r{i}") for i, n in enumerate(nets)]
    del rows[1]["spec"]["stages"][0]["stride"]  # valid, the default
    rows[2]["spec"]["se_ratio"] = 0  # valid, an integer for a float
    rows[3]["spec"]["stages"][0]["group_width"] = 3  # the first bad row
    rows.append(_row(nets[0].model_dump(mode="json"), id="r4", flops=-1))
    assert plainly_valid_rows(rows).tolist() == [True, False, False, False, False]
    bulk, one_by_one = _row_outcomes(rows, tmp_path)
    assert bulk == one_by_one
    path = tmp_path / "rows.jsonl"
    assert bulk[1] == f"{path}:4: spec.stages[0].group_width: must divide the bottleneck width 8, got 3"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows[:3]))
    read = load_results(path)
    assert [r.net for r in read] == nets[:3]
    assert [r.spec for r in read] == [n.model_dump() for n in nets[:3]]  # every field, of its own type


@pytest.mark.parametrize(
    "change",
    [
        {"resolution": limits.MAX_RESOLUTION},  # past the flops limit
        {  # past int64 if counted in it: left to NetworkSpec's exact count
            "stages": [
                {"depth": 1, "width": 16384, "stride": 2, "bottleneck_ratio": 1 / 64, "group_width": 1}
            ],
            "resolution": limits.MAX_RESOLUTION,
        },
        {"stages": [{"depth": 128, "width": 8, "stride": 1, "bottleneck_ratio": 1.0, "group_width": 8}] * 3},
        {"se_ratio": 0.01},  # an SE width of 0
    ],
)
def test_networks_past_the_limits_are_refused_as_networkspec_refuses_them(tmp_path, change):
    valid = NetworkSpec(name="n", stages=[Stage(depth=4, width=2048, group_width=8)]).model_dump()
    assert plainly_valid_networks([valid]).tolist() == [True]
    spec = valid | change
    assert not _accepted(spec) and plainly_valid_networks([spec]).tolist() == [False]
    bulk, one_by_one = _row_outcomes([_row(spec)], tmp_path)
    assert bulk == one_by_one and bulk[0] == "refused"


@pytest.mark.parametrize("space", ["regnetx", "anynetx_a", "anynetx_e"])
def test_parameter_columns_are_the_networks_values(tmp_path, space):
    """Read from the specs' data for every result, they are what each result's NetworkSpec says."""
    samples = sample(load_space(space), 12, seed=1, resolution=32)
    rows = [s.to_json() | {"error": 0.1 + i / 100} for i, s in enumerate(samples)]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = load_table(path)
    columns = parameter_columns(table.columns)
    results = table.results(range(len(rows)))
    assert columns["depth"].tolist() == [sum(r.net.depths) for r in results]
    for i in range(max(len(r.net.stages) for r in results)):
        expected = [r.net.widths[i] if i < len(r.net.stages) else None for r in results]
        assert [None if np.isnan(w) else w for w in columns[f"w{i + 1}"].tolist()] == expected
    for name, attribute in (("b", "bottleneck_ratio"), ("g", "group_width")):
        drawn = [r.design.get(attribute) for r in results]
        values = [
            [d] * len(r.net.stages) if d is not None else [getattr(s, attribute) for s in r.net.stages]
            for d, r in zip(drawn, results, strict=True)
        ]
        if name in columns:
            assert all(len(set(v)) == 1 for v in values)
            assert columns[name].tolist() == [v[0] for v in values]
        else:
            assert columns[f"{name}1"].tolist() == [v[0] for v in values]
    assert columns["flops"].tolist() == [r.flops for r in results]
