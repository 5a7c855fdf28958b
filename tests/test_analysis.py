"""The analysis library against its definitions (docs/reference.md §6)."""

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given
from hypothesis import strategies as st

from specgen.analysis.bootstrap import bootstrap_range
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
from specgen.regnet import block_widths
from specgen.testing import regnet_specs

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
