"""The built-in design spaces (specs/spaces/*.json, shipped as specgen/builtin_spaces) and loading a
space by name or path; a built-in space goes through the same schema as a user's file."""

from __future__ import annotations

import os
from pathlib import Path

from specgen.errors import ROOT, SpecError
from specgen.space.schema import DesignSpace, validate_space
from specgen.specfile import parse_json, read_text

_SPACES_DIRS = (
    Path(__file__).resolve().parent.parent / "builtin_spaces",
    Path(__file__).resolve().parent.parent.parent / "specs" / "spaces",
)


def _builtin_dir() -> Path:
    for candidate in _SPACES_DIRS:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("specgen's built-in design spaces (specs/spaces/) are missing")


def builtin_spaces() -> list[str]:
    """Names of the built-in spaces, in the paper's order (the 5-stage ones after the 4-stage ones), then
    the CIFAR, NDS and block-type spaces."""
    order = [
        *(f"anynetx_{x}" for x in "abcde"), "regnetx", "regnety", "regnetx_constrained",
        "anynetx_e5", "regnetx5", "regnety5", "cifar_anynetx_e", "cifar_regnetx",
        "nds_vanilla", "nds_resnet", "nds_resnext_a", "nds_resnext_b", "blocks_vrx",
    ]  # fmt: skip
    names = sorted(p.stem for p in _builtin_dir().glob("*.json"))
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def load_space(name_or_path: str | Path) -> DesignSpace:
    """A built-in space by name ("anynetx_e") or a space file by path.

    A built-in name is always the built-in space, whatever the current folder holds (write
    ./regnetx to read a file so named); anything else is a path when it ends in .json, holds
    a path separator or names an existing file.
    """
    text = str(name_or_path)
    path = Path(text)
    if text in builtin_spaces():
        path = _builtin_dir() / f"{text}.json"
    elif path.suffix != ".json" and not {"/", os.sep} & set(text) and not path.is_file():
        raise SpecError(
            text, ROOT, f"unknown design space; expected one of {', '.join(builtin_spaces())} or a .json file"
        )
    return validate_space(parse_json(read_text(path), text), text)
