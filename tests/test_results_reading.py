"""Reading a JSONL file of results fast (orjson, keys counted by their ':', into a table) gives what
json gives.

The reference is the reading by json with the duplicate-key hook (`_jsonl_rows`), made into a table
(`table_of`): every file, good or bad, must give the same columns and the same Result of every run, or
the same one line of refusal.
"""

import json
import re
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.analysis.results import (
    MAX_RESULTS_BYTES,
    _jsonl_part,
    _jsonl_rows,
    _jsonl_table,
    load_table,
)
from specgen.analysis.table import ResultTable, table_of
from specgen.errors import SpecError
from specgen.network import limits
from specgen.network.spec import LEFT_OUT_DEFAULTS, NetworkSpec, Stage
from specgen.network.stems import STEM_TYPES
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.specfile import read_bytes, read_text
from specgen.testing import network_specs

from .test_analysis import near_networks, typed_networks

NET = NetworkSpec(name="n", stages=[Stage(depth=2, width=8, group_width=8)]).model_dump(mode="json")


def _row(spec: dict = NET, **fields) -> dict:
    row = {"id": "r1", "space": "s", "design": {"depth": 3, "w0": 8}, "flops": 1, "params": 1, "spec": spec}
    return row | {"error": 0.5, "status": "done"} | fields


def _outcome(read) -> tuple:
    """Everything a read gives (each result's fields, in their types and order), or its one line."""
    try:
        return ("read", repr(read()))
    except SpecError as e:
        return ("refused", str(e))


def shown(table: ResultTable) -> tuple[str, str]:
    """A table's columns (arrays as lists, NaN as nan) and the Result of each of its runs, as text."""

    def listed(value: object) -> object:
        if isinstance(value, dict):
            return {key: listed(v) for key, v in value.items()}
        return value.tolist() if isinstance(value, np.ndarray) else value

    columns = {name: listed(value) for name, value in vars(table.columns).items()}
    return repr(columns), repr(table.results(range(len(table.columns))))


def _both(path: Path) -> tuple[tuple, tuple]:
    """What load_table gives, and what the reference reading by json gives (as a table)."""

    def reference() -> tuple[str, str]:
        text = read_text(path, MAX_RESULTS_BYTES).removeprefix("\ufeff")
        return shown(table_of(_jsonl_rows(text, str(path))))

    return _outcome(lambda: shown(load_table(path))), _outcome(reference)


def _write(tmp_path: Path, lines: list[str], end: str = "\n") -> Path:
    path = tmp_path / "r.jsonl"
    path.write_bytes("".join(line + end for line in lines).encode())
    return path


def _twice(line: str, start: int) -> str:
    """The line with the first key of the object that starts at `start` given twice (the first value 0)."""
    key = re.match(r'\{"([^"]*)": ', line[start:])
    assert key is not None
    return line[:start] + f'{{"{key[1]}": 0, ' + line[start + 1 :]


@pytest.mark.parametrize(
    ("line", "where", "key"),
    [
        (2, '{"id"', "id"),  # the row
        (2, '{"depth": 3', "depth"),  # its design
        (2, '{"kind"', "kind"),  # its spec
        (2, '{"depth": 2', "depth"),  # a stage
        (2, '{"lr"', "lr"),  # its hyperparameters
        (3, '{"x"', "x"),  # an object in a column analysis does not read
    ],
)
def test_a_key_given_twice_anywhere_is_refused_as_json_refuses_it(tmp_path, line, where, key):
    rows = [_row(id="a"), _row(id="b", hyperparameters={"lr": 0.1}), _row(id="c", note={"x": 1, "y": 2})]
    lines = [json.dumps(r) for r in rows]
    lines[line - 1] = _twice(lines[line - 1], lines[line - 1].index(where))
    path = _write(tmp_path, lines)
    fast, reference = _both(path)
    refusal = f"{path}:{line}: $: invalid JSON: key '{key}' appears twice in one object"
    assert fast == reference == ("refused", refusal)
    assert _jsonl_table(read_bytes(path, MAX_RESULTS_BYTES), str(path)) is None


def test_a_bad_row_above_a_key_given_twice_is_refused_first(tmp_path):
    lines = [json.dumps(_row(id="a", error=1.5)), _twice(json.dumps(_row(id="b")), 0)]
    path = _write(tmp_path, lines)
    assert _both(path) == (("refused", f"{path}:1: error: expected a value <= 1, got 1.5"),) * 2


def test_colons_in_strings_and_keys_are_counted_and_good_rows_read_fast(tmp_path):
    rows = [
        _row(id="a:b::c", note="x: y", **{"odd:key": "1:2"}),
        _row(id="plain", design={"depth": 3, "drawn:by": "a:b"}),
    ]
    path = _write(tmp_path, [json.dumps(r) for r in rows])
    fast, reference = _both(path)
    assert fast == reference and fast[0] == "read"
    assert _jsonl_table(read_bytes(path, MAX_RESULTS_BYTES), str(path)) is not None
    assert load_table(path).columns.id == ["a:b::c", "plain"]


def test_an_escaped_colon_is_read_by_json(tmp_path):
    """'\\u003a' is a ':' the text does not show, so the count cannot tell a lost key: json reads it."""
    line = json.dumps(_row(id="a:b")).replace('"a:b"', '"a\\u003ab"')
    path = _write(tmp_path, [line, _twice(line, 0).replace("\\u003a", "x")])
    assert _jsonl_table(read_bytes(path, MAX_RESULTS_BYTES), str(path)) is None
    fast, reference = _both(path)
    assert fast == reference and fast[0] == "refused"


@pytest.mark.parametrize(
    "value",
    [2**64, -(2**63) - 1, 10**30, float("nan"), float("inf"), [1, {"a": 2**70}], {"deep": [[[]]]}, "\ud800"],
)
def test_values_orjson_reads_otherwise_are_read_by_json(tmp_path, value):
    """Integers past 64 bits (orjson makes them floats), NaN and infinities (orjson refuses them), lone
    surrogates: in a column analysis does not read and in the design it keeps, the results are json's."""
    rows = [_row(id="a", seed=value), _row(id="b", design={"depth": value})]
    path = _write(tmp_path, [json.dumps(r) for r in rows])
    fast, reference = _both(path)
    assert fast == reference and fast[0] == "read"


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("\ufeff{row}\n\n  \t\n{row}\n", ""),  # a BOM, blank lines
        ("{row}\r\n{row}\r\n", ""),
        ("{row}\r{row}\r", ""),
        ("{row}\n\x0c\n{row}\n", ""),  # a form feed breaks a line for str.splitlines, not for bytes
        ("{row}\n\x0b{row}\n", ""),
        ("{row}\x1c{row}\n", ""),
        ('{row}\n{{"id": "a\u2028b"}}\n', ""),  # a line break inside a string to str.splitlines
        ("{row}\n{row}, {row}\n", ""),  # two values on one line
        ("{row}\n[1\n2]\n", ""),
        ("{row}\n{row} \x1f\n", ""),
    ],
)
def test_lines_are_split_and_numbered_as_json_reads_them(tmp_path, text, end):
    path = tmp_path / "r.jsonl"
    path.write_bytes(text.format(row=json.dumps(_row())).encode())
    fast, reference = _both(path)
    assert fast == reference


def test_text_that_is_not_utf8_is_refused_as_before(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(json.dumps(_row(id="\xe9"), ensure_ascii=False).encode("latin-1") + b"\n")
    assert _both(path) == (("refused", f"{path}: $: expected UTF-8 text"),) * 2


_SIMPLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
_ODD = st.one_of(  # what orjson reads otherwise, or not at all
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(alphabet='a:\u2028\u6a21"\\\x00', max_size=4),
    st.lists(st.integers(-(2**66), 2**66), max_size=2),
    st.dictionaries(st.sampled_from(["x", "y:"]), st.integers(), max_size=2),
)
_LISTED = st.lists(st.one_of(_SIMPLE, st.text(alphabet="ab:", max_size=3), _ODD), max_size=4)
"""Lists as an AnyNet design draws them (per-stage values), and lists holding what orjson reads otherwise."""
_EXTRA = st.one_of(_SIMPLE, st.text(alphabet="ab:", max_size=4), _ODD, _LISTED)


_ONE_IN_8 = st.sampled_from([False] * 7 + [True])


@st.composite
def jsonl_files(draw) -> str:
    """JSONL text of rows as `specgen sample` writes them, with what a file may hold besides: extra
    columns and drawn values of every JSON type, colons and escapes in strings, blank lines, bad rows,
    and keys given twice in any object."""
    dumped = NetworkSpec.model_dump
    specs = st.one_of(network_specs().map(dumped), typed_networks().map(dumped))
    specs = st.one_of(specs, specs, specs, near_networks())  # a bad row now and then
    lines = []
    for spec in draw(st.lists(specs, min_size=1, max_size=4)):
        row = _row(spec, id=draw(st.text(alphabet="ab:-", min_size=1, max_size=6)))
        row["design"] |= draw(st.dictionaries(st.sampled_from(["depth", "d:x", "w0"]), _EXTRA, max_size=2))
        if draw(_ONE_IN_8):  # a space that draws nothing
            row["design"] = {}
        row |= draw(st.dictionaries(st.sampled_from(["seed", "a:b", "note"]), _EXTRA, max_size=2))
        if draw(st.booleans()):
            row["hyperparameters"] = draw(st.fixed_dictionaries({}, optional={"lr": st.floats(0.01, 1)}))
        line = json.dumps(row, ensure_ascii=draw(st.booleans()))
        if draw(_ONE_IN_8):
            starts = [m.start() for m in re.finditer(r'\{"', line)]
            line = _twice(line, draw(st.sampled_from(starts)))
        if draw(_ONE_IN_8) and ":" in row["id"]:
            line = line.replace(json.dumps(row["id"]), json.dumps(row["id"]).replace(":", "\\u003a"), 1)
        lines.append(line)
        if draw(_ONE_IN_8):
            lines.append(draw(st.sampled_from(["", "  ", "\t", "\x0c"])))
    return draw(st.sampled_from(["", "\ufeff"])) + draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(jsonl_files())
def test_any_file_reads_as_json_reads_it(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("rows") / "r.jsonl"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    fast, reference = _both(path)
    assert fast == reference


def test_every_word_a_plain_spec_may_hold_is_without_a_colon():
    """The count of ':' takes a plain spec's strings (its kind, name, and type and option words) to hold
    none."""
    words = {"anynet", *STEM_TYPES}
    for field in LEFT_OUT_DEFAULTS:
        words |= {v for v in get_args(NetworkSpec.model_fields[field].annotation) if isinstance(v, str)}
    assert len(words) > 3 and not any(":" in w for w in words)
    assert re.fullmatch(limits.NAME_PATTERN, "a:b") is None


def test_anynet_designs_of_per_stage_lists_are_read_by_orjson(tmp_path):
    """An AnyNet design draws lists (depths, widths, ...), which no rule checks: lists of numbers read
    alike, so its rows are read by orjson, none again by json; a list holding a float past 2**63 (an
    integer to json, maybe) or another list is left to json."""
    rows = [s.to_json() | {"error": 0.5} for s in sample(load_space("anynetx_a"), 6, seed=0, resolution=32)]
    assert all(type(v) is list for r in rows for v in r["design"].values())
    rows[4]["design"]["extra"] = [1.0, 2.0**64]
    rows[5]["design"]["extra"] = [[1, 2]]
    path = _write(tmp_path, [json.dumps(r) for r in rows])
    fast, reference = _both(path)
    assert fast == reference and fast[0] == "read"
    data = read_bytes(path, MAX_RESULTS_BYTES)
    part = _jsonl_part(data, str(path), 0, len(data))
    assert part.fast.tolist() == [0, 1, 2, 3] and part.slow.tolist() == [4, 5]
