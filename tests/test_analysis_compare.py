"""The comparison work of `specgen analyze`, read column-wise, against the plain loops it replaces:
grouping, analysis errors, best models, parameter columns and ranges, the num_samples draws, the fit's
search. Each must give exactly what the loop gives (the same draws, the same ties)."""

import heapq
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.analysis import fit, num_samples
from specgen.analysis.bootstrap import best_of_draws, range_of
from specgen.analysis.parameters import parameter_columns
from specgen.analysis.pieces import BEST_MODELS, Draws, best_models
from specgen.analysis.report import group_results, grouped_columns
from specgen.analysis.results import DIVERGED_ERROR, Result
from specgen.analysis.table import table_of
from specgen.errors import SpecError
from specgen.network.regnet import block_widths
from specgen.network.spec import NetworkSpec, Stage


def _result(i, space, id_, status, error, source="a.jsonl", design=None, hyperparameters=None, stages=2):
    odd = [k % 2 and i % 3 == 1 for k in range(stages)]  # some networks' stages differ in b and g
    each = [
        Stage(
            depth=1 + (i + k) % 3,
            width=8 * (1 + i % 5 + k),
            group_width=4 if o else 8,
            bottleneck_ratio=1 + o,
        )
        for k, o in enumerate(odd)
    ]
    net = NetworkSpec(name="n", stages=each)
    return Result(
        source,
        f"{source}:{i + 1}",
        id_,
        space,
        {} if design is None else design,
        1000 + i,
        2000 + i,
        net.model_dump(),
        status,
        error,
        hyperparameters={} if hyperparameters is None else hyperparameters,
    )


rows = st.lists(
    st.tuples(
        st.sampled_from(["x", "y", "a1"]),
        st.text("abc", min_size=1, max_size=3),
        st.sampled_from(["done", "diverged", "failed"]),
        st.integers(0, 8).map(lambda k: k / 8),
        st.sampled_from(["a.jsonl", "b.jsonl"]),
    ),
    min_size=1,
    max_size=40,
)


def _results(drawn):
    return [
        _result(i, space, id_, status, None if status != "done" and i % 2 else error, source)
        for i, (space, id_, status, error, source) in enumerate(drawn)
    ]


def _grouped_by_loop(results, by):
    """The plain loop: a dict of lists, each run once per group, failed runs counted and left out."""
    keyed, first = {}, {}
    for r in results:
        key = r.space if by == "space" else r.source
        seen = first.setdefault((key, r.id), r)
        if seen is not r:
            again = f"got {json.dumps(r.id)} again (first at {seen.where})"
            message = f"expected each run once in a {by}, {again}"
            raise SpecError(r.where, "id", message)
        keyed.setdefault(key, []).append(r)
    out = []
    for name in sorted(keyed):
        kept = [r for r in keyed[name] if r.status != "failed"]
        if not kept:
            message = f'expected a run of "{name}" that did not fail; all {len(keyed[name])} failed'
            raise SpecError(keyed[name][0].source, "status", message)
        out.append((name, sorted(kept, key=lambda r: r.id), len(keyed[name]) - len(kept)))
    return out


def _outcome(f):
    try:
        return f()
    except SpecError as e:
        return str(e)


@settings(max_examples=200, deadline=None)
@given(rows, st.sampled_from(["space", "source"]))
def test_groups_are_the_loops_groups(drawn, by):
    results = _results(drawn)
    got = _outcome(lambda: group_results(table_of(results).columns, by))
    expected = _outcome(lambda: _grouped_by_loop(results, by))
    if isinstance(expected, str):
        assert got == expected
        return
    assert [(g.name, [results[i] for i in g.rows], g.failed) for g in got] == expected
    for g in got:
        assert g.errors.tolist() == [results[i].analysis_error for i in g.rows]
        assert g.diverged == sum(results[i].status == "diverged" for i in g.rows)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_best_models_are_the_lowest_errors_ties_by_id(drawn):
    results = _results(drawn)
    table = table_of(results)
    groups = _outcome(lambda: group_results(table.columns, "space"))
    if isinstance(groups, str):  # a run twice, or a space of failed runs only
        return
    for group in groups:
        done = [results[i] for i in group.rows if results[i].status == "done"]
        expected = heapq.nsmallest(BEST_MODELS, done, key=lambda r: (r.error, r.id))
        got = best_models(group, table)
        assert [(b.id, b.error) for b in got] == [(r.id, r.error) for r in expected]
        for b, r in zip(got, expected, strict=True):
            assert b.widths.tolist() == [w for s in r.spec["stages"] for w in [s["width"]] * s["depth"]]


def test_a_diverged_run_counts_at_the_diverged_error_and_is_never_a_best_model():
    table = table_of([_result(0, "x", "a", "diverged", None), _result(1, "x", "b", "done", 0.5)])
    (group,) = group_results(table.columns, "space")
    assert group.errors.tolist() == [DIVERGED_ERROR, 0.5] and group.diverged == 1
    assert [b.id for b in best_models(group, table)] == ["b"]


def _columns_by_loop(results):
    """parameter_columns's design and hyperparameter columns as comprehensions over the results."""
    out = {}
    for name in ("w0", "wa", "wm"):
        out[name] = [r.design.get(name) for r in results]
    for name, key in {"lr": "lr", "wd": "weight_decay", "epochs": "epochs"}.items():
        out[name] = [r.hyperparameters.get(key, r.design.get(name)) for r in results]
    return out


designs = st.fixed_dictionaries(
    {},
    optional={
        "w0": st.integers(8, 64),
        "wa": st.floats(0, 50),
        "wm": st.floats(1.5, 3),
        "lr": st.one_of(st.floats(0.01, 1), st.booleans(), st.text(max_size=2)),
        "group_width": st.integers(1, 4),
        "bottleneck_ratio": st.sampled_from([1.0, 2.0]),
    },
)
hyperparameters = st.fixed_dictionaries(
    {}, optional={"lr": st.floats(0.01, 1), "weight_decay": st.floats(0, 0.01), "epochs": st.integers(1, 9)}
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(designs, hyperparameters, st.integers(1, 4)), min_size=1, max_size=20))
def test_parameter_columns_are_each_rows_values(drawn):
    results = [
        _result(i, "x", str(i), "done", 0.1, design=d, hyperparameters=h, stages=s)
        for i, (d, h, s) in enumerate(drawn)
    ]
    columns = parameter_columns(table_of(results).columns)
    for name, values in _columns_by_loop(results).items():
        expected = [v if type(v) in (int, float) else None for v in values]
        if name in columns:
            assert [None if np.isnan(v) else v for v in columns[name].tolist()] == expected
        else:
            assert expected == [None] * len(results)
    stages = [r.spec["stages"] for r in results]
    assert columns["depth"].tolist() == [sum(s["depth"] for s in each) for each in stages]
    for name, field in (("b", "bottleneck_ratio"), ("g", "group_width")):
        # The design's one value where it drew one, else each stage's own.
        drawn = [r.design.get(field) for r in results]
        values = [[s[field] if d is None else d for s in each] for d, each in zip(drawn, stages, strict=True)]
        if all(len(set(v)) == 1 for v in values):
            assert columns[name].tolist() == [v[0] for v in values]
        else:
            for i in range(max(map(len, values))):
                got = [None if np.isnan(x) else x for x in columns[f"{name}{i + 1}"].tolist()]
                assert got == [v[i] if i < len(v) else None for v in values]
    for i in range(max(map(len, stages))):
        widths = [each[i]["width"] if i < len(each) else None for each in stages]
        assert [None if np.isnan(w) else w for w in columns[f"w{i + 1}"].tolist()] == widths


@settings(max_examples=50, deadline=None)
@given(rows, st.integers(0, 3))
def test_ranges_read_in_row_order_are_the_groups_ranges(drawn, seed):
    """The columns are read from the rows in their own order and taken per group: the same values
    and ranges as read from each group's results (failed runs left out of both)."""
    results = _results(drawn)
    table = table_of(results)
    groups = _outcome(lambda: group_results(table.columns, "space"))
    if isinstance(groups, str):
        return
    got = grouped_columns(groups, table.columns)
    draws = Draws([g.errors for g in groups], 40, seed)
    # As first written: the columns of the groups' results one after another, cut at each group's end.
    grouped = parameter_columns(table_of([results[i] for g in groups for i in g.rows]).columns)
    ends = np.cumsum([g.n for g in groups])
    assert list(got) == list(grouped)
    for parameter, values in got.items():
        expected_values = np.split(grouped[parameter], ends[:-1])
        for i, (g, expected, x) in enumerate(zip(groups, expected_values, values, strict=True)):
            assert np.array_equal(expected, x, equal_nan=True)
            keep = np.isfinite(x)
            expected_range = range_of(x[keep], best_of_draws(g.errors[keep], samples=40, seed=seed))
            assert draws.range_of(i, x) == (expected_range if keep.any() else None)


# --- num_samples: the draws of Generator.choice, found without a binary search over every model ----------


def _weights(kind, m, rng):
    return {
        "equal": np.ones(m),
        "uniform": rng.uniform(0, 1, m),
        "heavy": rng.pareto(0.5, m) + 1e-12,
        "zeros": (rng.uniform(0, 1, m) < 0.3) * rng.uniform(0, 1, m) + np.eye(1, m)[0],
        "one": np.eye(1, m, m - 1)[0] + 1e-300,
    }[kind]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3000),
    st.sampled_from(["equal", "uniform", "heavy", "zeros", "one"]),
    st.integers(1, 300),
    st.integers(1, 20),
    st.integers(0, 2**32),
)
def test_draws_are_generator_choices_draws(m, kind, rows, columns, seed):
    p = _weights(kind, m, np.random.default_rng(seed))
    p = p / p.sum()
    theirs, ours = np.random.default_rng(seed), np.random.default_rng(seed)
    expected = theirs.choice(m, size=(rows, columns), p=p)
    assert np.array_equal(num_samples._choice(ours, *num_samples._buckets(p), (rows, columns)), expected)
    assert ours.random() == theirs.random()  # and the generator is left where choice leaves it


def _curve_by_loop(errors, weights, seed):
    """curve as first written: rng.choice with p, and each n's expectation sorted afresh."""
    w = np.ones_like(errors) if weights is None else weights
    p = w / w.sum()
    rng = np.random.default_rng(seed)
    out, n = [], 1
    while n <= errors.size:
        minima = errors[rng.choice(errors.size, size=(errors.size // n, n), p=p)].min(axis=1)
        order = np.argsort(errors, kind="stable")
        e, sorted_w = errors[order], w[order] / w.sum()
        above = np.clip(np.cumsum(sorted_w[::-1])[::-1], 0.0, 1.0)
        beyond = np.append(above[1:], 0.0)
        expected = float(np.sum(e * (above**n - beyond**n)))
        mean, std = float(minima.mean()), float(minima.std())
        out.append(num_samples.Point(n, expected, mean, mean - 2 * std, mean + 2 * std, errors.size // n))
        n *= 2
    return out


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 2000), st.booleans(), st.integers(0, 2**32))
def test_curve_is_the_loops_curve(m, weighted, seed):
    rng = np.random.default_rng(seed)
    errors = rng.integers(0, 50, m) / 50  # ties, as top-1 errors have
    weights = rng.uniform(0.1, 2, m) if weighted else None
    assert num_samples.curve(errors, weights, seed) == _curve_by_loop(errors, weights, seed)


# --- the fit: its search and scores against the whole grid and block_widths ------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(1, 30), st.floats(0, 60), st.floats(1.3, 3.5), st.integers(0, 2))
def test_scores_are_e_fit_of_block_widths(depth, w0, wa, wm, noise):
    observed = block_widths(depth, 8 * w0, wa, wm).astype(float) + 8 * noise * np.arange(depth)
    w0s = np.array([8.0, 8.0 * w0, 16.0 * w0])[:, None, None]
    was = w0s * np.linspace(0, 40, 7)[None, :, None]
    expected = fit.e_fit(np.maximum(block_widths(depth, w0s, was, wm), 8), observed)
    got = fit._scores(observed, w0s, was, wm, 8, np.arange(depth))
    assert np.array_equal(got, expected)


def _search_whole_grid(observed, w0, wm, q):
    points = []
    for m in wm:
        best, arg = fit._best_at(observed, w0, float(m), q, w0.min())
        points += [(float(e), int(w), float(m), float(r)) for e, w, r in zip(best, w0, arg, strict=True)]
    return sorted(points)


@pytest.mark.parametrize(
    "widths",
    [
        block_widths(14, 176, 160.4, 2.168),  # made by the rule: an exact fit
        block_widths(30, 48, 36.0, 2.5),
        np.array([32, 96, 96] + [288] * 6 + [736] * 6),  # changed by compatibility
        np.array([32, 32, 64, 64, 64, 128, 256, 256]),
    ],
)
def test_search_finds_the_whole_grids_best_point(widths):
    observed = widths.astype(float)
    w0, wm = fit._coarse_grid(observed, 8)
    whole = _search_whole_grid(observed, w0, wm, 8)
    found = fit._search(observed, w0, wm, 8)
    assert found[0] == whole[0]
    if whole[0][0] != 0.0:  # nothing was left out: the same best points
        assert found == whole[: fit._KEEP]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(1, 32), st.floats(0, 100), st.floats(1.5, 3.0), st.booleans())
def test_search_of_drawn_widths_finds_the_whole_grids_best_point(depth, w0, wa, wm, on_the_rule):
    """Widths the rule makes fit exactly in the first width's row; others are scored over every row."""
    observed = block_widths(depth, 8 * w0, wa, wm).astype(float)
    if not on_the_rule:
        observed[-1] += 8
    w0s, wms = fit._coarse_grid(observed, 8)
    whole = _search_whole_grid(observed, w0s, wms, 8)
    assert fit._search(observed, w0s, wms, 8)[0] == whole[0]
