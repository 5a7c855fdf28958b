"""NetworkSpec's rules checked column-wise over many specs at once (NumPy), for reading results fast.

NetworkSpec stays the one definition of a valid network: `plainly_valid_networks` only tells which
specs need not go through it. True means the spec is in the plain form a NetworkSpec is dumped in
(every field given but the type and option fields at their defaults, each of its own type) and keeps
every rule NetworkSpec has: the bounds of `specgen.network.limits`, whole bottleneck widths that the
group width divides, the total depth, SE widths of at least one channel, what its block and stem
have room for, and the params and flops limits. False means it breaks one, or is in another form (a
default left out or named, an integer for a float): NetworkSpec itself then decides, and words any
refusal. Specs are checked and counted per combination of types and options, through the same
descriptions NetworkSpec reads (`check_block_fits`, `count_batch`). The tests prove the verdicts equal
NetworkSpec's.
"""

from __future__ import annotations

import inspect
import re
from contextlib import suppress
from itertools import chain, repeat
from operator import itemgetter
from types import SimpleNamespace
from typing import get_args

import numpy as np

from specgen.errors import FieldError
from specgen.network import complexity, limits
from specgen.network.layers import out_size, se_width
from specgen.network.spec import LEFT_OUT_DEFAULTS, NetworkSpec, Stage, check_block_fits
from specgen.network.stems import STEM_TYPES

_NETWORK_FIELDS = frozenset(NetworkSpec.model_fields) - LEFT_OUT_DEFAULTS.keys()
"""The fields a plain spec always has; the type and option fields are there where not at their defaults."""
_NETWORK_FIELD_ORDER = tuple(f for f in NetworkSpec.model_fields if f in _NETWORK_FIELDS)
_ALL_FIELDS = frozenset(NetworkSpec.model_fields)
_OPTIONS = tuple(LEFT_OUT_DEFAULTS)
_NAMED = {
    field: frozenset(v for v in get_args(NetworkSpec.model_fields[field].annotation) or (True, False))
    - {default}
    for field, default in LEFT_OUT_DEFAULTS.items()
}
"""The values a plain spec may name each type and option field with: any NetworkSpec takes but the default."""
_LEFT_OUT = object()
_COUNTED = tuple(f for f in _OPTIONS if f in inspect.signature(complexity.count_batch).parameters)
"""The type and option fields complexity counts by (an activation's kind counts nothing)."""
_STAGE_FIELDS = frozenset(Stage.model_fields)
_NAME = re.compile(limits.NAME_PATTERN)
_NAMES = re.compile(f"(?:{limits.NAME_PATTERN.removeprefix('^').removesuffix('$')}\n)*")
_NO_STAGE = dict.fromkeys(_STAGE_FIELDS)
_INT64_SAFE = 2.0**56
"""Networks whose depth x (widest width)^2 x (largest map)^2 is below this are counted in int64 with room
(each block of any type adds fewer than 32 such products, the stem far fewer); wider ones are left to
NetworkSpec's exact count."""


def of_type(values: list, kind: type) -> np.ndarray:
    """Where a value is exactly of type `kind` (a bool is no int)."""
    kinds = set(map(type, values))
    if kinds <= {kind} or kind not in kinds:  # the common cases, at C speed
        return np.full(len(values), kind in kinds)
    return np.array([type(v) is kind for v in values], bool)


def integers(values: list) -> np.ndarray:
    """Integers as int64; anything else (a bool, a float, past int64) as -1, which every bound refuses."""
    if set(map(type, values)) <= {int}:
        with suppress(OverflowError):
            return np.fromiter(values, np.int64, len(values))  # twice as fast as np.array
    return np.array([v if type(v) is int and -1 < v < 2**63 else -1 for v in values], np.int64)


def numbers(values: list, kinds: tuple[type, ...] = (float,), types: set | None = None) -> np.ndarray:
    """Values of the given types as float64; anything else (None too) as NaN, which every bound refuses.
    `types`: the values' types, where known."""
    if (set(map(type, values)) if types is None else types) <= {*kinds, type(None)}:
        with suppress(OverflowError):  # an integer past a float's range
            return np.fromiter(values, np.float64, len(values))  # None as NaN
    return np.array([float(v) if type(v) in kinds and abs(v) < 2**63 else np.nan for v in values])


def optional_numbers(values: list, kinds: tuple[type, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Where a value is None, and the values as `numbers` reads them: of_type and numbers, the types
    looked at once."""
    types = set(map(type, values))
    none = np.array([v is None for v in values], bool) if type(None) in types else np.zeros(len(values), bool)
    return none, numbers(values, kinds, types)


def names(values: list) -> np.ndarray:
    """Where a value is a name as `spec.Name` allows."""
    if set(map(type, values)) <= {str}:
        joined = "\n".join(values)  # all at once: names hold no newline, so the lines are the values
        if joined.count("\n") == len(values) - 1 and _NAMES.fullmatch(joined + "\n"):
            return np.ones(len(values), bool)
    return np.array([type(v) is str and _NAME.fullmatch(v) is not None for v in values], bool)


def printable(values: list, max_length: int) -> np.ndarray:
    """Where a value is a string of 1 to `max_length` printable characters."""
    if set(map(type, values)) <= {str} and "".join(values).isprintable():
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        return (lengths > 0) & (lengths <= max_length)
    return np.array([type(v) is str and 0 < len(v) <= max_length and v.isprintable() for v in values], bool)


def one_of(values: list, allowed: frozenset) -> np.ndarray:
    """Where a value is None or a string in `allowed` (which holds None and strings only)."""
    if set(map(type, values)) <= {str, type(None)} and set(values) <= allowed:
        return np.ones(len(values), bool)
    return np.array([type(v) in (str, type(None)) and v in allowed for v in values], bool)


def within(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """low <= x <= high (NaN is never within)."""
    return (low <= x) & (x <= high)


def fields_of(objects: list[dict], fields: tuple[str, ...]) -> dict[str, list]:
    """Each field's values, read in one pass over the objects (a KeyError where one lacks a field): a
    pass over 400,000 small dicts per field costs more than its lookups."""
    if len(fields) < 2:  # itemgetter of one field gives the value, not a tuple
        return {field: list(map(itemgetter(field), objects)) for field in fields}
    values = list(chain.from_iterable(map(itemgetter(*fields), objects)))
    return {field: values[i :: len(fields)] for i, field in enumerate(fields)}


def values_of(dicts: list[dict], key: str, default: list | None = None) -> list:
    """Each dict's value of `key` (or the default's, or None): dict.get mapped in C, no per-row frame."""
    return list(map(dict.get, dicts, repeat(key), repeat(None) if default is None else default))


def _stage_columns(stages: list) -> tuple[np.ndarray, dict[str, list]]:
    """Where a stage is plain (a dict of exactly the stage fields), and each field's values (from a
    stand-in whose values every bound refuses where a stage is not)."""
    fields = tuple(_STAGE_FIELDS)
    if set(map(type, stages)) <= {dict} and set(map(len, stages)) <= {len(fields)}:
        with suppress(KeyError):  # as many keys as fields, and every field there: exactly the fields
            return np.ones(len(stages), bool), fields_of(stages, fields)
    plain = np.array([type(s) is dict and s.keys() == _STAGE_FIELDS for s in stages], bool)
    return plain, fields_of([s if p else _NO_STAGE for s, p in zip(stages, plain, strict=True)], fields)


def _plain_specs(specs: list) -> tuple[np.ndarray, dict[str, list] | None]:
    """Where a spec has every field (the type and option fields where named) and no other, and 1 to
    MAX_STAGES stages; and, where every spec has the network fields and no other (the paper's X/Y
    networks), their columns, read in the same pass."""
    if set(map(type, specs)) <= {dict} and set(map(len, specs)) <= {len(_NETWORK_FIELDS)}:
        with suppress(KeyError):  # as many keys as fields, and every field there: exactly the fields
            column = fields_of(specs, _NETWORK_FIELD_ORDER)
            if set(map(type, column["stages"])) <= {list}:
                counts = np.fromiter(map(len, column["stages"]), np.int64, len(specs))
                return (counts > 0) & (counts <= limits.MAX_STAGES), column
    plain = np.array(
        [
            type(s) is dict
            and _NETWORK_FIELDS <= s.keys() <= _ALL_FIELDS
            and type(s["stages"]) is list
            and 0 < len(s["stages"]) <= limits.MAX_STAGES
            for s in specs
        ],
        bool,
    )
    return plain, None


def _combinations(nets: list[dict]) -> tuple[np.ndarray, list[dict]]:
    """Each network's combination of types and options, as an index into their values (every field
    given), or -1 where a field is named with its default or a value NetworkSpec does not take."""
    if set(map(len, nets)) <= {len(_NETWORK_FIELDS)}:  # none named: the paper's X/Y networks
        return np.zeros(len(nets), np.int64), [LEFT_OUT_DEFAULTS]
    seen: dict[tuple, int] = {}
    ids = np.full(len(nets), -1, np.int64)
    for i, net in enumerate(nets):
        named = tuple(net.get(f, _LEFT_OUT) for f in _OPTIONS)
        if all(
            v is _LEFT_OUT or (type(v) is type(LEFT_OUT_DEFAULTS[f]) and v in _NAMED[f])
            for f, v in zip(_OPTIONS, named, strict=True)
        ):
            ids[i] = seen.setdefault(named, len(seen))
    combinations = [
        {f: LEFT_OUT_DEFAULTS[f] if v is _LEFT_OUT else v for f, v in zip(_OPTIONS, named, strict=True)}
        for named in seen
    ]
    return ids, combinations


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(table, axis=0, return_inverse=True) in another order, column by column: unique rows as a
    whole are sorted as bytes, a hundred times slower than sorting each column's numbers."""
    code, bound = np.zeros(len(table), np.int64), 1
    for column in table.T:
        if len(column) and column.min() == column.max():  # one value: nothing to tell apart
            continue
        values, inverse = np.unique(column, return_inverse=True)
        if bound * len(values) >= 2**62:  # room in int64: number the codes seen so far 0, 1, ...
            _, code = np.unique(code, return_inverse=True)
            bound = int(code.max(initial=0)) + 1
        code, bound = code * len(values) + inverse, bound * len(values)
    _, first, which = np.unique(code, return_index=True, return_inverse=True)
    return table[first], which


def _fitting(combinations: list[dict], stages: np.ndarray) -> np.ndarray:
    """Where a stage fits its network's block and stem (`check_block_fits`, asked once per distinct
    row); `stages` rows are (combination, the network's se_ratio, b, g)."""
    distinct, which = _distinct_rows(stages)
    fits = np.ones(len(distinct), bool)
    for i, (combination, se_ratio, b, g) in enumerate(distinct):
        network = SimpleNamespace(**combinations[int(combination)], se_ratio=se_ratio)
        try:
            check_block_fits(network, [((), b, int(g))])
        except FieldError:
            fits[i] = False
    return fits[which]


def plainly_valid_networks(specs: list) -> np.ndarray:
    """True where a spec is a valid NetworkSpec in plain form; False where NetworkSpec must decide."""
    out = np.zeros(len(specs), bool)
    plain, column = _plain_specs(specs)
    where = np.flatnonzero(plain)
    if not where.size:
        return out
    nets = specs if len(where) == len(specs) else [specs[i] for i in where]
    if column is None or len(nets) < len(specs):
        column = fields_of(nets, _NETWORK_FIELD_ORDER)
    combination, combinations = _combinations(nets)
    if not combinations:  # every one names a type or option in another form
        return out
    ok = (combination >= 0) & one_of(column["kind"], frozenset({"anynet"})) & names(column["name"])
    stem, classes = integers(column["stem_width"]), integers(column["num_classes"])
    channels, resolution = integers(column["in_channels"]), integers(column["resolution"])
    se = numbers(column["se_ratio"])
    ok &= within(stem, 1, limits.MAX_STEM_WIDTH) & within(classes, 1, limits.MAX_CLASSES)
    ok &= within(channels, 1, limits.MAX_IN_CHANNELS) & within(resolution, 1, limits.MAX_RESOLUTION)
    ok &= within(se, 0.0, limits.MAX_SE_RATIO)

    # Stages as (networks, most stages) tables; depth 0 marks a stage a network does not have.
    stages = column["stages"]
    counts = np.fromiter(map(len, stages), np.int64, len(stages))
    plain_stages, stage = _stage_columns(list(chain.from_iterable(stages)))
    present = np.arange(counts.max()) < counts[:, None]

    def table(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(present.shape, fill, dtype=values.dtype)
        out[present] = values
        return out

    depth, width = integers(stage["depth"]), integers(stage["width"])
    stride, group = integers(stage["stride"]), integers(stage["group_width"])
    ratio = numbers(stage["bottleneck_ratio"])
    stage_ok = plain_stages & within(depth, 1, limits.MAX_STAGE_DEPTH) & within(width, 1, limits.MAX_WIDTH)
    stage_ok &= within(stride, 1, limits.MAX_STRIDE) & within(group, 1, limits.MAX_GROUP_WIDTH)
    stage_ok &= within(ratio, limits.MIN_BOTTLENECK_RATIO, limits.MAX_BOTTLENECK_RATIO)
    # spec.whole_bottleneck_width, elementwise: w / b within 1e-9 of a whole number >= 1 ...
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = width / ratio
        bottleneck = np.rint(exact)
        stage_ok &= (bottleneck >= 1) & (np.abs(exact - bottleneck) <= 1e-9 * exact)
        # ... that the group width divides.
        stage_ok &= np.fmod(bottleneck, np.maximum(group, 1)) == 0
    of_stage = np.repeat(np.arange(len(nets)), counts)
    asked = stage_ok & ok[of_stage]
    keys = np.column_stack([combination[of_stage], se[of_stage], ratio, group])[asked]
    stage_ok[asked] = _fitting(combinations, keys)
    ok &= np.logical_and.reduceat(stage_ok, np.cumsum(counts) - counts)

    depths = table(depth, 0)
    ok &= depths.sum(axis=1) <= limits.MAX_TOTAL_DEPTH
    widths = table(width, 0)
    # SE widths from every block's input width (spec.block_input_widths): the stem's, each earlier
    # stage's, and a stage's own after its first block.
    feeds_next = np.arange(counts.max()) < (counts - 1)[:, None]
    fed = np.where(feeds_next | (depths > 1), widths, np.iinfo(np.int64).max)
    narrowest = np.minimum(stem, fed.min(axis=1))
    ok &= (se == 0) | (se_width(narrowest, se) >= 1)

    # The params and flops limits, counted in int64 where that is exact, per combination.
    widest = np.fmax(np.maximum(stem, widths.max(axis=1)), table(bottleneck, 0.0).max(axis=1))
    stem_strides = np.array([STEM_TYPES[c["stem_type"]].stride for c in combinations])
    largest_map = out_size(resolution, np.where(ok, stem_strides[combination], 1))
    ok &= depths.sum(axis=1) * widest.astype(float) ** 2 * largest_map.astype(float) ** 2 < _INT64_SAFE
    for i, options in enumerate(combinations):
        rows = ok & (combination == i)
        if not rows.any():
            continue
        cx = complexity.count_batch(
            depths[rows],
            widths[rows],
            table(group, 1)[rows],
            table(ratio, 1.0)[rows],
            table(stride, 1)[rows],
            stem_width=stem[rows],
            se_ratio=se[rows],
            resolution=resolution[rows],
            num_classes=classes[rows],
            in_channels=channels[rows],
            **{f: options[f] for f in _COUNTED},
        )
        ok[rows] = (cx.params <= limits.MAX_PARAMS) & (cx.flops <= limits.MAX_FLOPS)
    out[where] = ok
    return out
