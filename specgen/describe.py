"""What a spec resolves to: its stages and its complexity, for people and scripts."""

from __future__ import annotations

from specgen.fmt import count_human, flops_human, table
from specgen.network import complexity
from specgen.network.blocks import DEFAULT as DEFAULT_BLOCK
from specgen.network.layers import out_size
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.network.stems import DEFAULT as DEFAULT_STEM
from specgen.network.stems import STEM_TYPES


def summary(spec: RegNetSpec | NetworkSpec, resolution: int | None = None) -> dict:
    """The resolved network and its complexity as plain data (`--json`)."""
    net = spec.resolve()
    res = net.resolution if resolution is None else resolution
    cx = complexity.count(net, res)
    return {
        "name": net.name,
        "kind": spec.kind,
        "resolution": res,
        "stem_type": net.stem_type,
        "block_type": net.block_type,
        "shortcut": net.shortcut,
        "linear_out": net.linear_out,
        "preact": net.preact,
        "activation": net.activation,
        "stem_width": net.stem_width,
        "stages": [s.model_dump() for s in net.stages],
        "se_ratio": net.se_ratio,
        "num_classes": net.num_classes,
        "flops": cx.flops,
        "params": cx.params,
        "acts": cx.acts,
    }


def _origin(spec: RegNetSpec | NetworkSpec) -> str:
    if isinstance(spec, RegNetSpec):
        return (
            f"RegNet d={spec.depth} w0={spec.w0} wa={spec.wa:g} wm={spec.wm:g} "
            f"g={spec.group_width} b={spec.bottleneck_ratio:g} q={spec.q}, {spec.rounding} rounding"
        )
    return "AnyNet"


def render(spec: RegNetSpec | NetworkSpec, resolution: int | None = None) -> str:
    """A table of stages and the complexity, with thousands separators."""
    info = summary(spec, resolution)
    stride = STEM_TYPES[info["stem_type"]].stride
    size = out_size(info["resolution"], stride)
    rows = [("stem", 1, info["stem_width"], "", "", stride, f"{size}x{size}")]
    for i, s in enumerate(info["stages"], start=1):
        size = out_size(size, s["stride"])
        rows.append(
            (
                f"s{i}",
                s["depth"],
                s["width"],
                s["group_width"],
                f"{s['bottleneck_ratio']:g}",
                s["stride"],
                f"{size}x{size}",
            )
        )
    if info["block_type"] != DEFAULT_BLOCK:
        block = info["block_type"]
    else:
        block = "Y (SE {:g})".format(info["se_ratio"]) if info["se_ratio"] else "X"
    block += " blocks" if info["stem_type"] == DEFAULT_STEM else f" blocks behind a {info['stem_type']} stem"
    options = [info["activation"]] if info["activation"] != "relu" else []
    options += ["average-pool shortcuts"] if info["shortcut"] == "avg" else []
    options += ["linear outputs"] if info["linear_out"] else []
    options += ["pre-activation"] if info["preact"] else []
    block += "".join(f", {o}" for o in options)
    lines = [
        f"{info['name']}: {_origin(spec)}",
        f"{block}, {info['num_classes']} classes, input {info['resolution']}x{info['resolution']}",
        "",
        table(
            ["stage", "depth", "width", "group width", "bottleneck ratio", "stride", "output"],
            rows,
            right=[False, True, True, True, True, True, True],
        ),
        "",
        f"flops   {info['flops']:>17,}  ({flops_human(info['flops'])})",
        f"params  {info['params']:>17,}  ({count_human(info['params'])})",
        f"acts    {info['acts']:>17,}  ({count_human(info['acts'])})",
    ]
    return "\n".join(lines)
