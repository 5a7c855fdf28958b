"""Import an emitted .py from its path, as a user who vendored it would, and take its network class."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

_COUNTER = itertools.count()


def load_network_class(path: Path, name: str) -> type:
    """The class `name` of the module at `path`, imported under a fresh module name.

    The module is registered in sys.modules so that inspect (and so torch.jit.script)
    finds its source; each call imports anew, so re-emitted files are never stale.
    """
    path = Path(path)
    module_name = f"_specgen_emitted_{next(_COUNTER)}_{path.stem.replace('-', '_').replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ImportError(f"{path} defines no class {name}")
    return cls
