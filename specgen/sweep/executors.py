"""Where a sweep's trainings run. An executor takes run after run and hands back finished results.

`InProcess` (the default, one worker: this process) and `ProcessPool` (K
spawned workers) need no server; `specgen.sweep.ray_executor` is the Ray one.
Every executor has `slots` (how many runs it takes at once), `check_data`
(loads the data where runs will train; the bad input found there, or None),
`submit` (a run's id, spec and own hyperparameters), `wait` (at least one finished (run id, result))
and `close`.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from specgen.errors import ROOT, SpecError
from specgen.sweep.worker import Job, check_data, train_task


class InProcess:
    """This process is the one worker: runs train when `wait` asks for them, in order."""

    slots = 1

    def __init__(self, job: Job) -> None:
        self.job, self.queue = job, []

    def check_data(self) -> list[str] | None:
        return check_data(self.job)

    def submit(self, run_id: str, spec: dict, hyperparameters: dict | None = None) -> None:
        self.queue.append((run_id, spec, hyperparameters))

    def wait(self) -> list[tuple[str, dict]]:
        run_id, spec, hyperparameters = self.queue.pop(0)
        return [(run_id, train_task(self.job, spec, hyperparameters))]

    def close(self) -> None:
        self.queue.clear()


_DEVICE: list[str] = []


def _start_worker(devices, threads: int, driver: int) -> None:
    """Pool initializer: take a device and a fair share of the CPU threads, and end with the driver."""
    threading.Thread(target=_exit_after, args=(driver,), daemon=True).start()
    import torch

    torch.set_num_threads(threads)
    _DEVICE.append(devices.get())


def _exit_after(driver: int) -> None:
    """A driver killed with SIGKILL cannot stop its pool, whose workers would train on, holding their
    memory (and GPU) beside the resumed sweep's own; each worker watches its parent instead."""
    while os.getppid() == driver:
        time.sleep(1)
    os._exit(1)


def _pool_task(job: Job, spec: dict, hyperparameters: dict | None) -> dict:
    from dataclasses import replace

    return train_task(replace(job, device=_DEVICE[0]), spec, hyperparameters)


def _pool_check(job: Job) -> list[str] | None:
    from dataclasses import replace

    return check_data(replace(job, device=_DEVICE[0]))


class ProcessPool:
    """K long-lived worker processes, each with its own Trainer; GPUs are dealt round-robin."""

    def __init__(self, job: Job, workers: int) -> None:
        import multiprocessing

        import torch

        ctx = multiprocessing.get_context("spawn")
        gpus = torch.cuda.device_count() if job.device in ("auto", "cuda") else 0
        devices = ctx.Queue()
        for i in range(workers):
            devices.put(f"cuda:{i % gpus}" if gpus else job.device)
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.job, self.slots = job, workers
        self.pool = ProcessPoolExecutor(
            workers, ctx, initializer=_start_worker, initargs=(devices, threads, os.getpid())
        )
        self.running: dict[Future, str] = {}

    def check_data(self) -> list[str] | None:
        """One worker loads the data (the others load the same when they start training)."""
        future = self.pool.submit(_pool_check, self.job)
        self.running[future] = ""
        (_, problem), *_ = self.wait()
        return problem

    def submit(self, run_id: str, spec: dict, hyperparameters: dict | None = None) -> None:
        self.running[self.pool.submit(_pool_task, self.job, spec, hyperparameters)] = run_id

    def wait(self) -> list[tuple[str, dict]]:
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        try:
            return [(self.running.pop(f), f.result()) for f in done]
        except BrokenProcessPool:  # every run in flight fails with it, so none can be blamed
            raise SpecError(
                "--workers",
                ROOT,
                "a worker process died while training (killed, or out of memory); "
                "rerun the same command to resume, perhaps with fewer --workers",
            ) from None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
