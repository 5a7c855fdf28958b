"""The emitted module's CPU speed against pycls's and torchvision's RegNet, measured in the same run.

For each zoo model the three implementations are built for the same network (torchvision's
`RegNet` from `BlockParams` with the spec's widths, so models whose torchvision rounding differs
are compared too) and hold the same weights: ours are copied into pycls's (same names) and into
torchvision's (renamed by `specgen.emit.weights`). Each repeat times, for every implementation in
a rotated order, one eval forward (no_grad) and one training step (forward, backward, grads
cleared), so load from other processes falls on all three alike. Per model and thread count it
prints the best ms of each and the median over repeats of the paired ratios ours/pycls and
ours/torchvision (target <= 1.00; the ratios stay comparable on a busy machine, the ms do not).

    python bench/bench_forward.py [--models regnetx_600mf,...] [--threads 1,2] [--repeats 15] [--quick]

`taskset -c 1 python bench/bench_forward.py` pins it to one core where others are busy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torchvision.models.regnet import BlockParams, RegNet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/oracles.py builds pycls's AnyNet for a spec

from specgen.emit.weights import to_pycls_layout  # noqa: E402
from specgen.specfile import load_spec  # noqa: E402
from tests.oracles import emitted_class, pycls_anynet  # noqa: E402

MODELS = ["regnetx_200mf", "regnetx_600mf", "regnety_800mf", "regnety_1_6gf"]
IMPLEMENTATIONS = ("ours", "pycls", "torchvision")


def torchvision_regnet(net) -> torch.nn.Module:
    """torchvision's RegNet with exactly the spec's stages (not its own rounding of the parameters)."""
    params = BlockParams(
        depths=net.depths,
        widths=net.widths,
        group_widths=net.group_widths,
        bottleneck_multipliers=[1 / b for b in net.bottleneck_ratios],
        strides=[s.stride for s in net.stages],
        se_ratio=net.se_ratio or None,
    )
    return RegNet(params, num_classes=net.num_classes, stem_width=net.stem_width)


def build(slug: str, folder: Path) -> tuple[dict[str, torch.nn.Module], object]:
    """The three implementations of one zoo model, holding the emitted module's weights."""
    net = load_spec(ROOT / "specs" / f"{slug}.json").resolve()
    torch.manual_seed(0)
    ours = emitted_class(net, folder)()
    state = ours.state_dict()
    pycls = pycls_anynet(net)
    pycls.load_state_dict(state, strict=True)
    tv = torchvision_regnet(net)
    with torch.no_grad():  # renaming keeps the tensors: copying into them fills torchvision's model
        for name, tensor in to_pycls_layout(tv.state_dict(), net).items():
            tensor.copy_(state[name])
    return {"ours": ours, "pycls": pycls, "torchvision": tv}, net


def eval_forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def train_step(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model(x).logsumexp(1).mean().backward()
    model.zero_grad(set_to_none=True)
    return x


def check_agree(models: dict[str, torch.nn.Module], x: torch.Tensor) -> None:
    """The timed models compute the same function: else the comparison means nothing."""
    outs = {k: eval_forward(m.eval(), x) for k, m in models.items()}
    for k in ("pycls", "torchvision"):
        torch.testing.assert_close(outs[k], outs["ours"], atol=1e-4, rtol=1e-4, msg=f"{k} differs")


def measure(models: dict, x: torch.Tensor, step, repeats: int, warmup: int) -> dict[str, list[float]]:
    """ms per call of each implementation, one call each per repeat, the order rotated every repeat."""
    for _ in range(warmup):
        for m in models.values():
            step(m, x)
    times = {k: [] for k in models}
    for r in range(repeats):
        for i in range(len(IMPLEMENTATIONS)):
            name = IMPLEMENTATIONS[(r + i) % len(IMPLEMENTATIONS)]
            t0 = time.perf_counter()
            step(models[name], x)
            times[name].append((time.perf_counter() - t0) * 1e3)
    return times


def paired_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    parser.add_argument("--threads", default="1", help="comma-separated torch thread counts")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--quick", action="store_true", help="regnetx_200mf, batch 2, 5 repeats")
    args = parser.parse_args()
    if args.quick:
        args.models, args.repeats, args.batch = "regnetx_200mf", 5, 2
    steps = {"eval": (eval_forward, torch.nn.Module.eval), "train": (train_step, torch.nn.Module.train)}
    print(
        f"batch {args.batch}, {args.resolution} px, {args.repeats} interleaved repeats; "
        "ms: best of the repeats; ratios: median of the paired per-repeat ratios (target <= 1.00)"
    )
    header = f"{'model':<15} {'mode':<5} {'threads':>7} {'ours':>8} {'pycls':>8} {'tv':>8}"
    print(header + f" {'ours/pycls':>10} {'ours/tv':>8}")
    print("-" * (len(header) + 20))
    with tempfile.TemporaryDirectory() as tmp:
        for slug in args.models.split(","):
            models, net = build(slug, Path(tmp))
            x = torch.randn(args.batch, net.in_channels, args.resolution, args.resolution)
            check_agree(models, x[:1])
            for threads in (int(t) for t in args.threads.split(",")):
                torch.set_num_threads(threads)
                for mode, (step, set_mode) in steps.items():
                    for m in models.values():
                        set_mode(m)
                    t = measure(models, x, step, args.repeats, warmup=2)
                    best = {k: min(v) for k, v in t.items()}
                    print(
                        f"{slug:<15} {mode:<5} {threads:>7} {best['ours']:>8.1f} {best['pycls']:>8.1f} "
                        f"{best['torchvision']:>8.1f} {paired_ratio(t['ours'], t['pycls']):>10.3f} "
                        f"{paired_ratio(t['ours'], t['torchvision']):>8.3f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
