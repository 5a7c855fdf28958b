"""Start-up cost of `specgen describe` against the named baseline `python -c "import torch"`.

Both run as fresh processes, several times each, in the same run; prints the
medians and their ratio. `specgen describe` never imports torch, so it should
cost a small fraction of the baseline.

    python bench/bench_describe.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "regnetx_600mf.json"


def median_seconds(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    cases = {
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        'python -c "import torch" (baseline)': [sys.executable, "-c", "import torch"],
        "specgen describe specs/regnetx_600mf.json": [
            sys.executable,
            "-m",
            "specgen",
            "describe",
            str(SPEC),
        ],
    }
    results = {name: median_seconds(argv, repeat) for name, argv in cases.items()}
    for name, seconds in results.items():
        print(f"{name:<45} {seconds * 1000:8.0f} ms  (median of {repeat})")
    base = results['python -c "import torch" (baseline)']
    ours = results["specgen describe specs/regnetx_600mf.json"]
    print(f"ratio describe / import torch: {ours / base:.3f}  ({base / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
