"""The Ray executor: each training is a Ray task; only the driver writes the store.

Imported only for `--executor ray`, so Ray is needed only then. A Ray worker
process keeps its Trainer (and dataset) between tasks, as local workers do.
`--gpus-per-run` may be fractional, so several small networks share a GPU.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import ray

from specgen.errors import ROOT, SpecError
from specgen.sweep.worker import Job, check_data, failed_result, train_task


@ray.remote
def _train(job: Job, spec: dict, hyperparameters: dict | None) -> dict:
    return train_task(job, spec, hyperparameters)


_check_data = ray.remote(check_data)


class RayExecutor:
    """Runs on the Ray cluster at `address` (default: a local Ray started here, and stopped by `close`)."""

    def __init__(
        self, job: Job, address: str | None = None, gpus_per_run: float = 0.0, workers: int | None = None
    ):
        self.started = not ray.is_initialized()
        if self.started:
            try:
                ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = f"the Ray cluster at {address!r}" if address else "a local Ray"
                raise SpecError("--address", ROOT, f"cannot start or reach {where}: {e}") from None
        self.gpus = gpus_per_run
        self.job = replace(job, device="cuda" if gpus_per_run > 0 else "cpu")
        self.running: dict = {}
        resources = ray.cluster_resources()
        fits = (
            int(resources.get("GPU", 0) / gpus_per_run) if gpus_per_run > 0 else int(resources.get("CPU", 1))
        )
        if fits < 1:
            self.close()
            raise SpecError(
                "--gpus-per-run", ROOT, f"the Ray cluster has no GPU for {gpus_per_run:g} per run"
            )
        self.slots = workers or fits

    def check_data(self) -> list[str] | None:
        """One Ray worker loads the data, as a run's would."""
        ref = _check_data.options(num_cpus=1, num_gpus=self.gpus).remote(self.job)
        try:
            return ray.get(ref)
        except ray.exceptions.RayError:  # the worker died: each run will say why, as a failed run
            return None

    def submit(self, run_id: str, spec: dict, hyperparameters: dict | None = None) -> None:
        ref = _train.options(num_cpus=1, num_gpus=self.gpus).remote(self.job, spec, hyperparameters)
        self.running[ref] = run_id

    def wait(self) -> list[tuple[str, dict]]:
        done, _ = ray.wait(list(self.running), num_returns=1)
        return [(self.running.pop(ref), self._result(ref)) for ref in done]

    def _result(self, ref) -> dict:
        """The task's result; a task whose worker died (out of memory, a crash), after Ray's own
        retries, is a failed run: it alone was in that worker, so the sweep goes on."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as e:
            return failed_result(self.job, e)

    def close(self) -> None:
        for ref in self.running:
            ray.cancel(ref, force=True)
        self.running.clear()
        if self.started:
            ray.shutdown()
