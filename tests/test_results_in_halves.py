"""Rows checked in two halves at once (one in a forked child) read as rows checked in one piece: the same
results, and the same one line of refusal, the first bad row's in file order whichever half holds it.
Both readings: `load_results` (rows parsed by json, checked in two halves of the rows) and `load_table`
(a JSONL file cut in two halves of its bytes at a line break, each parsed by orjson and checked)."""

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings

from specgen.analysis import results
from specgen.analysis.results import load_results, load_table

from .test_results_reading import _outcome, _row, _twice, _write, jsonl_files, shown

needs_fork = pytest.mark.usefixtures("forks")


@contextmanager
def _split_from(rows: int, spans: list | None = None):
    """Rows checked in halves from this many; the halves' spans recorded in `spans`."""
    real = results.map_forked

    def recorded(work, items):
        if spans is not None:
            spans.append(list(items))
        return real(work, items)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(results, "HALVES_FROM", rows)
        patch.setattr(results, "map_forked", recorded)
        yield


READS = {"load_results": load_results, "load_table": lambda path: shown(load_table(path))}
both_reads = pytest.mark.parametrize("read", list(READS))


def _serial_and_halves(path: Path, read: str = "load_results") -> tuple[tuple, tuple, list]:
    """What a read gives checking the rows in one piece, and in two halves (and their spans)."""
    with _split_from(10**9):
        serial = _outcome(lambda: READS[read](path))
    spans: list = []
    with _split_from(2, spans):
        halves = _outcome(lambda: READS[read](path))
    return serial, halves, spans


def _halves(path: Path, read: str) -> list:
    """The spans a read cuts a file into: 9 rows as 4 and 5, or its bytes at the line break past 52%."""
    if read == "load_results":
        return [(0, 4), (4, 9)]
    data = path.read_bytes()
    cut = data.index(b"\n", len(data) * 13 // 25) + 1
    return [(0, cut), (cut, len(data))]


def _lines(count: int, bad: dict[int, dict] | None = None) -> list[str]:
    """`count` rows, among them plain ones, ones only the models pass and colons in ids and keys; the
    rows at the lines `bad` names get its fields."""
    rows = []
    for i in range(count):
        row = _row(id=f"r{i}:{i % 3}", error=i / count)
        if i % 4 == 1:
            row["design"]["wa"] = 2  # an integer for a float: the models decide
        if i % 5 == 2:
            row |= {"hyperparameters": {"lr": 0.1}, "note:x": "a:b"}
        rows.append(row | (bad or {}).get(i + 1, {}))
    return [json.dumps(row) for row in rows]


@needs_fork
@both_reads
def test_good_rows_read_in_halves_as_in_one_piece(tmp_path, read):
    path = _write(tmp_path, _lines(9))
    serial, halves, spans = _serial_and_halves(path, read)
    assert serial == halves and serial[0] == "read"
    assert spans[0] == _halves(path, read)  # (load_table's Results, shown, are read in halves too)


_ERROR = {"error": 1.5}, "error: expected a value <= 1, got 1.5"
_FLOPS = {"flops": -1}, "flops: expected a value >= 0, got -1"


@needs_fork
@both_reads
@pytest.mark.parametrize(
    ("bad", "refused"),
    [
        ({8: _ERROR}, 8),  # in the second half, checked here
        ({3: _ERROR}, 3),  # in the first half, checked by the child
        ({3: _FLOPS, 7: _ERROR}, 3),  # in both: the first in the file
        ({5: _ERROR, 4: _FLOPS}, 4),  # either side of the middle
    ],
)
def test_the_first_bad_row_in_the_file_is_refused_whichever_half_holds_it(tmp_path, bad, refused, read):
    path = _write(tmp_path, _lines(9, {line: fields for line, (fields, _) in bad.items()}))
    serial, halves, spans = _serial_and_halves(path, read)
    assert serial == halves == ("refused", f"{path}:{refused}: {bad[refused][1]}")
    assert spans[0] == _halves(path, read)  # (load_table's Results, shown, are read in halves too)


@needs_fork
@pytest.mark.parametrize("line", [2, 8])
def test_a_key_given_twice_in_either_half_is_refused_as_in_one_piece(tmp_path, line):
    """Each half's count of ':' is its own: a key lost in either half shows (load_results finds it as json
    parses the file, before any half)."""
    lines = _lines(9)
    lines[line - 1] = _twice(lines[line - 1], lines[line - 1].index('{"depth"'))
    path = _write(tmp_path, lines)
    serial, halves, spans = _serial_and_halves(path, "load_table")
    refusal = f"{path}:{line}: $: invalid JSON: key 'depth' appears twice in one object"
    assert serial == halves == ("refused", refusal) and spans


@needs_fork
@both_reads
def test_a_bad_row_in_the_first_half_is_refused_before_a_key_given_twice_in_the_second(tmp_path, read):
    lines = _lines(9, {2: _ERROR[0]})
    lines[7] = _twice(lines[7], 0)
    path = _write(tmp_path, lines)
    serial, halves, _ = _serial_and_halves(path, read)
    assert serial == halves == ("refused", f"{path}:2: error: expected a value <= 1, got 1.5")


@needs_fork
@both_reads
@settings(max_examples=60, deadline=None)
@given(text=jsonl_files())
def test_any_file_reads_in_halves_as_in_one_piece(tmp_path_factory, text, read):
    path = tmp_path_factory.mktemp("rows") / "r.jsonl"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    serial, halves, _ = _serial_and_halves(path, read)
    assert serial == halves
