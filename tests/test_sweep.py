"""Sweeps end to end on CPU: a handful of tiny networks for one epoch of digits at 16 px, through the
local executor and through Ray (the same runs either way), killed with SIGKILL and resumed, exported."""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from specgen.cli import main
from specgen.sweep.store import read_results

N = 4
SWEEP = ["anynetx_e", "--n", str(N), "--flops", "200K:600K", "--epochs", "1", "--data", "digits"]
SWEEP += ["--resolution", "16", "--batch-size", "64", "--lr", "0.4", "--device", "cpu", "--seed", "3"]


# One intra-op thread, as each Ray task has: runs are then bit-identical across executors.
pytestmark = pytest.mark.usefixtures("one_thread")


def sweep(*args: str) -> dict:
    result = CliRunner().invoke(main, ["sweep", *args])
    assert result.exit_code == 0, result.output + str(result.exception)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    out = sweep(*SWEEP, "--store", str(folder / "sweep.db"), "--cache", str(folder / "cache"))
    assert out["counts"] == {"done": N}
    return folder / "sweep.db"


def test_a_local_sweep_trains_every_sample_once(local_store):
    runs = read_results(local_store)
    assert len(runs) == N and len({r["id"] for r in runs}) == N
    assert [r["index"] for r in runs] == list(range(N))
    for r in runs:
        assert r["status"] == "done" and r["epochs"] == 1 and r["attempts"] == 1
        assert 200_000 <= r["flops"] <= 600_000 and r["resolution"] == 16  # the band, at 16 px
        assert 0 <= r["error"] <= 1 and r["best_error"] == r["error"]
        assert abs(r["onnx_error"] - r["error"]) <= 0.001
        assert (
            r["device"] == "cpu (1 thread)"
            and r["precision"] == "fp32"
            and r["versions"]["torch"] == torch.__version__
        )
    again = sweep(*SWEEP, "--store", str(local_store))  # a rerun of a finished sweep trains nothing
    assert again["counts"] == {"done": N}
    assert read_results(local_store) == runs


def test_the_sweep_command_without_run_is_the_same_as_with_it(local_store):
    assert sweep("run", *SWEEP, "--store", str(local_store))["counts"] == {"done": N}


@pytest.mark.parametrize(
    ("change", "field"), [(("0.4", "0.3"), "schedule"), (("cpu", "cpu", "--precision", "bf16"), "precision")]
)
def test_a_store_refuses_a_rerun_with_other_settings(local_store, change, field):
    old, *new = change
    args = [b for a in SWEEP for b in (new if a == old else [a])]
    result = CliRunner().invoke(main, ["sweep", *args, "--store", str(local_store)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"{local_store}: {field}: this store holds a sweep with")


def test_status_summarizes_the_store(local_store):
    result = CliRunner().invoke(main, ["sweep", "status", str(local_store)])
    assert result.exit_code == 0
    assert "anynetx_e n=4 seed=3 data=digits at 16 px, 1 epochs, precision auto" in result.stdout
    assert f"trained on cpu (1 thread) in fp32: {N} runs" in result.stdout
    done = [line.split() for line in result.stdout.splitlines() if line.startswith("done")]
    assert done == [["done", str(N)]]
    info = json.loads(CliRunner().invoke(main, ["sweep", "status", str(local_store), "--json"]).stdout)
    errors = sorted(r["error"] for r in read_results(local_store))
    assert info["counts"]["done"] == N and info["error"]["min"] == errors[0]
    assert info["trained_on"] == {"cpu (1 thread) in fp32": N}
    assert [r["error"] for r in info["best"]] == errors


def test_export_writes_jsonl_and_csv(local_store, tmp_path):
    runs = read_results(local_store)
    for name in ("runs.jsonl", "runs.csv"):
        result = CliRunner().invoke(main, ["sweep", "export", str(local_store), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert lines == runs
    with (tmp_path / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [r["id"] for r in runs]
    assert [float(r["error"]) for r in rows] == [r["error"] for r in runs]
    assert json.loads(rows[0]["spec"]) == runs[0]["spec"]


def test_a_ray_sweep_holds_the_same_runs(local_store, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    try:
        args = ["--store", str(tmp_path / "ray.db"), "--cache", str(tmp_path / "cache")]
        out = sweep(*SWEEP, *args, "--executor", "ray")
    finally:
        ray.shutdown()
    assert out["counts"] == {"done": N}
    local, remote = read_results(local_store), read_results(tmp_path / "ray.db")
    assert [r["id"] for r in remote] == [r["id"] for r in local]
    assert [r["status"] for r in remote] == [r["status"] for r in local]
    # The same seed, one thread each, fp32 on CPU: training is deterministic, so the errors agree exactly.
    assert [r["error"] for r in remote] == [r["error"] for r in local]
    assert [r["onnx_error"] for r in remote] == [r["onnx_error"] for r in local]


def test_a_pool_of_local_workers_holds_the_same_runs(local_store, tmp_path):
    args = ["--store", str(tmp_path / "pool.db"), "--cache", str(tmp_path / "cache"), "--workers", "2"]
    assert sweep(*SWEEP, *args)["counts"] == {"done": N}
    local, pooled = read_results(local_store), read_results(tmp_path / "pool.db")
    assert [(r["id"], r["status"], r["epochs"]) for r in pooled] == [
        (r["id"], r["status"], r["epochs"]) for r in local
    ]


def test_a_pool_worker_that_dies_is_one_line_and_the_sweep_resumes(tmp_path):
    import multiprocessing

    from specgen.errors import SpecError
    from specgen.sweep.executors import ProcessPool
    from specgen.sweep.worker import Job
    from specgen.train.schedule import Schedule

    job = Job("synthetic:64", 16, Schedule(epochs=1, batch_size=16), device="cpu", cache_dir=str(tmp_path))
    pool = ProcessPool(job, 1)
    try:
        pool.submit("a", {"kind": "anynet"})
        for worker in multiprocessing.active_children():  # what the kernel's OOM killer does
            os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(SpecError) as error:
            pool.wait()
    finally:
        pool.close()
    assert str(error.value) == (
        "--workers: $: a worker process died while training (killed, or out of memory); "
        "rerun the same command to resume, perhaps with fewer --workers"
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_pool_workers_end_with_a_driver_killed_by_sigkill(tmp_path):
    driver = (
        "import multiprocessing, sys, time\n"
        "from specgen.sweep.executors import ProcessPool\n"
        "from specgen.sweep.worker import Job\n"
        "from specgen.train.schedule import Schedule\n"
        "schedule = Schedule(epochs=10_000, batch_size=16)\n"
        "job = Job('synthetic:64', 16, schedule, device='cpu', cache_dir=sys.argv[1])\n"
        "pool = ProcessPool(job, 2)\n"
        "spec = {'kind': 'anynet', 'name': 't', 'stages': [{'depth': 1, 'width': 8, 'group_width': 8}]}\n"
        "pool.submit('a', spec)\n"
        "pool.submit('b', spec)\n"
        "print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", driver, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        workers = [int(pid) for pid in process.stdout.readline().split()]
        assert len(workers) == 2 and all(map(_alive, workers))
        time.sleep(1)  # killed even before the workers have imported torch
        process.kill()
        process.wait()
        deadline = time.monotonic() + 60
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(map(_alive, workers))
    finally:
        process.kill()


def test_a_ray_task_whose_worker_dies_is_a_failed_run(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    from specgen.sweep import ray_executor
    from specgen.sweep.worker import Job

    @ray.remote(max_retries=0)
    def dies(job, spec, hyperparameters):
        os._exit(1)

    monkeypatch.setattr(ray_executor, "_train", dies)
    ray.init(num_cpus=1, include_dashboard=False, logging_level=logging.ERROR)
    try:
        executor = ray_executor.RayExecutor(Job("digits", 16, cache_dir=str(tmp_path)))
        executor.submit("a", {"kind": "anynet"})
        [(run_id, result)] = executor.wait()
        executor.close()
    finally:
        ray.shutdown()
    assert run_id == "a" and result["status"] == "failed" and result["device"] == "cpu"
    assert result["message"].startswith("WorkerCrashedError: The worker died"), result


def _statuses(db_path) -> dict[str, tuple]:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT id, status, attempts, finished_at FROM runs").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return {}
    return {run_id: rest for run_id, *rest in rows}


def test_a_killed_sweep_resumes_without_retraining(tmp_path):
    store = tmp_path / "sweep.db"
    args = [*SWEEP, "--store", str(store), "--cache", str(tmp_path / "cache")]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "specgen", "sweep", *args]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not any(s[0] == "done" for s in _statuses(store).values()):
            assert process.poll() is None and time.monotonic() < deadline, "the sweep ended unkilled"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    before = _statuses(store)
    finished = {k: v for k, v in before.items() if v[0] == "done"}
    assert len(before) == N and 1 <= len(finished) < N

    out = sweep(*args)
    assert out["counts"] == {"done": N}
    after = _statuses(store)
    assert {k: after[k] for k in finished} == finished  # not retrained: same attempt count and finish time
    for run_id, (status, _, _) in before.items():
        expected = {"done": 1, "running": 2, "pending": 1}[status]  # a run cut off mid-training is redone
        assert after[run_id][1] == expected
    db = sqlite3.connect(store)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM runs").fetchone() == (N, N)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM epochs").fetchone() == (N, N)
    db.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("--data", "cifar10:nowhere"), "nowhere: $: expected the CIFAR-10 python folder"),
        (("anynetx_e", "anynetx_z"), "anynetx_z: $: "),
        (("200K:600K", "600K:200K"), "--flops: $: expected LO <= HI, got '600K:200K'"),
        (("--cache", "{tmp}/file/cache"), "--cache: $: cannot make the cache folder {tmp}/file/cache: "),
        (("--precision", "fp16"), "--precision: $: expected auto, bf16 or fp32, got 'fp16'"),
        (("--device", "tpu"), "--device: $: expected auto, cpu or cuda[:N], got 'tpu'"),
    ],
)
def test_bad_input_leaves_no_store(change, expected, tmp_path):
    (tmp_path / "file").write_text("a file where the cache folder's parent should be")
    old, new = (part.format(tmp=tmp_path) for part in change)
    expected = expected.format(tmp=tmp_path)
    args = [*SWEEP, old, new] if old.startswith("--") else [new if a == old else a for a in SWEEP]
    result = CliRunner().invoke(main, ["sweep", *args, "--store", str(tmp_path / "sweep.db")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(expected) and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sweep.db").exists()


def test_bad_data_a_worker_finds_is_the_only_line_before_any_progress_bar(tmp_path):
    """The batch is checked against the data once it is loaded where runs train, before the bar starts."""
    args = [*SWEEP, "--batch-size", "5000", "--store", str(tmp_path / "sweep.db"), "--cache", str(tmp_path)]
    result = CliRunner().invoke(main, ["sweep", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr == "--batch-size: $: expected at most the 1437 training images, got 5000\n"
    assert not (tmp_path / "sweep.db").exists()


def test_a_network_that_fails_to_train_is_recorded_not_raised(tmp_path):
    from specgen.sweep.worker import Job, train_task
    from specgen.train.schedule import Schedule

    job = Job("synthetic:32", 16, Schedule(epochs=1, batch_size=16), device="cpu", cache_dir=str(tmp_path))
    failed = train_task(job, {"kind": "anynet", "name": "broken", "stages": []})
    assert failed["status"] == "failed" and "ValidationError" in failed["message"]
    invalid = train_task(Job("cifar10:nowhere", 16), {"kind": "anynet"})
    assert invalid == {"status": "invalid", "spec_error": ["nowhere", "$", invalid["spec_error"][2]]}


def test_an_executor_that_refuses_leaves_no_store(tmp_path):
    from specgen.errors import ROOT, SpecError
    from specgen.sweep.driver import Sweep, run_sweep
    from specgen.sweep.worker import Job

    def no_gpu():
        raise SpecError("--gpus-per-run", ROOT, "the Ray cluster has no GPU for 1 per run")

    plan = Sweep("anynetx_e", 2, Job("digits", 16), (200_000, 600_000))
    with pytest.raises(SpecError, match="no GPU"):
        run_sweep(plan, tmp_path / "sweep.db", no_gpu, progress=False)
    assert not list(tmp_path.iterdir())


def test_a_sweep_whose_store_meets_a_full_disk_leaves_no_store_and_no_cache_it_made(tmp_path, full_disk):
    disk, fill = full_disk
    fill()
    store, cache = disk / "sweep.db", tmp_path / "new" / "cache"
    result = CliRunner().invoke(main, ["sweep", *SWEEP, "--store", str(store), "--cache", str(cache)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{store}: $: cannot make the store: database or disk is full\n"
    assert [p.name for p in disk.iterdir()] == [".filler"] and not (tmp_path / "new").exists()
