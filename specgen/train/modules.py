"""Emitted modules for training: rendered into a cache folder and imported from their file.

The trainer never builds a network any other way, so what it evaluates is the
very code a user vendors. File names are the hash of the module's text: a
file is written once per network, checked before it is imported, and two
specs cannot share a file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from specgen.atomic import write_atomic
from specgen.emit.load import load_network_class
from specgen.emit.python import class_name, render_module
from specgen.spec import NetworkSpec

DEFAULT_CACHE = Path(".specgen-cache")
_IMPORTED: dict[Path, type] = {}  # the file name is the hash of its text, so an import never goes stale


def network_class(net: NetworkSpec, cache_dir: Path = DEFAULT_CACHE) -> type:
    """The emitted network class of `net`, imported from `cache_dir/net_<hash>.py`."""
    text = render_module(net)
    path = Path(cache_dir) / f"net_{hashlib.sha256(text.encode()).hexdigest()[:24]}.py"
    if path not in _IMPORTED:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
        _IMPORTED[path] = load_network_class(path, class_name(net))
    return _IMPORTED[path]
