"""`specgen train`: one spec file, trained on one data source, reported epoch by epoch."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from specgen.specfile import load_spec
from specgen.train.data import check_source, load_data
from specgen.train.modules import DEFAULT_CACHE, cache_folder
from specgen.train.schedule import Schedule
from specgen.train.trainer import EpochResult, Trainer, resolve_device, resolve_precision


def train_file(
    spec_path: str,
    data: str,
    schedule: Schedule,
    *,
    resolution: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    seed: int = 0,
    cache_dir: Path = DEFAULT_CACHE,
    onnx_check: bool = True,
    progress: bool = True,
) -> dict:
    """Train the spec's emitted module; per-epoch lines and a progress bar on stderr; the results."""
    net = load_spec(spec_path).resolve()
    target = resolve_device(device)  # bad options are refused before anything is made or loaded
    precision = resolve_precision(precision, target)
    check_source(data)
    cache_folder(cache_dir)
    dataset = load_data(data, resolution or net.resolution)
    trainer = Trainer(dataset, target, cache_dir, precision)
    steps = trainer.steps_per_epoch(schedule)  # bad input is refused before the progress bar shows
    bar = tqdm(
        total=schedule.epochs * steps, desc=net.name, unit="step", file=sys.stderr, disable=not progress
    )

    def report(e: EpochResult) -> None:
        bar.write(
            f"epoch {e.epoch}/{schedule.epochs}  loss {e.train_loss:.4f}  "
            f"error {100 * e.test_error:.2f}%  {e.images_per_s:,.0f} img/s",
            file=sys.stderr,
        )

    result = trainer.train(
        net, schedule, seed, onnx_check=onnx_check, on_step=lambda: bar.update(1), on_epoch=report
    )
    bar.close()
    if result.message:  # a diverged run or a failed cross-check, said where a person looks
        print(f"{net.name}: {result.message}", file=sys.stderr)
    return {
        "spec": spec_path,
        "data": dataset.name,
        "resolution": dataset.resolution,
        "seed": seed,
        "schedule": schedule.to_json(),
        **result.to_json(),
    }
