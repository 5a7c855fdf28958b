"""What a block type is: its description, what it has room for, and its names elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specgen.network.layers import (
    IN,
    BatchNorm,
    Conv,
    Layer,
    Op,
    Pool,
    act_name,
    activation,
    chosen,
    projects,
)


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
    act: str = "Relu"
    shortcut: str = "conv1x1"
    linear_out: bool = False
    preact: bool = False


@dataclass(frozen=True)
class BlockType:
    name: str
    layers: Callable[[BlockShape], list[Layer]]
    """The block's layers in order, named as pycls names its modules; the last is its output."""
    grouped: bool
    """Has a bottleneck ratio and a group width (else both must be 1)."""
    se: bool
    """Has a place for squeeze-and-excitation (else se_ratio must be 0)."""
    residual: bool
    """Has a shortcut (else the shortcut and linear_out options have nothing to act on)."""
    preact: bool
    """Has a pre-activation form (BN and activation before each conv, timm's RegNetV)."""
    renames: dict[str, list[tuple[str, Any]]]
    """Per other layout (torchvision, timm): (pattern, replacement) rules from its names of the
    block's parameters to ours."""

    @property
    def template(self) -> str:
        """Its fragment of the emitted .py, under templates/."""
        return f"blocks/{self.name}.py.j2"


def shortcut(b: BlockShape, x: str = IN) -> list[Layer]:
    """A residual block's projection of `x` where its shape changes: a 1x1 conv with the stride
    and BN (pycls), or with `shortcut` "avg" a 2x2 average pool with the stride first and the
    conv without it (timm's downsample="avg"; no pool where the stride is 1). A pre-activation
    block's has no BN (its `x` is normalized already)."""
    proj = projects(b.w_in, b.w_out, b.stride)
    norm = [] if b.preact else [BatchNorm("bn", "proj", b.w_out, present=proj)]
    if b.shortcut != "avg":
        return [Conv("proj", x, b.w_in, b.w_out, 1, b.stride, present=proj), *norm]
    pooled = proj & (b.stride != 1)
    return [
        Pool("pool", x, b.w_in, 2, b.stride, "AveragePool", present=pooled),
        Conv("proj", chosen(pooled, "pool", x), b.w_in, b.w_out, 1, present=proj),
        *norm,
    ]


def residual_sum(b: BlockShape, branch: str, x: str = IN) -> list[Layer]:
    """The shortcut of `x` (projected where the shape changes) plus the branch's output, then the
    activation unless the block is `linear_out` or pre-activation."""
    projected = "proj" if b.preact else "bn"
    added = Op("add", "Add", (chosen(projects(b.w_in, b.w_out, b.stride), projected, x), branch))
    if b.linear_out or b.preact:
        return [added]
    return [added, activation(act_name("", b.act), "add", b.act)]
