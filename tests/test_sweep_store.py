"""The sweep store on its own (no training): idempotent inserts, claim and finish, read_results, settings."""

from __future__ import annotations

import csv
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.cli import main
from specgen.errors import SpecError
from specgen.sweep.store import SAMPLE_FIELDS, Store, read_results
from specgen.testing import space_samples


def sample_line(i: int) -> dict:
    return {
        "id": f"{i:064x}",
        "space": "anynetx_e",
        "seed": 0,
        "index": i,
        "design": {"depths": [1, i + 1]},
        "resolution": 16,
        "flops": 1000 + i,
        "params": 100 + i,
        "acts": 10 + i,
        "spec": {"kind": "anynet", "name": f"n{i}"},
    }


def result(status: str, error: float | None, epochs: int) -> dict:
    rows = [
        {"epoch": e + 1, "train_loss": 2.0 - e, "test_error": 0.5, "images_per_s": 9.0, "seconds": 1.0}
        for e in range(epochs)
    ]
    return {"status": status, "error": error, "best_error": error, "onnx_error": error, "epochs": rows,
            "device": "cpu", "precision": "fp32", "seconds": 2.5, "message": "",
            "versions": {"torch": "x"}}  # fmt: skip


@pytest.fixture
def store(tmp_path):
    s = Store.create(tmp_path / "sweep.db")
    yield s
    s.close()


def test_samples_are_inserted_once(store):
    assert store.add([sample_line(i) for i in range(3)]) == 3
    assert store.add([sample_line(i) for i in range(4)]) == 1
    assert [run_id for run_id, *_ in store.todo()] == [f"{i:064x}" for i in range(4)]
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_finished_runs_leave_the_todo_list_and_keep_their_epochs(store, tmp_path):
    store.add([sample_line(i) for i in range(3)])
    a, b, c = (f"{i:064x}" for i in range(3))
    store.claim(a)
    store.finish(a, result("done", 0.25, 2))
    store.claim(b)
    store.finish(b, result("diverged", None, 1))
    store.claim(c)  # cut off while running: still to do, and its attempt is counted
    assert [run_id for run_id, *_ in store.todo()] == [c]
    assert store.counts() == {"done": 1, "diverged": 1, "running": 1}
    rows = read_results(tmp_path / "sweep.db")
    assert [r["id"] for r in rows] == [a, b]
    keys = [*SAMPLE_FIELDS, "status", "error", "best_error", "epochs"]
    assert list(rows[0])[: len(keys)] == keys
    assert rows[0] | {"finished_at": None} == sample_line(0) | {
        "status": "done",
        "error": 0.25,
        "best_error": 0.25,
        "epochs": 2,
        "onnx_error": 0.25,
        "device": "cpu",
        "precision": "fp32",
        "attempts": 1,
        "train_seconds": 2.5,
        "finished_at": None,
        "message": None,
        "versions": {"torch": "x"},
    }
    assert rows[1]["status"] == "diverged" and rows[1]["error"] is None
    store.claim(a)
    store.finish(a, result("done", 0.2, 1))  # a redone run replaces its epochs, never duplicates them
    epochs = store.db.execute("SELECT COUNT(*) FROM epochs WHERE run_id = ?", (a,)).fetchone()[0]
    assert epochs == 1


def test_a_store_refuses_a_sweep_with_other_settings(store):
    store.bind({"space": "anynetx_e", "n": 4, "epochs": 1})
    store.bind({"space": "anynetx_e", "n": 4, "epochs": 1})
    with pytest.raises(SpecError, match=r"sweep.db: epochs: this store holds a sweep with epochs = 1, not 2"):
        store.bind({"space": "anynetx_e", "n": 4, "epochs": 2})


def test_foreign_and_missing_stores_are_one_line(tmp_path):
    (tmp_path / "notes.db").write_text("not a database, just text " * 100)
    with pytest.raises(SpecError, match=r"notes.db: \$: expected a specgen sweep store"):
        read_results(tmp_path / "notes.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    other.execute("INSERT INTO meta VALUES ('format', 'someone-else/2')")
    other.commit()
    other.close()
    expected = (
        r"other.db: format: expected specgen-sweep/4 or specgen-sweep/3 or specgen-sweep/2, "
        r"got 'someone-else/2'"
    )
    with pytest.raises(SpecError, match=expected):
        read_results(tmp_path / "other.db")
    result = CliRunner().invoke(main, ["sweep", "status", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and result.stderr.strip().endswith("missing.db: $: file not found")


def test_export_refuses_other_formats(store, tmp_path):
    result = CliRunner().invoke(main, ["sweep", "export", str(store.path), "-o", str(tmp_path / "runs.xlsx")])
    assert result.exit_code == 2
    expected = f"{tmp_path / 'runs.xlsx'}: $: expected a file name ending in .jsonl or .csv"
    assert result.stderr.strip() == expected


def test_results_are_plain_json(store, tmp_path):
    store.add([sample_line(0)])
    store.claim(f"{0:064x}")
    store.finish(f"{0:064x}", result("failed", None, 0))
    (row,) = read_results(tmp_path / "sweep.db")
    assert json.loads(json.dumps(row)) == row and row["status"] == "failed" and row["epochs"] == 0


def test_reading_a_store_needs_neither_torch_nor_ray():
    import subprocess
    import sys

    code = (
        "import sys; from specgen.sweep.store import read_results; from specgen.sweep import report; "
        "assert not {'torch', 'ray'} & set(sys.modules), sorted({'torch', 'ray'} & set(sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=25)
@given(space_samples("anynetx_e", resolution=16), st.sampled_from(["done", "diverged", "failed"]))
def test_a_finished_sample_reads_back_as_its_sample_line_plus_results(drawn, status):
    line = drawn.to_json()
    with tempfile.TemporaryDirectory() as folder:
        store = Store.create(Path(folder) / "sweep.db")
        store.add([line])
        store.claim(line["id"])
        error = 0.125 if status == "done" else None
        store.finish(line["id"], result(status, error, 1 if error else 0))
        store.close()
        (row,) = read_results(Path(folder) / "sweep.db")
    assert {k: row[k] for k in line} == line and list(row)[: len(line)] == list(line)
    assert (row["status"], row["error"], row["best_error"]) == (status, error, error)


def test_one_driver_per_store(store):
    """A second writer (another sweep on the same file) is refused until the first closes."""
    with pytest.raises(SpecError) as err:
        Store.create(store.path)
    expected = "in use by another running sweep; wait for it to finish or stop it"
    assert str(err.value) == f"{store.path}: $: {expected}"
    assert read_results(store.path) == []  # readers are not locked out
    store.close()
    Store.create(store.path).close()


def test_a_foreign_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "app.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (text TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    for use in (Store.create, Store.open, read_results):
        with pytest.raises(SpecError) as err:
            use(path)
        assert str(err.value) == f"{path}: $: expected a specgen sweep store (SQLite)"
    assert path.read_bytes() == before
    assert not (tmp_path / "app.db-wal").exists()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("DROP TABLE runs", "$: expected a specgen sweep store (SQLite): no such table: runs"),
        (
            "UPDATE meta SET value = '{x' WHERE key = 'sweep'",
            "settings: expected JSON text: Expecting property name enclosed in double quotes at column 2, "
            'got "{x"',
        ),
        (
            "UPDATE meta SET value = '[1]' WHERE key = 'sweep'",
            "settings: expected a JSON object, got an array",
        ),
        ("UPDATE runs SET error = 'abc'", f'{0:064x}: error: expected a number, got "abc"'),
        (
            "UPDATE runs SET error = NULL",
            f"{0:064x}: error: expected a number for a run with status 'done', got null",
        ),
        ("UPDATE runs SET spec = '[' WHERE status = 'pending'", f"{1:064x}: spec: expected JSON text"),
    ],
)
def test_a_damaged_store_is_one_line(store, damage, expected):
    """A store edited by hand or damaged: the four commands that read it refuse it with the same line."""
    store.bind({"space": "anynetx_e"})
    store.add([sample_line(0), sample_line(1)])
    store.claim(f"{0:064x}")
    store.finish(f"{0:064x}", result("done", 0.25, 1))
    store.db.executescript(f"PRAGMA foreign_keys=OFF; {damage};")
    store.close()
    for refusal in refusals(store.path):
        assert refusal.startswith(f"{store.path}: {expected}")


def refusals(path: Path) -> list[str]:
    """The one line each of `sweep status`, `sweep export`, `analyze` and the sweep's driver says."""
    lines = []
    for args in (
        ["sweep", "status", str(path)],
        ["sweep", "export", str(path), "-o", str(path.parent / "runs.csv")],
        ["analyze", str(path), "-o", str(path.parent / "report")],
    ):
        cli = CliRunner().invoke(main, args)
        assert cli.exit_code == 2 and cli.stdout == "" and cli.stderr.count("\n") == 1, cli.output
        lines.append(cli.stderr.strip())
    with pytest.raises(SpecError) as err:  # what `specgen sweep run` reads before it trains
        writer = Store.create(path)
        try:
            writer.read()
        finally:
            writer.close()
    lines.append(str(err.value))
    assert not {"runs.csv", "report"} & {p.name for p in path.parent.iterdir()}
    return lines


def test_bytes_overwritten_inside_an_index_are_found(store):
    """Damage SQLite reads back as plausible rows (quick_check passes it): its integrity check finds it."""
    store.bind({"space": "anynetx_e"})
    store.add([sample_line(i) for i in range(50)])
    store.close()  # the last connection's close moves the WAL into the file
    db = sqlite3.connect(store.path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    (root,) = db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_runs_1'"
    ).fetchone()
    db.close()
    with open(store.path, "r+b") as f:  # the end of the index's page holds its keys, the run ids
        f.seek(root * page_size - 200)
        f.write(b"\xff" * 40)
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (50,)  # reads as if it were fine
    db.close()
    expected = f"{store.path}: $: damaged store: SQLite's integrity check found: row "
    for refusal in refusals(store.path):
        assert refusal.startswith(expected) and "missing from index sqlite_autoindex_runs_1" in refusal


def test_an_export_that_cannot_be_written_is_one_line(store, tmp_path):
    out = tmp_path / ("r" * 300 + ".jsonl")  # the folder exists; the file system refuses the name
    cli = CliRunner().invoke(main, ["sweep", "export", str(store.path), "-o", str(out)])
    assert (cli.exit_code, cli.stderr) == (2, f"{out}: $: cannot write: File name too long\n")
    assert {p.name for p in tmp_path.iterdir()} <= {"sweep.db", "sweep.db-wal", "sweep.db-shm"}


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, where no one may make files")
def test_a_store_that_cannot_be_made_is_one_line():
    path = Path("/proc/specgen-sweep.db")
    with pytest.raises(OSError) as refusal:
        path.touch()
    with pytest.raises(SpecError) as err:
        Store.create(path)
    assert str(err.value) == f"{path}: $: cannot make the store: {refusal.value.strerror}"


def test_a_batch_of_one_is_refused_before_the_store_is_made(tmp_path):
    """BatchNorm cannot train on a batch of one at 1x1; refused as a usage error, before the data is read."""
    args = ["sweep", "run", "anynetx_e", "--n", "2", "--data", "cifar10:nowhere", "--batch-size", "1"]
    cli = CliRunner().invoke(main, [*args, "--store", str(tmp_path / "s.db")], prog_name="specgen")
    expected = (
        "specgen sweep run: Invalid value for '--batch-size': 1 is not in the range 2<=x<=65536."
        " (see 'specgen sweep run --help')\n"
    )
    assert (cli.exit_code, cli.stderr) == (2, expected)
    assert not list(tmp_path.iterdir())


FORMULAS = st.sampled_from(["=", "+", "-", "@", "'", '=HYPERLINK("http://x")', "-2+3", "@SUM(A1)"])
PRINTABLE = st.text(st.characters(categories=["L", "N", "P", "S"]), max_size=20)


@settings(max_examples=15, deadline=None)
@given(
    space_samples("anynetx_e", resolution=16), FORMULAS, st.sampled_from("\t\r"), PRINTABLE, st.floats(0, 1)
)
def test_a_csv_export_opens_safely_in_a_spreadsheet_and_reads_back_the_same(drawn, start, blank, text, error):
    """OWASP's CSV injection: no cell starts as a formula, yet our reader gets every value back."""
    from specgen.analysis.results import load_results

    line = drawn.to_json() | {"id": start + text}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sweep.db"
        store = Store.create(path)
        store.add([line])
        store.claim(line["id"])
        store.finish(line["id"], result("done", error, 1) | {"onnx_error": -error, "message": blank + start})
        store.close()
        cli = CliRunner().invoke(main, ["sweep", "export", str(path), "-o", str(Path(folder) / "runs.csv")])
        assert cli.exit_code == 0, cli.output
        with open(Path(folder) / "runs.csv", newline="") as f:
            header, cells = csv.reader(f)
        (from_csv,), (from_store,) = load_results(Path(folder) / "runs.csv"), load_results(path)
    row = dict(zip(header, cells, strict=True))
    formulas = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert formulas in ([], [row["onnx_error"]])  # a negative number is a number to a spreadsheet too
    assert (row["id"], row["message"]) == ("'" + start + text, "'" + blank + start)
    assert float(row["onnx_error"]) == -error and float(row["error"]) == error  # numbers stay numbers
    fields = ("id", "space", "design", "flops", "params", "net", "status", "error")
    assert [getattr(from_csv, f) for f in fields] == [getattr(from_store, f) for f in fields]
    assert from_csv.id == line["id"]


def test_a_store_made_on_a_full_disk_is_one_line_and_leaves_nothing(full_disk):
    disk, fill = full_disk
    fill()
    with pytest.raises(SpecError) as err:
        Store.create(disk / "sweep.db")
    assert str(err.value) == f"{disk / 'sweep.db'}: $: cannot make the store: database or disk is full"
    assert [p.name for p in disk.iterdir()] == [".filler"]  # no half-made store for `status` to misread
    cli = CliRunner().invoke(main, ["sweep", "status", str(disk / "sweep.db")])
    assert (cli.exit_code, cli.stderr) == (2, f"{disk / 'sweep.db'}: $: file not found\n")


def test_a_full_disk_while_committing_is_one_line_and_the_store_stays_as_it_was(full_disk):
    disk, fill = full_disk
    store = Store.create(disk / "sweep.db")
    store.bind({"space": "anynetx_e"})
    store.add([sample_line(i) for i in range(3)])
    store.claim(f"{0:064x}")
    filler = fill()
    big = [sample_line(i) | {"spec": {"padding": "x" * 100_000}} for i in range(3, 40)]
    for write in (lambda: store.add(big), lambda: store.finish(f"{0:064x}", result("done", 0.25, 50))):
        with pytest.raises(SpecError) as err:
            write()
        assert str(err.value) == f"{store.path}: $: cannot write the store: database or disk is full"
    store.close()
    filler.unlink()
    store = Store.create(store.path)  # readable, whole, and writable again once there is room
    assert store.counts() == {"pending": 2, "running": 1} and store.read()[2] == []
    store.finish(f"{0:064x}", result("done", 0.25, 1))
    store.close()
    assert [r["error"] for r in read_results(store.path)] == [0.25]


def test_a_store_the_full_disk_will_not_let_us_read_is_not_called_foreign(full_disk):
    """Opening a store in WAL mode makes its -shm file: a full disk refuses it. Not 'not a store', and
    the -wal and -shm files the attempt made are gone again."""
    disk, fill = full_disk
    store = Store.create(disk / "sweep.db")
    store.bind({"space": "anynetx_e"})
    store.add([sample_line(0)])
    store.close()
    fill()
    expected = f"{store.path}: $: cannot read the store: disk I/O error"
    for refusal in refusals(store.path):
        assert refusal == expected
    assert sorted(p.name for p in disk.iterdir()) == [".filler", "sweep.db"]
