"""The shared trainer on a GPU (run it when a GPU machine is lent), against named baselines in the same run.

1. RegNetX-400MF at 224 px in bf16 (autocast, channels_last, cudnn benchmark):
   images/s of the shared trainer (device-resident data, augmentation on the
   GPU) against a plain hand-written bf16 loop over pre-normalized images
   already on the GPU (baseline). Prints both and the ratio.
2. Several small networks on one GPU: trained concurrently by K worker
   processes sharing the GPU (what `specgen sweep --workers K`, or Ray with
   `--gpus-per-run 1/K`, does) against the same networks one at a time by one
   worker (baseline). Prints the aggregate images/s of each and the ratio.

    python bench/gpu_trainer.py [--images 4096] [--epochs 3] [--concurrent 4] [--lr 0.05]

Without CUDA it stops with a message; `--device cpu` with tiny sizes runs the
same code paths on CPU (bf16 included), only to check the script itself. Such
tiny runs need a smaller --lr: in their first steps, without warm-up, the
paper's lr makes the loss climb (2.3 to 5-10 at 16 px), where 0.02 or less
keeps it at or below its start.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from specgen.network.spec import NetworkSpec, Stage
from specgen.specfile import load_spec
from specgen.sweep.executors import ProcessPool
from specgen.sweep.worker import Job
from specgen.train.data import load_data
from specgen.train.modules import network_class
from specgen.train.schedule import Schedule
from specgen.train.trainer import Trainer, fit_to_data, sync

ROOT = Path(__file__).resolve().parent.parent
LARGE_SPEC = ROOT / "specs" / "regnetx_400mf.json"


def plain_loop(trainer: Trainer, cls: type, schedule: Schedule) -> float:
    """The baseline: a hand-written bf16 loop over normalized images on the device; images/s after warm-up."""
    device = trainer.device
    torch.manual_seed(0)
    model = cls().to(device, memory_format=trainer.memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=schedule.base_lr, momentum=0.9, weight_decay=5e-5)
    x = torch.cat([trainer.normalize(chunk) for chunk in trainer.train_x.split(1024)])
    y, bs = trainer.train_y, schedule.batch_size
    steps = len(y) // bs
    rates = []
    for _ in range(schedule.epochs):
        order = torch.randperm(len(y), device=device)
        sync(device)
        start = time.perf_counter()
        for i in range(steps):
            idx = order[i * bs : (i + 1) * bs]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=trainer.bf16):
                loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        rates.append(steps * bs / (time.perf_counter() - start))
    return statistics.median(rates[1:] or rates)


def large_model(args, device: torch.device, cache: Path) -> None:
    data = load_data(f"synthetic:{args.images}", args.resolution)
    trainer = Trainer(data, device, cache, precision="bf16")
    net = fit_to_data(load_spec(LARGE_SPEC).resolve(), data)
    schedule = Schedule(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)
    epochs = _finished(trainer.train(net, schedule, seed=0, onnx_check=False).to_json())["epochs"]
    ours = statistics.median([e["images_per_s"] for e in epochs[1:]] or [epochs[0]["images_per_s"]])
    plain = plain_loop(trainer, network_class(net, cache), schedule)
    print(f"{net.name} at {args.resolution} px, batch {args.batch_size}, {trainer.precision}, {device}:")
    print(f"  shared trainer      {ours:10,.0f} img/s (resident data: {trainer.resident})")
    print(f"  plain loop (base)   {plain:10,.0f} img/s")
    print(f"  ratio trainer / plain loop: {ours / plain:.3f}")


def small_networks(count: int, resolution: int) -> list[dict]:
    """Distinct small RegNet-like networks, as the spec JSON a sweep hands its workers."""
    nets = [
        NetworkSpec(
            name=f"small{i}",
            stem_width=32,
            stages=[
                Stage(depth=1, width=24 + 8 * i, group_width=8),
                Stage(depth=1, width=56, group_width=8),
                Stage(depth=4, width=152, group_width=8),
                Stage(depth=7, width=368, group_width=8),
            ],
            resolution=resolution,
        )
        for i in range(count)
    ]
    return [net.model_dump(mode="json") for net in nets]


def _finished(result: dict) -> dict:
    """A run's result, once it trained to the end: one that stopped early did less than the workload."""
    if result["status"] != "done":
        raise RuntimeError(f"a benchmark run did not finish (tiny runs need a smaller --lr): {result}")
    return result


def _images(result: dict) -> int:
    return sum(round(e["images_per_s"] * e["seconds"]) for e in _finished(result)["epochs"])


def concurrent_models(args, device: str, cache: Path) -> None:
    schedule = Schedule(epochs=args.epochs, batch_size=args.small_batch_size, lr=args.lr)
    job = Job(
        f"synthetic:{args.small_images}",
        args.small_resolution,
        schedule,
        device=device,
        precision="bf16",
        cache_dir=str(cache),
        onnx_check=False,
    )
    specs = small_networks(args.concurrent, args.small_resolution)

    # Baseline: one worker (this process), the networks one after another.
    from specgen.sweep.worker import train_task

    train_task(job, specs[0])  # warm-up: data on the device, cudnn autotuning
    start = time.perf_counter()
    images = sum(_images(train_task(job, spec)) for spec in specs)
    serial = images / (time.perf_counter() - start)

    # K worker processes sharing the one device, each with its own copy of the data.
    pool = ProcessPool(job, args.concurrent)
    try:
        for i in range(args.concurrent):  # warm-up: likely one each, as the workers start together
            pool.submit(f"warm-up {i}", specs[0])
        while pool.running:
            pool.wait()
        start = time.perf_counter()
        for i, spec in enumerate(specs):
            pool.submit(str(i), spec)
        images = 0
        while pool.running:
            images += sum(_images(result) for _, result in pool.wait())
        together = images / (time.perf_counter() - start)
    finally:
        pool.close()
    print(
        f"{args.concurrent} small networks at {args.small_resolution} px, batch {args.small_batch_size}, "
        f"{args.epochs} epochs each, bf16, on {device}:"
    )
    print(f"  concurrently, {args.concurrent} workers {together:10,.0f} img/s aggregate")
    print(f"  one at a time (base)     {serial:10,.0f} img/s")
    print(f"  ratio concurrent / one at a time: {together / serial:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu, to check the script")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--small-images", type=int, default=16384)
    parser.add_argument("--small-resolution", type=int, default=32)
    parser.add_argument("--small-batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=Schedule.lr, help="at batch 128, scaled with the batch")
    parser.add_argument("--cache", default=".specgen-cache")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(
            "bench/gpu_trainer.py: no CUDA device here; run it where a GPU is lent (--device cpu: a check)"
        )
    device = torch.device(args.device)
    cache = Path(args.cache).resolve()
    large_model(args, device, cache)
    concurrent_models(args, args.device, cache)


if __name__ == "__main__":
    main()
