"""The shared trainer on CPU against two named baselines, measured in the same run.

1. Throughput: the trainer (device augmentation, per-step cosine lr, divergence
   checks, the emitted module imported from its file) against a plain
   hand-written PyTorch loop (pre-normalized tensors, no augmentation, no
   schedule) training the same emitted network on the same images. Rounds
   alternate between the two; prints the median images/s of each and the
   ratio trainer / plain loop (target >= 0.95).
2. Per-model overhead: a queue of small networks trained by one long-lived
   Trainer (data loaded once) against a fresh `specgen train` process per
   network (interpreter, torch import, data loading every time). Prints the
   median wall seconds per network of each, their difference and ratio.

    python bench/bench_trainer.py [--threads 1] [--rounds 3] [--models 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from specgen.network.spec import NetworkSpec, Stage
from specgen.specfile import load_spec
from specgen.train.data import load_data
from specgen.train.modules import network_class
from specgen.train.schedule import Schedule
from specgen.train.trainer import Trainer, fit_to_data

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_SPEC = ROOT / "specs" / "regnetx_200mf.json"


def plain_loop(cls: type, x: torch.Tensor, y: torch.Tensor, schedule: Schedule, seed: int) -> float:
    """The baseline: the loop a person writes by hand. Returns training images per second."""
    torch.manual_seed(seed)
    model = cls()
    opt = torch.optim.SGD(model.parameters(), lr=schedule.base_lr, momentum=0.9, weight_decay=5e-5)
    model.train()
    n, bs = len(y), schedule.batch_size
    steps = n // bs
    start = time.perf_counter()
    for _ in range(schedule.epochs):
        order = torch.randperm(n)
        for i in range(steps):
            idx = order[i * bs : (i + 1) * bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return schedule.epochs * steps * bs / (time.perf_counter() - start)


def throughput(args, cache: Path) -> None:
    data = load_data(f"synthetic:{args.images}", args.resolution)
    trainer = Trainer(data, torch.device("cpu"), cache)
    net = fit_to_data(load_spec(THROUGHPUT_SPEC).resolve(), data)
    cls = network_class(net, cache)
    x, y = trainer.normalize(data.train_x), data.train_y
    schedule = Schedule(epochs=args.epochs, batch_size=args.batch_size)
    ours, plain = [], []
    for r in range(args.rounds):
        result = trainer.train(net, schedule, seed=r, onnx_check=False)
        ours.append(
            sum(e.images_per_s * e.seconds for e in result.epochs) / sum(e.seconds for e in result.epochs)
        )
        plain.append(plain_loop(cls, x, y, schedule, seed=r))
        print(f"  round {r + 1}: trainer {ours[-1]:,.0f} img/s, plain loop {plain[-1]:,.0f} img/s")
    a, b = statistics.median(ours), statistics.median(plain)
    print(
        f"throughput, {net.name} at {args.resolution} px, batch {args.batch_size}, {args.images} images, "
        f"{torch.get_num_threads()} thread(s):"
    )
    print(f"  shared trainer      {a:10,.0f} img/s")
    print(f"  plain loop (base)   {b:10,.0f} img/s")
    print(f"  ratio trainer / plain loop: {a / b:.3f}  (target >= 0.95)")


def small_networks(count: int) -> list[NetworkSpec]:
    return [
        NetworkSpec(
            name=f"small{i}",
            stem_width=16,
            stages=[Stage(depth=1, width=16 + 8 * i, group_width=8), Stage(depth=2, width=32, group_width=8)],
            resolution=16,
        )
        for i in range(count)
    ]


def overhead(args, cache: Path, folder: Path) -> None:
    nets = small_networks(args.models)
    schedule = Schedule(epochs=1, batch_size=64)
    start = time.perf_counter()
    trainer = Trainer(load_data("digits", 16), torch.device("cpu"), cache)
    loading = time.perf_counter() - start
    shared = []
    for net in nets:
        start = time.perf_counter()
        trainer.train(net, schedule, seed=0, onnx_check=False)
        shared.append(time.perf_counter() - start)
    fresh = []
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads)}
    for net in nets:
        path = folder / f"{net.name}.json"
        path.write_text(net.model_dump_json())
        command = [sys.executable, "-m", "specgen", "train", str(path), "--data", "digits", "--epochs", "1"]
        command += ["--batch-size", "64", "--device", "cpu", "--cache", str(cache), "--no-onnx-check"]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        fresh.append(time.perf_counter() - start)
    a, b = statistics.median(shared), statistics.median(fresh)
    print(f"per-model wall time, {len(nets)} small networks, 1 epoch of digits at 16 px:")
    print(f"  shared worker       {a:8.3f} s/model  (+ {loading:.3f} s once, to load the data)")
    print(f"  fresh process (base){b:8.3f} s/model")
    print(f"  overhead saved per model: {b - a:.3f} s; ratio fresh / shared: {b / a:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (both sides)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        throughput(args, Path(tmp) / "cache")
        overhead(args, Path(tmp) / "cache", Path(tmp))


if __name__ == "__main__":
    main()
