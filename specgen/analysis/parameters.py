"""The design parameters plotted against error: total depth, width per stage,
bottleneck ratio b, group width g, the RegNet w0, wa, wm and the learning rate,
weight decay and epochs (when the results have them) and flops. b and g are one column
when every network shares one value across its stages, and one column per stage
otherwise (AnyNetX_A). A value the design drew (a RegNet's one group width) is
preferred to the spec's per-stage values, which the compatibility rule may have
changed.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from specgen.analysis.bulk import numbers
from specgen.analysis.results import Result

_STAGE_FIELDS = ("depth", "width", "bottleneck_ratio", "group_width")
"""The stage fields plotted (each stage's stride is not a design parameter)."""

REGNET = ("w0", "wa", "wm")
OPTIM = {"lr": "lr", "wd": "weight_decay", "epochs": "epochs"}
"""Plotted name -> the training hyperparameter a space drew per run (a run's `hyperparameters`); a
published sweep (NDS, pycls) holds its lr and wd in the design instead."""
LOG_SCALED = frozenset({"lr", "wd"})
"""Drawn log-uniform (as pycls's cifar_optim sweep draws them): plotted on a log axis."""


def _stage_tables(results: list[Result]) -> dict[str, np.ndarray]:
    """Each stage field of every network as a (results, most stages) table, NaN past a network's last
    stage; read from the specs' data in one pass, built into no NetworkSpec."""
    stages = [r.spec["stages"] for r in results]
    counts = np.fromiter(map(len, stages), np.int64, len(stages))
    present = np.arange(counts.max()) < counts[:, None]
    flat = [s for each in stages for s in each]
    tables = {}
    for field in _STAGE_FIELDS:
        tables[field] = np.full(present.shape, np.nan)
        tables[field][present] = np.fromiter(map(itemgetter(field), flat), np.float64, len(flat))
    return tables


def _per_stage(name: str, table: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}{i + 1}": table[:, i] for i in range(table.shape[1])}


def _shared_or_per_stage(
    results: list[Result], name: str, field: str, table: np.ndarray
) -> dict[str, np.ndarray]:
    # A RegNet design draws one value for all stages; its spec may show it changed by compatibility.
    drawn = numbers([r.design.get(field) for r in results], (int, float))
    table = np.where(np.isnan(drawn)[:, None] | np.isnan(table), table, drawn[:, None])
    if np.array_equal(np.nanmin(table, axis=1), np.nanmax(table, axis=1)):
        return {name: table[:, 0]}
    return _per_stage(name, table)


def parameter_columns(results: list[Result]) -> dict[str, np.ndarray]:
    """Parameter name -> one value per result (NaN where a result lacks it), in plotting order."""
    stages = _stage_tables(results)
    columns = {"depth": np.nansum(stages["depth"], axis=1)}
    columns |= _per_stage("w", stages["width"])
    columns |= _shared_or_per_stage(results, "b", "bottleneck_ratio", stages["bottleneck_ratio"])
    columns |= _shared_or_per_stage(results, "g", "group_width", stages["group_width"])
    for name in REGNET:
        column = numbers([r.design.get(name) for r in results], (int, float))
        if not np.isnan(column).all():
            columns[name] = column
    for name, key in OPTIM.items():
        column = numbers([r.hyperparameters.get(key, r.design.get(name)) for r in results], (int, float))
        if not np.isnan(column).all():
            columns[name] = column
    columns["flops"] = np.fromiter((r.flops for r in results), np.float64, len(results))
    return columns
