"""Stem types by name (pycls's vocabulary), each described once in a module of its own.

Read like block types (see `specgen.network.blocks`); the fragment is `templates/stems/<name>.py.j2`.
"""

from __future__ import annotations

from specgen.network.stems import res_stem_cifar, res_stem_in, simple_stem_in
from specgen.network.stems.base import StemType

DEFAULT = "simple_stem_in"
STEM_TYPES: dict[str, StemType] = {
    t.name: t for t in (simple_stem_in.STEM, res_stem_cifar.STEM, res_stem_in.STEM)
}

__all__ = ["DEFAULT", "STEM_TYPES", "StemType"]
