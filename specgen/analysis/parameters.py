"""The design parameters plotted against error: total depth, width per stage,
bottleneck ratio b, group width g, the RegNet w0, wa, wm and the learning rate,
weight decay and epochs (when the results have them) and flops. b and g are one column
when every network shares one value across its stages, and one column per stage
otherwise (AnyNetX_A). A value the design drew (a RegNet's one group width) is
preferred to the spec's per-stage values, which the compatibility rule may have
changed.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from specgen.analysis.bulk import numbers, values_of
from specgen.analysis.results import Result

REGNET = ("w0", "wa", "wm")
OPTIM = {"lr": "lr", "wd": "weight_decay", "epochs": "epochs"}
"""Plotted name -> the training hyperparameter a space drew per run (a run's `hyperparameters`); a
published sweep (NDS, pycls) holds its lr and wd in the design instead."""
LOG_SCALED = frozenset({"lr", "wd"})
"""Drawn log-uniform (as pycls's cifar_optim sweep draws them): plotted on a log axis."""


def _stage_tables(
    stages: list[list[dict]], fields: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Where each network has a stage, as a (results, most stages) mask, and these fields (two or more) of
    every stage as tables of that shape, NaN past a network's last stage: read from the specs' data in
    one pass (a stage's fields at once), built into no NetworkSpec."""
    counts = np.fromiter(map(len, stages), np.int64, len(stages))
    present = np.arange(counts.max()) < counts[:, None]
    values = chain.from_iterable(map(itemgetter(*fields), chain.from_iterable(stages)))
    flat = np.fromiter(values, np.float64, len(fields) * int(counts.sum())).reshape(-1, len(fields))
    tables = {}
    for i, field in enumerate(fields):
        tables[field] = np.full(present.shape, np.nan)
        tables[field][present] = flat[:, i]
    return present, tables


def _per_stage(name: str, table: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}{i + 1}": table[:, i] for i in range(table.shape[1])}


def _shared_or_per_stage(
    name: str, present: np.ndarray, table: np.ndarray | None, drawn: np.ndarray | None
) -> dict[str, np.ndarray]:
    # A RegNet design draws one value for all stages; its spec may show it changed by compatibility.
    if table is None:  # every design drew one: the stages' own values are not read
        table = np.where(present, drawn[:, None], np.nan)
    elif drawn is not None:
        table = np.where(np.isnan(drawn)[:, None] | np.isnan(table), table, drawn[:, None])
    if np.array_equal(np.nanmin(table, axis=1), np.nanmax(table, axis=1)):
        return {name: table[:, 0]}
    return _per_stage(name, table)


def parameter_columns(results: list[Result]) -> dict[str, np.ndarray]:
    """Parameter name -> one value per result (NaN where a result lacks it), in plotting order."""
    designs = list(map(attrgetter("design"), results))
    keys = set().union(*designs)  # a key no design has is a column of NaN, not read row by row
    shared = {"b": "bottleneck_ratio", "g": "group_width"}
    drawn = {name: numbers(values_of(designs, f), (int, float)) for name, f in shared.items() if f in keys}
    read = tuple(f for name, f in shared.items() if name not in drawn or np.isnan(drawn[name]).any())
    stages = list(map(itemgetter("stages"), map(attrgetter("spec"), results)))
    present, tables = _stage_tables(stages, ("depth", "width", *read))
    columns = {"depth": np.nansum(tables["depth"], axis=1)}
    columns |= _per_stage("w", tables["width"])
    for name, field in shared.items():
        columns |= _shared_or_per_stage(name, present, tables.get(field), drawn.get(name))
    for name in REGNET:
        if name in keys and not np.isnan(column := numbers(values_of(designs, name), (int, float))).all():
            columns[name] = column
    hyperparameters = list(map(attrgetter("hyperparameters"), results))
    own = set().union(*hyperparameters)
    for name, key in OPTIM.items():
        if key not in own and name not in keys:
            continue
        values = values_of(designs, name) if name in keys else None
        values = values_of(hyperparameters, key, values) if key in own else values
        if not np.isnan(column := numbers(values, (int, float))).all():
            columns[name] = column
    columns["flops"] = np.fromiter(map(attrgetter("flops"), results), np.float64, len(results))
    return columns
