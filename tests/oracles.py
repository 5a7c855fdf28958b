"""pycls 0.1.1 as an oracle, and the emitted module as a user gets it: shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import torch
from pycls.models.anynet import AnyNet

from specgen.emit.load import load_network_class
from specgen.emit.python import class_name, render_module
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.spec import NetworkSpec


def pycls_kwargs(net: NetworkSpec) -> dict:
    """pycls's AnyNet arguments for the same network (its bottleneck multiplier is 1/b; a block
    type without groups takes none)."""
    grouped = BLOCK_TYPES[net.block_type].grouped
    return {
        "stem_type": net.stem_type,
        "stem_w": net.stem_width,
        "block_type": net.block_type,
        "ds": net.depths,
        "ws": net.widths,
        "ss": [s.stride for s in net.stages],
        "bms": [1 / b for b in net.bottleneck_ratios] if grouped else None,
        "gws": net.group_widths if grouped else None,
        "se_r": net.se_ratio or None,
        "nc": net.num_classes,
    }


def pycls_anynet(net: NetworkSpec, device: str = "cpu") -> torch.nn.Module:
    """pycls's AnyNet of the same network; its stem hard-codes 3 channels, so other inputs get ours."""
    with torch.device(device):
        model = AnyNet(**pycls_kwargs(net))
        if net.in_channels != 3:
            conv = model.stem.conv
            model.stem.conv = torch.nn.Conv2d(
                net.in_channels, net.stem_width, conv.kernel_size, conv.stride, conv.padding, bias=False
            )
    return model


def pycls_complexity(net: NetworkSpec, resolution: int) -> dict:
    """pycls's own counter (it counts a 3-channel stem)."""
    cx = {"h": resolution, "w": resolution, "flops": 0, "params": 0, "acts": 0}
    out = AnyNet.complexity(cx, **pycls_kwargs(net))
    return {k: out[k] for k in ("flops", "params", "acts")}


def randomized(module: torch.nn.Module, generator: torch.Generator | None = None) -> torch.nn.Module:
    """In eval mode, with every BN (running stats too), conv bias and linear layer random, so each matters."""
    g = generator or torch.Generator().manual_seed(1)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    def normal(t: torch.Tensor, std: float) -> None:
        t.copy_(torch.randn(t.shape, generator=g) * std)

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                uniform(m.weight, 0.5, 1.5)
                normal(m.bias, 0.1)
                normal(m.running_mean, 0.1)
                uniform(m.running_var, 0.5, 2.0)
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                normal(m.bias, 0.1)
            elif isinstance(m, torch.nn.Linear):
                normal(m.weight, m.in_features**-0.5)
                normal(m.bias, 0.1)
    return module.eval()


def emitted_class(net: NetworkSpec, folder: Path) -> type:
    """The emitted .py, written to `folder` and imported from its file, as a user would."""
    path = folder / f"{net.name}.py"
    path.write_text(render_module(net), encoding="utf-8")
    return load_network_class(path, class_name(net))
