"""The design parameters plotted against error: total depth, width per stage,
bottleneck ratio b, group width g, the RegNet w0, wa, wm and the learning rate,
weight decay and epochs (when the results have them) and flops. b and g are one column
when every network shares one value across its stages, and one column per stage
otherwise (AnyNetX_A). A value the design drew (a RegNet's one group width) is
preferred to the spec's per-stage values, which the compatibility rule may have
changed.
"""

from __future__ import annotations

import numpy as np

from specgen.analysis.table import Columns

REGNET = ("w0", "wa", "wm")
OPTIM = {"lr": "lr", "wd": "weight_decay", "epochs": "epochs"}
"""Plotted name -> the training hyperparameter a space drew per run (a run's `hyperparameters`); a
published sweep (NDS, pycls) holds its lr and wd in the design instead."""
LOG_SCALED = frozenset({"lr", "wd"})
"""Drawn log-uniform (as pycls's cifar_optim sweep draws them): plotted on a log axis."""


def _per_stage(name: str, table: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}{i + 1}": table[:, i] for i in range(table.shape[1])}


def _shared_or_per_stage(name: str, table: np.ndarray, drawn: np.ndarray) -> dict[str, np.ndarray]:
    # A RegNet design draws one value for all stages; its spec may show it changed by compatibility.
    table = np.where(np.isnan(drawn)[:, None] | np.isnan(table), table, drawn[:, None])
    if np.array_equal(np.nanmin(table, axis=1), np.nanmax(table, axis=1)):
        return {name: table[:, 0]}
    return _per_stage(name, table)


def parameter_columns(table: Columns) -> dict[str, np.ndarray]:
    """Parameter name -> one value per run (NaN where a run lacks it), in plotting order."""
    designs, stages = table.designs, table.stages
    columns = {"depth": np.nansum(stages["depth"], axis=1)}
    columns |= _per_stage("w", stages["width"])
    for name, field in {"b": "bottleneck_ratio", "g": "group_width"}.items():
        columns |= _shared_or_per_stage(name, stages[field], designs[field])
    for name in REGNET:
        if not np.isnan(designs[name]).all():
            columns[name] = designs[name]
    for name, key in OPTIM.items():
        own = table.hyperparameters[key]  # a run's own, where its space drew it; else its design's
        column = np.where(np.isnan(own), designs[name], own)
        if not np.isnan(column).all():
            columns[name] = column
    columns["flops"] = table.flops
    return columns
