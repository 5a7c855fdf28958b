"""The vectorized bootstrap and quantized linear fit against named plain-Python baselines.

Bootstrap: `bootstrap_range` against a loop that draws 25% of the models with
replacement and keeps the best one's value, once per draw (the same draws).
Fit: `fit_quantized_linear` (slopes enumerated exactly, one NumPy call per wm)
against a plain grid search that scores one (w0, wa, wm) at a time with
`block_widths`, over a grid it can afford. Prints both times and their ratio.
Reading results: `load_table` (what analyze reads: the runs' columns, the file's two halves parsed by
orjson and checked column-wise at once) and `load_results` (every run's Result, parsed by json, checked
column-wise) of a JSONL file of N sampled RegNetX rows against the row-by-row reader they replaced (one
`json.loads` and one `result_from_row`, so one NetworkSpec, per line, the cycle collector running). Wall
and CPU seconds both: on a shared machine they differ.
Whole analyze: `specgen analyze` of the same N rows, in this process (imports already done), against
the previous path: every parameter's own bootstrap (float64 errors gathered and argmin'd per draw, in
4M-model chunks) where the draws are now made once per group and shared; the summaries must be equal.
The target is the issue's: the whole analyze of 100,000 rows in under 3 s. Its phases: reading, grouping
and the parameter columns, then the comparison's pieces (each computes what its figures show and draws
them), two at a time, against the same pieces done one by one.

Every timing but the row-by-row reader's is the fastest of --repeat runs.

    python bench/bench_analysis.py [--models 500] [--samples 2500] [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from specgen.analysis import pieces, report
from specgen.analysis.bootstrap import Range, bootstrap_range
from specgen.analysis.fit import e_fit, fit_quantized_linear
from specgen.analysis.forked import map_forked
from specgen.analysis.results import load_results, load_table, result_from_row
from specgen.cli import main as specgen
from specgen.network.regnet import block_widths
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.specfile import refuse_duplicates


def loop_bootstrap(values: np.ndarray, errors: np.ndarray, samples: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    k = max(1, round(0.25 * values.size))
    drawn = rng.integers(0, values.size, size=(samples, k))
    kept = []
    for row in drawn:
        best = min(row, key=lambda i: errors[i])
        kept.append(values[best])
    return np.percentile(kept, [2.5, 50, 97.5]).tolist()


def loop_fit(widths: np.ndarray) -> tuple[float, int, float, float]:
    best = (np.inf, 0, 0.0, 0.0)
    for w0 in range(8, 257, 8):
        for wa in np.geomspace(1, 256, 24):
            for wm in np.geomspace(1.5, 3.0, 24):
                score = float(e_fit(block_widths(widths.size, w0, wa, wm), widths))
                best = min(best, (score, w0, wa, wm))
    return best


def previous_bootstrap_range(values: np.ndarray, errors: np.ndarray, samples: int, seed: int) -> Range:
    """The bootstrap as it was: float64 errors gathered per draw and argmin'd, in chunks of 4M models."""
    rng = np.random.default_rng(seed)
    k = max(1, round(0.25 * values.size))
    rows = max(1, (1 << 22) // k)
    best = np.empty(samples)
    for start in range(0, samples, rows):
        drawn = rng.integers(0, values.size, size=(min(rows, samples - start), k))
        winner = np.take_along_axis(drawn, np.argmin(errors[drawn], axis=1)[:, None], axis=1)[:, 0]
        best[start : start + drawn.shape[0]] = values[winner]
    return Range(*(float(p) for p in np.percentile(best, [2.5, 50.0, 97.5])))


class PreviousDraws(pieces.Draws):
    """The bootstrap as it was: each parameter of each group bootstrapped on its own, no draws shared."""

    def range_of(self, group, x):
        keep = np.isfinite(x)
        if not keep.any():
            return None
        return previous_bootstrap_range(x[keep], self.errors[group][keep], self.samples, self.seed)


def analyze(path: Path, out: Path) -> dict:
    """The whole `specgen analyze PATH -o OUT`, in this process; its summary."""
    with contextlib.redirect_stdout(io.StringIO()):
        specgen(["analyze", str(path), "-o", str(out)], standalone_mode=False)
    return json.loads((out / "summary.json").read_text())


def row_by_row(path: Path) -> list:
    rows = path.read_text().splitlines()
    return [
        result_from_row(json.loads(line, object_pairs_hook=refuse_duplicates), f"{path}:{i}", str(path))
        for i, line in enumerate(rows, 1)
    ]


def results_file(folder: Path, n: int) -> Path:
    """N unique RegNetX samples as `specgen sample` writes them, each with a made-up error: written by
    another process, so that this one is as lean as a new `specgen analyze` (sampling leaves memory
    behind, which slows every fork after it)."""
    path = folder / "results.jsonl"
    writer = multiprocessing.get_context("spawn").Process(target=write_results, args=(path, n))
    writer.start()
    writer.join()
    assert writer.exitcode == 0
    return path


def write_results(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    with path.open("w") as f:
        for s in sample(load_space("regnetx"), n, seed=0, resolution=32, unique=True):
            f.write(
                json.dumps(s.to_json() | {"status": "done", "error": float(rng.uniform(0.2, 0.9))}) + "\n"
            )


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def cpu_seconds() -> float:
    """This process's CPU seconds and those of its children that ended (map_forked's forked ones)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def best_of(repeat: int, run):
    """The fastest of `repeat` runs of run(), which gives (wall, cpu, out): on a shared machine the
    slower ones waited for someone else."""
    return min((run() for _ in range(repeat)), key=lambda timed: timed[0])


def timed_with_cpu(fn, *args, **kwargs):
    cpu = cpu_seconds()
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, cpu_seconds() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2500)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the row-by-row's: one)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    depth = rng.integers(12, 29, args.models).astype(float)
    error = 0.3 + 0.001 * (depth - 20) ** 2 + rng.normal(0, 0.02, args.models)

    base, expected = timed(loop_bootstrap, depth, error, args.samples, 0)
    ours, got = timed(lambda: bootstrap_range(depth, error, samples=args.samples, seed=0))
    assert [got.low, got.best, got.high] == expected
    print(f"bootstrap, {args.models} models x {args.samples} draws:")
    print(f"  plain loop (baseline) {base * 1e3:9.1f} ms")
    print(f"  bootstrap_range       {ours * 1e3:9.1f} ms   {base / ours:6.1f}x faster")

    widths = block_widths(16, 48, 36.97, 2.24)  # RegNetX-600MF
    base, plain = timed(loop_fit, widths)
    ours, fit = timed(fit_quantized_linear, widths)
    print("quantized linear fit of RegNetX-600MF's 16 block widths:")
    print(f"  plain grid, 32x24x24 points (baseline) {base * 1e3:9.1f} ms   e_fit {plain[0]:.4f}")
    ratio = f"{base / ours:6.1f}x faster"
    print(f"  fit_quantized_linear                   {ours * 1e3:9.1f} ms   e_fit {fit.e_fit:.4f}   {ratio}")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = results_file(folder, args.rows)
        analyze(path, folder / "warm-up")  # matplotlib's and the templates' imports, out of both figures

        def whole(out: str):
            return timed_with_cpu(analyze, path, folder / out)

        with mock.patch.object(pieces, "Draws", PreviousDraws):
            previous, previous_cpu, expected = best_of(args.repeat, lambda: whole("previous"))
        runs = [by_phase(lambda: whole("report")) for _ in range(args.repeat)]
        phases, (ours, ours_cpu, got) = min(runs, key=lambda run: run[1][0])
        assert got == expected
        command = min(command_wall(path, folder / "command") for _ in range(args.repeat))
        serial, serial_cpu, forked, forked_cpu = rendering(path)
        # The readers that make 100,000 Results last: the memory they leave behind slows every fork after.
        table_wall, table_cpu, table = best_of(args.repeat, lambda: timed_with_cpu(load_table, path))
        bulk, bulk_cpu, results = best_of(args.repeat, lambda: timed_with_cpu(load_results, path))
        base, base_cpu, expected = timed_with_cpu(row_by_row, path)
        assert repr(results) == repr(expected)
        columns = table.columns
        assert (columns.id, columns.status) == ([r.id for r in expected], [r.status for r in expected])
        assert columns.error.tolist() == [r.error for r in expected]
        assert table.results([len(expected) - 1]) == expected[-1:]
    print(f"reading {args.rows:,} result rows (JSONL):")
    print(f"  row by row, collector on (baseline) {base:9.2f} s  (cpu {base_cpu:6.2f} s)")
    ratio = f"{base / bulk:6.1f}x faster"
    print(f"  load_results (every Result)         {bulk:9.2f} s  (cpu {bulk_cpu:6.2f} s)   {ratio}")
    ratio = f"{base / table_wall:6.1f}x faster"
    print(f"  load_table (what analyze reads)     {table_wall:9.2f} s  (cpu {table_cpu:6.2f} s)   {ratio}")
    print(f"whole analyze of {args.rows:,} rows (imports done), target under 3 s:")
    print(f"  a bootstrap per parameter (previous path) {previous:9.2f} s  (cpu {previous_cpu:6.2f} s)")
    ratio = f"{previous / ours:6.1f}x faster"
    print(f"  specgen analyze                           {ours:9.2f} s  (cpu {ours_cpu:6.2f} s)   {ratio}")
    for phase, (wall, cpu) in phases.items():
        print(f"    {phase:<39} {wall:9.2f} s  (cpu {cpu:6.2f} s)")
    print(f"  as a command (a new process, imports too) {command:9.2f} s")
    print(f"the comparison's pieces of {args.rows:,} rows (computed and drawn), cpu with the forked child's:")
    print(f"  one by one (baseline)                     {serial:9.2f} s  (cpu {serial_cpu:6.2f} s)")
    ratio = f"{serial / forked:6.1f}x faster"
    print(f"  two at a time (map_forked)                {forked:9.2f} s  (cpu {forked_cpu:6.2f} s)   {ratio}")


def by_phase(run):
    """run()'s result and the wall and CPU seconds (the forked child's too) of analyze's phases."""
    phases = {}

    def timing(name, fn):
        def timed_phase(*args, **kwargs):
            wall, cpu, out = timed_with_cpu(fn, *args, **kwargs)
            phases[name] = wall, cpu
            return out

        return timed_phase

    with (
        mock.patch.object(report, "load_table", timing("reading (load_table)", report.load_table)),
        mock.patch.object(report, "_compare", timing("_compare", report._compare)),
        mock.patch.object(report, "map_forked", timing("pieces, two at a time", report.map_forked)),
        mock.patch.object(report, "publish", timing("writing (publish)", report.publish)),
    ):
        out = run()
    compare = phases.pop("_compare")
    reading = phases["reading (load_table)"]
    pieces_time = np.array(phases["pieces, two at a time"])
    phases = (
        {"reading (load_table)": reading}
        | {"grouping, columns (rest of _compare)": tuple(np.subtract(compare, reading) - pieces_time)}
        | phases
    )
    return phases, out


def command_wall(path: Path, out: Path) -> float:
    """Wall seconds of `specgen analyze PATH -o OUT` in a new process: imports and start-up included."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "specgen", "analyze", str(path), "-o", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def rendering(path: Path) -> tuple[float, float, float, float]:
    """Wall and CPU seconds of the report's pieces done one by one, then two at a time (map_forked)."""
    given = []

    def kept(work, items):
        given.append(items)
        return map_forked(work, items)

    with mock.patch.object(report, "map_forked", kept):
        report.build([str(path)])
    (work,) = given

    def fresh(run):  # the bootstrap draws made anew for each way, as in a report
        for piece in work:
            for arg in piece.args:
                if isinstance(arg, pieces.Draws):
                    arg.made = [{} for _ in arg.errors]
        return timed_with_cpu(run)

    serial, serial_cpu, expected = fresh(lambda: [pieces.drawn(p) for p in work])
    forked, forked_cpu, got = fresh(lambda: map_forked(pieces.drawn, work))
    assert pickle.dumps(got) == pickle.dumps(expected)
    return serial, serial_cpu, forked, forked_cpu


if __name__ == "__main__":
    main()
