"""NDS `net` dicts <-> NetworkSpec: the residual families of "On Network Design Spaces" (Vanilla, ResNet,
ResNeXt) as the NDS data release writes them.

A `net` lists per-stage `ds`, `ws`, `ss`, `bot_muls` (bottleneck multipliers: the bottleneck width is
w·m, so our ratio b is 1/m) and `num_gs` (numbers of groups, not group widths), with entry 0 the stem
(depth 1, multiplier 0, one group; its width is the stem width, its stride tells the stem). pycls's
`double_plain_block` is our `vanilla_block`. A `stem_type` key, where present, names the stem, and `nc`
the classes; otherwise a stride-1 stem is CIFAR's (10 classes at 32 px), a stride-4 one ImageNet's.
"""

from __future__ import annotations

from typing import Any

from specgen.errors import FieldError
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.spec import NetworkSpec, whole_bottleneck_width
from specgen.network.stems import STEM_TYPES

BLOCK_NAMES = {
    "res_bottleneck_block": "res_bottleneck_block",
    "res_basic_block": "res_basic_block",
    "double_plain_block": "vanilla_block",
}
"""NDS's block types -> ours."""
STAGE_LISTS = ("ds", "ws", "ss", "bot_muls", "num_gs")
STEM_BY_STRIDE = {
    STEM_TYPES[name].stride: name for name in ("res_stem_cifar", "simple_stem_in", "res_stem_in")
}
CIFAR_STRIDE = STEM_TYPES["res_stem_cifar"].stride
"""A stem that keeps the resolution is CIFAR's: 32 px, 10 classes (ImageNet: 224 px, 1000)."""


def _whole(value: object, loc: tuple) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise FieldError(loc, f"expected a whole number >= 1, got {value!r}")
    return int(value)


def spec_from_net(net: dict[str, Any], name: str) -> dict[str, Any]:
    """The NetworkSpec fields (as data, for NetworkSpec to check) of a residual NDS `net`.

    Raises FieldError at the `net` field that does not describe a network specgen builds.
    """
    block = net.get("block_type")
    if block not in BLOCK_NAMES:
        raise FieldError(("block_type",), f"expected one of {', '.join(BLOCK_NAMES)}, got {block!r}")
    lists = []
    for key in STAGE_LISTS:
        value = net.get(key)
        if not isinstance(value, list) or len(value) < 2:
            raise FieldError((key,), "expected a list of the stem's and at least one stage's values")
        if len(value) != len(net["ds"]):
            raise FieldError((key,), f"expected {len(net['ds'])} values as in ds, got {len(value)}")
        lists.append(value)
    ds, ws, ss, ms, gs = lists
    stride = _whole(ss[0], ("ss", 0))
    stem = net.get("stem_type", STEM_BY_STRIDE.get(stride))
    if stem not in STEM_TYPES or STEM_TYPES[stem].stride != stride:
        raise FieldError(
            ("ss", 0), f"expected a stem stride of {', '.join(map(str, STEM_BY_STRIDE))}, got {stride}"
        )
    grouped = BLOCK_TYPES[BLOCK_NAMES[block]].grouped
    stages = []
    for i in range(1, len(ds)):
        stage = {"depth": _whole(ds[i], ("ds", i)), "width": _whole(ws[i], ("ws", i))}
        stage["stride"] = _whole(ss[i], ("ss", i))
        if grouped:
            m, groups = ms[i], _whole(gs[i], ("num_gs", i))
            if isinstance(m, bool) or not isinstance(m, (int, float)) or not m > 0:
                raise FieldError(("bot_muls", i), f"expected a multiplier > 0, got {m!r}")
            inner = whole_bottleneck_width(stage["width"], 1 / m)
            if inner is None or inner % groups:
                message = f"expected w·m whole and divisible by num_gs = {groups}, got {stage['width']}·{m}"
                raise FieldError(("bot_muls", i), message)
            stage |= {"bottleneck_ratio": 1 / m, "group_width": inner // groups}
        stages.append(stage)
    cifar = stride == CIFAR_STRIDE
    return {
        "kind": "anynet",
        "name": name,
        "stem_type": stem,
        "block_type": BLOCK_NAMES[block],
        "stem_width": _whole(ws[0], ("ws", 0)),
        "stages": stages,
        "num_classes": net.get("nc", 10 if cifar else 1000),
        "resolution": 32 if cifar else 224,
    }


def net_from_spec(spec: NetworkSpec) -> dict[str, Any]:
    """The NDS `net` of a network of a residual family (no SE, pycls's plain options)."""
    ours = {v: k for k, v in BLOCK_NAMES.items()}
    grouped = BLOCK_TYPES[spec.block_type].grouped
    return {
        "block_type": ours[spec.block_type],
        "stem_type": spec.stem_type,
        "ds": [1, *spec.depths],
        "ws": [spec.stem_width, *spec.widths],
        "ss": [STEM_TYPES[spec.stem_type].stride, *(s.stride for s in spec.stages)],
        "bot_muls": [0.0, *(1 / s.bottleneck_ratio if grouped else 0.0 for s in spec.stages)],
        "num_gs": [1, *(s.groups if grouped else 1 for s in spec.stages)],
        "nc": spec.num_classes,
    }
