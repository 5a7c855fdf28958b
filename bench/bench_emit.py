"""Time to emit the .py of all 24 specs in specs/, against two named baselines in the same run.

- in-process: `emit()` of every spec (render + atomic write), best of --repeat, against
  building the same 24 networks as torch modules from the emitted files (what a user
  pays next, once);
- end to end: `specgen emit specs/*.json --format py` as a fresh process, against the
  baseline `python -c "import torch"` (medians of --repeat).
Peak memory: tracemalloc's peak during in-process emission, and the largest resident
set of the `specgen emit` processes (measured before any torch process runs).

    python bench/bench_emit.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.json"))


def emit_all(out: Path) -> float:
    from specgen.emit.writer import emit
    from specgen.specfile import load_spec

    start = time.perf_counter()
    for path in SPECS:
        emit(load_spec(path), out, ("py",), source=f"specs/{path.name}")
    return time.perf_counter() - start


def build_all(out: Path) -> float:
    import torch

    from specgen.emit.load import load_network_class
    from specgen.emit.python import class_name
    from specgen.specfile import load_spec

    start = time.perf_counter()
    for path in SPECS:
        net = load_spec(path).resolve()
        torch.manual_seed(0)
        load_network_class(out / f"{net.name}.py", class_name(net))()
    return time.perf_counter() - start


def median_process(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        emit_all(out / "warm-up")
        emitted = min(emit_all(out / f"run{i}") for i in range(repeat))
        tracemalloc.start()  # a separate run: tracing slows what it measures
        emit_all(out / "traced")
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        cli = [sys.executable, "-m", "specgen", "emit", *map(str, SPECS), "--format", "py"]
        cli += ["--out", str(out / "cli")]
        cli_seconds = median_process(cli, repeat)
        cli_rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # before any torch process
        torch_seconds = median_process([sys.executable, "-c", "import torch"], repeat)
        built = build_all(out / "run0")

    n = len(SPECS)
    each = f"{emitted / n * 1000:.2f} ms a spec, best of {repeat}"
    print(f"in process: emit the .py of {n} specs       {emitted * 1000:9.1f} ms  ({each})")
    print(f"baseline:   build the {n} torch modules      {built * 1000:9.1f} ms  (from the emitted files)")
    print(f"ratio:      building / emitting             {built / emitted:9.1f}x")
    print(f"process:    specgen emit ... --format py   {cli_seconds * 1000:9.1f} ms  (median of {repeat})")
    print(f'baseline:   python -c "import torch"        {torch_seconds * 1000:9.1f} ms  (median of {repeat})')
    print(f"ratio:      import torch / specgen emit     {torch_seconds / cli_seconds:9.1f}x")
    traced = f"{peak_bytes / 2**10:.0f} KiB traced in process"
    print(f"peak memory: {traced}; {cli_rss_kib / 1024:.0f} MiB resident set of the specgen emit process")


if __name__ == "__main__":
    main()
