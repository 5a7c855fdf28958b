"""Weights from other RegNet implementations, renamed to pycls's layout (ours).

torchvision and timm build the same network (REFERENCE.md §1) under other
names; renaming their state dicts lets published weights load into an
emitted file. A pycls checkpoint keeps its state dict under `model_state`.
Only names change: the tensors are the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from specgen.errors import ROOT, SpecError
from specgen.spec import NetworkSpec, se_width

BN_BUFFERS = ("weight", "bias", "running_mean", "running_var")
BATCHES = "num_batches_tracked"

# (pattern, replacement), applied to each key in order.
_TORCHVISION = [
    (r"^stem\.0\.", "stem.conv."),
    (r"^stem\.1\.", "stem.bn."),
    (r"^trunk_output\.block(\d+)\.block\1-(\d+)\.", lambda m: f"s{m[1]}.b{int(m[2]) + 1}."),
    (r"\.proj\.0\.", ".proj."),
    (r"\.proj\.1\.", ".bn."),
    (r"\.f\.([abc])\.0\.", r".f.\1."),
    (r"\.f\.([abc])\.1\.", r".f.\1_bn."),
    (r"\.f\.se\.fc1\.", ".f.se.f_ex.0."),
    (r"\.f\.se\.fc2\.", ".f.se.f_ex.2."),
    (r"^fc\.", "head.fc."),
]
_TIMM = [
    (r"\.downsample\.conv\.", ".proj."),
    (r"\.downsample\.bn\.", ".bn."),
    (r"\.conv1\.conv\.", ".f.a."),
    (r"\.conv1\.bn\.", ".f.a_bn."),
    (r"\.conv2\.conv\.", ".f.b."),
    (r"\.conv2\.bn\.", ".f.b_bn."),
    (r"\.conv3\.conv\.", ".f.c."),
    (r"\.conv3\.bn\.", ".f.c_bn."),
    (r"\.se\.fc1\.", ".f.se.f_ex.0."),
    (r"\.se\.fc2\.", ".f.se.f_ex.2."),
]
_RULES = {"pycls": [], "torchvision": _TORCHVISION, "timm": _TIMM}


def expected_shapes(net: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor of the network in pycls's names, with its shape (BN counters excluded)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, c_out: int, c_in: int, k: int, bias: bool = False) -> None:
        shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        if bias:
            shapes[f"{name}.bias"] = (c_out,)

    def bn(name: str, c: int) -> None:
        shapes.update({f"{name}.{b}": (c,) for b in BN_BUFFERS})

    conv("stem.conv", net.stem_width, net.in_channels, 3)
    bn("stem.bn", net.stem_width)
    w_in = net.stem_width
    for i, stage in enumerate(net.stages, start=1):
        w_out, w_b = stage.width, stage.bottleneck_width
        for j in range(1, stage.depth + 1):
            block, stride = f"s{i}.b{j}", stage.stride if j == 1 else 1
            if w_in != w_out or stride != 1:
                conv(f"{block}.proj", w_out, w_in, 1)
                bn(f"{block}.bn", w_out)
            conv(f"{block}.f.a", w_b, w_in, 1)
            bn(f"{block}.f.a_bn", w_b)
            conv(f"{block}.f.b", w_b, stage.group_width, 3)
            bn(f"{block}.f.b_bn", w_b)
            if net.se_ratio > 0:
                w_se = se_width(w_in, net.se_ratio)
                conv(f"{block}.f.se.f_ex.0", w_se, w_b, 1, bias=True)
                conv(f"{block}.f.se.f_ex.2", w_b, w_se, 1, bias=True)
            conv(f"{block}.f.c", w_out, w_b, 1)
            bn(f"{block}.f.c_bn", w_out)
            w_in = w_out
    shapes["head.fc.weight"] = (net.num_classes, w_in)
    shapes["head.fc.bias"] = (net.num_classes,)
    return shapes


def layout(state_dict: Mapping) -> str:
    """Which implementation's names a state dict uses: 'pycls' (ours), 'torchvision' or 'timm'."""
    keys = set(state_dict)
    if "stem.0.weight" in keys or "fc.weight" in keys:
        return "torchvision"
    if any(".conv1.conv." in k for k in keys):
        return "timm"
    return "pycls"


def _rename(key: str, rules: list) -> str:
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


def to_pycls_layout(state_dict: Mapping, net: NetworkSpec, source: str = "weights") -> dict:
    """A state dict (ours, a pycls checkpoint, torchvision's or timm's) in our names, checked
    against `net`: every tensor present with its shape, nothing extra. BN counters that a
    layout lacks are left for load_state_dict's caller to add; `source` names the file in errors.
    """
    if "model_state" in state_dict and isinstance(state_dict["model_state"], Mapping):
        state_dict = state_dict["model_state"]
    rules = _RULES[layout(state_dict)]
    renamed = {_rename(str(k), rules): v for k, v in state_dict.items()}
    expected = expected_shapes(net)
    for key, shape in expected.items():
        if key not in renamed:
            raise SpecError(source, key, f"missing from the weights (network {net.name})")
        got = tuple(getattr(renamed[key], "shape", ()))
        if got != shape:
            raise SpecError(source, key, f"expected shape {shape}, got {got}")
    for key in renamed:
        if key not in expected and not key.endswith(f".{BATCHES}"):
            raise SpecError(source, key, f"unexpected tensor for network {net.name}")
    if not renamed:
        raise SpecError(source, ROOT, "expected a state dict, got an empty mapping")
    return renamed
