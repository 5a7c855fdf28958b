"""Weights from other RegNet implementations, renamed to pycls's layout (ours).

torchvision and timm build the same network (REFERENCE.md §1) under other
names; renaming their state dicts lets published weights load into an
emitted file. A pycls checkpoint keeps its state dict under `model_state`.
Only names change: the tensors are the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from specgen.emit.layout import check_state_dict
from specgen.errors import ROOT, SpecError
from specgen.spec import NetworkSpec

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
    against `net`: every tensor present with its shape, nothing extra (BN counters aside).
    `source` names the file in errors.
    """
    if "model_state" in state_dict and isinstance(state_dict["model_state"], Mapping):
        state_dict = state_dict["model_state"]
    rules = _RULES[layout(state_dict)]
    renamed = {_rename(str(k), rules): v for k, v in state_dict.items()}
    if not renamed:
        raise SpecError(source, ROOT, "expected a state dict, got an empty mapping")
    check_state_dict(net, renamed, source)
    return renamed


def load_checkpoint(path: str) -> Mapping:
    """A file saved with torch.save holding a state dict or a pycls checkpoint (tensors only)."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpecError(path, ROOT, "file not found") from None
    except Exception as e:  # torch raises many kinds for a file that is not a checkpoint
        raise SpecError(
            path, ROOT, f"expected a file saved with torch.save, got: {str(e).splitlines()[0]}"
        ) from None
    if not isinstance(data, Mapping):
        raise SpecError(path, ROOT, f"expected a state dict, got {type(data).__name__}")
    return data
