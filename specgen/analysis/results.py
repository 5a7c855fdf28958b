"""Results of trained samples: a sweep store, or a JSONL or CSV file of rows.

A row is a sample as `specgen sample` writes it (it names its space and holds
its network spec) plus `error`, the final top-1 error as a fraction, and
optionally `status` and the timings of `sweep --time` (TIMING_FIELDS, seconds). A CSV
cell's leading single quote, which `sweep export` adds where a spreadsheet would see a
formula, is dropped (`specgen.sweep.cells`).
Every row is untrusted input and is checked; the first bad one is reported as
`FILE:LINE: field: what was expected`. Rows are checked column-wise first (`plainly_valid_rows`,
`bulk`; many rows in two halves at once, `_in_halves`); a row that is not plainly valid goes
through the models (_Row, NetworkSpec), which word the line. `load_results` gives every run's Result;
`load_table`, what analysis reads, gives their columns (`specgen.analysis.table`): a JSONL file is
then parsed by orjson where that gives what json gives (`_jsonl_table`, two halves of the file at
once), else by json, whose messages are the refusals.

Runs that produced no error are kept and told apart: status "diverged" (or no
status and a null error) is a property of the design and counts in the
analysis at error DIVERGED_ERROR; status "failed" (the run broke for reasons
outside the model) is counted, then left out.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, repeat
from operator import contains, itemgetter
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specgen.analysis.bulk import (
    fields_of,
    integers,
    names,
    numbers,
    of_type,
    one_of,
    optional_numbers,
    plainly_valid_networks,
    printable,
    values_of,
    within,
)
from specgen.analysis.forked import map_forked
from specgen.analysis.published import read_published
from specgen.analysis.table import DESIGN_NUMBERS, Columns, ResultTable, columns_of, joined, table_of, taken
from specgen.errors import ROOT, SpecError, first_error, named, shown
from specgen.network import limits
from specgen.network.spec import Name, NetworkSpec, Stage
from specgen.specfile import decode_text, parse_json, read_bytes, read_text, refuse_duplicates, validate_spec
from specgen.sweep.cells import restore
from specgen.sweep.store import HYPERPARAMETERS, TIMING_FIELDS, read_results
from specgen.train.schedule import HYPERPARAMETER_LIMITS

DIVERGED_ERROR = 1.0
"""The error a diverged run counts with: it is in the EDF, as a model that learned nothing."""
MAX_RESULTS_BYTES = 1 << 28
COLUMNS = ("id", "space", "design", "flops", "params", "spec", "error")
"""The columns analysis reads; others (seed, index, resolution, acts, status, ...) may be present."""

MAX_ID_LENGTH = 128
_INTEGER = re.compile(r"-?[0-9]{1,1000}")
"""Far more digits than any bound, few enough for int() (Python refuses beyond 4,300)."""
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)
"""A CSV number as JSON spells it (no '1_000', no spaces); NaN and infinities are read to be refused."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
MAX_SECONDS = 86_400.0
"""A day: no timing of one call at a batch size is longer."""
Seconds = Annotated[float, Field(ge=0.0, le=MAX_SECONDS, allow_inf_nan=False)]
_LR, _WD, _EPOCHS = (HYPERPARAMETER_LIMITS[k] for k in ("lr", "weight_decay", "epochs"))


class _Hyperparameters(BaseModel):
    """A run's own training hyperparameters, bounded as a space may draw them."""

    model_config = ConfigDict(extra="forbid", strict=True)

    lr: Annotated[float, Field(gt=_LR[0], le=_LR[1], allow_inf_nan=False)] | None = None
    weight_decay: Annotated[float, Field(ge=_WD[0], le=_WD[1], allow_inf_nan=False)] | None = None
    epochs: Annotated[int, Field(ge=_EPOCHS[0], le=_EPOCHS[1])] | None = None


class _Design(BaseModel):
    """The drawn values analysis plots, bounded as a RegNet spec bounds them; other keys pass as they are."""

    model_config = ConfigDict(extra="allow", strict=True)

    w0: Annotated[int, Field(gt=0, le=limits.MAX_W0)] | None = None
    wa: Annotated[float, Field(ge=0, le=limits.MAX_WA, allow_inf_nan=False)] | None = None
    wm: Annotated[float, Field(gt=1, le=limits.MAX_WM, allow_inf_nan=False)] | None = None
    group_width: Annotated[int, Field(ge=1, le=limits.MAX_GROUP_WIDTH)] | None = None
    bottleneck_ratio: (
        Annotated[
            float,
            Field(ge=limits.MIN_BOTTLENECK_RATIO, le=limits.MAX_BOTTLENECK_RATIO, allow_inf_nan=False),
        ]
        | None
    ) = None


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: str
    space: Name
    design: _Design
    flops: int = Field(ge=0, le=limits.MAX_FLOPS)
    params: int = Field(ge=0, le=limits.MAX_PARAMS)
    spec: dict[str, Any]
    error: Fraction | None
    status: Literal["done", "diverged", "failed"] | None = None
    forward_seconds: Seconds | None = None
    forward_backward_seconds: Seconds | None = None
    hyperparameters: _Hyperparameters | None = None

    @field_validator("id")
    @classmethod
    def _printable(cls, value: str) -> str:
        # Ids are shown in plots, HTML and messages: control characters would garble all three.
        if not 0 < len(value) <= MAX_ID_LENGTH or not value.isprintable():
            raise ValueError(f"expected 1-{MAX_ID_LENGTH} printable characters, got {shown(value)}")
        return value


@dataclass
class Result:
    """One trained sample: where it came from, its design, network and outcome.

    The network is kept as the checked data: analysis reads its stages for every sample, and builds
    the NetworkSpec (`net`) only for the few it looks at closer. Not frozen: a read makes one per row,
    and a frozen dataclass takes three times as long to make.
    """

    source: str
    where: str
    """The row in messages: FILE:LINE, or STORE: ID."""
    id: str
    space: str
    design: dict[str, Any]
    flops: int
    params: int
    spec: dict[str, Any]
    """A valid NetworkSpec's fields as data, every one given (`stages`: a list of dicts)."""
    status: str
    """'done', 'diverged' or 'failed'."""
    error: float | None
    forward_seconds: float | None = None
    """`sweep --time`: median seconds of a forward call at the training batch size; None if not timed."""
    forward_backward_seconds: float | None = None
    hyperparameters: dict[str, float] = dataclasses.field(default_factory=dict)
    """The run's own lr, weight_decay or epochs, when its space drew them."""

    @cached_property
    def net(self) -> NetworkSpec:
        """The network as a NetworkSpec, built on first use."""
        return NetworkSpec.model_validate(self.spec, strict=True)

    @property
    def analysis_error(self) -> float:
        """The error analysis counts: the run's, or DIVERGED_ERROR for a diverged run."""
        return DIVERGED_ERROR if self.status == "diverged" else float(self.error)  # type: ignore[arg-type]


def _inside(field: str, e: SpecError) -> SpecError:
    """An error about a nested document, re-rooted at the row's field that holds it."""
    path = field if e.path == ROOT else field + ("" if e.path.startswith("[") else ".") + e.path
    return SpecError(e.source, path, e.message)


def result_from_row(row: object, source: str, origin: str) -> Result:
    """Check one row (a dict) and make a Result; `source` names the row in messages, `origin` its file."""
    if not isinstance(row, dict):
        raise SpecError(source, ROOT, f"expected a JSON object, got {type(row).__name__}")
    try:
        checked = _Row.model_validate(row)
    except ValidationError as e:
        raise SpecError(source, *first_error(e)) from None
    if checked.status == "done" and checked.error is None:
        raise SpecError(source, "error", "expected a number for a run with status 'done', got null")
    try:
        net = validate_spec(checked.spec, source)
    except SpecError as e:
        raise _inside("spec", e) from None
    if not isinstance(net, NetworkSpec):
        raise SpecError(source, "spec.kind", f"expected 'anynet' (a resolved network), got {shown(net.kind)}")
    return _result(row, source, origin, net.model_dump())


def _result(row: dict, source: str, origin: str, spec: dict[str, Any]) -> Result:
    """The Result of a valid row."""
    error = None if row["error"] is None else float(row["error"])
    return Result(
        origin,
        source,
        row["id"],
        row["space"],
        row["design"],
        row["flops"],
        row["params"],
        spec,
        _status(row.get("status"), error),
        error,
        *(None if row.get(field) is None else float(row[field]) for field in TIMING_FIELDS),
        row.get(HYPERPARAMETERS) or {},
    )


def _status(status: str | None, error: float | None) -> str:
    """A run's status; a row without one finished ("done") where it has an error, else diverged."""
    return status or ("done" if error is not None else "diverged")


_STATUSES = frozenset({None, "done", "diverged", "failed"})
_REQUIRED = frozenset(COLUMNS)
_DRAWN = tuple(_Design.model_fields)
_OPTIONAL = ("status", *TIMING_FIELDS, HYPERPARAMETERS)
"""The fields of _Row a row may leave out."""


@dataclass
class _Columns:
    """The rows that are objects with every column and a design object, read column-wise."""

    where: np.ndarray
    """Their places among the rows."""
    rows: list[dict]
    values: dict[str, list]
    """Each field of _Row's values, None where a row leaves it out (and every other key's, where the
    rows hold the same keys)."""
    keys: set[str]
    """Every key they hold."""
    designs: dict[str, list]
    """Each drawn value of _Design, None where a design leaves it out (and every other key's, where the
    designs hold the same keys)."""
    design_keys: set[str]
    """Every key the designs hold."""


def _columns(rows: list) -> _Columns:
    """The rows' columns: where they hold the same keys (as a writer writes them), all in one pass over
    the rows (the passes over 100,000 objects are most of the time)."""
    dicts = set(map(type, rows)) <= {dict}
    values = _same_keys(rows) if dicts else None
    keys = None if values is None else set(values)
    if values is None and dicts:
        with suppress(KeyError):  # a row without a column
            values = fields_of(rows, COLUMNS)
    if values is not None and values.keys() >= _REQUIRED and set(map(type, values["design"])) <= {dict}:
        where = np.arange(len(rows))
    else:
        where = np.flatnonzero(
            [type(r) is dict and r.keys() >= _REQUIRED and type(r["design"]) is dict for r in rows]
        )
        rows = [rows[i] for i in where]
        values, keys = {field: list(map(itemgetter(field), rows)) for field in COLUMNS}, None
    if keys is None:
        keys = set(chain.from_iterable(rows))
        for field in _OPTIONAL:
            values[field] = values_of(rows, field) if field in keys else [None] * len(rows)
    designs = values["design"]
    drawn = _same_keys(designs)
    design_keys = set(chain.from_iterable(designs)) if drawn is None else set(drawn)
    if drawn is None:
        drawn = {field: values_of(designs, field) for field in _DRAWN}
    for table, fields in ((values, _OPTIONAL), (drawn, _DRAWN)):
        for field in fields:
            table.setdefault(field, [None] * len(designs))
    return _Columns(where, rows, values, keys, drawn, design_keys)


def _same_keys(objects: list[dict]) -> dict[str, list] | None:
    """Every key's values where every object holds the first one's keys and no other, read in one pass;
    None where they do not."""
    if not objects or set(map(len, objects)) != {len(objects[0])}:
        return None
    try:  # as many keys as the first, and every one of its keys there: the same keys
        return fields_of(objects, tuple(objects[0]))
    except KeyError:
        return None


def plainly_valid_rows(rows: list) -> np.ndarray:
    """True where a row keeps every rule of _Row and its spec is plainly a valid NetworkSpec (see
    `bulk`), checked column-wise; False where `result_from_row` must decide, and word a refusal.

    The rules of _Row and _Design again, over columns: the tests prove both give the same verdicts.
    """
    out = np.zeros(len(rows), bool)
    columns = _columns(rows)
    out[columns.where] = _plain(columns)
    return out


def _plain(columns: _Columns) -> np.ndarray:
    """plainly_valid_rows of rows read column-wise."""
    values, design = columns.values, columns.designs
    ok = printable(values["id"], MAX_ID_LENGTH) & names(values["space"])
    ok &= within(integers(values["flops"]), 0, limits.MAX_FLOPS)
    ok &= within(integers(values["params"]), 0, limits.MAX_PARAMS)
    errors = values["error"]
    no_error, error = optional_numbers(errors, (int, float))
    ok &= no_error | within(error, 0.0, 1.0)
    statuses = values["status"]
    ok &= one_of(statuses, _STATUSES)
    for field in TIMING_FIELDS:
        times = values[field]
        untimed, seconds = optional_numbers(times, (int, float))
        ok &= untimed | within(seconds, 0.0, MAX_SECONDS)
    if no_error.any():
        ok &= ~(np.array([s == "done" for s in statuses], bool) & no_error)
    ok &= _plain_hyperparameters(values[HYPERPARAMETERS])

    def drawn(field: str, kinds: tuple[type, ...], valid) -> np.ndarray:
        none, x = optional_numbers(design[field], kinds)
        return none | valid(x)

    ok &= drawn("w0", (int,), lambda x: within(x, 1, limits.MAX_W0))  # gt=0, on integers
    ok &= drawn("wa", (int, float), lambda x: within(x, 0.0, limits.MAX_WA))
    ok &= drawn("wm", (int, float), lambda x: (x > 1) & (x <= limits.MAX_WM))
    ok &= drawn("group_width", (int,), lambda x: within(x, 1, limits.MAX_GROUP_WIDTH))
    b = (limits.MIN_BOTTLENECK_RATIO, limits.MAX_BOTTLENECK_RATIO)
    ok &= drawn("bottleneck_ratio", (int, float), lambda x: within(x, *b))
    ok &= plainly_valid_networks(values["spec"])
    return ok


def _plain_hyperparameters(drawn: list) -> np.ndarray:
    """Where a row's hyperparameters keep _Hyperparameters' rules (none at all does), column-wise."""
    if set(map(type, drawn)) <= {type(None)}:
        return np.ones(len(drawn), bool)
    ok = np.array(
        [h is None or (type(h) is dict and h.keys() <= HYPERPARAMETER_LIMITS.keys()) for h in drawn]
    )
    for name, (low, high) in HYPERPARAMETER_LIMITS.items():
        values = [h.get(name) if type(h) is dict else None for h in drawn]
        x = numbers(values, (int,) if name == "epochs" else (int, float))
        inside = (low < x) & (x <= high) if name == "lr" else within(x, low, high)
        ok &= of_type(values, type(None)) | inside
    return ok


HALVES_FROM = 20_000
"""Rows checked (`_in_halves`), and JSONL lines read (`_jsonl_table`), in two halves at once from this
many: below it, forking costs more than the half of the work it saves."""


def _in_halves(
    check: Callable[[_Columns], tuple[np.ndarray, ...]], columns: _Columns
) -> tuple[np.ndarray, ...]:
    """check(columns), whose arrays hold a value per row or per plain row in order, done on the two
    halves of the rows at once (`map_forked`: the child inherits the rows and sends back only the
    arrays) and joined: every verdict is a row's own, so the halves give what the whole gives."""
    size = len(columns.where)
    if size < HALVES_FROM:
        return check(columns)
    spans = [(0, size // 2), (size // 2, size)]
    halves = map_forked(lambda span: check(_part(columns, *span)), spans)
    return tuple(map(np.concatenate, zip(*halves, strict=True)))


def _part(columns: _Columns, start: int, stop: int) -> _Columns:
    """The columns of the rows from `start` to `stop` among them."""
    return _Columns(
        columns.where[start:stop],
        columns.rows[start:stop],
        {field: values[start:stop] for field, values in columns.values.items()},
        columns.keys,
        {field: values[start:stop] for field, values in columns.designs.items()},
        columns.design_keys,
    )


def _results(rows: list, sources: list[str], origin: str) -> list[Result]:
    """Results of rows, the first bad one refused: rows checked column-wise, the others one by one."""
    columns = _columns(rows)
    (plain,) = _in_halves(lambda part: (_plain(part),), columns)
    return _checked_results(rows, sources, origin, columns, plain)


def _checked_results(
    rows: list, sources: list[str], origin: str, columns: _Columns, plain: np.ndarray
) -> list[Result]:
    """Results of rows: those plainly valid (`plain`, of `columns`) made from their columns, the others
    by `result_from_row`, in order, so that the first bad row is the one refused."""
    fast = np.flatnonzero(plain)
    fields = _plain_fields(columns, fast)
    made = map(
        Result,
        repeat(origin),
        [sources[i] for i in columns.where[fast]] if len(fast) < len(rows) else sources,
        *map(fields.get, ("id", "space", "design", "flops", "params", "spec", "status", "error")),
        *(_floats(fields[field]) for field in TIMING_FIELDS),
        [h or {} for h in fields[HYPERPARAMETERS]],
    )
    if len(fast) == len(rows):
        return list(made)
    is_plain = np.zeros(len(rows), bool)
    is_plain[columns.where[fast]] = True
    return [
        next(made) if ok else result_from_row(row, source, origin)
        for row, source, ok in zip(rows, sources, is_plain.tolist(), strict=True)
    ]


def _plain_fields(columns: _Columns, fast: np.ndarray) -> dict[str, list]:
    """The fields of the plainly valid rows (at `fast` among the columns' rows) as a Result holds them:
    errors as floats, and a status where a row leaves it out."""
    whole = len(fast) == len(columns.rows)
    fields = {}
    for field in (*COLUMNS, *_OPTIONAL):
        values = columns.values[field]
        fields[field] = values if whole else [values[i] for i in fast]
    fields["error"] = _floats(fields["error"])
    if None in fields["status"]:
        fields["status"] = list(map(_status, fields["status"], fields["error"]))
    return fields


def _floats(values: list) -> list:
    """Numbers as floats, and None, as _Row holds them."""
    if set(map(type, values)) <= {float, type(None)}:
        return values
    return [None if v is None else float(v) for v in values]


_BOM = "\ufeff".encode()
"""The byte order mark spreadsheets write."""
_LINE_BREAKS_BEYOND_ASCII = ("\x85", "\u2028", "\u2029")
"""Where str.splitlines (the reference reading) breaks a line and bytes.splitlines does not; of the
others (\\v, \\f, \\x1c-\\x1e) no JSON line holds one, and a blank one is looked at."""
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")
_ROW_FIELDS = frozenset({*COLUMNS, *_OPTIONAL})
_DESIGN_FIELDS = frozenset(_DRAWN)
_SCALARS = frozenset({str, int, bool, type(None)})
"""The values orjson and json read alike (and floats below 2**63)."""


def load_table(path: str | Path, skipped: dict[str, int] | None = None) -> ResultTable:
    """Every result in one source as a table (`specgen.analysis.table`), refused as `load_results`
    refuses it: a JSONL file read by orjson (`_jsonl_table`) where that is sure to give what json gives,
    every other source from its Results."""
    path = str(path)
    with _no_cycle_collection():
        if Path(path).suffix.lower() == ".jsonl":
            table = _jsonl_table(_jsonl_bytes(path), path)
            if table is not None:
                return table
        return table_of(_load(path, {} if skipped is None else skipped))


def _jsonl_bytes(path: str) -> bytes:
    return read_bytes(path, MAX_RESULTS_BYTES).removeprefix(_BOM)


@dataclass(frozen=True)
class _Part:
    """The rows of one span of a JSONL file's bytes, read by orjson."""

    lines: np.ndarray
    """Each row's line (its line break too) as (start, end) offsets in the file."""
    linenos: np.ndarray
    fast: np.ndarray
    """The places (among the span's rows) of those orjson read as json reads them, plainly valid."""
    slow: np.ndarray
    """The places of the others, to be read by json and checked by the models."""
    columns: Columns | None
    """The fast rows' columns; None where there are none."""


def _jsonl_table(data: bytes, path: str) -> ResultTable | None:
    """The table of a JSONL file's bytes, read by orjson; None where orjson could read it otherwise than
    json (which reads NaN, a lone surrogate and integers past 64 bits, refuses a key given twice, and
    splits lines alike only in ASCII), or where it holds no row: `load_results` reads it then.

    From HALVES_FROM lines, the two halves of the file are read at once, cut at a line break: a forked
    child splits, parses and checks one and sends back only its columns (`map_forked`). Rows not plainly
    valid, and rows holding unchecked values that orjson may read otherwise (nested, or numbers past
    2**63), are read again by json and checked by the models, in file order, so that the first bad row
    is the one refused. A key given twice in a row read only by orjson shows in a count: outside
    strings, the text holds a ':' for each key it gives, so it holds as many as the rows' objects have
    keys plus the ':' in their strings only when no object lost a key (a string's escaped ':',
    '\\u003a', does not show: a text with one is left to json). A run's whole Result is its line read
    again, when asked for.
    """
    if not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if any(c in text for c in _LINE_BREAKS_BEYOND_ASCII):
            return None
    if b"\\" in data and any(c in data for c in _ESCAPED_COLONS):
        return None
    # The first span is the longer by a little: this process, asking first, takes it, and the child has
    # its columns to send back too.
    cut = data.find(b"\n", len(data) * 13 // 25) + 1 if data.count(b"\n") >= HALVES_FROM else 0
    spans = [(0, cut), (cut, len(data))] if 0 < cut < len(data) else [(0, len(data))]
    parts = map_forked(lambda span: _jsonl_part(data, path, *span), spans)
    if None in parts:
        return None
    lines = np.concatenate([part.lines for part in parts])
    linenos = np.concatenate([part.linenos for part in parts])
    if not len(lines):
        return None
    starts = np.cumsum([0] + [len(part.linenos) for part in parts])
    fast = [part.fast + start for part, start in zip(parts, starts, strict=False)]
    slow = np.concatenate([part.slow + start for part, start in zip(parts, starts, strict=False)])

    def row(i: int) -> Any:
        start, end = lines[i]
        return json.loads(data[start:end].decode("utf-8"), object_pairs_hook=refuse_duplicates)

    def where(i: int) -> str:
        return f"{path}:{linenos[i]}"

    try:
        again = list(map(row, slow.tolist()))
    except (ValueError, RecursionError):
        return None
    checked = [result_from_row(r, where(i), path) for r, i in zip(again, slow.tolist(), strict=True)]
    made = [part.columns for part in parts if part.columns is not None]
    columns = joined(made + ([table_of(checked).columns] if checked else []))
    if checked:  # in file order
        columns = taken(columns, np.argsort(np.concatenate([*fast, slow])))

    def results(places: Sequence[int]) -> list[Result]:  # as load_results makes them
        return _results(list(map(row, places)), list(map(where, places)), path)

    return ResultTable(columns, results)


def _design_values(columns: _Columns, fast: np.ndarray, designs: list[dict]) -> dict[str, list]:
    """`design_values` of the designs at `fast` among the columns' rows: the values read with the
    columns where they were (the drawn ones, or every key where the designs hold the same keys)."""
    whole = len(fast) == len(columns.rows)
    out = {}
    for key in DESIGN_NUMBERS:
        if key in columns.designs:
            values = columns.designs[key]
            out[key] = values if whole else [values[i] for i in fast]
        elif key in columns.design_keys:
            out[key] = values_of(designs, key)
    return out


def _jsonl_part(data: bytes, path: str, start: int, stop: int) -> _Part | None:
    """The rows of data[start:stop] (whole lines) read by orjson, the plainly valid ones that it reads as
    json does as columns; None where orjson refuses a line or the ':' count shows a key given twice."""
    lines = data[start:stop].splitlines(keepends=True)  # JSON allows the line break after a value
    ends = np.cumsum(np.fromiter(map(len, lines), np.int64, len(lines))) + start
    first = 1 + data.count(b"\n", 0, start) + data.count(b"\r", 0, start) - data.count(b"\r\n", 0, start)
    kept = [i for i, line in enumerate(lines) if not line.isspace()]
    if len(kept) < len(lines):
        if any(b"\v" in line or b"\f" in line for line in lines if line.isspace()):
            return None  # a line break to str.splitlines, and a blank line to both
        lines = [lines[i] for i in kept]
    kept = np.array(kept, np.int64)
    spans = np.column_stack([(ends - np.diff(ends, prepend=start))[kept], ends[kept]])
    if not lines:
        return _Part(spans, kept, kept, kept, None)
    try:
        rows = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return None
    columns = _columns(rows)
    plain, alike, colons = _plain_alike(columns)
    fast = np.flatnonzero(plain)[alike]  # among the columns' rows
    at = columns.where[fast]  # among these rows
    if sum(map(bytes.count, map(lines.__getitem__, at.tolist()), repeat(b":"))) != colons[alike].sum():
        return None
    slow = np.setdiff1d(np.arange(len(rows)), at)
    if not len(at):
        return _Part(spans, kept + first, at, slow, None)
    fields = _plain_fields(columns, fast)
    made = columns_of(
        [path] * len(fast),
        [f"{path}:{lineno}" for lineno in (kept[at] + first).tolist()],
        *map(fields.get, ("id", "space", "flops", "params", "spec", "status", "error")),
        {field: fields[field] for field in TIMING_FIELDS},
        _design_values(columns, fast, fields["design"]),
        fields[HYPERPARAMETERS],
    )
    return _Part(spans, kept + first, at, slow, made)


def _plain_alike(columns: _Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where rows are plainly valid, and of those where orjson reads them as json does, and their ':'."""
    plain = _plain(columns)
    return plain, *_read_alike(columns, plain)


def _read_alike(columns: _Columns, plain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where plainly valid rows hold only values that orjson and json read alike, and the ':' the text
    of each shows: a key's, and those in its strings.

    Plainly valid, a row's checked values are strings, None and numbers within bounds below 2**63
    (past which orjson reads an integer as a float), and only its id may hold a ':' (not a name, a
    status, a spec's kind or its type and option words). The other columns and drawn values, which
    pass unchecked, must be strings, None, bools or numbers below 2**63.
    """
    fast = np.flatnonzero(plain)
    whole = len(fast) == len(plain)

    def column(values: list) -> list:
        return values if whole else [values[i] for i in fast]

    rows, designs, specs = column(columns.rows), *map(column, map(columns.values.get, ("design", "spec")))

    def sizes(objects) -> np.ndarray:
        return np.fromiter(map(len, objects), np.int64, len(fast))

    colons = sizes(rows) + sizes(designs) + sizes(specs)
    colons += sizes(map(itemgetter("stages"), specs)) * len(Stage.model_fields)
    drawn = column(columns.values[HYPERPARAMETERS])
    if any(drawn):
        colons += [len(h) if h else 0 for h in drawn]
    colons += np.fromiter(map(str.count, column(columns.values["id"]), repeat(":")), np.int64, len(fast))
    alike = np.ones(len(fast), bool)
    for objects, table, others in (
        (rows, columns.values, columns.keys - _ROW_FIELDS),
        (designs, columns.designs, columns.design_keys - _DESIGN_FIELDS),
    ):
        for key in others:
            values = column(table[key]) if key in table else values_of(objects, key)
            read_alike, inside = _unchecked(values)
            alike &= read_alike
            colons += inside
            if ":" in key:
                holding = np.fromiter(map(contains, objects, repeat(key)), np.int64, len(fast))
                colons += holding * key.count(":")
    return alike, colons


def _unchecked(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Where values no rule checks are ones orjson reads as json does, and the ':' in their strings: a
    string, None, a bool, an integer, a float below 2**63, or a list of those (an AnyNet design's
    per-stage depths, widths, ...), read column-wise; anything else is left to json."""
    if list not in set(map(type, values)):
        return _unchecked_scalars(values)
    lists = [v if type(v) is list else [v] for v in values]
    row = np.repeat(np.arange(len(values)), np.fromiter(map(len, lists), np.int64, len(lists)))
    read_alike, inside = _unchecked_scalars(list(chain.from_iterable(lists)))
    alike = np.ones(len(values), bool)
    alike[row[~read_alike]] = False
    return alike, np.bincount(row, inside, len(values)).astype(np.int64)


def _unchecked_scalars(values: list) -> tuple[np.ndarray, np.ndarray]:
    """_unchecked of values none of which is a list (one is not alike)."""
    types = set(map(type, values))
    if types <= _SCALARS:
        alike = np.ones(len(values), bool)
    elif types == {float}:  # a float past 2**63 may be an integer that orjson read as a float
        alike = np.abs(np.fromiter(values, np.float64, len(values))) < 2**63
    else:
        alike = np.array([type(v) in _SCALARS or (type(v) is float and abs(v) < 2**63) for v in values], bool)
    colons = np.zeros(len(values), np.int64)
    if str in types:
        colons += [v.count(":") if type(v) is str else 0 for v in values]
    return alike, colons


def _jsonl_rows(text: str, path: str) -> list[Result]:
    """The results of a JSONL file's text, read by json (every line in one call where they parse)."""
    lines = text.splitlines()
    kept = [lineno for lineno, line in enumerate(lines, 1) if line.strip()]
    if len(kept) < len(lines):  # blank lines are left out
        lines = [lines[lineno - 1] for lineno in kept]
    sources = [f"{path}:{lineno}" for lineno in kept]
    try:  # every line in one call, at C speed; a line that does not parse on its own is found below
        rows = json.loads(f"[{','.join(lines)}]", object_pairs_hook=refuse_duplicates)
    except (ValueError, RecursionError):
        rows = None
    if rows is None or len(rows) != len(lines):
        rows = []
        for source, line in zip(sources, lines, strict=True):
            try:
                rows.append(json.loads(line, object_pairs_hook=refuse_duplicates))
            except (ValueError, RecursionError) as e:
                _results(rows, sources[: len(rows)], path)  # a bad row above is reported first
                raise SpecError(source, ROOT, f"invalid JSON: {e}") from None
    return _results(rows, sources, path)


def _csv_cell(column: str, cell: str, source: str) -> object:
    """A CSV cell (its spreadsheet quote dropped) as the JSON value it stands for: design and spec hold JSON
    text."""
    if column == HYPERPARAMETERS and cell == "":  # a run whose space drew none
        return None
    if column in ("design", "spec", HYPERPARAMETERS):
        try:
            return parse_json(cell, source)
        except SpecError as e:
            raise _inside(column, e) from None
    if column in ("flops", "params"):
        if not _INTEGER.fullmatch(cell):
            raise SpecError(source, column, f"expected an integer, got {shown(cell)}")
        return int(cell)
    if column in ("error", *TIMING_FIELDS):
        if cell.strip().lower() in ("", "null", "none"):
            return None
        if not _NUMBER.fullmatch(cell):
            raise SpecError(source, column, f"expected a number or an empty cell, got {shown(cell)}")
        return float(cell)
    if column == "status":
        return cell or None
    return cell


def _csv_rows(text: str, path: str) -> list[Result]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SpecError(path, missing[0], f"missing column; expected the columns {', '.join(COLUMNS)}")
    twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
    if twice is not None:
        raise SpecError(f"{path}:1", twice, "expected each column once in the header, got it twice")
    rows, sources = [], []
    try:
        for cells in reader:
            source = f"{path}:{reader.line_num}"
            if not cells:
                continue
            if len(cells) != len(header):
                message = f"expected {len(header)} cells as in the header, got {len(cells)}"
                raise SpecError(source, ROOT, message)
            rows.append({k: _csv_cell(k, restore(v), source) for k, v in zip(header, cells, strict=True)})
            sources.append(source)
    except SpecError:
        _results(rows, sources, path)  # a bad row above is reported first
        raise
    return _results(rows, sources, path)


def _store_rows(path: str) -> list[Result]:
    rows = read_results(path)
    return _results(rows, [f"{path}: {named(row['id'])}" for row in rows], path)


def load_results(path: str | Path, skipped: dict[str, int] | None = None) -> list[Result]:
    """Every result in one source; a source with none is refused. A published sweep's records of
    networks specgen does not build are counted per family into `skipped`."""
    with _no_cycle_collection():
        return _load(str(path), {} if skipped is None else skipped)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while rows are read and checked.

    Reading makes millions of objects and keeps them; the collector would scan all of them again
    and again (about 40% of reading 100,000 rows) to find no cycles: rows are trees.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(path: str, skipped: dict[str, int]) -> list[Result]:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":  # a published sweep: NDS's data release or pycls's sweep.json
        published = read_published(read_text(path, MAX_RESULTS_BYTES), path)
        results = _results(published.rows, published.sources, path)
        if not results and published.skipped:
            families = ", ".join(f"{n} {family}" for family, n in published.skipped.items())
            raise SpecError(path, ROOT, f"expected a network specgen builds, got only {families} records")
        for family, count in published.skipped.items():
            skipped[family] = skipped.get(family, 0) + count
    elif suffix == ".jsonl":
        results = _jsonl_rows(decode_text(_jsonl_bytes(path), path), path)
    elif suffix == ".csv":
        results = _csv_rows(read_text(path, MAX_RESULTS_BYTES).removeprefix("\ufeff"), path)
    else:
        results = _store_rows(path)
    if not results:
        raise SpecError(path, ROOT, "expected at least one result, got none")
    return results
