"""Emit one spec: its .py (and ONNX graph) written atomically inside the output folder.

Everything is computed, and every file staged beside its target, before the
first is renamed into place, so a spec that fails leaves no partial output.
The file names come from the spec's validated name, and are checked once
more to stay inside the output folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from specgen.atomic import Payload, missing_folders, remove_empty, write_all_atomic
from specgen.emit.python import class_name, render_module
from specgen.errors import ROOT, SpecError
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec

FORMATS = ("py", "onnx")
SUFFIXES = {"py": ".py", "onnx": ".onnx"}
DATA_SUFFIX = ".data"
"""`<name>.onnx.data`: the ONNX graph's weights, when too heavy to fit inside `<name>.onnx`."""


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The formats asked for, each one of FORMATS, at least one."""
    formats = tuple(formats)
    for fmt in formats:
        if fmt not in FORMATS:
            raise SpecError("--format", ROOT, f"expected py or onnx, got {fmt!r}")
    if not formats:
        raise SpecError("--format", ROOT, "expected py, onnx or both, got none")
    return formats


def output_path(out_dir: Path, net: NetworkSpec, fmt: str, source: str) -> Path:
    """`<out_dir>/<name><suffix>`, refused unless it is a plain file name inside out_dir."""
    file_name = net.name + SUFFIXES[fmt]
    target = out_dir / file_name
    inside = Path(file_name).name == file_name and target.parent.resolve() == out_dir.resolve()
    if not inside or file_name.startswith("."):
        expected = f"expected a name that stays inside the output folder, got {net.name!r}"
        raise SpecError(source, "name", expected)
    return target


def seeded_state_dict(net: NetworkSpec, py_text: str, seed: int) -> dict:
    """The weights of the emitted module itself, initialized (pycls's rule) under `seed`."""
    import torch

    from specgen.emit.load import load_network_class

    with tempfile.TemporaryDirectory(prefix="specgen-") as tmp:
        path = Path(tmp) / f"{net.name}.py"
        path.write_text(py_text, encoding="utf-8")
        cls = load_network_class(path, class_name(net))
        torch.manual_seed(seed)
        return cls().state_dict()


def emit(
    spec: RegNetSpec | NetworkSpec,
    out_dir: str | Path,
    formats: Iterable[str] = FORMATS,
    seed: int = 0,
    weights: Mapping | None = None,
    opset: int = 17,
    source: str | None = None,
    weights_source: str = "weights",
    outputs: str = "logits",
) -> list[Path]:
    """Write `<name>.py` and/or `<name>.onnx` (and `<name>.onnx.data` for a graph over
    INLINE_WEIGHTS_LIMIT) for `spec` into `out_dir`, all or none; the paths written.

    The ONNX graph's weights are `weights` (any layout `to_pycls_layout` accepts) or else
    those of the emitted module initialized under `seed`; it returns `outputs` (logits or features).
    """
    where = source or "spec"
    formats = check_formats(formats)
    out_dir = Path(out_dir)
    net = spec.resolve()
    targets = {fmt: output_path(out_dir, net, fmt, where) for fmt in formats}
    state = None
    if weights is not None:  # checked even when only the .py is written, so a wrong file is never silent
        from specgen.emit.weights import to_pycls_layout

        state = to_pycls_layout(weights, net, weights_source)
    py_text = render_module(net, source)
    files: dict[Path, Payload] = {}  # in the order they are renamed into place
    stale = None  # an earlier, heavier graph's data file, which the new graph does not use
    if "py" in targets:
        files[targets["py"]] = py_text
    if "onnx" in targets:
        from specgen.emit.onnx import onnx_bytes, onnx_files

        if state is None:
            state = seeded_state_dict(net, py_text, seed)
        data_path = targets["onnx"].with_name(targets["onnx"].name + DATA_SUFFIX)
        model, data = onnx_files(net, state, opset, data_path.name, source=weights_source, outputs=outputs)
        state = None  # seeded weights now inline in the model are freed before it is serialized
        if data:  # before the model that refers to it
            files[data_path] = data
        files[targets["onnx"]] = onnx_bytes(model)
        if not data and data_path.is_file():
            stale = data_path
    made = missing_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        remove_empty(made)
        raise SpecError(where, ROOT, f"cannot make the output folder {out_dir}: {e.strerror}") from None
    try:
        write_all_atomic(files)
    except OSError as e:
        remove_empty(made)  # a full disk: no file, and no empty folder this call made
        raise SpecError(where, ROOT, f"cannot write {e.filename}: {e.strerror}") from None
    if stale is not None:
        stale.unlink(missing_ok=True)
    return [*targets.values(), *(path for path in files if path not in targets.values())]
