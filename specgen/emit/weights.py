"""Weights from other RegNet implementations, renamed to pycls's layout (ours).

torchvision and timm build the same network (docs/reference.md §1) under other
names; renaming their state dicts lets published weights load into an
emitted file. Training checkpoints keep the state dict under a key
(pycls's `model_state`, timm's `state_dict`).
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


CHECKPOINT_KEYS = ("model_state", "state_dict", "model")
"""Where training checkpoints keep the weights: pycls's model_state, timm's state_dict, others' model."""


def unwrapped(checkpoint: Mapping) -> Mapping:
    """The state dict inside a training checkpoint (epoch, optimizer beside it), or the mapping itself."""
    for key in CHECKPOINT_KEYS:
        if isinstance(checkpoint.get(key), Mapping):
            return checkpoint[key]
    return checkpoint


def renamed_state(state_dict: Mapping) -> tuple[dict, dict]:
    """A state dict (bare or in a training checkpoint) in our names: our name -> the tensor, and
    our name -> its name in the file."""
    state_dict = unwrapped(state_dict)
    rules = _RULES[layout(state_dict)]
    renamed, theirs = {}, {}
    for key, value in state_dict.items():
        ours = _rename(str(key), rules)
        renamed[ours], theirs[ours] = value, str(key)
    return renamed, theirs


def to_pycls_layout(state_dict: Mapping, net: NetworkSpec, source: str = "weights") -> dict:
    """A state dict (ours, torchvision's or timm's, bare or in a training checkpoint) in our names, checked
    against `net`: every tensor present with its shape, nothing extra (BN counters aside).
    `source` names the file in errors.
    """
    renamed, theirs = renamed_state(state_dict)
    if not renamed:
        raise SpecError(source, ROOT, "expected a state dict, got an empty mapping")
    try:
        check_state_dict(net, renamed, source)
    except SpecError as e:  # named as in the file, which is what its owner can look up
        if theirs.get(e.path, e.path) == e.path:
            raise
        raise SpecError(source, theirs[e.path], f"{e.message} ({e.path} in the emitted module)") from None
    return renamed


UNREADABLE = "expected a file saved with torch.save holding tensors, numbers and strings only"


def load_checkpoint(path: str) -> Mapping:
    """A file saved with torch.save holding a state dict or a training checkpoint (pycls's, timm's).

    Loading is silent: whatever torch warns about a file (a plain pickle's protocol, say) would
    print before our one line, so every warning raised while reading it is dropped.
    """
    import argparse
    import warnings

    import torch

    try:  # timm's checkpoints keep the training arguments: a Namespace of plain values, safe to rebuild
        with warnings.catch_warnings(), torch.serialization.safe_globals([argparse.Namespace]):
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpecError(path, ROOT, "file not found") from None
    except Exception:  # torch raises many kinds, with texts such as "101", for a file that is not one
        raise SpecError(path, ROOT, UNREADABLE) from None
    if not isinstance(data, Mapping):
        raise SpecError(path, ROOT, f"expected a state dict, got {type(data).__name__}")
    return data
