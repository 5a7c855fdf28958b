"""Generated sweep files in the NDS data release's format, with its quirks: `*_reruns` files (an object of
`top` and `mid` lists), NaN losses, and NAS-cell records mixed in. The real files cannot be downloaded here.

A record's `flops` and `params` come from `count`, a function of its network's NetworkSpec fields:
pycls 0.1.1's own counter in the oracle test, specgen's elsewhere (cheaper).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from specgen.network import complexity
from specgen.network.nds import spec_from_net
from specgen.network.spec import NetworkSpec

FAMILIES = {"Vanilla": "double_plain_block", "ResNet": "res_basic_block", "ResNeXt-A": "res_bottleneck_block"}
EPOCHS = 10


def ours(spec: dict) -> tuple[int, int]:
    cx = complexity.count(NetworkSpec.model_validate(spec))
    return cx.flops, cx.params


def residual_net(rng: np.random.Generator, block_type: str) -> dict:
    """A CIFAR network of the NDS residual spaces: a 16-wide stride-1 stem entry, then 3 stages."""
    ds = [1, *rng.integers(1, 9, 3).tolist()]
    ws = [16, *(16 * rng.integers(1, 17, 3)).tolist()]  # w·m is a multiple of 4 groups
    muls = [0.0, *rng.choice([1.0, 0.5, 0.25], 3).tolist()]
    gs = [1, *rng.choice([1, 2, 4], 3).tolist()]
    if block_type != "res_bottleneck_block":
        muls, gs = [0.0] * 4, [1] * 4
    return {"block_type": block_type, "ds": ds, "ws": ws, "ss": [1, 1, 2, 2], "bot_muls": muls, "num_gs": gs}


def nas_net(rng: np.random.Generator) -> dict:
    ops = ["sep_conv_3x3", "max_pool_3x3", "skip_connect", "dil_conv_5x5"]
    cell = [[str(rng.choice(ops)), int(rng.integers(0, 2 + i // 2))] for i in range(8)]
    genotype = {"normal": cell, "normal_concat": [2, 3, 4, 5], "reduce": cell, "reduce_concat": [2, 3, 4, 5]}
    return {"genotype": genotype, "depth": 20, "width": 32, "aux": False, "drop_prob": 0.0}


def record(rng: np.random.Generator, net: dict, count: Callable[[dict], tuple[int, int]] | None) -> dict:
    """A job record: its curves fall to the best error; one in 40 has NaN losses."""
    best = float(np.round(rng.uniform(5.0, 20.0), 2))
    test = np.round(best + np.linspace(30.0, 0.0, EPOCHS) * rng.uniform(0.5, 1.0), 2).tolist()
    loss = np.linspace(2.0, 0.1, EPOCHS).tolist()
    if rng.random() < 1 / 40:
        loss[EPOCHS // 2 :] = [float("nan")] * (EPOCHS - EPOCHS // 2)
    flops, params = (1, 1) if count is None else count(spec_from_net(net, "x"))
    return {
        "net": net,
        "optim": {
            "base_lr": float(rng.choice([0.05, 0.1, 0.2])),
            "wd": float(rng.choice([1e-4, 5e-4])),
            "max_ep": EPOCHS,
        },
        "params": params,
        "flops": flops,
        "min_test_top1": min(test),
        "test_ep_top1": test,
        "train_ep_top1": [t - 2 for t in test],
        "train_ep_loss": loss,
        "rng_seed": int(rng.integers(0, 2**31)),
        "prec_time": float(rng.uniform(0.01, 0.1)),
        "iter_time": float(rng.uniform(0.01, 0.1)),
    }


def sweep(
    n: int,
    family: str = "ResNet",
    seed: int = 0,
    nas: int = 0,
    count: Callable[[dict], tuple[int, int]] = ours,
) -> list[dict]:
    """n residual records of a family, and `nas` NAS-cell records mixed in."""
    rng = np.random.default_rng(seed)
    records = [record(rng, residual_net(rng, FAMILIES[family]), count) for _ in range(n)]
    for i in rng.choice(n + nas, nas, replace=False) if nas else []:
        records.insert(int(i), record(rng, nas_net(rng), None))
    return records


def write(path: Path, data: object) -> Path:
    """The file as the release writes it: plain JSON, NaN spelled NaN."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def reruns(n: int, family: str = "ResNet", seed: int = 0) -> dict:
    """A `*_reruns` file: the top and mid models of a sweep, each trained again."""
    records = sweep(2 * n, family, seed)
    return {"top": records[:n], "mid": records[n:]}
