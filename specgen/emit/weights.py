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
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.spec import NetworkSpec
from specgen.network.stems import STEM_TYPES

_NETWORK = {
    "torchvision": [
        (r"^trunk_output\.block(\d+)\.block\1-(\d+)\.", lambda m: f"s{m[1]}.b{int(m[2]) + 1}."),
        (r"^fc\.", "head.fc."),
    ],
    "timm": [],
}
"""Renames of the network's own names (stages, blocks, head); its stem's and blocks' parameter
names follow their types' `renames`."""


def rules(theirs: str, net: NetworkSpec) -> list:
    """(pattern, replacement) pairs from layout `theirs` to ours, applied to each key in order."""
    if theirs == "pycls":
        return []
    stem, block = STEM_TYPES[net.stem_type], BLOCK_TYPES[net.block_type]
    return stem.renames.get(theirs, []) + _NETWORK[theirs] + block.renames.get(theirs, [])


def layout(state_dict: Mapping) -> str:
    """Which implementation's names a state dict uses: 'pycls' (ours), 'torchvision' or 'timm'."""
    keys = set(state_dict)
    if "stem.0.weight" in keys or "fc.weight" in keys:
        return "torchvision"
    if any(".conv1.conv." in k or ".norm1." in k for k in keys):  # timm's Bottleneck or PreBottleneck
        return "timm"
    return "pycls"


def _rename(key: str, pairs: list) -> str:
    for pattern, replacement in pairs:
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


def renamed_state(state_dict: Mapping, net: NetworkSpec) -> tuple[dict, dict]:
    """A state dict (bare or in a training checkpoint) in our names for `net`'s stem and block
    types: our name -> the tensor, and our name -> its name in the file."""
    state_dict = unwrapped(state_dict)
    renames = rules(layout(state_dict), net)
    renamed, theirs = {}, {}
    for key, value in state_dict.items():
        ours = _rename(str(key), renames)
        renamed[ours], theirs[ours] = value, str(key)
    return renamed, theirs


def to_pycls_layout(state_dict: Mapping, net: NetworkSpec, source: str = "weights") -> dict:
    """A state dict (ours, torchvision's or timm's, bare or in a training checkpoint) in our names, checked
    against `net`: every tensor present with its shape, nothing extra (BN counters aside).
    `source` names the file in errors.
    """
    renamed, theirs = renamed_state(state_dict, net)
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
