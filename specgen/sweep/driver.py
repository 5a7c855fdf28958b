"""A sweep: sample a design space, then train every sample through an executor into the store.

The samples are a pure function of the settings (space, n, seed, band,
resolution), so a rerun of the same command finds the same runs in the store
and only trains the ones that are not finished. The store refuses a rerun
with different settings rather than mixing two sweeps.

A space that draws training hyperparameters (lr, weight_decay, epochs) trains
each run with its own; the command line sets the others. Setting one the space
draws is a conflict, refused: the space's draws are the experiment, and a flag
that silently overrode them (or was silently ignored) would misreport it.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from specgen.atomic import missing_folders, remove_empty
from specgen.errors import ROOT, SpecError
from specgen.sweep.store import FINISHED, Store
from specgen.sweep.worker import Job

if TYPE_CHECKING:
    from specgen.space.schema import DesignSpace


@dataclass(frozen=True)
class Sweep:
    """What defines a sweep's runs and results (the executor does not)."""

    space: str
    n: int
    job: Job
    flops: tuple[float | None, float | None] | None = None
    """(min, max) flops at the training resolution; either end may be open."""
    given: frozenset[str] = frozenset()
    """The schedule's hyperparameters set on the command line (the others are its defaults)."""

    def design_space(self) -> DesignSpace:
        """The space, loaded (a built-in name or a file)."""
        from specgen.space.builtins import load_space

        return load_space(self.space)

    def check_hyperparameters(self) -> None:
        """Refuse a hyperparameter both set on the command line and drawn by the space, in one line."""
        space = self.design_space()
        for name in space.hyperparameters:
            if name in self.given:
                option = "--" + name.replace("_", "-")
                raise SpecError(
                    option,
                    ROOT,
                    f"the space {space.name} draws {name} for every run; leave {option} out "
                    f"(or take {name} out of the space's hyperparameters)",
                )

    def settings(self) -> dict:
        """The settings a store is bound to; `time` and the drawn hyperparameters only when there are some,
        so stores made before them still match."""
        job = self.job
        timed = {"time": True} if job.time else {}
        drawn = list(self.design_space().hyperparameters)
        return {
            **timed,
            **({"hyperparameters": drawn} if drawn else {}),
            "space": self.space,
            "n": self.n,
            "seed": job.seed,
            "flops": list(self.flops) if self.flops else None,
            "data": job.data,
            "resolution": job.resolution,
            "schedule": job.schedule.to_json(),
            "precision": job.precision,
        }

    def samples(self) -> list[dict]:
        """The sampled networks, as sample lines; the band is counted at the training resolution."""
        from specgen.space.sampler import sample

        drawn = sample(
            self.design_space(),
            self.n,
            seed=self.job.seed,
            flops=self.flops,
            resolution=self.job.resolution,
            unique=True,
        )
        return [s.to_json() for s in drawn]


def run_sweep(sweep: Sweep, store_path, make_executor, progress: bool = True) -> dict[str, int]:
    """Train what the store does not hold yet; returns the store's counts by status.

    Bad input (data path, space, band, settings that differ from the store's) fails
    before the store is created or changed and before `make_executor` starts workers;
    data that only loading shows bad (unreadable images, fewer images than a batch) fails
    before the progress bar shows.
    """
    from tqdm import tqdm

    from specgen.train.data import check_source
    from specgen.train.modules import cache_folder

    check_source(sweep.job.data)
    sweep.check_hyperparameters()
    made = missing_folders(sweep.job.cache_dir)
    cache_folder(sweep.job.cache_dir)
    created = not Path(store_path).exists()
    samples = sweep.samples() if created else None
    try:
        store = Store.create(store_path)
    except SpecError:
        remove_empty(made)
        raise
    try:
        store.read()  # the checks `sweep status`, `export` and `analyze` make, before anything is trained
        store.bind(sweep.settings())
    except BaseException:
        store.close()
        raise
    executor = None
    try:
        if not store.counts():
            store.add(samples or sweep.samples())
        todo = store.todo()
        total = sum(store.counts().values())
        executor = make_executor()
        problem = executor.check_data() if todo else None
        if problem:
            raise SpecError(*problem)
        done = total - len(todo)
        # The bar is closed (its line ended) before an error propagates: the error is then a line of its own.
        with tqdm(
            total=total, initial=done, desc="sweep", unit="run", file=sys.stderr, disable=not progress
        ) as bar:
            queue = iter(todo)

            def start_next() -> bool:
                item = next(queue, None)
                if item is not None:
                    store.claim(item[0])
                    executor.submit(*item)
                return item is not None

            in_flight = 0
            while in_flight < executor.slots and start_next():
                in_flight += 1
            while in_flight:
                for run_id, result in executor.wait():
                    in_flight -= 1
                    if result["status"] == "invalid":
                        raise SpecError(*result["spec_error"])
                    store.finish(run_id, result)
                    bar.update(1)
                    if result.get("error") is not None:
                        bar.set_postfix(last=f"{100 * result['error']:.1f}%")
                while in_flight < executor.slots and start_next():
                    in_flight += 1
        return store.counts()
    except SpecError:
        # Bad input only the executor or its workers could see (no GPU for Ray, unreadable images,
        # a batch larger than the data), or a full disk: a store with nothing finished yet is not
        # kept bound to it, nor one this run made, nor a cache folder it made that holds nothing.
        if not any(store.counts().get(status) for status in FINISHED):
            if created:
                store.close()
                store.delete()
                remove_empty(made)
            else:
                with suppress(SpecError):  # a disk that refuses even this keeps the store as it was
                    store.clear()
        raise
    finally:
        if executor is not None:
            executor.close()
        store.close()
