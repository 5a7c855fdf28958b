"""The vectorized bootstrap and quantized linear fit against named plain-Python baselines.

Bootstrap: `bootstrap_range` against a loop that draws 25% of the models with
replacement and keeps the best one's value, once per draw (the same draws).
Fit: `fit_quantized_linear` (slopes enumerated exactly, one NumPy call per wm)
against a plain grid search that scores one (w0, wa, wm) at a time with
`block_widths`, over a grid it can afford. Prints both times and their ratio.

    python bench/bench_analysis.py [--models 500] [--samples 2500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from specgen.analysis.bootstrap import bootstrap_range
from specgen.analysis.fit import e_fit, fit_quantized_linear
from specgen.regnet import block_widths


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


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2500)
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


if __name__ == "__main__":
    main()
