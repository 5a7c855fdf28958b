"""Results of trained samples: a sweep store, or a JSONL or CSV file of rows.

A row is a sample as `specgen sample` writes it (it names its space and holds
its network spec) plus `error`, the final top-1 error as a fraction, and
optionally `status`. Every row is untrusted input and is checked; the first
bad one is reported as `FILE:LINE: field: what was expected`.

Runs that produced no error are kept and told apart: status "diverged" (or no
status and a null error) is a property of the design and counts in the
analysis at error DIVERGED_ERROR; status "failed" (the run broke for reasons
outside the model) is counted, then left out.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from specgen.errors import ROOT, SpecError, first_error, shown
from specgen.spec import Name, NetworkSpec
from specgen.specfile import parse_json, read_text, validate_spec

DIVERGED_ERROR = 1.0
"""The error a diverged run counts with: it is in the EDF, as a model that learned nothing."""
MAX_RESULTS_BYTES = 1 << 28
COLUMNS = ("id", "space", "design", "flops", "params", "spec", "error")
"""The columns analysis reads; others (seed, index, resolution, acts, status, ...) may be present."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: str = Field(min_length=1, max_length=128)
    space: Name
    design: dict[str, Any]
    flops: int = Field(ge=0)
    params: int = Field(ge=0)
    spec: dict[str, Any]
    error: Fraction | None
    status: Literal["done", "diverged", "failed"] | None = None

    @model_validator(mode="after")
    def _done_has_error(self) -> _Row:
        if self.status == "done" and self.error is None:
            raise ValueError("a run with status 'done' needs an error, got null")
        return self


@dataclass(frozen=True)
class Result:
    """One trained sample: where it came from, its design, network and outcome."""

    source: str
    id: str
    space: str
    design: dict[str, Any]
    flops: int
    params: int
    net: NetworkSpec
    status: str
    """'done', 'diverged' or 'failed'."""
    error: float | None

    @property
    def analysis_error(self) -> float:
        """The error analysis counts: the run's, or DIVERGED_ERROR for a diverged run."""
        return DIVERGED_ERROR if self.status == "diverged" else float(self.error)  # type: ignore[arg-type]


def _inside(field: str, e: SpecError) -> SpecError:
    """An error about a nested document, re-rooted at the row's field that holds it."""
    path = field if e.path == ROOT else field + ("" if e.path.startswith("[") else ".") + e.path
    return SpecError(e.source, path, e.message)


def result_from_row(row: object, source: str, origin: str) -> Result:
    """Check one row (a dict) and make a Result; `source` names the row in messages."""
    if not isinstance(row, dict):
        raise SpecError(source, ROOT, f"expected a JSON object, got {type(row).__name__}")
    try:
        checked = _Row.model_validate(row)
    except ValidationError as e:
        raise SpecError(source, *first_error(e)) from None
    try:
        net = validate_spec(checked.spec, source)
    except SpecError as e:
        raise _inside("spec", e) from None
    if not isinstance(net, NetworkSpec):
        raise SpecError(source, "spec.kind", f"expected 'anynet' (a resolved network), got {shown(net.kind)}")
    status = checked.status or ("done" if checked.error is not None else "diverged")
    return Result(
        origin,
        checked.id,
        checked.space,
        checked.design,
        checked.flops,
        checked.params,
        net,
        status,
        checked.error,
    )


def _jsonl_rows(text: str, path: str) -> list[Result]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise SpecError(source, ROOT, f"invalid JSON: {e}") from None
        out.append(result_from_row(row, source, path))
    return out


def _csv_cell(column: str, cell: str, source: str) -> object:
    """A CSV cell as the JSON value it stands for: design and spec hold JSON text."""
    if column in ("design", "spec"):
        try:
            return parse_json(cell, source)
        except SpecError as e:
            raise _inside(column, e) from None
    if column in ("flops", "params"):
        try:
            return int(cell)
        except ValueError:
            raise SpecError(source, column, f"expected an integer, got {shown(cell)}") from None
    if column == "error":
        if cell.strip().lower() in ("", "null", "none"):
            return None
        try:
            return float(cell)
        except ValueError:
            raise SpecError(
                source, column, f"expected a number or an empty cell, got {shown(cell)}"
            ) from None
    if column == "status":
        return cell or None
    return cell


def _csv_rows(text: str, path: str) -> list[Result]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SpecError(path, missing[0], f"missing column; expected the columns {', '.join(COLUMNS)}")
    out = []
    for row in reader:
        source = f"{path}:{reader.line_num}"
        values = {k: _csv_cell(k, v or "", source) for k, v in row.items() if k is not None}
        out.append(result_from_row(values, source, path))
    return out


def _store_rows(path: str) -> list[Result]:
    try:
        from specgen.sweep.store import read_results
    except ImportError:
        raise SpecError(path, ROOT, "expected a .jsonl or .csv results file or a sweep store") from None
    return [result_from_row(row, f"{path}: {row.get('id', '?')}", path) for row in read_results(path)]


def load_results(path: str | Path) -> list[Result]:
    """Every result in one source; a source with none is refused."""
    path = str(path)
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".csv"):
        text = read_text(path, MAX_RESULTS_BYTES)
        results = _jsonl_rows(text, path) if suffix == ".jsonl" else _csv_rows(text, path)
    else:
        results = _store_rows(path)
    if not results:
        raise SpecError(path, ROOT, "expected at least one result, got none")
    return results
