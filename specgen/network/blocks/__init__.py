"""Block types by name (pycls's vocabulary), each described once in a module of its own.

A block type's description (`layers`) is read by complexity counting, the ONNX graph and the
state dict; its template fragment `templates/blocks/<name>.py.j2` writes its classes in the
emitted .py; its `renames` map other implementations' parameter names to ours.
"""

from __future__ import annotations

from specgen.network.blocks import res_basic_block, res_bottleneck_block, vanilla_block
from specgen.network.blocks.base import BlockShape, BlockType

DEFAULT = "res_bottleneck_block"
BLOCK_TYPES: dict[str, BlockType] = {
    t.name: t for t in (res_bottleneck_block.BLOCK, res_basic_block.BLOCK, vanilla_block.BLOCK)
}

__all__ = ["BLOCK_TYPES", "DEFAULT", "BlockShape", "BlockType"]
