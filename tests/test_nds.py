"""Published sweeps in `specgen analyze`: NDS's data release (generated here in its format, with its quirks)
and pycls's sweep.json; NDS nets <-> NetworkSpec against pycls 0.1.1's counter; the num_samples curve."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.analysis.edf import complexity_edges, ks_2samp, normalized_weights
from specgen.analysis.num_samples import curve, expected_min
from specgen.analysis.published import read_published
from specgen.analysis.results import load_results, plainly_valid_rows
from specgen.cli import main
from specgen.network import complexity
from specgen.network.nds import net_from_spec, spec_from_net
from specgen.network.spec import NetworkSpec
from tests import nds_records
from tests.oracles import pycls_complexity


def pycls_count(spec: dict) -> tuple[int, int]:
    net = NetworkSpec.model_validate(spec)
    cx = pycls_complexity(net, net.resolution)
    return cx["flops"], cx["params"]


@pytest.mark.parametrize("family", list(nds_records.FAMILIES))
def test_converted_specs_count_the_records_flops_and_params(tmp_path, family):
    # The records' flops and params are pycls 0.1.1's count of the network as NDS describes it.
    records = nds_records.sweep(60, family, seed=3, count=pycls_count)
    results = load_results(nds_records.write(tmp_path / f"{family}.json", records))
    assert len(results) == 60
    for r, record in zip(results, records, strict=True):
        cx = complexity.count(r.net)
        assert (cx.flops, cx.params) == (record["flops"], record["params"])
        assert r.error == pytest.approx(record["min_test_top1"] / 100)
        assert r.design == {"lr": record["optim"]["base_lr"], "wd": record["optim"]["wd"]}


@pytest.mark.parametrize("family", list(nds_records.FAMILIES))
def test_net_round_trip(family):
    rng = np.random.default_rng(7)
    for _ in range(30):
        net = nds_records.residual_net(rng, nds_records.FAMILIES[family])
        spec = NetworkSpec.model_validate(spec_from_net(net, "x"))
        back = net_from_spec(spec)
        assert spec_from_net(back, "x") == spec_from_net(net, "x")
        assert NetworkSpec.model_validate(spec_from_net(back, "x")) == spec


def test_a_sweep_of_thousands_with_reruns_nan_losses_and_nas_records(tmp_path):
    nds_records.write(tmp_path / "ResNet.json", nds_records.sweep(3000, "ResNet", seed=1, nas=120))
    nds_records.write(tmp_path / "Vanilla_reruns.json", nds_records.reruns(400, "Vanilla", seed=2))
    nas = [nds_records.record(np.random.default_rng(0), nds_records.nas_net(np.random.default_rng(0)), None)]
    out = tmp_path / "report"
    args = ["analyze", str(tmp_path / "ResNet.json"), str(tmp_path / "Vanilla_reruns.json"), "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--normalize", "params", "--by", "source"])
    assert result.exit_code == 0, result.output
    assert "skipped (networks specgen does not build): 120 nas_cell" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == {"nas_cell": 120}
    assert [(g["name"], g["n"]) for g in summary["groups"]] == [
        (str(tmp_path / "ResNet.json"), 3000),
        (str(tmp_path / "Vanilla_reruns.json"), 800),
    ]
    assert {"lr", "wd"} <= set(summary["groups"][0]["ranges"])
    assert "num-samples" in summary["plots"] and (out / "num-samples.png").is_file()
    points = summary["groups"][0]["num_samples"]
    assert [p["n"] for p in points] == [2**k for k in range(12)]  # up to 2048 of 3000
    assert all(a["expected"] >= b["expected"] for a, b in itertools.pairwise(points))
    # A file of NAS records only: nothing to analyze, one line.
    nds_records.write(tmp_path / "DARTS.json", nas)
    bad = CliRunner().invoke(main, ["analyze", str(tmp_path / "DARTS.json"), "-o", str(tmp_path / "r2")])
    assert bad.exit_code == 2 and not (tmp_path / "r2").exists()
    assert (
        bad.output
        == f"{tmp_path / 'DARTS.json'}: $: expected a network specgen builds, got only 1 nas_cell records\n"
    )


@pytest.mark.parametrize("family", list(nds_records.FAMILIES))
def test_records_are_read_column_wise_as_networkspec_dumps_them(tmp_path, family):
    """Every residual record becomes a row in the plain form (no NetworkSpec built per record to read it)."""
    published = read_published(json.dumps(nds_records.sweep(50, family, seed=4, nas=3)), "x.json")
    assert plainly_valid_rows(published.rows).all()
    for row in published.rows:
        assert row["spec"] == NetworkSpec.model_validate(row["spec"], strict=True).model_dump()


def test_edfs_normalized_over_flops_and_params_in_one_run(tmp_path):
    for name, seed in (("ResNet", 1), ("Vanilla", 2)):
        nds_records.write(tmp_path / f"{name}.json", nds_records.sweep(300, name, seed=seed))
    sources = [str(tmp_path / "ResNet.json"), str(tmp_path / "Vanilla.json")]
    summaries = []
    for i, normalize in enumerate((["flops,params"], ["flops", "--normalize", "params"])):
        out = tmp_path / f"report{i}"
        args = ["analyze", *sources, "--by", "source", "--normalize", *normalize, "-o", str(out)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "KS (flops-normalized)  p-value  KS (params-normalized)" in result.output
        summaries.append(json.loads((out / "summary.json").read_text()))
        html = (out / "index.html").read_text()
        assert 'src="edf-flops.png"' in html and 'src="edf-params.png"' in html
    assert summaries[0] == summaries[1]
    summary = summaries[0]
    assert summary["normalize"] == ["flops", "params"]
    assert {"edf-flops", "edf-params"} <= set(summary["plots"])
    (ks,) = summary["ks"]
    results = [load_results(s) for s in sources]
    for measure in ("flops", "params"):
        complexity = [np.array([getattr(r, measure) for r in rs], float) for rs in results]
        edges = complexity_edges(complexity, summary["bins"])
        weights = [normalized_weights(c, edges) for c in complexity]
        errors = [np.array([r.analysis_error for r in rs]) for rs in results]
        expected = ks_2samp(errors[0], errors[1], weights[0], weights[1])
        assert ks["normalized"][measure]["statistic"] == pytest.approx(expected.statistic, abs=1e-6)
    bad = CliRunner().invoke(
        main, ["analyze", *sources, "--normalize", "flops,acts", "-o", str(tmp_path / "r")]
    )
    assert bad.exit_code == 2 and not (tmp_path / "r").exists()
    assert bad.output == 'specgen analyze: --normalize: expected one of flops, params, got "acts"\n'


def test_nan_error_counts_as_diverged(tmp_path):
    records = nds_records.sweep(20, "ResNet", seed=5)
    records[3]["min_test_top1"] = float("nan")
    results = load_results(nds_records.write(tmp_path / "ResNet.json", records))
    assert [r.status for r in results].count("diverged") == 1 and results[3].status == "diverged"


BAD_RECORDS = [
    (
        lambda r: r["net"].update(block_type="mb_conv"),
        "[0].net.block_type: expected one of res_bottleneck_block, res_basic_block, double_plain_block,"
        " got 'mb_conv'",
    ),
    (lambda r: r["net"].update(ss=[3, 1, 2, 2]), "[0].net.ss[0]: expected a stem stride of 1, 2, 4, got 3"),
    (lambda r: r["net"]["ws"].__setitem__(2, 12.5), "[0].net.ws[2]: expected a whole number >= 1, got 12.5"),
    (lambda r: r["net"].update(ds=[1, 2]), "[0].net.ws: expected 2 values as in ds, got 4"),
    (lambda r: r["optim"].pop("wd"), "[0].optim.wd: expected a number, got null"),
    (lambda r: r.update(min_test_top1="7.5"), '[0].min_test_top1: expected a number, got "7.5"'),
    (lambda r: r.update(flops=-1), "[0]: flops: expected a value >= 0, got -1"),
]


@pytest.mark.parametrize(("spoil", "line"), BAD_RECORDS)
def test_bad_records_get_one_line(tmp_path, spoil, line):
    records = nds_records.sweep(3, "ResNet", seed=9)
    spoil(records[0])
    path = nds_records.write(tmp_path / "ResNet.json", records)
    result = CliRunner().invoke(main, ["analyze", str(path), "-o", str(tmp_path / "report")])
    assert result.exit_code == 2
    assert result.output == f"{path}: {line}\n"
    assert not (tmp_path / "report").exists()


def test_bottleneck_records_must_build(tmp_path):
    records = nds_records.sweep(2, "ResNeXt-A", seed=9)
    records[1]["net"]["bot_muls"][1] = 0.33
    path = nds_records.write(tmp_path / "ResNeXt-A.json", records)
    result = CliRunner().invoke(main, ["analyze", str(path), "-o", str(tmp_path / "report")])
    w, groups = records[1]["net"]["ws"][1], records[1]["net"]["num_gs"][1]
    expected = f"expected w·m whole and divisible by num_gs = {groups}, got {w}·0.33"
    assert result.output == f"{path}: [1].net.bot_muls[1]: {expected}\n"


def pycls_job(spec: NetworkSpec, top1: list[float], lr: float) -> dict:
    """A job of pycls's sweep.json: its log data by type (cfg, complexity, test_epoch lists)."""
    cx = complexity.count(spec)
    anynet = {"STEM_TYPE": spec.stem_type, "STEM_W": spec.stem_width, "BLOCK_TYPE": spec.block_type}
    anynet |= {"DEPTHS": spec.depths, "WIDTHS": spec.widths, "STRIDES": [s.stride for s in spec.stages]}
    anynet |= {
        "BOT_MULS": [1 / b for b in spec.bottleneck_ratios],
        "GROUP_WS": spec.group_widths,
        "SE_ON": False,
    }
    cfg = {"MODEL": {"TYPE": "anynet", "NUM_CLASSES": spec.num_classes}, "ANYNET": anynet}
    cfg |= {"TEST": {"IM_SIZE": spec.resolution}, "OPTIM": {"BASE_LR": lr, "WEIGHT_DECAY": 5e-5}}
    test = {"top1_err": top1, "epoch_ind": list(range(1, len(top1) + 1))}
    return {"cfg": cfg, "complexity": {"flops": cx.flops, "params": cx.params, "acts": cx.acts},
            "test_epoch": test, "log_file": "logs/x/stdout.log", "err": ""}  # fmt: skip


def test_pycls_sweep_json(tmp_path):
    net = NetworkSpec.model_validate(json.loads(Path("specs/examples/res_stem_cifar.json").read_text()))
    folder = tmp_path / "cifar_resnet"
    folder.mkdir()
    jobs = [pycls_job(net, [40.0, 20.5, 21.0], 0.1), pycls_job(net, [50.0, float("nan")], 0.2)]
    jobs.append({"cfg": jobs[0]["cfg"], "complexity": jobs[0]["complexity"], "err": "killed"})
    (folder / "sweep.json").write_text(json.dumps(jobs))
    results = load_results(folder / "sweep.json")
    assert [(r.space, r.status, r.error, r.design["lr"]) for r in results] == [
        ("cifar_resnet", "done", 0.205, 0.1),
        ("cifar_resnet", "done", 0.5, 0.2),
        ("cifar_resnet", "failed", None, 0.1),
    ]
    assert results[0].net == net.model_copy(update={"name": "cifar_resnet"})


def notebook_draws(errors, weights, k, rng):
    """The NDS notebook's random-search efficiency: (models // k) draws of k by cumulative weights."""
    cum = np.cumsum(weights)
    return [
        min(rng.choices(population=list(errors), cum_weights=list(cum), k=k)) for _ in range(len(errors) // k)
    ]


def test_num_samples_reproduces_the_notebook():
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.05, 0.2, 4000)
    weights = rng.uniform(0.5, 1.5, 4000)
    weights /= weights.sum()
    points = curve(errors, weights, seed=1)
    py = random.Random(1)
    for p in points:
        theirs = notebook_draws(errors, weights, p.n, py)
        if len(theirs) >= 100:  # enough draws for their mean to pin the expectation down
            se = np.std(theirs) / np.sqrt(len(theirs))
            assert abs(np.mean(theirs) - p.expected) < 4 * se + 1e-12
            assert abs(p.mean - p.expected) < 4 * se + 1e-12
        assert p.draws == len(theirs)
        assert p.low <= p.mean <= p.high


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=4), st.integers(1, 3))
def test_expected_min_by_enumeration(values, n):
    errors = np.array(values, dtype=float)
    weights = np.arange(1, len(values) + 1, dtype=float)
    p = weights / weights.sum()
    grids = np.meshgrid(*[np.arange(len(values))] * n, indexing="ij")
    picks = np.stack([g.ravel() for g in grids], axis=1)
    exact = np.sum(errors[picks].min(axis=1) * np.prod(p[picks], axis=1))
    assert expected_min(errors, weights, n) == pytest.approx(exact)
