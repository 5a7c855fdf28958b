"""`specgen time` on a GPU (run it when a GPU machine is lent): the emitted module against torchvision's
RegNet of the same network (baseline), and the paper's claim that activations, not flops, predict GPU time.

For each zoo model, the emitted module (imported from its file, as `specgen time` runs it) and
torchvision's `RegNet` built with exactly the spec's stages are timed through the same harness
(`specgen.train.timing`: warm-up, then repeats each followed by a CUDA synchronize; bf16 autocast and
channels_last on a GPU with native bf16): forward in eval mode and forward+backward in train mode. It
prints the median ms of each, the ratio ours / torchvision (target <= 1.00), and, over the models, the
Pearson correlation of our times with flops and with activations.

    python bench/gpu_timing.py [--models regnetx_200mf,...] [--batch-size 64] [--resolution 224]
                               [--repeats 20] [--compile]

Without CUDA it stops with a message; `--device cpu` with tiny sizes runs the same code paths on the CPU,
only to check the script itself.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_forward import torchvision_regnet  # noqa: E402

from specgen.network import complexity  # noqa: E402
from specgen.specfile import load_spec  # noqa: E402
from specgen.train.modules import network_class  # noqa: E402
from specgen.train.timing import Settings, at_resolution, timed_calls, torch_call  # noqa: E402
from specgen.train.trainer import hardware, resolve_precision  # noqa: E402

MODELS = [f"regnet{f}_{size}" for f in "xy" for size in ("200mf", "400mf", "800mf", "1_6gf", "3_2gf", "8gf")]
MODES = {"eval": "forward", "train": "forward+backward"}


def median_ms(model: torch.nn.Module, net, mode: str, settings: Settings) -> float:
    torch.manual_seed(0)
    call = torch_call(model, net, mode, settings)
    return 1e3 * statistics.median(timed_calls(call, settings, lambda: None))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="Both implementations through torch.compile.")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "bench/gpu_timing.py: no CUDA device here; run it where a GPU is lent (--device cpu: a check)",
            file=sys.stderr,
        )
        return 1
    settings = Settings(
        device,
        resolve_precision(args.precision, device),
        batch_size=args.batch_size,
        warmup=args.warmup,
        repeats=args.repeats,
        compile=args.compile,
    )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(
        f"{hardware(device)}, batch {args.batch_size} at {args.resolution} px, {settings.precision}"
        f"{', compiled' if args.compile else ''}: median ms of {args.repeats} calls"
    )
    header = f"{'model':<16}{'mode':<18}{'ours':>10}{'torchvision':>13}{'ratio':>8}"
    print(header)
    figures: dict[str, list[tuple[float, int, int]]] = {mode: [] for mode in MODES}
    ratios: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="specgen-bench-") as cache:
        for slug in args.models.split(","):
            net = at_resolution(load_spec(ROOT / "specs" / f"{slug}.json").resolve(), args.resolution, slug)
            cx = complexity.count(net)
            for mode, label in MODES.items():
                ours = median_ms(network_class(net, Path(cache))(), net, mode, settings)
                base = median_ms(torchvision_regnet(net), net, mode, settings)
                figures[mode].append((ours, cx.flops, cx.acts))
                ratios[mode].append(ours / base)
                print(f"{slug:<16}{label:<18}{ours:>10.2f}{base:>13.2f}{ours / base:>8.3f}")
    for mode, label in MODES.items():
        print(f"median ratio ours / torchvision, {label}: {statistics.median(ratios[mode]):.3f}")
    if len(figures["eval"]) > 2:
        for mode, label in MODES.items():
            ms, flops, acts = (np.array(column, dtype=float) for column in zip(*figures[mode], strict=True))
            r_flops, r_acts = np.corrcoef(ms, flops)[0, 1], np.corrcoef(ms, acts)[0, 1]
            print(f"correlation of {label} time with flops: {r_flops:.3f}, with acts: {r_acts:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
