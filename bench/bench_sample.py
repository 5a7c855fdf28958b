"""Sampling 500 AnyNetX_A models in 360–400 MF: specgen's vectorized sampler vs a per-candidate baseline.

Baseline (as pycls's sweep tools do): draw one candidate at a time (d, w, b, g per
stage), skip it unless every stage is buildable, build its AnyNet config and count it
with pycls 0.1.1's own counter, `pycls.models.anynet.AnyNet.complexity(cx, **kwargs)`,
and keep it when its flops are in the band.

In AnyNetX_A only about 1 candidate in 10,000 lands in 360–400 MF, so the baseline
needs millions of candidates for 500 models. By default it is timed on
--baseline-candidates candidates and its time for 500 is projected from its cost per
candidate and the acceptance rate (measured on the vectorized run, which draws the same
law); --full runs it to 500 (tens of minutes). Both are measured in the same run.

Then a line per 5-stage space (anynetx_e5, regnetx5, regnety5): 500 models in 360–400 MF
(target < 1 s), against its 4-stage counterpart (anynetx_e, regnetx, regnety) in the same run.

Then a line per CIFAR, NDS and block-type space: 500 models in its band (target < 1 s): the
space's own (ResNet-56's 120–130 MF for the CIFAR spaces, 360–400 MF for blocks_vrx) or, for
the NDS spaces, which declare none, 20–60 MF at 32 px; against regnetx in 360–400 MF in the
same run.

    python bench/bench_sample.py [--n 500] [--baseline-candidates 20000] [--full]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from specgen.space import sampler
from specgen.space.builtins import load_space

BAND = (360e6, 400e6)


def pycls_counter():
    """pycls's complexity walk for one AnyNet config (imports torch, outside the timed part)."""
    from pycls.models.anynet import AnyNet

    def count(ds, ws, bs, gs) -> int:
        cx = {"h": 224, "w": 224, "flops": 0, "params": 0, "acts": 0}
        kwargs = {
            "stem_type": "simple_stem_in",
            "stem_w": 32,
            "block_type": "res_bottleneck_block",
            "ds": ds,
            "ws": ws,
            "ss": [2] * len(ds),
            "bms": [1 / b for b in bs],
            "gws": gs,
            "se_r": None,
            "nc": 1000,
        }
        return AnyNet.complexity(cx, **kwargs)["flops"]

    return count


def baseline(count, candidates: int | None, n: int, seed: int = 0) -> tuple[float, int, int]:
    """(seconds, candidates drawn, models kept), one candidate at a time."""
    rng = random.Random(seed)
    depths, widths = range(1, 17), range(8, 1025, 8)
    ratios, groups = (1, 2, 4), (1, 2, 4, 8, 16, 32)
    drawn = kept = 0
    start = time.perf_counter()
    while (candidates is None and kept < n) or (candidates is not None and drawn < candidates):
        drawn += 1
        ds = [rng.choice(depths) for _ in range(4)]
        ws = [rng.choice(widths) for _ in range(4)]
        bs = [rng.choice(ratios) for _ in range(4)]
        gs = [rng.choice(groups) for _ in range(4)]
        if any(w % (b * g) for w, b, g in zip(ws, bs, gs, strict=True)):
            continue
        if BAND[0] <= count(ds, ws, bs, gs) <= BAND[1]:
            kept += 1
    return time.perf_counter() - start, drawn, kept


FIVE_STAGE = {"anynetx_e5": "anynetx_e", "regnetx5": "regnetx", "regnety5": "regnety"}
"""Each 5-stage space and the 4-stage space it generalizes (its baseline)."""


FAMILIES = {
    "cifar_anynetx_e": None,
    "cifar_regnetx": None,
    "nds_vanilla": (20e6, 60e6),
    "nds_resnet": (20e6, 60e6),
    "nds_resnext_a": (20e6, 60e6),
    "nds_resnext_b": (20e6, 60e6),
    "blocks_vrx": None,
}
"""Each CIFAR, NDS and block-type space and the flops band asked for on top of its own (None: its own)."""


def best_of_3(name: str, n: int, band: tuple[float, float] | None = BAND) -> float:
    """Seconds for n samples of a space in the band (and its own), the best of 3 runs after a warm-up."""
    space = load_space(name)
    sampler.sample(space, 5, flops=band)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        samples = sampler.sample(space, n, seed=0, flops=band)
        times.append(time.perf_counter() - start)
    lo, hi = band or next((b.min, b.max) for b in space.bands if b.name == "flops")
    assert len(samples) == n and all(lo <= s.flops <= hi for s in samples)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--baseline-candidates", type=int, default=20_000)
    parser.add_argument("--full", action="store_true", help="run the baseline to N models")
    args = parser.parse_args()

    space = load_space("anynetx_a")
    sampler.sample(space, 5, flops=BAND)  # warm caches (imports, stage tables' first build)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        samples = sampler.sample(space, args.n, seed=0, flops=BAND)
        times.append(time.perf_counter() - start)
    ours = min(times)
    assert len(samples) == args.n and all(BAND[0] <= s.flops <= BAND[1] for s in samples)

    # The acceptance rate of independent draws: P(buildable) · P(in band | buildable).
    tables = sampler.StageTables(space, uniform=False)
    candidates = sampler.Candidates(space, sampler._bands(space, 224, BAND, None, None))
    rng = np.random.default_rng(1)
    drawn = kept = 0
    while kept < 2000:
        _, _, ok = candidates(rng, sampler.BATCH)
        drawn, kept = drawn + sampler.BATCH, kept + int(ok.sum())
    p_stage = tables.total[0]  # probability that one independently drawn stage is buildable
    acceptance = p_stage**space.num_stages * kept / drawn

    count = pycls_counter()
    # The counter agrees with specgen's to the integer on the samples.
    for s in samples[:20]:
        net = s.spec
        assert count(net.depths, net.widths, net.bottleneck_ratios, net.group_widths) == s.flops

    if args.full:
        base, base_drawn, base_kept = baseline(count, None, args.n)
        projected = base
        how = f"ran to {base_kept} models: {base_drawn:,} candidates"
    else:
        base, base_drawn, base_kept = baseline(count, args.baseline_candidates, args.n)
        per_candidate = base / base_drawn
        projected = per_candidate * args.n / acceptance
        how = (
            f"timed on {base_drawn:,} candidates ({1e6 * per_candidate:.1f} us each); "
            f"needs ~{args.n / acceptance:,.0f} for {args.n} (acceptance {acceptance:.2e})"
        )
    print(f"AnyNetX_A, {args.n} models in 360-400 MF")
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(f"  specgen sampler (vectorized, NumPy batches): {ours:8.3f} s  (best of 3: {runs})")
    print(f"  per-candidate pycls 0.1.1 counter baseline:  {projected:8.1f} s  ({how})")
    print(f"  ratio: {projected / ours:,.0f}x faster (target >= 50x; absolute target < 1 s)")
    print(f"5-stage spaces, {args.n} models in 360-400 MF (target < 1 s; baseline: the 4-stage space)")
    for name, four in FIVE_STAGE.items():
        mine, theirs = best_of_3(name, args.n), best_of_3(four, args.n)
        print(f"  {name:10s} {mine:6.3f} s   {four:9s} {theirs:6.3f} s   ratio {mine / theirs:.2f}x the time")
    print(f"CIFAR, NDS and block-type spaces, {args.n} models in their bands (target < 1 s)")
    reference = best_of_3("regnetx", args.n)
    print(f"  baseline: regnetx in 360-400 MF {reference:6.3f} s")
    for name, band in FAMILIES.items():
        mine = best_of_3(name, args.n, band)
        print(f"  {name:16s} {mine:6.3f} s   ratio {mine / reference:.2f}x regnetx's time")


if __name__ == "__main__":
    main()
