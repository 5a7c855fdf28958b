"""What a block type is: its description, what it has room for, and its names elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specgen.network.layers import Layer


@dataclass(frozen=True)
class BlockShape:
    """One block of a network (ints), or the same block across a batch of networks (arrays)."""

    w_in: Any
    w_out: Any
    stride: Any
    w_b: Any
    group_width: Any
    w_se: Any
    se: Any


@dataclass(frozen=True)
class BlockType:
    name: str
    layers: Callable[[BlockShape], list[Layer]]
    """The block's layers in order, named as pycls names its modules; the last is its output."""
    grouped: bool
    """Has a bottleneck ratio and a group width (else both must be 1)."""
    se: bool
    """Has a place for squeeze-and-excitation (else se_ratio must be 0)."""
    renames: dict[str, list[tuple[str, Any]]]
    """Per other layout (torchvision, timm): (pattern, replacement) rules from its names of the
    block's parameters to ours."""

    @property
    def template(self) -> str:
        """Its fragment of the emitted .py, under templates/."""
        return f"blocks/{self.name}.py.j2"
