"""`specgen spaces` with a band no network can meet, against an ordinary band, in one run.

The share in a band is estimated by drawing configurations that satisfy the space's own
constraints. A space whose own band is never met used to draw 16 M candidates before giving
up (80-105 s for regnetx); the estimate is now bounded by draws and by work. Target: a
hopeless band is answered (a 0% share) or refused (one line) in under 10 s.

Baseline: `specgen spaces regnetx --flops 360M:400M`, the README's ordinary band. Each case is
the whole command in a fresh process, best of --repeat; wall and CPU seconds are printed, and
the target is judged on CPU seconds, what the command takes of one core whatever else runs.

    OMP_NUM_THREADS=1 python bench/bench_hopeless_band.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACES = Path(__file__).resolve().parent.parent / "specs" / "spaces"
TARGET_S = 10.0


def run(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one `specgen` command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "specgen", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def best(args: list[str], repeat: int) -> tuple[float, float, int]:
    return min((run(args) for _ in range(repeat)), key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as folder:
        own_band = json.loads((SPACES / "regnetx.json").read_text())
        own_band["constraints"].append({"name": "flops", "max": 1000})
        hopeless_space = Path(folder) / "regnetx_hopeless.json"
        hopeless_space.write_text(json.dumps(own_band))
        cases = [
            ("ordinary band (baseline)", ["spaces", "regnetx", "--flops", "360M:400M"]),
            ("band above every network", ["spaces", "regnetx", "--flops", "3000G:"]),
            ("band below every network", ["spaces", "anynetx_a", "--flops", "1K:2K"]),
            ("space whose own band is never met", ["spaces", str(hopeless_space), "--flops", "1K:2K"]),
        ]
        print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; best of {repeat}")
        baseline = None
        for label, args in cases:
            wall, cpu, status = best(args, repeat)
            baseline = baseline or wall
            verdict = "" if label.startswith("ordinary") else ("  ok" if cpu < TARGET_S else "  OVER TARGET")
            print(
                f"{label:36s} exit {status}  {wall:6.2f} s wall  {cpu:6.2f} s CPU  "
                f"{wall / baseline:5.2f}x the ordinary band{verdict}"
            )
    print(f"target: a hopeless band in under {TARGET_S:.0f} s of CPU")


if __name__ == "__main__":
    main()
