"""`specgen time`: the emitted module and ONNX graph timed on synthetic inputs, on a CPU with tiny sizes.

The figures themselves are this machine's business; what is checked is what was timed (the emitted file,
the graph, each mode), how (warm-up, repeats, a synchronized clock), the spread and the output forms.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from specgen.cli import main
from specgen.emit.python import render_module
from specgen.errors import SpecError
from specgen.fmt import count_human, flops_human
from specgen.network import complexity
from specgen.network.spec import NetworkSpec, Stage
from specgen.sweep.store import TIMING_FIELDS, read_store
from specgen.train import timing

from .conftest import ROOT, SPECS

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = NetworkSpec(
    name="tiny",
    stem_width=8,
    stages=[
        Stage(depth=1, width=16, stride=2, bottleneck_ratio=1, group_width=8),
        Stage(depth=1, width=32, stride=2, bottleneck_ratio=1, group_width=8),
    ],
    num_classes=10,
)
FAST = ["--resolution", "32", "--batch-size", "2", "--warmup", "1", "--repeats", "3", "--device", "cpu"]


def _strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def spec_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    return "tiny.json"


def _time(*args: str):
    return CliRunner().invoke(main, ["time", *args], prog_name="specgen")


def test_the_json_has_a_row_per_runtime_and_mode_with_a_consistent_spread(spec_file):
    result = _time(spec_file, *FAST, "--runtime", "both", "--json")
    assert result.exit_code == 0, result.output
    out = _strict_json(result.stdout)
    rows = out["runs"]
    assert [(r["runtime"], r["mode"]) for r in rows] == [
        ("torch", "eval"),
        ("torch", "train"),
        ("onnxruntime", "eval"),
    ]
    at_32 = complexity.count(TINY.model_copy(update={"resolution": 32}))
    for row in rows:
        assert row["spec"] == "tiny.json" and row["name"] == "tiny" and row["resolution"] == 32
        assert (row["flops"], row["params"], row["acts"]) == (at_32.flops, at_32.params, at_32.acts)
        assert row["device"] == "cpu (1 thread)" and row["precision"] == "fp32" and not row["compiled"]
        assert len(row["seconds"]) == 3 and all(s > 0 for s in row["seconds"])
        assert row["q1_s"] <= row["median_s"] <= row["q3_s"]
        assert sorted(row["seconds"])[1] == row["median_s"]
        assert row["images_per_s"] == pytest.approx(2 / row["median_s"])
    assert out["versions"]["torch"] == torch.__version__ and "onnxruntime" in out["versions"]


def test_the_table_says_how_it_timed_and_has_a_row_per_runtime_and_mode(spec_file):
    result = _time(spec_file, *FAST, "--runtime", "both")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "cpu (1 thread), batch 2: median and quartiles of 3 timed calls after 1 warm-up"
    assert lines[2].split() == [
        "network", "px", "flops", "acts", "runtime", "mode", "precision", "median", "q1", "q3", "img/s"
    ]  # fmt: skip
    rows = [line.split() for line in lines[4:]]
    assert [(r[6], r[7], r[8]) for r in rows] == [
        ("torch", "forward", "fp32"),
        ("torch", "forward+backward", "fp32"),
        ("onnxruntime", "forward", "fp32"),
    ]
    at_32 = complexity.count(TINY.model_copy(update={"resolution": 32}))
    for r in rows:
        assert r[:6] == ["tiny", "32", *flops_human(at_32.flops).split(), *count_human(at_32.acts).split()]
        assert r[10] == r[12] == r[14] == "ms" and r[16] == "img/s"


def test_the_timed_module_is_the_emitted_file_in_the_cache(spec_file, tmp_path):
    result = _time(spec_file, *FAST, "--mode", "eval", "--cache", "cache")
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "cache").iterdir()
    assert path.read_text() == render_module(TINY.model_copy(update={"resolution": 32}))


def test_only_the_runtime_and_mode_asked_for_are_timed(spec_file):
    result = _time(spec_file, *FAST, "--runtime", "onnxruntime", "--json")
    assert [(r["runtime"], r["mode"]) for r in _strict_json(result.stdout)["runs"]] == [
        ("onnxruntime", "eval")
    ]


def test_bf16_autocasts_the_torch_rows_and_the_graph_stays_fp32(spec_file):
    result = _time(spec_file, *FAST, "--runtime", "both", "--mode", "eval", "--precision", "bf16", "--json")
    assert result.exit_code == 0, result.output
    assert [r["precision"] for r in _strict_json(result.stdout)["runs"]] == ["bf16", "fp32"]


def test_each_timed_call_is_synchronized_before_the_clock_is_read(monkeypatch):
    """On a GPU the clock would otherwise time the queueing of work, not the work."""
    events = []
    monkeypatch.setattr(timing, "sync", lambda device: events.append("sync"))
    settings = timing.Settings(torch.device("cpu"), "fp32", batch_size=2, warmup=2, repeats=3)
    steps = []
    seconds = list(timing.timed_calls(lambda: events.append("call"), settings, lambda: steps.append(1)))
    assert len(seconds) == 3 and len(steps) == 5
    assert events == ["call", "call", "sync"] + ["call", "sync"] * 3


def test_the_spread_is_the_median_and_quartiles_of_the_repeats():
    t = timing.Timing("tiny.json", TINY, "torch", "eval", "cpu", "fp32", 4, False, [5.0, 1.0, 4.0, 2.0, 3.0])
    assert t.quartiles() == (2.0, 3.0, 4.0)
    assert t.to_json()["images_per_s"] == 4 / 3.0


def test_compile_runs_the_emitted_module_through_torch_compile(spec_file, monkeypatch):
    compiled = []

    def fake_compile(model):
        compiled.append(type(model).__module__)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    result = _time(spec_file, *FAST, "--runtime", "both", "--mode", "eval", "--compile", "--json")
    assert result.exit_code == 0, result.output
    assert len(compiled) == 1 and compiled[0].startswith("_specgen_emitted_")
    assert [r["compiled"] for r in _strict_json(result.stdout)["runs"]] == [True, False]


def test_a_long_run_shows_a_progress_bar_that_is_gone_when_the_table_prints(spec_file, monkeypatch):
    short = _time(spec_file, *FAST, "--mode", "eval")
    assert short.exit_code == 0 and short.stderr == ""
    monkeypatch.setattr(timing, "PROGRESS_DELAY", 0.0)
    long = _time(spec_file, *FAST, "--mode", "eval")
    assert long.exit_code == 0, long.output
    assert "time:" in long.stderr and "call" in long.stderr
    assert long.stderr.endswith("\r") and "\n" not in long.stderr  # cleared, not left on screen


def test_samples_from_a_jsonl_file_are_timed_each_by_its_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = json.dumps({"id": "x", "spec": TINY.model_dump(mode="json")})
    (tmp_path / "samples.jsonl").write_text(line + "\n" + line + "\n")
    result = _time("samples.jsonl", *FAST, "--mode", "eval", "--json")
    assert result.exit_code == 0, result.output
    assert [r["spec"] for r in _strict_json(result.stdout)["runs"]] == ["samples.jsonl:1", "samples.jsonl:2"]


BAD = [
    (["missing.json"], "missing.json: $: file not found"),
    (["bad.json"], "bad.json: w0: must be a multiple of q = 8, got 20"),
    (["tiny.json", "--device", "tpu"], "--device: $: expected auto, cpu or cuda[:N], got 'tpu'"),
    (["tiny.json", "--precision", "fp16"], "--precision: $: expected auto, bf16 or fp32, got 'fp16'"),
    (
        ["tiny.json", "--batch-size", "1"],
        "specgen time: Invalid value for '--batch-size': 1 is not in the range 2<=x<=65536. "
        "(see 'specgen time --help')",
    ),
    (
        ["tiny.json", "--runtime", "tensorflow"],
        "specgen time: Invalid value for '--runtime': 'tensorflow' is not one of 'torch', 'onnxruntime', "
        "'both'. (see 'specgen time --help')",
    ),
    (
        ["tiny.json", "--resolution", "4"],
        "specgen time: Invalid value for '--resolution': 4 is not in the range 8<=x<=2048. "
        "(see 'specgen time --help')",
    ),
    (
        ["tiny.json", "--repeats", "0"],
        "specgen time: Invalid value for '--repeats': 0 is not in the range 1<=x<=10000. "
        "(see 'specgen time --help')",
    ),
    (
        ["tiny.json", "--runtime", "onnxruntime", "--mode", "train"],
        "--mode: $: expected eval or both with --runtime onnxruntime, which runs inference only",
    ),
    (["tiny.json", "--cache", "tiny.json/cache"], None),  # the cache folder cannot be made under a file
]
if not torch.cuda.is_available():
    BAD.append(
        (["tiny.json", "--device", "cuda"], "--device: $: expected a CUDA device, but none is available here")
    )


@pytest.mark.parametrize(("args", "line"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_nothing_made(spec_file, tmp_path, args, line):
    bad = json.loads((SPECS / "regnetx_600mf.json").read_text()) | {"w0": 20}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _time(*FAST[:-2], *args)  # the bad value last, where click takes it
    assert result.exit_code == 2 and result.stdout == ""
    (said,) = result.stderr.splitlines()
    if line is None:
        assert said.startswith("--cache: $: cannot make the cache folder tiny.json/cache: ")
    else:
        assert said == line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no cache folder, no partial output


def test_onnxruntime_without_a_cuda_provider_is_refused_for_cuda():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(SpecError) as e:
        timing.check_onnxruntime(torch.device("cuda"))
    assert str(e.value) == "--runtime: $: expected onnxruntime with CUDA (onnxruntime-gpu) to time on cuda"


BENCH = ROOT / "bench" / "gpu_timing.py"


def test_the_gpu_benchmark_runs_on_cpu_and_its_ratios_divide_its_figures(tmp_path):
    """It can only be measured where a GPU is lent; here its code runs end to end on tiny sizes."""
    tiny = ["--device", "cpu", "--resolution", "32", "--batch-size", "2", "--warmup", "1", "--repeats", "3"]
    args = [sys.executable, str(BENCH), *tiny, "--models", "regnetx_200mf,regnety_200mf,regnetx_400mf"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "cpu (1 thread), batch 2 at 32 px, fp32: median ms of 3 calls"
    rows = [line.split() for line in lines[2:8]]
    assert [r[:2] for r in rows] == [
        [model, mode] for model in ("regnetx_200mf", "regnety_200mf", "regnetx_400mf")
        for mode in ("forward", "forward+backward")
    ]  # fmt: skip
    for _, _, ours, base, ratio in rows:
        slack = float(ratio) * (0.005 / float(ours) + 0.005 / float(base)) + 0.0005
        assert abs(float(ratio) - float(ours) / float(base)) <= slack
    assert re.fullmatch(r"median ratio ours / torchvision, forward: \d+\.\d{3}", lines[8])
    for label, line in zip(("forward", "forward+backward"), lines[10:12], strict=True):
        assert re.fullmatch(
            rf"correlation of {re.escape(label)} time with flops: -?[\d.]+, with acts: -?[\d.]+", line
        )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_the_gpu_benchmark_without_a_gpu_says_so_in_one_line():
    run = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (
        "bench/gpu_timing.py: no CUDA device here; run it where a GPU is lent (--device cpu: a check)\n"
    )


SWEEP = ["sweep", "anynetx_e", "--n", "2", "--flops", "200K:600K", "--epochs", "1", "--data", "synthetic:64"]
SWEEP += ["--resolution", "16", "--batch-size", "16", "--device", "cpu", "--store", "sweep.db"]


def _sweep(*args: str) -> None:
    result = CliRunner().invoke(main, [*SWEEP, *args], prog_name="specgen")
    assert result.exit_code == 0, result.output


def test_sweep_time_records_each_run_s_forward_and_forward_backward_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _sweep("--time")
    settings, _, runs = read_store("sweep.db")
    assert settings["time"] is True and len(runs) == 2
    for run in runs:
        assert run["status"] == "done"
        assert run["forward_seconds"] > 0 and run["forward_backward_seconds"] > 0
    assert CliRunner().invoke(main, ["sweep", "export", "sweep.db", "-o", "runs.csv"]).exit_code == 0
    header = (tmp_path / "runs.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["forward_seconds", "forward_backward_seconds"]


def _downgrade_to_format_2(path) -> None:
    """The store as format 2 wrote it: no timing columns (nor format 4's hyperparameters)."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE runs DROP COLUMN hyperparameters")
    db.execute("ALTER TABLE runs DROP COLUMN forward_seconds")
    db.execute("ALTER TABLE runs DROP COLUMN forward_backward_seconds")
    db.execute("UPDATE meta SET value = 'specgen-sweep/2' WHERE key = 'format'")
    db.commit()
    db.close()


def test_a_store_without_timings_reads_as_before_and_a_resumed_sweep_upgrades_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _sweep()
    settings, counts, runs = read_store("sweep.db")
    assert "time" not in settings
    assert all(key not in run for run in runs for key in TIMING_FIELDS)
    _downgrade_to_format_2("sweep.db")
    assert read_store("sweep.db") == (settings, counts, runs)
    refused = CliRunner().invoke(main, [*SWEEP, "--time"], prog_name="specgen")
    assert refused.exit_code == 2
    assert "sweep.db: time: this store holds a sweep with time = None, not True" in refused.stderr
    db = sqlite3.connect("sweep.db")
    db.execute("UPDATE runs SET status = 'pending' WHERE id = ?", (runs[1]["id"],))
    db.commit()
    db.close()
    _sweep()
    db = sqlite3.connect("sweep.db")
    assert db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == ("specgen-sweep/4",)
    db.close()
    resumed = read_store("sweep.db")[2]
    assert resumed[0] == runs[0] and resumed[1]["status"] == "done"
    assert all(key not in run for run in resumed for key in TIMING_FIELDS)
