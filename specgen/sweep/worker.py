"""What a sweep worker runs: one shared Trainer per process, and one training run per task.

The worker process (this one, a pool process or a Ray worker) keeps its
Trainer, and so its dataset, across tasks. A task never raises for a failed
training: the failure is its result, recorded in the store. Bad input
(a malformed data path) comes back as `invalid`, for the driver to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specgen.errors import SpecError
from specgen.sweep.store import TIMING_FIELDS
from specgen.train.modules import DEFAULT_CACHE
from specgen.train.schedule import Schedule

_TRAINERS: dict = {}


@dataclass(frozen=True)
class Job:
    """What every run of a sweep shares."""

    data: str
    resolution: int
    schedule: Schedule = field(default_factory=Schedule)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    cache_dir: str = str(DEFAULT_CACHE)
    onnx_check: bool = True
    time: bool = False
    """Also time each trained network: its forward and forward+backward call at the training batch size."""


def trainer_for(job: Job):
    """This process's Trainer for the job's data, device and precision, made (and the data loaded) once."""
    from pathlib import Path

    from specgen.train.data import load_data
    from specgen.train.trainer import Trainer, resolve_device

    key = (job.data, job.resolution, job.device, job.precision, job.cache_dir)
    if key not in _TRAINERS:
        _TRAINERS.clear()  # one dataset per process
        device = resolve_device(job.device)
        data = load_data(job.data, job.resolution)
        _TRAINERS[key] = Trainer(data, device, Path(job.cache_dir), job.precision)
    return _TRAINERS[key]


def check_data(job: Job) -> list[str] | None:
    """Load the job's data in this process (kept for its runs) and check the batch against it.

    The bad input every run would come back `invalid` with, as (source, path, message), or None:
    the driver asks once, before its progress bar shows, so the error is the only line.
    """
    try:
        trainer_for(job).steps_per_epoch(job.schedule)
    except SpecError as e:
        return [e.source, e.path, e.message]
    return None


def train_task(job: Job, spec: dict, hyperparameters: dict | None = None) -> dict:
    """Train one sampled network (its spec JSON) with its own hyperparameters in place of the job's
    (a space that draws lr, weight_decay or epochs); the result as the store records it."""
    from specgen.network.spec import NetworkSpec

    try:
        trainer = trainer_for(job)
        net = NetworkSpec.model_validate(spec)
        schedule = job.schedule.with_hyperparameters(hyperparameters or {})
        result = trainer.train(net, schedule, job.seed, onnx_check=job.onnx_check).to_json()
        if job.time:  # a diverged network runs as fast as a trained one: it is timed too
            result |= timings(trainer, net, job)
        return result
    except SpecError as e:
        return {"status": "invalid", "spec_error": [e.source, e.path, e.message]}
    except Exception as e:  # recorded as a failed run: one bad network must not stop a sweep
        return failed_result(job, e)


def timings(trainer, net, job: Job) -> dict:
    """The store's timing fields of `net` as trained (fitted to the data), on the trainer's device."""
    from specgen.train.timing import median_times
    from specgen.train.trainer import fit_to_data

    fitted = fit_to_data(net, trainer.data)
    batch = job.schedule.batch_size
    times = median_times(fitted, trainer.device, trainer.precision, batch, trainer.cache_dir)
    return dict(zip(TIMING_FIELDS, times, strict=True))


def failed_result(job: Job, error: BaseException) -> dict:
    """A run that ended in an exception, as the store records it."""
    from specgen.train.trainer import versions

    message = f"{type(error).__name__}: {error}"[:500]
    return {"status": "failed", "device": job.device, "message": message, "versions": versions()}
