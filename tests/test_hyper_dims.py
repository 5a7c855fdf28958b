"""Training hyperparameters as dimensions: a space draws lr, weight_decay and epochs per sample, a sweep
trains each run with its own and records them, and analyze plots error against them."""

from __future__ import annotations

import copy
import json
import sqlite3
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from specgen.analysis.results import load_results, plainly_valid_rows, result_from_row
from specgen.cli import main
from specgen.errors import SpecError
from specgen.network.spec import NetworkSpec
from specgen.space import sizes
from specgen.space.sampler import run_hash, sample
from specgen.space.schema import validate_space
from specgen.sweep.store import read_store
from specgen.testing import space_samples

NETWORK = {
    "stem_type": "res_stem_cifar",
    "block_type": "res_basic_block",
    "stem_width": 16,
    "num_classes": 10,
    "resolution": 32,
    "parameters": {
        "depth": {"type": "int", "min": 1, "max": 2},
        "width": {"type": "choice", "values": [8, 16]},
        "bottleneck_ratio": {"type": "choice", "values": [1]},
        "group_width": {"type": "choice", "values": [1]},
    },
    "constraints": [{"name": "num_stages", "value": 3}, {"name": "divisible"}],
}
OPTIM = {
    # pycls's cifar_optim ranges, log-uniform; a quantum makes them countable grids.
    "lr": {"type": "float", "min": 0.25, "max": 5.0, "quantum": 0.0001, "distribution": "log_uniform"},
    "weight_decay": {
        "type": "float",
        "min": 5e-5,
        "max": 1e-3,
        "quantum": 1e-7,
        "distribution": "log_uniform",
    },
}


def _space(name: str = "tiny_optim", hyperparameters: dict | None = None, **network):
    data = {"name": name, **NETWORK, **network}
    if hyperparameters is not None:
        data["hyperparameters"] = hyperparameters
    return validate_space(data, f"{name}.json")


PLAIN = _space("tiny")
OPTIMIZED = _space(hyperparameters=OPTIM)
NETWORK_ONE = {"depth": 1, "width": 16, "bottleneck_ratio": 1, "group_width": 1}


# --- the space and its samples -----------------------------------------------------------------


def test_a_space_without_hyperparameters_dumps_and_samples_as_before():
    assert "hyperparameters" not in PLAIN.model_dump()
    for s in sample(PLAIN, 5, seed=3):
        assert s.id == s.spec.content_hash()
        assert "hyperparameters" not in s.to_json()


def test_hyperparameters_are_drawn_after_the_network_from_their_own_stream():
    plain, drawn = sample(PLAIN, 50, seed=7), sample(OPTIMIZED, 50, seed=7)
    assert [s.design for s in plain] == [s.design for s in drawn]
    lrs = [s.hyperparameters["lr"] for s in drawn]
    assert len(set(lrs)) > 40 and all(0.25 <= lr <= 5.0 for lr in lrs)
    assert all(5e-5 <= s.hyperparameters["weight_decay"] <= 1e-3 for s in drawn)
    line = drawn[0].to_json()
    assert list(line)[:6] == ["id", "space", "seed", "index", "design", "hyperparameters"]
    assert sample(OPTIMIZED, 50, seed=7) == drawn  # a seed gives the same samples


def test_a_sample_s_id_depends_on_its_hyperparameters():
    s = sample(OPTIMIZED, 1, seed=0)[0]
    assert s.id == run_hash(s.spec, s.hyperparameters) != s.spec.content_hash()
    other = dict(s.hyperparameters, lr=s.hyperparameters["lr"] * 2)
    assert run_hash(s.spec, other) != s.id
    assert s.spec.name.endswith(s.id[:12])


def test_unique_keeps_a_network_drawn_again_with_other_hyperparameters():
    # One network: --unique tells runs apart by their hyperparameters too.
    fixed = {p: {"type": "choice", "values": [v]} for p, v in NETWORK_ONE.items()}
    space = _space(parameters=fixed, hyperparameters=OPTIM)
    drawn = sample(space, 20, seed=0, unique=True)
    assert len({s.spec.content_hash() for s in drawn}) == 1
    assert len({s.id for s in drawn}) == 20


@settings(max_examples=30, deadline=None)
@given(space_samples(OPTIMIZED))
def test_every_strategy_sample_carries_hyperparameters_from_the_supports(s):
    for name, value in s.hyperparameters.items():
        assert value in OPTIMIZED.hyperparameters[name].support.tolist()
    assert s.id == run_hash(s.spec, s.hyperparameters)
    NetworkSpec.model_validate(s.to_json()["spec"])


def test_sizes_multiply_by_the_hyperparameters_grid_values():
    space = _space(
        hyperparameters={
            "lr": {"type": "choice", "values": [0.1, 0.2, 0.4]},
            "epochs": {"type": "choice", "values": [1, 2]},
        }
    )
    assert sizes.exact_size(space) == 6 * sizes.exact_size(PLAIN)
    assert sizes.nominal_size(space) == 6 * sizes.nominal_size(PLAIN)
    assert sizes.degrees_of_freedom(space) == sizes.degrees_of_freedom(PLAIN) + 2
    # A log-uniform float range counts its grid: 47,501 lrs and 9,501 weight decays.
    assert sizes.exact_size(OPTIMIZED) == 47_501 * 9_501 * sizes.exact_size(PLAIN)
    listed = sizes.summary(OPTIMIZED)["hyperparameters"]
    assert listed["lr"] == {"distribution": "log_uniform", "values": 47_501, "min": 0.25, "max": 5.0}
    assert "hyperparameters" not in sizes.summary(PLAIN)


BAD = [
    ({"momentum": OPTIM["lr"]}, "hyperparameters.momentum"),
    (
        {"lr": {"type": "float", "min": 0.0, "max": 1.0, "quantum": 0.5}},
        "hyperparameters.lr: expected values in (0, 100], got 0..1",
    ),
    (
        {"weight_decay": {"type": "choice", "values": [0.5, 2.0]}},
        "hyperparameters.weight_decay: expected values in [0, 1], got 0.5..2",
    ),
    (
        {"epochs": {"type": "choice", "values": [1.5, 3]}},
        "hyperparameters.epochs: expected integer values for epochs: an int domain or integer choices",
    ),
    (
        {"epochs": {"type": "int", "min": 0, "max": 3}},
        "hyperparameters.epochs: expected values in [1, 10000], got 0..3",
    ),
    (
        {"lr": {"type": "float", "min": 0.25, "max": 5.0, "quantum": 1e-10}},
        "hyperparameters.lr: expected at most 100,000 values, got ",  # pycls's quantum 1e-10
    ),
]


@pytest.mark.parametrize(("hyperparameters", "line"), BAD)
def test_bad_hyperparameters_are_refused_with_one_line(hyperparameters, line):
    with pytest.raises(SpecError) as e:
        _space(hyperparameters=hyperparameters)
    assert str(e.value).startswith(f"tiny_optim.json: {line}")


# --- a sweep with sampled lr and weight decay, analyzed --------------------------------------------


def _space_file(tmp_path, hyperparameters: dict) -> str:
    path = tmp_path / "optim.json"
    path.write_text(json.dumps({"name": "tiny_optim", **NETWORK, "hyperparameters": hyperparameters}))
    return str(path)


def _sweep(space: str, *args: str):
    command = ["sweep", space, "--n", "3", "--data", "synthetic:64", "--resolution", "16"]
    command += ["--batch-size", "16", "--device", "cpu", "--store", "sweep.db", *args]
    return CliRunner().invoke(main, command, prog_name="specgen")


def test_a_sweep_trains_each_run_with_its_own_hyperparameters_and_analyze_plots_error_against_lr(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    drawn_epochs = {"epochs": {"type": "choice", "values": [1, 2]}}
    space = _space_file(tmp_path, OPTIM | drawn_epochs)
    result = _sweep(space)
    assert result.exit_code == 0, result.output
    _, counts, runs = read_store("sweep.db")
    assert counts == {"done": 3}
    expected = [s.to_json() for s in sample(_space(hyperparameters=OPTIM | drawn_epochs), 3, resolution=16)]
    assert [r["hyperparameters"] for r in runs] == [s["hyperparameters"] for s in expected]
    assert [r["id"] for r in runs] == [s["id"] for s in expected]
    # Each run trained for its own epochs (one recorded per epoch), not the sweep's default 10.
    assert [r["epochs"] for r in runs] == [r["hyperparameters"]["epochs"] for r in runs]
    assert {r["hyperparameters"]["epochs"] for r in runs} <= {1, 2}
    header = CliRunner().invoke(main, ["sweep", "status", "sweep.db"]).output.splitlines()[0]
    assert header.endswith("at 16 px (lr, weight_decay, epochs drawn per run), precision auto")

    report = CliRunner().invoke(main, ["analyze", "sweep.db", "-o", "report", "--json"])
    assert report.exit_code == 0, report.output
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    (group,) = summary["groups"]
    assert {"lr", "wd", "epochs"} <= set(group["ranges"])
    assert 0.25 <= group["ranges"]["lr"]["best"] <= 5.0
    for name in ("lr", "wd", "epochs"):
        assert (tmp_path / "report" / f"scatter-{name}.png").stat().st_size > 0

    # The export holds them, and analyze reads them back from CSV and JSONL alike.
    for out in ("runs.csv", "runs.jsonl"):
        exported = CliRunner().invoke(main, ["sweep", "export", "sweep.db", "-o", out])
        assert exported.exit_code == 0, exported.output
        again = load_results(out)
        assert [r.hyperparameters for r in again] == [r["hyperparameters"] for r in runs]


def test_a_hyperparameter_set_on_the_command_line_and_drawn_by_the_space_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space = _space_file(tmp_path, OPTIM)
    assert _sweep(space, "--epochs", "1").exit_code == 0  # one the space does not draw
    assert (
        "data=synthetic:64 at 16 px, 1 epochs (lr, weight_decay drawn per run), precision"
        in CliRunner().invoke(main, ["sweep", "status", "sweep.db"]).output
    )
    (tmp_path / "sweep.db").unlink()
    for option, value in (("--lr", "0.1"), ("--weight-decay", "5e-5"), ("--lr", "0.05")):
        result = _sweep(space, option, value)
        assert result.exit_code == 2
        name = option[2:].replace("-", "_")
        assert result.stderr == (
            f"{option}: $: the space tiny_optim draws {name} for every run; leave "
            f"{option} out (or take {name} out of the space's hyperparameters)\n"
        )
        assert not (tmp_path / "sweep.db").exists()


def test_a_format_3_store_reads_as_before_and_a_resumed_sweep_upgrades_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space = _space_file(tmp_path, {})
    assert _sweep(space, "--epochs", "1").exit_code == 0
    before = read_store("sweep.db")
    assert all("hyperparameters" not in r for r in before[2])
    db = sqlite3.connect("sweep.db")
    db.execute("ALTER TABLE runs DROP COLUMN hyperparameters")
    db.execute("UPDATE meta SET value = 'specgen-sweep/3' WHERE key = 'format'")
    db.execute("UPDATE runs SET status = 'pending' WHERE id = ?", (before[2][2]["id"],))
    db.commit()
    db.close()
    assert read_store("sweep.db")[2] == before[2][:2]
    assert _sweep(space, "--epochs", "1").exit_code == 0
    db = sqlite3.connect("sweep.db")
    assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == ("specgen-sweep/4",)
    db.close()
    after = read_store("sweep.db")[2]
    assert after[:2] == before[2][:2] and after[2]["status"] == "done"


def test_a_task_trains_with_its_own_hyperparameters_in_place_of_the_job_s(monkeypatch):
    from specgen.sweep import worker
    from specgen.train.schedule import Schedule

    used = []

    class Trainer:
        def train(self, net, schedule, seed, onnx_check):
            used.append(schedule)
            return SimpleNamespace(to_json=lambda: {"status": "done"})

    monkeypatch.setattr(worker, "trainer_for", lambda job: Trainer())
    job = worker.Job("synthetic:64", 16, Schedule(epochs=3, lr=0.05, weight_decay=5e-5))
    spec = sample(OPTIMIZED, 1)[0].to_json()["spec"]
    worker.train_task(job, spec, {"lr": 1.5, "weight_decay": 2e-4})
    worker.train_task(job, spec)
    assert used == [Schedule(epochs=3, lr=1.5, weight_decay=2e-4), job.schedule]


def test_a_store_s_hyperparameters_that_are_not_an_object_are_one_line(tmp_path):
    from specgen.sweep.store import Store

    line = sample(OPTIMIZED, 1)[0].to_json()
    store = Store.create(tmp_path / "s.db")
    store.add([line])
    assert store.runs()[0]["hyperparameters"] == line["hyperparameters"]
    store.db.execute("UPDATE runs SET hyperparameters = '[1]'")
    with pytest.raises(SpecError) as e:
        store.runs()
    store.close()
    assert (
        str(e.value)
        == f"{tmp_path / 's.db'}: {line['id']}: hyperparameters: expected a JSON object, got an array"
    )


# --- rows with hyperparameters: checked column-wise and by the model alike ------------------------

DEFAULT_TYPES = _space(hyperparameters=OPTIM, stem_type="simple_stem_in", block_type="res_bottleneck_block")
ROW = {
    **sample(DEFAULT_TYPES, 1, seed=1)[0].to_json(),  # default types: bulk's plain form
    "error": 0.5,
    "status": "done",
}
EDGES = [
    ({"lr": 0.0}, "hyperparameters.lr: expected a value > 0, got 0.0"),
    ({"lr": 100.5}, "hyperparameters.lr: expected a value <= 100, got 100.5"),
    ({"weight_decay": -1e-5}, "hyperparameters.weight_decay: expected a value >= 0, got -1e-05"),
    ({"epochs": 1.0}, "hyperparameters.epochs: expected an integer, got 1.0"),
    ({"epochs": True}, "hyperparameters.epochs: expected an integer, got true"),
    ({"momentum": 0.9}, "hyperparameters.momentum: unknown field"),
    ({"lr": "0.1"}, 'hyperparameters.lr: expected a number, got "0.1"'),
    ([0.1], "hyperparameters: expected an object, got [0.1]"),
]


@pytest.mark.parametrize(("hyperparameters", "line"), EDGES)
def test_a_bad_row_s_hyperparameters_get_one_line_and_are_never_plainly_valid(hyperparameters, line):
    row = copy.deepcopy(ROW)
    row["hyperparameters"] = (
        hyperparameters
        if isinstance(hyperparameters, list)
        else {**row["hyperparameters"], **hyperparameters}
    )
    assert not plainly_valid_rows([row])[0]
    with pytest.raises(SpecError) as e:
        result_from_row(row, "rows.jsonl:1", "rows.jsonl")
    assert str(e.value) == f"rows.jsonl:1: {line}"


def test_good_rows_with_and_without_hyperparameters_are_plainly_valid():
    without = {k: v for k, v in ROW.items() if k != "hyperparameters"}
    integral = copy.deepcopy(ROW) | {"hyperparameters": {"lr": 1, "weight_decay": 0, "epochs": 3}}
    assert plainly_valid_rows([ROW, without, integral]).all()
    for row in (ROW, without, integral):
        assert result_from_row(row, "r", "r").hyperparameters == row.get("hyperparameters", {})
