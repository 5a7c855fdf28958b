"""The design parameters plotted against error: total depth, width per stage,
bottleneck ratio b, group width g, the RegNet w0, wa, wm and the learning rate,
weight decay and epochs (when the results have them) and flops. b and g are one column
when every network shares one value across its stages, and one column per stage
otherwise (AnyNetX_A). A value the design drew (a RegNet's one group width) is
preferred to the spec's per-stage values, which the compatibility rule may have
changed.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import attrgetter, itemgetter

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
    stage; read from the specs' data in one pass (every field of a stage at once), built into no
    NetworkSpec."""
    stages = list(map(itemgetter("stages"), map(attrgetter("spec"), results)))
    counts = np.fromiter(map(len, stages), np.int64, len(stages))
    present = np.arange(counts.max()) < counts[:, None]
    fields = chain.from_iterable(map(itemgetter(*_STAGE_FIELDS), chain.from_iterable(stages)))
    flat = np.fromiter(fields, np.float64, len(_STAGE_FIELDS) * int(counts.sum()))
    flat = flat.reshape(-1, len(_STAGE_FIELDS))
    tables = {}
    for i, field in enumerate(_STAGE_FIELDS):
        tables[field] = np.full(present.shape, np.nan)
        tables[field][present] = flat[:, i]
    return tables


def _values(dicts: list[dict], key: str, default: list | None = None) -> list:
    """Each dict's value of `key` (or the default's, or None): dict.get mapped in C, no per-row frame."""
    return list(map(dict.get, dicts, repeat(key), repeat(None) if default is None else default))


def _per_stage(name: str, table: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}{i + 1}": table[:, i] for i in range(table.shape[1])}


def _shared_or_per_stage(
    designs: list[dict], keys: set[str], name: str, field: str, table: np.ndarray
) -> dict[str, np.ndarray]:
    # A RegNet design draws one value for all stages; its spec may show it changed by compatibility.
    if field in keys:
        drawn = numbers(_values(designs, field), (int, float))
        table = np.where(np.isnan(drawn)[:, None] | np.isnan(table), table, drawn[:, None])
    if np.array_equal(np.nanmin(table, axis=1), np.nanmax(table, axis=1)):
        return {name: table[:, 0]}
    return _per_stage(name, table)


def parameter_columns(results: list[Result]) -> dict[str, np.ndarray]:
    """Parameter name -> one value per result (NaN where a result lacks it), in plotting order."""
    stages = _stage_tables(results)
    designs = list(map(attrgetter("design"), results))
    drawn = set().union(*designs)  # a key no design has is a column of NaN, not read row by row
    columns = {"depth": np.nansum(stages["depth"], axis=1)}
    columns |= _per_stage("w", stages["width"])
    columns |= _shared_or_per_stage(designs, drawn, "b", "bottleneck_ratio", stages["bottleneck_ratio"])
    columns |= _shared_or_per_stage(designs, drawn, "g", "group_width", stages["group_width"])
    for name in REGNET:
        if name in drawn and not np.isnan(column := numbers(_values(designs, name), (int, float))).all():
            columns[name] = column
    hyperparameters = list(map(attrgetter("hyperparameters"), results))
    own = set().union(*hyperparameters)
    for name, key in OPTIM.items():
        if key not in own and name not in drawn:
            continue
        values = _values(designs, name) if name in drawn else None
        values = _values(hyperparameters, key, values) if key in own else values
        if not np.isnan(column := numbers(values, (int, float))).all():
            columns[name] = column
    columns["flops"] = np.fromiter(map(attrgetter("flops"), results), np.float64, len(results))
    return columns
