"""The precision a network trains in. The names are checked here, without torch, so the CLI refuses
a bad one before any data is loaded or a store is made; the trainer resolves `auto` for its device."""

from __future__ import annotations

from specgen.errors import ROOT, SpecError

PRECISIONS = ("auto", "bf16", "fp32")


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise SpecError("--precision", ROOT, f"expected auto, bf16 or fp32, got {name!r}")
    return name
