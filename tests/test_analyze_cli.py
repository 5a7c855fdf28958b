"""`specgen analyze` end to end: results in, a whole report out (or one line and no report)."""

import csv
import gc
import json
import os
import sqlite3
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from specgen.analysis.edf import ks_2samp
from specgen.analysis.report import MARK, MARK_TEXT, group_results
from specgen.analysis.results import COLUMNS, load_results, load_table
from specgen.cli import main
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.sweep.store import SAMPLE_FIELDS, Store

SIZE_PX = (720, 480)
ROOT = Path(__file__).resolve().parents[1]


def _rows(space: str, n: int, seed: int, penalty: float) -> list[dict]:
    """Sample lines as `specgen sample` writes them, plus a made-up error that is best near depth 20."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in sample(load_space(space), n, seed=seed, resolution=32, unique=True):
        row = s.to_json()
        depth = sum(stage["depth"] for stage in row["spec"]["stages"])
        error = 0.3 + penalty + 0.004 * abs(depth - 20) + float(rng.normal(0, 0.02))
        rows.append(row | {"status": "done", "error": round(min(error, 0.99), 4)})
    rows[1] |= {"status": "diverged", "error": None}
    return rows


ROWS = _rows("regnetx", 24, 0, 0.0) + _rows("anynetx_a", 24, 1, 0.04)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, dict) else ("" if v is None else v) for k, v in r.items()}
            )
    return path


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One real process: the report of ROWS, and which of torch and scipy analyze imported."""
    tmp = tmp_path_factory.mktemp("analyze")
    results = _write_jsonl(tmp / "results.jsonl", ROWS)
    code = (
        "import sys; from specgen.cli import main; "
        "main(sys.argv[1:], standalone_mode=False); print(sorted({'torch', 'scipy'} & set(sys.modules)))"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "analyze",
            str(results),
            "--normalize",
            "flops",
            "-o",
            str(tmp / "report"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=os.environ | {"PYTHONPATH": str(ROOT)},  # this checkout's specgen, whatever is installed
    )
    assert proc.returncode == 0, proc.stderr
    return tmp / "report", proc.stdout


def test_every_file_is_written_and_shown(report):
    folder, _ = report
    summary = json.loads((folder / "summary.json").read_text())
    plots = summary["plots"]
    assert {"edf", "edf-flops", "widths-1", "widths-2"} <= set(plots)
    # AnyNetX_A draws b and g per stage: one plot per stage; RegNetX adds its w0, wa and wm.
    parameters = ["depth", "w1", "w2", "w3", "w4", "b1", "b4", "g1", "g4", "w0", "wa", "wm", "flops"]
    assert {f"scatter-{p}" for p in parameters} <= set(plots)
    expected = {MARK, "index.html", "summary.json"} | {f"{p}.{ext}" for p in plots for ext in ("png", "svg")}
    assert {p.name for p in folder.iterdir()} == expected
    html = (folder / "index.html").read_text()
    for p in plots:
        assert f'src="{p}.png"' in html and f'href="{p}.svg"' in html
    for p in plots:
        png = (folder / f"{p}.png").read_bytes()
        assert _png_size(png) == SIZE_PX and len(png) > 5000
        svg = (folder / f"{p}.svg").read_text()
        assert svg.startswith("<?xml") and "<svg" in svg and "<path" in svg


def test_analyze_needs_no_torch_nor_scipy(report):
    _, stdout = report
    assert stdout.splitlines()[-1] == "[]"


def test_summary_and_printed_tables(report):
    folder, stdout = report
    summary = json.loads((folder / "summary.json").read_text())
    groups = {g["name"]: g for g in summary["groups"]}
    assert list(groups) == ["anynetx_a", "regnetx"]
    for name, g in groups.items():
        errors = [1.0 if r["error"] is None else r["error"] for r in ROWS if r["space"] == name]
        assert (g["n"], g["diverged"], g["failed"]) == (24, 1, 0)
        assert g["mean_error"] == pytest.approx(np.mean(errors), abs=1e-6)  # diverged counted at 1.0
        assert g["min_error"] == pytest.approx(min(errors), abs=1e-6)
        drawn = {"w0", "wa", "wm"} if name == "regnetx" else {"b1", "b4", "g1", "g4"}
        assert set(g["ranges"]) >= {"depth", "w1", "w4", "flops"} | drawn
        assert name == "regnetx" or "w0" not in g["ranges"]
        assert g["ranges"]["depth"]["low"] <= g["ranges"]["depth"]["best"] <= g["ranges"]["depth"]["high"]
        assert len(g["best"]) == 3 and all(b["fit"]["e_fit"] >= 0 for b in g["best"])
        assert all(type(b["fit"]["w0"]) is int for b in g["best"])  # a width: 96, not 96.0
        html = (folder / "index.html").read_text()
        assert all(f"<td>{b['fit']['w0']}</td>" in html for b in g["best"])
    (ks,) = summary["ks"]
    a = [1.0 if r["error"] is None else r["error"] for r in ROWS if r["space"] == "anynetx_a"]
    b = [1.0 if r["error"] is None else r["error"] for r in ROWS if r["space"] == "regnetx"]
    assert ks["statistic"] == pytest.approx(ks_2samp(np.array(a), np.array(b)).statistic, abs=1e-6)
    assert list(ks["normalized"]) == ["flops"]
    assert (ks["pvalue_method"], ks["normalized"]["flops"]["pvalue_method"]) == ("exact", "asymptotic")
    assert "anynetx_a  regnetx" in stdout and f"{ks['statistic']:.4f}" in stdout
    assert f"wrote {folder}/index.html" in stdout


def test_csv_gives_the_same_report_byte_for_byte(report, tmp_path):
    folder, _ = report
    results = _write_csv(tmp_path / "results.csv", ROWS)
    out = tmp_path / "again"
    result = CliRunner().invoke(main, ["analyze", str(results), "--normalize", "flops", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    _assert_same_report(folder, out)


def test_the_order_of_sources_does_not_matter(tmp_path):
    regnetx = [r for r in ROWS if r["space"] == "regnetx"]
    a, b = (
        str(_write_jsonl(tmp_path / f"{n}.jsonl", part))
        for n, part in (("a", regnetx[:9]), ("b", regnetx[9:]))
    )
    summaries = []
    for order in ([a, b], [b, a]):
        result = CliRunner().invoke(main, ["analyze", *order, "--json", "-o", str(tmp_path / "r")])
        assert result.exit_code == 0, result.stderr
        summaries.append(json.loads(result.stdout) | {"sources": None})
    assert summaries[0] == summaries[1]


def test_diverged_count_and_failed_runs_are_left_out(tmp_path):
    rows = [
        *ROWS[:3],
        ROWS[3] | {"status": "failed", "error": None},
        ROWS[4] | {"status": None, "error": None},
    ]
    path = _write_jsonl(
        tmp_path / "r.jsonl", [{k: v for k, v in r.items() if v is not None or k == "error"} for r in rows]
    )
    table = load_table(path).columns
    (group,) = group_results(table, "space")
    status = {table.id[i]: table.status[i] for i in group.rows}
    assert [status.get(r["id"]) for r in rows] == ["done", "diverged", "done", None, "diverged"]
    assert group.failed == 1
    errors = dict(zip([table.id[i] for i in group.rows], group.errors.tolist(), strict=True))
    assert errors[rows[1]["id"]] == errors[rows[4]["id"]] == 1.0


def test_a_space_whose_runs_all_diverged_has_no_best_models_and_no_widths_figure(tmp_path):
    rows = [r | {"status": "diverged", "error": None} for r in ROWS[:5]]
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main, ["analyze", str(_write_jsonl(tmp_path / "r.jsonl", rows)), "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    (group,) = json.loads((out / "summary.json").read_text())["groups"]
    assert (group["n"], group["diverged"], group["best"]) == (5, 5, [])
    assert not list(out.glob("widths-*")) and (out / "edf.png").is_file()


def _assert_same_report(folder, out) -> None:
    """Byte-identical plots and the same summary, whatever the results came from."""
    for path in folder.iterdir():
        if path.suffix in (".png", ".svg"):
            assert (out / path.name).read_bytes() == path.read_bytes(), path.name
    ours, theirs = (json.loads((d / "summary.json").read_text()) for d in (folder, out))
    assert ours | {"sources": None} == theirs | {"sources": None}


def _one_line(tmp_path, args, expected):
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["analyze", *args, "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr == expected + "\n"
    assert result.stdout == ""
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]


def _bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_JSONL = {
    "empty": ("", "{}: $: expected at least one result, got none"),
    "nan error": (
        json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[2] | {"error": float("nan")}) + "\n",
        "{}:2: error: expected a finite number, got NaN",
    ),
    "missing column": (
        json.dumps({k: v for k, v in ROWS[0].items() if k != "flops"}) + "\n",
        "{}:1: flops: required field is missing",
    ),
    "error above one": (
        json.dumps(ROWS[0] | {"error": 1.5}) + "\n",
        "{}:1: error: expected a value <= 1, got 1.5",
    ),
    "error as text": (
        json.dumps(ROWS[0] | {"error": "0.3"}) + "\n",
        '{}:1: error: expected a number, got "0.3"',
    ),
    "done without error": (
        json.dumps(ROWS[0] | {"error": None}) + "\n",
        "{}:1: error: expected a number for a run with status 'done', got null",
    ),
    "huge flops": (
        json.dumps(ROWS[0] | {"flops": 10**400}) + "\n",
        "{}:1: flops: expected a value <= 2000000000000, got 1000000000000000000000000000000000000...",
    ),
    "huge params": (
        json.dumps(ROWS[0] | {"params": 10**400}) + "\n",
        "{}:1: params: expected a value <= 2000000000, got 1000000000000000000000000000000000000...",
    ),
    "huge design w0": (
        json.dumps(ROWS[0] | {"design": ROWS[0]["design"] | {"w0": 10**400}}) + "\n",
        "{}:1: design.w0: expected a value <= 4096, got 1000000000000000000000000000000000000...",
    ),
    "infinite design wa": (
        json.dumps(ROWS[0] | {"design": ROWS[0]["design"] | {"wa": float("inf")}}) + "\n",
        "{}:1: design.wa: expected a finite number, got Infinity",
    ),
    "design wa past the schema's bound": (
        json.dumps(ROWS[0] | {"design": ROWS[0]["design"] | {"wa": 1e308}}) + "\n",
        "{}:1: design.wa: expected a value <= 4096, got 1e+308",
    ),
    "design wm as true": (
        json.dumps(ROWS[0] | {"design": ROWS[0]["design"] | {"wm": True}}) + "\n",
        "{}:1: design.wm: expected a number, got true",
    ),
    "empty id": (
        json.dumps(ROWS[0] | {"id": ""}) + "\n",
        '{}:1: id: expected 1-128 printable characters, got ""',
    ),
    "long id": (
        json.dumps(ROWS[0] | {"id": "x" * 129}) + "\n",
        '{}:1: id: expected 1-128 printable characters, got "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...',
    ),
    "control character in id": (
        json.dumps(ROWS[0] | {"id": "a\x00b"}) + "\n",
        '{}:1: id: expected 1-128 printable characters, got "a\\u0000b"',
    ),
    "key twice": (
        json.dumps(ROWS[0])[:-1] + ', "error": 0.9}\n',
        "{}:1: $: invalid JSON: key 'error' appears twice in one object",
    ),
    "unknown status": (
        json.dumps(ROWS[0] | {"status": "lost"}) + "\n",
        "{}:1: status: expected 'done', 'diverged' or 'failed', got \"lost\"",
    ),
    "bad space name": (
        json.dumps(ROWS[0] | {"space": "../x"}) + "\n",
        "{}:1: space: expected 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit, "
        'got "../x"',
    ),
    "bad spec": (
        json.dumps(ROWS[0] | {"spec": ROWS[0]["spec"] | {"stem_width": 0}}) + "\n",
        "{}:1: spec.stem_width: expected a value >= 1, got 0",
    ),
    "regnet spec": (
        json.dumps(
            ROWS[0]
            | {
                "spec": {
                    "kind": "regnet",
                    "name": "r",
                    "depth": 4,
                    "w0": 16,
                    "wa": 8.0,
                    "wm": 2.0,
                    "group_width": 8,
                }
            }
        )
        + "\n",
        "{}:1: spec.kind: expected 'anynet' (a resolved network), got \"regnet\"",
    ),
    "not an object": ("[1, 2]\n", "{}:1: $: expected a JSON object, got list"),
    # Lines are parsed in one call when they can be: a line that parses only beside the others is still
    # refused on its own, and a bad row above a line that does not parse is reported first.
    "two values on one line": (
        json.dumps(ROWS[0]) + ", " + json.dumps(ROWS[2]) + "\n",
        f"{{}}:1: $: invalid JSON: Extra data: line 1 column {len(json.dumps(ROWS[0])) + 1} "
        f"(char {len(json.dumps(ROWS[0]))})",
    ),
    "bad row above a line that does not parse": (
        json.dumps(ROWS[0] | {"error": 1.5}) + "\n{\n",
        "{}:1: error: expected a value <= 1, got 1.5",
    ),
    "all failed": (
        json.dumps(ROWS[0] | {"status": "failed", "error": None}) + "\n",
        '{}: status: expected a run of "regnetx" that did not fail; all 1 failed',
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_JSONL))
def test_bad_jsonl_gets_one_line_and_no_report(tmp_path, case):
    text, expected = BAD_JSONL[case]
    path = _bad(tmp_path, "r.jsonl", text)
    _one_line(tmp_path, [path], expected.format(path))


def test_bad_csv_gets_one_line_and_no_report(tmp_path):
    path = str(_write_csv(tmp_path / "r.csv", [ROWS[0], ROWS[2] | {"error": float("nan")}]))
    _one_line(tmp_path, [path], f"{path}:3: error: expected a finite number, got NaN")
    missing = str(
        _write_csv(tmp_path / "m.csv", [{k: v for k, v in r.items() if k != "error"} for r in ROWS[:2]])
    )
    _one_line(
        tmp_path, [missing], f"{missing}: error: missing column; expected the columns {', '.join(COLUMNS)}"
    )
    garbled = str(_write_csv(tmp_path / "g.csv", [ROWS[0] | {"flops": "many"}]))
    _one_line(tmp_path, [garbled], f'{garbled}:2: flops: expected an integer, got "many"')
    underscored = str(_write_csv(tmp_path / "u.csv", [ROWS[0] | {"flops": "1_000"}]))
    _one_line(tmp_path, [underscored], f'{underscored}:2: flops: expected an integer, got "1_000"')
    huge = str(_write_csv(tmp_path / "h.csv", [ROWS[0] | {"flops": "9" * 400}]))
    _one_line(
        tmp_path,
        [huge],
        f"{huge}:2: flops: expected a value <= 2000000000000, got 9999999999999999999999999999999999999...",
    )
    spaced = str(_write_csv(tmp_path / "s.csv", [ROWS[0] | {"error": " 0.3"}]))
    _one_line(tmp_path, [spaced], f'{spaced}:2: error: expected a number or an empty cell, got " 0.3"')
    lines = (tmp_path / "r.csv").read_text().splitlines(keepends=True)
    extra = _bad(tmp_path, "x.csv", lines[0] + lines[1].rstrip("\r\n") + ",surplus\r\n")
    cells = len(lines[0].split(","))
    _one_line(tmp_path, [extra], f"{extra}:2: $: expected {cells} cells as in the header, got {cells + 1}")
    twice = _bad(
        tmp_path, "t.csv", lines[0].rstrip("\r\n") + ",error\r\n" + lines[1].rstrip("\r\n") + ",0.5\r\n"
    )
    _one_line(tmp_path, [twice], f"{twice}:1: error: expected each column once in the header, got it twice")


def test_a_byte_order_mark_is_read_past(tmp_path):
    """Spreadsheets (Excel) save CSV with a UTF-8 BOM; the first column is still `id`."""
    path = _write_csv(tmp_path / "r.csv", ROWS[:3])
    path.write_text("\ufeff" + path.read_text())
    jsonl = _write_jsonl(tmp_path / "r.jsonl", ROWS[:3])
    jsonl.write_text("\ufeff" + jsonl.read_text())
    assert (
        [r.id for r in load_results(path)]
        == [r.id for r in load_results(jsonl)]
        == [r["id"] for r in ROWS[:3]]
    )


def test_bad_options_and_folders_get_one_line(tmp_path):
    good = str(_write_jsonl(tmp_path / "good.jsonl", ROWS[:4]))
    _one_line(
        tmp_path,
        [good, "--by", "colour"],
        'specgen analyze: --by: expected one of space, source, got "colour"',
    )
    _one_line(
        tmp_path,
        [good, "--normalize", "acts"],
        'specgen analyze: --normalize: expected one of flops, params, got "acts"',
    )
    _one_line(tmp_path, [good, "--seed", "-1"], "specgen analyze: --seed: expected an integer >= 0, got -1")
    missing = str(tmp_path / "missing.jsonl")
    _one_line(tmp_path, [good, missing], f"{missing}: $: file not found")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["analyze", good, "-o", str(busy)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f'{busy}: $: expected a new or empty folder or an earlier report; it holds "notes.txt"\n'
    )
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_an_earlier_report_is_replaced_whole_and_names_are_shown_as_text(tmp_path):
    odd_ids = [{**r, "id": "$\\foo$" + r["id"]} for r in ROWS[:6]]  # math text, were it not escaped
    odd = str(_write_jsonl(tmp_path / "a$b<i>.jsonl", odd_ids))
    plain = str(_write_jsonl(tmp_path / "plain.jsonl", ROWS[24:30]))
    out = tmp_path / "report"
    out.mkdir()
    (out / "scatter-w9.png").write_bytes(b"old")
    (out / MARK).write_text(MARK_TEXT)
    result = CliRunner().invoke(main, ["analyze", odd, plain, "--by", "source", "--json", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert not (out / "scatter-w9.png").exists() and (out / "index.html").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [g["name"] for g in json.loads(result.stdout)["groups"]] == [odd, plain]
    html = (out / "index.html").read_text()
    assert "a$b&lt;i&gt;.jsonl" in html and "<i>" not in html


def _refused_out(tmp_path, out, expected):
    """-o OUT is refused in one line before anything is built; what was there stays as it was."""
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    good = str(_write_jsonl(tmp_path.parent / f"{tmp_path.name}-good.jsonl", ROWS[:4]))
    result = CliRunner().invoke(main, ["analyze", good, "-o", str(out)])
    assert (result.exit_code, result.stderr, result.stdout) == (2, expected + "\n", "")
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_folder_that_only_looks_like_a_report_is_kept(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("my home page")
    (site / "summary.json").mkdir()
    (site / "summary.json" / "notes").write_text("mine")
    _refused_out(
        tmp_path,
        site,
        f'{site}: $: expected a new or empty folder or an earlier report; it holds "summary.json"',
    )
    (site / "summary.json" / "notes").unlink()
    (site / "summary.json").rmdir()
    expected = (
        f"{site}: $: expected a new or empty folder or an earlier report, which holds {MARK}; it has none"
    )
    _refused_out(tmp_path, site, expected)
    assert (site / "index.html").read_text() == "my home page"


def test_a_report_folder_that_cannot_be_swapped_is_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    here = "expected a folder for the report, got the current folder or one above it"
    _refused_out(tmp_path, ".", f".: $: {here}")
    _refused_out(tmp_path, "..", f"..: $: {here}")
    (tmp_path / "afile").write_text("mine")
    _refused_out(tmp_path, "afile", "afile: $: expected a folder for the report, got a file")
    _refused_out(
        tmp_path,
        "afile/rep",
        f"afile/rep: $: expected a folder for the report, {tmp_path / 'afile'} is a file",
    )


def test_a_linked_report_folder_is_written_in_the_links_target(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    good = str(_write_jsonl(tmp_path / "good.jsonl", ROWS[:4]))
    for _ in range(2):  # a new report, then one replacing it
        result = CliRunner().invoke(main, ["analyze", good, "-o", str(tmp_path / "link")])
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / "link").is_symlink() and (target / "index.html").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl", "link", "target"]


def test_a_source_given_twice_is_refused(tmp_path, monkeypatch):
    good = str(_write_jsonl(tmp_path / "good.jsonl", ROWS[:4]))
    twice = f"{good}: $: the same file as {good}; its results would count twice"
    _one_line(tmp_path, [good, good], twice)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.jsonl").symlink_to("good.jsonl")
    for other in ("./good.jsonl", "link.jsonl", "../" + tmp_path.name + "/good.jsonl"):
        _one_line(
            tmp_path,
            ["good.jsonl", other],
            f"{other}: $: the same file as good.jsonl; its results would count twice",
        )


def test_a_run_twice_in_a_space_is_refused(tmp_path):
    again = str(_write_jsonl(tmp_path / "again.jsonl", [ROWS[0], ROWS[2], ROWS[0]]))
    run = json.dumps(ROWS[0]["id"])
    _one_line(
        tmp_path,
        [again],
        f"{again}:3: id: expected each run once in a space, got {run} again (first at {again}:1)",
    )
    # A store and its own export hold the same runs.
    store = _write_store(tmp_path / "s.db", ROWS[:4])
    export = str(_write_jsonl(tmp_path / "runs.jsonl", ROWS[:4]))
    first = f"{store}: {ROWS[0]['id']}"
    _one_line(
        tmp_path,
        [store, export],
        f"{export}:1: id: expected each run once in a space, got {run} again (first at {first})",
    )


def test_the_same_runs_in_two_sources_compare_by_source(tmp_path):
    """Two sweeps of one sample (other epochs, say) share ids: grouped by source, each counts once."""
    a = str(_write_jsonl(tmp_path / "a.jsonl", ROWS[:4]))
    b = str(_write_jsonl(tmp_path / "b.jsonl", [r | {"error": 0.5} for r in ROWS[:4]]))
    result = CliRunner().invoke(
        main, ["analyze", a, b, "--by", "source", "--json", "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.stderr
    assert [g["n"] for g in json.loads(result.stdout)["groups"]] == [4, 4]


def _write_store(path, rows, finish=True):
    """A sweep's store as its driver leaves it: samples added, then each run claimed and finished."""
    store = Store.create(path)
    try:
        store.add([{k: r[k] for k in SAMPLE_FIELDS} for r in rows])
        for r in rows if finish else []:
            store.claim(r["id"])
            store.finish(r["id"], {"status": r["status"], "error": r["error"], "best_error": r["error"]})
    finally:
        store.close()
    return str(path)


def test_sweep_stores_give_the_same_report_as_their_results_file(report, tmp_path):
    folder, _ = report
    stores = []
    for space in ("regnetx", "anynetx_a"):
        rows = [r for r in ROWS if r["space"] == space]
        assert len({r["id"] for r in rows}) == len(rows)
        stores.append(_write_store(tmp_path / f"{space}.db", rows))
    out = tmp_path / "from-stores"
    result = CliRunner().invoke(main, ["analyze", *stores, "--normalize", "flops", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    _assert_same_report(folder, out)


def test_names_the_font_cannot_draw_make_no_warnings(tmp_path):
    rows = _write_jsonl(tmp_path / "r.jsonl", [r | {"id": "模型-" + r["id"][:8]} for r in ROWS[:6]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, ["analyze", str(rows), "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.stderr
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    assert result.stderr == ""


def test_more_spaces_than_colours_are_refused(tmp_path):
    sources = [str(_write_jsonl(tmp_path / f"{i}.jsonl", [ROWS[i]])) for i in range(11)]
    expected = (
        "specgen analyze: --by: expected at most 10 sources to compare, one colour each in the plots; got 11"
    )
    _one_line(tmp_path, [*sources, "--by", "source"], expected)


def test_scatter_points_are_one_image_in_the_svg(report):
    """Rasterized: a scatter SVG holds an image per space, not a path per model (100k made 10 MB)."""
    folder, _ = report
    svg = (folder / "scatter-depth.svg").read_text()
    assert svg.count("<image") == 2 and len(svg) < 100_000  # one image per space


def test_a_store_with_damaged_json_gets_one_line(tmp_path):
    store = _write_store(tmp_path / "s.db", ROWS[:3])
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET design = '{bad' WHERE id = ?", (ROWS[2]["id"],))
    db.close()
    expected = (
        f"{store}: {ROWS[2]['id']}: design: expected JSON text: "
        'Expecting property name enclosed in double quotes at column 2, got "{bad"'
    )
    _one_line(tmp_path, [store], expected)


def test_bad_stores_get_one_line_and_no_report(tmp_path):
    odd = _write_store(tmp_path / "odd.db", [ROWS[0] | {"id": "a\nb"}])
    _one_line(tmp_path, [odd], f'{odd}: "a\\nb": id: expected 1-128 printable characters, got "a\\nb"')
    empty = _write_store(tmp_path / "empty.db", ROWS[:3], finish=False)
    _one_line(tmp_path, [empty], f"{empty}: $: expected at least one result, got none")
    foreign = _bad(tmp_path, "notes.db", "not a database\n" * 100)
    _one_line(tmp_path, [foreign], f"{foreign}: $: expected a specgen sweep store (SQLite)")


def test_a_report_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, full_disk):
    disk, fill = full_disk
    results = _write_jsonl(tmp_path / "results.jsonl", ROWS)
    fill()
    out = disk / "reports" / "report"
    result = CliRunner().invoke(main, ["analyze", str(results), "-o", str(out)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{out}: $: cannot write the report: No space left on device\n"
    assert [p.name for p in disk.iterdir()] == [".filler"]


def test_the_rows_are_freed_when_the_report_is_built(tmp_path):
    """By reference counting: none is left for the cycle collector (a second's work on 100k rows)."""
    from specgen.analysis.report import build
    from specgen.analysis.results import Result

    gc.collect()
    gc.disable()
    try:
        build([str(_write_jsonl(tmp_path / "results.jsonl", ROWS))], normalize="flops")
        assert not [o for o in gc.get_objects() if type(o) is Result]
    finally:
        gc.enable()
