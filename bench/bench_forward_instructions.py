"""The emitted module's CPU work against pycls's and torchvision's RegNet, in instructions (valgrind).

Wall-clock ratios on a shared 2-core machine move by several percent from run to run
(bench_forward.py); the number of instructions a forward executes does not depend on load.
This script runs itself under valgrind's callgrind, builds the three implementations of each
zoo model with the same weights (as bench_forward.py does), and counts, for each one, the
instructions of one eval forward (no_grad) and one training step (forward, backward, grads
cleared) after a warm-up call: counting starts at a call of `math.gcd` and is dumped at a call of
`math.lcm`, which nothing else in the measured stretch calls. One thread (OMP_NUM_THREADS=1).
Prints the instructions of each and the ratios ours/pycls and ours/torchvision (target <= 1.00).
The same kernels run in all three (valgrind makes oneDNN pick the same ISA for each), so a
difference is work that one implementation does and another does not.

    python bench/bench_forward_instructions.py [--models regnetx_600mf,regnety_800mf] [--modes eval,train]
                                               [--batch 8] [--resolution 224]

Needs valgrind, and patience: under callgrind the first call of each implementation (every kernel
translated, oneDNN's generated code too) takes minutes; at batch 8, 224 px one model's eval takes
about 35 minutes of one core, a training step several times that; `--modes train --batch 2` of both
default models took about an hour. `--models regnetx_200mf --batch 2 --resolution 32` runs in about 3
minutes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("eval", "train")
IMPLEMENTATIONS = ("ours", "pycls", "torchvision")


def measured_run(models: list[str], modes: list[str], batch: int, resolution: int) -> None:
    """Inside valgrind: one counted call per model, mode and implementation, in that order."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_forward import build, eval_forward, train_step

    torch.set_num_threads(1)
    steps = {"eval": (eval_forward, torch.nn.Module.eval), "train": (train_step, torch.nn.Module.train)}
    with tempfile.TemporaryDirectory() as tmp:
        for slug in models:
            implementations, net = build(slug, Path(tmp))
            x = torch.randn(batch, net.in_channels, resolution, resolution)
            for mode in modes:
                step, set_mode = steps[mode]
                for name in IMPLEMENTATIONS:
                    model = set_mode(implementations[name])
                    step(model, x)  # warm-up: first-call allocations and kernel choices
                    math.gcd(1, 1)  # callgrind zeroes its counters here ...
                    step(model, x)
                    math.lcm(1, 1)  # ... and dumps them here


def instructions(dump: Path) -> int:
    """The instructions counted in one callgrind dump (its 'summary' line)."""
    found = re.search(r"^summary: (\d+)", dump.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"{dump}: no instruction total in the callgrind dump")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="regnetx_600mf,regnety_800mf", help="comma-separated zoo names")
    parser.add_argument("--modes", default="eval,train", help="eval, train or both")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--measured-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    models, modes = args.models.split(","), args.modes.split(",")
    if not set(modes) <= set(MODES):
        parser.error(f"--modes: expected eval, train or both, got {args.modes}")
    if args.measured_run:
        measured_run(models, modes, args.batch, args.resolution)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--zero-before=math_gcd",
            "--dump-before=math_lcm",
            "--collect-systime=no",
            sys.executable,
            __file__,
            "--measured-run",
            f"--models={args.models}",
            f"--modes={args.modes}",
            f"--batch={args.batch}",
            f"--resolution={args.resolution}",
        ]
        env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
        run = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True)
        if run.returncode:
            raise SystemExit(f"the measured run failed:\n{run.stderr[-4000:]}")
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        counts = iter(instructions(d) for d in dumps)
        expected = len(models) * len(modes) * len(IMPLEMENTATIONS)
        if len(dumps) != expected:
            raise SystemExit(f"expected {expected} callgrind dumps, got {len(dumps)}")
        print(f"batch {args.batch}, {args.resolution} px, one thread; instructions of one call (x 1e6)")
        header = f"{'model':<15} {'mode':<5} {'ours':>10} {'pycls':>10} {'tv':>10}"
        print(header + f" {'ours/pycls':>10} {'ours/tv':>8}")
        print("-" * (len(header) + 20))
        for slug in models:
            for mode in modes:
                n = {name: next(counts) for name in IMPLEMENTATIONS}
                print(
                    f"{slug:<15} {mode:<5} {n['ours'] / 1e6:>10.1f} {n['pycls'] / 1e6:>10.1f} "
                    f"{n['torchvision'] / 1e6:>10.1f} {n['ours'] / n['pycls']:>10.4f} "
                    f"{n['ours'] / n['torchvision']:>8.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
