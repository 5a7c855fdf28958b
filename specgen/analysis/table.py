"""Results column by column: what the comparison reads of every run, as arrays.

Read as 100,000 Result objects, a file of runs costs their making, their reading field by field and
their freeing; the comparison needs a few columns of every run and the whole Result of only a few
(the best models, the timed runs). A table holds those columns and makes a run's Result on demand.
The JSONL reader builds a file's table in two halves at once, one in a forked child that sends back
only the columns; every other reading builds one from its Results (`table_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

import numpy as np

from specgen.analysis.bulk import numbers, values_of
from specgen.sweep.store import TIMING_FIELDS

if TYPE_CHECKING:
    from specgen.analysis.results import Result

DESIGN_NUMBERS = ("bottleneck_ratio", "group_width", "w0", "wa", "wm", "lr", "wd", "epochs")
"""The design values the parameter columns read: a RegNet's drawn b, g, w0, wa, wm; a published
sweep's lr, wd and epochs."""
HYPERPARAMETER_NUMBERS = ("lr", "weight_decay", "epochs")
"""A run's own training hyperparameters, where its space drew them."""
STAGE_NUMBERS = ("depth", "width", "bottleneck_ratio", "group_width")


@dataclass(frozen=True)
class Columns:
    """A table's columns, a value (or a row of stage values) per run: picklable, so a forked reader
    can send them back."""

    source: list[str]
    """The file (or store) each run came from."""
    where: list[str]
    """Each run in messages: FILE:LINE, or STORE: ID."""
    id: list[str]
    space: list[str]
    status: list[str]
    error: np.ndarray
    """NaN where a run has none."""
    flops: np.ndarray
    params: np.ndarray
    seconds: dict[str, np.ndarray]
    """Each of TIMING_FIELDS, NaN where a run was not timed."""
    designs: dict[str, np.ndarray]
    """Each of DESIGN_NUMBERS, NaN where a design lacks it or holds no number there."""
    hyperparameters: dict[str, np.ndarray]
    """Each of HYPERPARAMETER_NUMBERS, NaN where a run's space did not draw it."""
    stages: dict[str, np.ndarray]
    """Each of STAGE_NUMBERS as a (runs, most stages) table, NaN past a network's last stage."""

    def __len__(self) -> int:
        return len(self.id)


@dataclass(frozen=True, eq=False)
class ResultTable:
    """The runs of one or more sources: their columns, and each one's whole Result."""

    columns: Columns
    results: Callable[[Sequence[int]], list[Result]]
    """The whole Results of the runs at those places in the table, made when asked for."""


def stage_tables(stages: list[list[dict]], fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """These fields (two or more) of every network's stages as (networks, most stages) tables, NaN past
    a network's last stage: read in one pass (a stage's fields at once), built into no NetworkSpec."""
    counts = np.fromiter(map(len, stages), np.int64, len(stages))
    present = np.arange(counts.max(initial=0)) < counts[:, None]
    values = chain.from_iterable(map(itemgetter(*fields), chain.from_iterable(stages)))
    flat = np.fromiter(values, np.float64, len(fields) * int(counts.sum())).reshape(-1, len(fields))
    tables = {}
    for i, field in enumerate(fields):
        tables[field] = np.full(present.shape, np.nan)
        tables[field][present] = flat[:, i]
    return tables


def columns_of(
    source: list[str],
    where: list[str],
    ids: list[str],
    spaces: list[str],
    flops: list[int],
    params: list[int],
    specs: list[dict],
    statuses: list[str],
    errors: list[float | None],
    seconds: dict[str, list[float | None]],
    designs: dict[str, list],
    hyperparameters: list[dict | None],
) -> Columns:
    """The columns of checked runs, from their fields' values (a Result's fields, or a valid row's);
    `designs`: the values of each of DESIGN_NUMBERS that any design holds (`design_values`)."""

    def of(values: list | None) -> np.ndarray:
        return np.full(len(ids), np.nan) if values is None else numbers(values, (int, float))

    drawn = any(hyperparameters)  # most spaces draw none: no run has any
    own = [h or {} for h in hyperparameters]
    return Columns(
        source,
        where,
        ids,
        _one_each(spaces),
        _one_each(statuses),
        of(errors),
        of(flops),
        of(params),
        {field: of(seconds[field]) for field in TIMING_FIELDS},
        {key: of(designs.get(key)) for key in DESIGN_NUMBERS},
        {key: of(values_of(own, key) if drawn else None) for key in HYPERPARAMETER_NUMBERS},
        stage_tables(list(map(itemgetter("stages"), specs)), STAGE_NUMBERS),
    )


def _one_each(values: list[str]) -> list[str]:
    """The values, each distinct one a single object (read from rows, each row's is its own): a pickle
    then sends it once, and freeing them is cheap."""
    return list(map({v: v for v in set(values)}.__getitem__, values))


def design_values(designs: list[dict]) -> dict[str, list]:
    """The values of each of DESIGN_NUMBERS that any of the designs holds (None where one lacks it)."""
    keys = set().union(*designs)
    return {key: values_of(designs, key) for key in DESIGN_NUMBERS if key in keys}


def table_of(results: Sequence[Result]) -> ResultTable:
    """The table of runs read as Results; a run's Result is the one given."""
    results = list(results)

    def field(name: str) -> list:
        return list(map(attrgetter(name), results))

    columns = columns_of(
        *map(field, ("source", "where", "id", "space", "flops", "params", "spec", "status", "error")),
        {name: field(name) for name in TIMING_FIELDS},
        design_values(field("design")),
        field("hyperparameters"),
    )
    return ResultTable(columns, lambda places: [results[i] for i in places])


def joined(parts: Sequence[Columns]) -> Columns:
    """Columns of runs one after another."""
    if len(parts) == 1:
        return parts[0]

    def join(get: Callable[[Columns], object]) -> object:
        values = list(map(get, parts))
        if isinstance(values[0], list):
            return list(chain.from_iterable(values))
        if isinstance(values[0], dict):
            return {key: join(lambda c, key=key: get(c)[key]) for key in values[0]}
        if values[0].ndim == 2:  # stage tables: as wide as the most stages of any
            wide = max(v.shape[1] for v in values)
            values = [np.pad(v, ((0, 0), (0, wide - v.shape[1])), constant_values=np.nan) for v in values]
        return np.concatenate(values)

    fields = Columns.__dataclass_fields__
    return Columns(**{name: join(attrgetter(name)) for name in fields})


def taken(columns: Columns, order: np.ndarray) -> Columns:
    """The runs in that order (places among them)."""
    picked = order.tolist()

    def take(value: object) -> object:
        if isinstance(value, list):
            return [value[i] for i in picked]
        if isinstance(value, dict):
            return {key: take(v) for key, v in value.items()}
        return value[order]

    return Columns(**{name: take(getattr(columns, name)) for name in Columns.__dataclass_fields__})


def concatenated(tables: Sequence[ResultTable]) -> ResultTable:
    """The tables' runs one after another (several sources compared)."""
    if len(tables) == 1:
        return tables[0]
    starts = np.cumsum([0] + [len(t.columns) for t in tables])

    def results(places: Sequence[int]) -> list[Result]:
        places = np.asarray(places, np.int64)
        which = np.searchsorted(starts, places, side="right") - 1
        out: list = [None] * len(places)
        for k, table in enumerate(tables):
            mine = np.flatnonzero(which == k)
            for at, result in zip(mine, table.results((places[mine] - starts[k]).tolist()), strict=True):
                out[at] = result
        return out

    return ResultTable(joined([t.columns for t in tables]), results)
