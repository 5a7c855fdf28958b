"""Published sweeps as result rows: the NDS data release and pycls's own `sweep.json`, told apart by content.

NDS: one JSON file per sweep, a list of job records (a `*_reruns` file: an object with `top` and `mid`
lists), each with `net`, `optim` (`base_lr`, `wd`, `max_ep`), `params`, `flops` and `min_test_top1` (the
best test top-1 error over the epochs, in percent). pycls (`tools/sweep_collect.py`): a list of jobs,
each its log data by type: `cfg` (the config), `complexity`, `test_epoch` (lists per epoch).
Either becomes rows as `specgen sample` writes them plus `error` (a fraction), with the learning rate and
weight decay as drawn values (`lr`, `wd`), so they plot like a RegNet's w0. A record whose error is not
a number (NaN losses took it) counts as diverged. NDS's NAS-cell records (a `genotype`, no stages) are
networks specgen does not build: counted per family and skipped, not refused.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specgen.errors import ROOT, FieldError, SpecError, field_path, shown
from specgen.network.nds import spec_from_net
from specgen.network.spec import NetworkSpec, Stage, with_ungrouped_defaults, without_default_types
from specgen.specfile import validate_spec

NAS_FAMILY = "nas_cell"
_UNSET = object()


def _template(model: type) -> dict:
    """A model's fields in its order, each at its default (_UNSET where it has none)."""
    return {name: _UNSET if f.is_required() else f.default for name, f in model.model_fields.items()}


_NETWORK = _template(NetworkSpec)
_STAGE = _template(Stage)


@dataclass
class Published:
    """The rows of one published sweep file, each named for messages, and the records skipped."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def space_name(text: str) -> str:
    """A sweep's name (its file's or folder's) as a space name: other characters become '-'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).lstrip("_.-")[:64] or "sweep"


def _records(data: object, path: str) -> list[tuple[str, object]]:
    """(where, record) of an NDS file: a list, or a `*_reruns` object of `top` and `mid` lists."""
    if isinstance(data, dict) and set(data) >= {"top", "mid"}:
        out = []
        for part in ("top", "mid"):
            if not isinstance(data[part], list):
                raise SpecError(
                    path, part, f"expected a list of job records, got {type(data[part]).__name__}"
                )
            out += [(f"{part}[{i}]", r) for i, r in enumerate(data[part])]
        return out
    if not isinstance(data, list):
        raise SpecError(path, ROOT, "expected a list of job records, or an object with 'top' and 'mid' lists")
    return [(f"[{i}]", r) for i, r in enumerate(data)]


def is_pycls_sweep(data: object) -> bool:
    """pycls's sweep.json: a list of jobs that each hold a `cfg`."""
    return isinstance(data, list) and bool(data) and all(isinstance(j, dict) and "cfg" in j for j in data)


def read_published(text: str, path: str) -> Published:
    """The rows of a published sweep file's text; a bad record is one SpecError line."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SpecError(path, ROOT, f"invalid JSON: {e}") from None
    if is_pycls_sweep(data):
        return _pycls(data, path)
    return _nds(_records(data, path), path)


def _number(record: dict, key: str, where: str, path: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(path, f"{where}.{key}", f"expected a number, got {shown(value)}")
    return float(value)


def _error(percent: float) -> float | None:
    """A top-1 error in percent as a fraction; None (diverged) where it is not a number."""
    return percent / 100 if math.isfinite(percent) else None


def _as_dumped(spec: dict) -> dict:
    """A network's fields as a NetworkSpec dumps them: defaults filled in, the type and option fields at
    theirs left out. Analysis reads rows in that form column-wise, without a NetworkSpec for each."""
    spec = with_ungrouped_defaults(spec, ("stages",))
    stages = [_filled(_STAGE, s) for s in spec["stages"]]
    return without_default_types(_filled(_NETWORK, spec | {"stages": stages}))


def _filled(template: dict, data: dict) -> dict:
    """`data` with the template's defaults where it has none, in the template's order (a field without a
    default stays missing, for NetworkSpec to name)."""
    out = template | data
    if _UNSET in out.values():
        return {k: v for k, v in out.items() if v is not _UNSET}
    return out


def _row(space: str, id_: str, design: dict, spec: dict, flops: object, params: object, error) -> dict:
    return {
        "id": id_,
        "space": space,
        "design": design,
        "flops": flops,
        "params": params,
        "spec": spec,
        "error": error,
        "status": "done" if error is not None else "diverged",
    }


def _nds(records: list[tuple[str, object]], path: str) -> Published:
    out = Published()
    space = space_name(Path(path).stem)
    for where, record in records:
        if not isinstance(record, dict) or not isinstance(record.get("net"), dict):
            raise SpecError(path, f"{where}.net", "expected a job record with a 'net' object")
        net = record["net"]
        if "genotype" in net:
            out.skipped[NAS_FAMILY] = out.skipped.get(NAS_FAMILY, 0) + 1
            continue
        try:
            spec = _as_dumped(spec_from_net(net, space))
        except FieldError as e:
            raise SpecError(path, f"{where}.net.{field_path(e.loc)}", str(e)) from None
        optim = record.get("optim")
        if not isinstance(optim, dict):
            raise SpecError(path, f"{where}.optim", "expected an object with base_lr and wd")
        design = {"lr": _number(optim, "base_lr", f"{where}.optim", path)}
        design["wd"] = _number(optim, "wd", f"{where}.optim", path)
        error = _error(_number(record, "min_test_top1", where, path))
        id_ = where.strip("[]").replace("[", "-")
        out.rows.append(_row(space, id_, design, spec, record.get("flops"), record.get("params"), error))
        out.sources.append(f"{path}: {where}")
    return out


def _pycls_spec(cfg: dict, name: str) -> dict:
    """The resolved NetworkSpec fields of a pycls config (MODEL.TYPE anynet or regnet)."""
    model = cfg.get("MODEL", {}).get("TYPE")
    if model not in ("anynet", "regnet"):
        raise FieldError(("MODEL", "TYPE"), f"expected 'anynet' or 'regnet', got {shown(model)}")
    c = cfg[model.upper()]
    se = c.get("SE_R", 0.0) if c.get("SE_ON") else 0.0
    common = {"name": name, "stem_type": c["STEM_TYPE"], "stem_width": c["STEM_W"], "se_ratio": se}
    common |= {"block_type": c["BLOCK_TYPE"], "num_classes": cfg["MODEL"]["NUM_CLASSES"]}
    common["resolution"] = cfg["TEST"]["IM_SIZE"]
    grouped = c["BLOCK_TYPE"] == "res_bottleneck_block"
    if model == "regnet":
        spec = {"kind": "regnet", "depth": c["DEPTH"], "w0": c["W0"], "wa": c["WA"], "wm": c["WM"]}
        if grouped:
            spec |= {"group_width": c["GROUP_W"], "bottleneck_ratio": 1 / c["BOT_MUL"]}
        return spec | common
    stages = []
    for i, (d, w, s) in enumerate(zip(c["DEPTHS"], c["WIDTHS"], c["STRIDES"], strict=True)):
        stage = {"depth": d, "width": w, "stride": s}
        if grouped:
            stage |= {"bottleneck_ratio": 1 / c["BOT_MULS"][i], "group_width": c["GROUP_WS"][i]}
        stages.append(stage)
    return {"kind": "anynet", "stages": stages} | common


def _pycls(jobs: list[dict], path: str) -> Published:
    out = Published()
    space = space_name(Path(path).resolve().parent.name)
    for i, job in enumerate(jobs):
        where = f"[{i}]"
        cfg = job["cfg"]
        try:
            data = _pycls_spec(cfg, space)
        except FieldError as e:
            raise SpecError(path, f"{where}.cfg.{field_path(e.loc)}", str(e)) from None
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as e:
            raise SpecError(
                path, f"{where}.cfg", f"expected a pycls anynet or regnet config ({e!r})"
            ) from None
        spec = validate_spec(data, f"{path}: {where}.cfg")
        net = spec.resolve() if not isinstance(spec, NetworkSpec) else spec
        optim = cfg.get("OPTIM", {})
        design = {"lr": optim.get("BASE_LR"), "wd": optim.get("WEIGHT_DECAY")}
        if data["kind"] == "regnet":
            design |= {k: data[k] for k in ("w0", "wa", "wm")}
        tests = job.get("test_epoch", {}).get("top1_err") or []
        complexity = job.get("complexity", {})
        error = _error(min(tests, key=lambda e: e if math.isfinite(e) else math.inf)) if tests else None
        flops, params = complexity.get("flops"), complexity.get("params")
        row = _row(space, str(i), design, net.model_dump(), flops, params, error)
        if not tests:  # the job never finished an epoch: it broke, it did not train badly
            row["status"] = "failed"
        out.rows.append(row)
        out.sources.append(f"{path}: {where}")
    return out
