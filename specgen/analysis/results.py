"""Results of trained samples: a sweep store, or a JSONL or CSV file of rows.

A row is a sample as `specgen sample` writes it (it names its space and holds
its network spec) plus `error`, the final top-1 error as a fraction, and
optionally `status` and the timings of `sweep --time` (TIMING_FIELDS, seconds). A CSV
cell's leading single quote, which `sweep export` adds where a spreadsheet would see a
formula, is dropped (`specgen.sweep.cells`).
Every row is untrusted input and is checked; the first bad one is reported as
`FILE:LINE: field: what was expected`. Rows are checked column-wise first (`plainly_valid_rows`,
`bulk`); a row that is not plainly valid goes through the models (_Row, NetworkSpec), which word
the line.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specgen.analysis.bulk import (
    integers,
    names,
    numbers,
    of_type,
    one_of,
    plainly_valid_networks,
    printable,
    within,
)
from specgen.analysis.published import read_published
from specgen.errors import ROOT, SpecError, first_error, named, shown
from specgen.network import limits
from specgen.network.spec import Name, NetworkSpec
from specgen.specfile import parse_json, read_text, refuse_duplicates, validate_spec
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
    status = row.get("status") or ("done" if error is not None else "diverged")
    return Result(
        origin,
        source,
        row["id"],
        row["space"],
        row["design"],
        row["flops"],
        row["params"],
        spec,
        status,
        error,
        *(None if row.get(field) is None else float(row[field]) for field in TIMING_FIELDS),
        row.get(HYPERPARAMETERS) or {},
    )


_STATUSES = frozenset({None, "done", "diverged", "failed"})
_REQUIRED = frozenset(COLUMNS)


def plainly_valid_rows(rows: list) -> np.ndarray:
    """True where a row keeps every rule of _Row and its spec is plainly a valid NetworkSpec (see
    `bulk`), checked column-wise; False where `result_from_row` must decide, and word a refusal.

    The rules of _Row and _Design again, over columns: the tests prove both give the same verdicts.
    """
    out = np.zeros(len(rows), bool)
    where = np.flatnonzero(
        [type(r) is dict and r.keys() >= _REQUIRED and type(r["design"]) is dict for r in rows]
    )
    rows = [rows[i] for i in where]

    def column(field: str) -> list:
        return list(map(itemgetter(field), rows))

    ok = printable(column("id"), MAX_ID_LENGTH) & names(column("space"))
    ok &= within(integers(column("flops")), 0, limits.MAX_FLOPS)
    ok &= within(integers(column("params")), 0, limits.MAX_PARAMS)
    errors = column("error")
    no_error = of_type(errors, type(None))
    ok &= no_error | within(numbers(errors, (int, float)), 0.0, 1.0)
    statuses = [r.get("status") for r in rows]
    ok &= one_of(statuses, _STATUSES)
    for field in TIMING_FIELDS:
        times = [r.get(field) for r in rows]
        ok &= of_type(times, type(None)) | within(numbers(times, (int, float)), 0.0, MAX_SECONDS)
    if no_error.any():
        ok &= ~(np.array([s == "done" for s in statuses], bool) & no_error)
    ok &= _plain_hyperparameters([r.get(HYPERPARAMETERS) for r in rows])
    designs = [r["design"] for r in rows]

    def drawn(field: str, kinds: tuple[type, ...], valid) -> np.ndarray:
        values = [d.get(field) for d in designs]
        return of_type(values, type(None)) | valid(numbers(values, kinds))

    ok &= drawn("w0", (int,), lambda x: within(x, 1, limits.MAX_W0))  # gt=0, on integers
    ok &= drawn("wa", (int, float), lambda x: within(x, 0.0, limits.MAX_WA))
    ok &= drawn("wm", (int, float), lambda x: (x > 1) & (x <= limits.MAX_WM))
    ok &= drawn("group_width", (int,), lambda x: within(x, 1, limits.MAX_GROUP_WIDTH))
    b = (limits.MIN_BOTTLENECK_RATIO, limits.MAX_BOTTLENECK_RATIO)
    ok &= drawn("bottleneck_ratio", (int, float), lambda x: within(x, *b))
    ok &= plainly_valid_networks([r["spec"] for r in rows])
    out[where] = ok
    return out


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


def _results(rows: list, sources: list[str], origin: str) -> list[Result]:
    """Results of rows, the first bad one refused: rows checked column-wise, the others one by one."""
    plain = plainly_valid_rows(rows)
    return [
        _result(row, source, origin, row["spec"]) if ok else result_from_row(row, source, origin)
        for row, source, ok in zip(rows, sources, plain, strict=True)
    ]


def _jsonl_rows(text: str, path: str) -> list[Result]:
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
    elif suffix in (".jsonl", ".csv"):
        text = read_text(path, MAX_RESULTS_BYTES).removeprefix("\ufeff")  # the BOM spreadsheets write
        results = _jsonl_rows(text, path) if suffix == ".jsonl" else _csv_rows(text, path)
    else:
        results = _store_rows(path)
    if not results:
        raise SpecError(path, ROOT, "expected at least one result, got none")
    return results
