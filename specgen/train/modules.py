"""Emitted modules for training: rendered into a cache folder and imported from their file.

The trainer never builds a network any other way, so what it evaluates is the
very code a user vendors. File names are the hash of the module's text: a
file is written once per network, checked before it is imported, and two
specs cannot share a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from specgen.atomic import write_atomic
from specgen.emit.load import load_network_class
from specgen.emit.python import class_name, render_module
from specgen.errors import ROOT, SpecError
from specgen.network.spec import NetworkSpec

DEFAULT_CACHE = Path(".specgen-cache")
_IMPORTED: dict[Path, type] = {}  # the file name is the hash of its text, so an import never goes stale


def cache_folder(path: str | Path) -> Path:
    """The cache folder, made when missing; checked before any data is loaded or trained."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpecError("--cache", ROOT, f"cannot make the cache folder {path}: {e.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpecError("--cache", ROOT, f"cannot write to the cache folder {path}")
    return path


def network_class(net: NetworkSpec, cache_dir: Path = DEFAULT_CACHE) -> type:
    """The emitted network class of `net`, imported from `cache_dir/net_<hash>.py`."""
    text = render_module(net)
    path = Path(cache_dir) / f"net_{hashlib.sha256(text.encode()).hexdigest()[:24]}.py"
    if path not in _IMPORTED:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(cache_folder(cache_dir) / path.name, text)
        _IMPORTED[path] = load_network_class(path, class_name(net))
    return _IMPORTED[path]
