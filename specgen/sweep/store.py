"""The results store of a sweep: one SQLite file in WAL mode, written only by the sweep's driver.

Every sampled network is a row keyed by its content hash; its status moves
pending -> running (claimed, attempts + 1) -> done | diverged | failed in
single transactions, and its epochs land in the same transaction as its
final status. A killed sweep therefore leaves finished runs intact and at
most some rows `running`; the next run of the same command redoes those.

Every command that reads a store (`sweep run`, `sweep status`, `sweep export`,
`analyze`) reads it through `Store.read`, so all refuse the same damage.
This module needs no torch: analysis reads stores through `read_results`.

Format 3 added the timings of `sweep --time` (two columns), format 4 the training hyperparameters a
space draws per run (one JSON column). A store of an earlier format reads as it always did (its runs
have no timing fields, no hyperparameters) and is upgraded in place, in one transaction, when a sweep
resumes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from specgen.errors import ROOT, SpecError, json_type, named, shown

FORMAT = "specgen-sweep/4"
EARLIER_FORMATS = ("specgen-sweep/3", "specgen-sweep/2")
"""Formats read as they are and upgraded by the next sweep: their runs lack only the columns later
formats added (`_ADDED`)."""
FINISHED = ("done", "diverged", "failed")
SAMPLE_FIELDS = ("id", "space", "seed", "index", "design", "resolution", "flops", "params", "acts", "spec")
HYPERPARAMETERS = "hyperparameters"
"""A run's own training hyperparameters (a JSON object), when its space draws them."""
RESULT_FIELDS = ("status", "error", "best_error", "epochs")
EXTRA_FIELDS = (
    "onnx_error",
    "device",
    "precision",
    "attempts",
    "train_seconds",
    "finished_at",
    "message",
    "versions",
)
TIMING_FIELDS = ("forward_seconds", "forward_backward_seconds")
"""`sweep --time`: the median seconds of a forward (eval) and a forward+backward (train) call of the
trained network at the training batch size; a run has them only when its sweep timed it."""
NUMBER_FIELDS = (
    "seed",
    "index",
    "resolution",
    "flops",
    "params",
    "acts",
    "error",
    "best_error",
    "epochs",
    "onnx_error",
    "attempts",
    "train_seconds",
    "finished_at",
    *TIMING_FIELDS,
)
"""Columns read as numbers: SQLite keeps text put in a numeric column as text."""

_ADDED = {
    "specgen-sweep/3": ("forward_seconds REAL", "forward_backward_seconds REAL"),
    "specgen-sweep/4": (f"{HYPERPARAMETERS} TEXT",),
}
"""The columns each format added to `runs`, in order of formats."""


def _later_columns(format: str) -> list[str]:
    """The columns (with their types) that formats after `format` added: what its store lacks."""
    later = list(_ADDED)[list(_ADDED).index(format) + 1 :] if format in _ADDED else list(_ADDED)
    return [column for f in later for column in _ADDED[f]]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    seed INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    design TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    flops INTEGER NOT NULL,
    params INTEGER NOT NULL,
    acts INTEGER NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed')),
    error REAL,
    best_error REAL,
    onnx_error REAL,
    epochs INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    device TEXT,
    precision TEXT,
    message TEXT,
    claimed_at REAL,
    finished_at REAL,
    train_seconds REAL,
    versions TEXT,
    forward_seconds REAL,
    forward_backward_seconds REAL,
    hyperparameters TEXT
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(id),
    epoch INTEGER NOT NULL,
    train_loss REAL NOT NULL,
    test_error REAL NOT NULL,
    images_per_s REAL NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


class Store:
    """A sweep's SQLite file. Open it with `Store.create` (driver) or `Store.open` (readers)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path, self.db = path, db
        self._writer: int | None = None
        self.format = FORMAT

    @classmethod
    def create(cls, path: str | Path) -> Store:
        """Open or make the store for writing."""
        path = Path(path)
        if path.exists() and not path.is_file():
            raise SpecError(str(path), ROOT, "expected a sweep store file, got a directory")
        if not path.parent.is_dir():
            raise SpecError(str(path), ROOT, "the folder for the store does not exist")
        new = not path.exists() or path.stat().st_size == 0
        made = not path.exists()
        if made:
            try:  # SQLite's own refusal would not say why ("unable to open database file")
                path.touch()
            except OSError as e:
                raise SpecError(str(path), ROOT, f"cannot make the store: {e.strerror}") from None
        fresh = _absent_sidecars(path)
        store = cls(path, _connect(path))
        try:
            if new:  # schema and format mark in one transaction: a kill leaves all or nothing
                store.db.executescript(
                    f"BEGIN; {_SCHEMA} INSERT INTO meta VALUES ('format', '{FORMAT}'); COMMIT;"
                )
            else:  # never write to a file before knowing it is a store of ours
                store._check_format()
                store._check_integrity()
            store.db.execute("PRAGMA journal_mode=WAL")
            store.db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as e:
            store.close()
            if made:  # a full disk: no half-made store, which would read as a store with no settings
                store.delete()
            _unlink(fresh)
            if _disk_trouble(e):
                raise SpecError(
                    str(path), ROOT, f"cannot {'make' if new else 'open'} the store: {e}"
                ) from None
            raise SpecError(str(path), ROOT, "expected a specgen sweep store (SQLite)") from None
        except SpecError:
            store.close()
            _unlink(fresh)
            raise
        store._lock_for_writing()
        try:
            store._upgrade()  # only once the store is ours alone
        except SpecError:
            store.close()
            raise
        return store

    def _lock_for_writing(self) -> None:
        """One driver per store: a second sweep on the same file would train the same runs twice.

        An flock on the database file, held until close (or the process's death, so a
        killed sweep never leaves a stale lock); SQLite's own locks are fcntl locks and
        do not interfere.
        """
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.db.close()
            raise SpecError(
                str(self.path), ROOT, "in use by another running sweep; wait for it to finish or stop it"
            ) from None
        self._writer = fd

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open an existing store; a missing or foreign file is one SpecError line."""
        path = Path(path)
        if not path.is_file():
            raise SpecError(str(path), ROOT, "file not found" if not path.exists() else "expected a file")
        fresh = _absent_sidecars(path)
        store = cls(path, _connect(path))
        try:
            store._check_format()
            store._check_integrity()
        except SpecError:
            store.close()
            _unlink(fresh)  # a disk too full to read the store must not leave its -wal and -shm behind
            raise
        return store

    def close(self) -> None:
        self.db.close()
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    def _check_format(self) -> None:
        """Refuse any file that is not a specgen sweep store, reading only."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as e:
            if _disk_trouble(e):  # a store of ours, perhaps, that the disk will not let us read
                raise SpecError(str(self.path), ROOT, f"cannot read the store: {e}") from None
            row = None
        if row is None:
            raise SpecError(str(self.path), ROOT, "expected a specgen sweep store (SQLite)")
        if row[0] != FORMAT and row[0] not in EARLIER_FORMATS:
            expected = " or ".join((FORMAT, *EARLIER_FORMATS))
            raise SpecError(str(self.path), "format", f"expected {expected}, got {row[0]!r}")
        self.format = row[0]

    def _upgrade(self) -> None:
        """An earlier format's store to this one, in one transaction: its runs are kept as they are."""
        if self.format == FORMAT:
            return
        with self.transaction():
            for column in _later_columns(self.format):
                self.db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))
        self.format = FORMAT

    def _check_integrity(self) -> None:
        """SQLite's own check: bytes overwritten inside a page can still read back as plausible rows.

        integrity_check, not quick_check: only it compares every index with its table, which is
        where overwritten index bytes show (quick_check passes them). It reads the whole file, about
        0.4 s for 100,000 runs, once per command.
        """
        try:
            found = [row[0] for row in self.db.execute("PRAGMA integrity_check(1)")]
        except sqlite3.DatabaseError as e:
            if _disk_trouble(e):
                raise SpecError(str(self.path), ROOT, f"cannot read the store: {e}") from None
            found = [str(e)]
        if found != ["ok"]:
            raise SpecError(
                str(self.path), ROOT, f"damaged store: SQLite's integrity check found: {found[0]}"
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (or never committed, on a kill).

        A write the disk refuses (full, an I/O error), in the body or at COMMIT, is one line; the
        rollback leaves the store as it was before the transaction.
        """
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            if not _disk_trouble(e):
                raise
            raise SpecError(str(self.path), ROOT, f"cannot write the store: {e}") from None

    def clear(self) -> None:
        """Forget the sweep: its settings, runs and epochs."""
        with self.transaction():
            self.db.execute("DELETE FROM epochs")
            self.db.execute("DELETE FROM runs")
            self.db.execute("DELETE FROM meta WHERE key = 'sweep'")

    def delete(self) -> None:
        """Remove the closed store's files (the database, its WAL and shared-memory files)."""
        _unlink([self.path, *_sidecars(self.path)])

    def _rows(self, sql: str, *params: object) -> list[tuple]:
        """A read's rows; a store missing a table or column (damaged, or edited by hand) is one line."""
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise SpecError(str(self.path), ROOT, f"expected a specgen sweep store (SQLite): {e}") from None

    def settings(self) -> dict | None:
        rows = self._rows("SELECT value FROM meta WHERE key = 'sweep'")
        if not rows:
            return None
        held = _parse_json(rows[0][0], str(self.path), "settings")
        if not isinstance(held, dict):
            raise SpecError(str(self.path), "settings", f"expected a JSON object, got {json_type(held)}")
        return held

    def bind(self, settings: dict) -> None:
        """Record the sweep's settings, or check that they are the ones this store was made with."""
        with self.transaction():
            held = self.settings()
            if held is None:
                self.db.execute(
                    "INSERT INTO meta VALUES ('sweep', ?)",
                    (json.dumps(settings, sort_keys=True, allow_nan=False),),
                )
                return
        for key in sorted(set(held) | set(settings)):
            if held.get(key) != settings.get(key):
                raise SpecError(
                    str(self.path),
                    key,
                    f"this store holds a sweep with {key} = {held.get(key)!r}, not {settings.get(key)!r}; "
                    "rerun with the same settings or use another --store",
                )

    def add(self, samples: Iterable[dict]) -> int:
        """Insert sampled networks as pending runs; ones already present are left as they are."""
        rows = [
            (
                s["id"],
                s["space"],
                s["seed"],
                s["index"],
                json.dumps(s["design"], allow_nan=False),
                s["resolution"],
                s["flops"],
                s["params"],
                s["acts"],
                json.dumps(s["spec"], allow_nan=False),
                json.dumps(s[HYPERPARAMETERS], allow_nan=False) if s.get(HYPERPARAMETERS) else None,
            )
            for s in samples
        ]
        with self.transaction():
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO runs"
                ' (id, space, seed, "index", design, resolution, flops, params, acts, spec, hyperparameters)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self.db.total_changes - before

    def todo(self) -> list[tuple[str, dict, dict]]:
        """(id, spec JSON, its own hyperparameters or {}) of every run not finished, in sample order;
        `running` ones were cut off."""
        return [
            (r["id"], r["spec"], r.get(HYPERPARAMETERS, {}))
            for r in self.runs()
            if r["status"] not in FINISHED
        ]

    def claim(self, run_id: str) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, claimed_at = ? WHERE id = ?",
                (time.time(), run_id),
            )

    def finish(self, run_id: str, result: dict) -> None:
        """A run's final status, errors and epochs, in one transaction."""
        status = result["status"]
        if status not in FINISHED:
            raise ValueError(f"not a final status: {status!r}")
        epochs = result.get("epochs", [])
        with self.transaction():
            self.db.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            self.db.executemany(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run_id, e["epoch"], e["train_loss"], e["test_error"], e["images_per_s"], e["seconds"])
                    for e in epochs
                ],
            )
            self.db.execute(
                "UPDATE runs SET status = ?, error = ?, best_error = ?, onnx_error = ?, epochs = ?,"
                " device = ?, precision = ?, message = ?, finished_at = ?, train_seconds = ?, versions = ?,"
                " forward_seconds = ?, forward_backward_seconds = ? WHERE id = ?",
                (
                    status,
                    result.get("error"),
                    result.get("best_error"),
                    result.get("onnx_error"),
                    len(epochs),
                    result.get("device"),
                    result.get("precision"),
                    result.get("message") or None,
                    time.time(),
                    result.get("seconds"),
                    json.dumps(result.get("versions", {}), sort_keys=True, allow_nan=False),
                    *(result.get(key) for key in TIMING_FIELDS),
                    run_id,
                ),
            )

    def counts(self) -> dict[str, int]:
        return dict(self._rows("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def runs(self) -> list[dict]:
        """Every run as a dict (the sample's fields, the result's, the bookkeeping), in sample order.

        Each is checked: JSON columns parse, numbers are numbers, and a run `done` has its error
        (analysis would refuse it later, after the store was trusted). A run that was not timed has no
        TIMING_FIELDS, and one whose space draws no hyperparameters no HYPERPARAMETERS, so a store without
        them reads as it did before they existed.
        """
        fields = SAMPLE_FIELDS + RESULT_FIELDS + EXTRA_FIELDS + TIMING_FIELDS + (HYPERPARAMETERS,)
        lacking = {column.split()[0] for column in _later_columns(self.format)}  # an earlier format's
        columns = [f'"{c}"' if c not in lacking else "NULL" for c in fields]
        rows = self._rows(f'SELECT {", ".join(columns)} FROM runs ORDER BY "index", id')
        out = []
        for row in rows:
            item = dict(zip(fields, row, strict=True))
            for key in ("design", "spec", "versions", HYPERPARAMETERS):
                item[key] = self._json_column(item, key)
            if item[HYPERPARAMETERS] is None:
                del item[HYPERPARAMETERS]
            elif not isinstance(item[HYPERPARAMETERS], dict):
                raise SpecError(
                    self._run(item),
                    HYPERPARAMETERS,
                    f"expected a JSON object, got {json_type(item[HYPERPARAMETERS])}",
                )
            for key in NUMBER_FIELDS:
                if not isinstance(item[key], int | float | None):
                    raise SpecError(self._run(item), key, f"expected a number, got {shown(item[key])}")
            if item["status"] == "done" and item["error"] is None:
                raise SpecError(
                    self._run(item), "error", "expected a number for a run with status 'done', got null"
                )
            for key in TIMING_FIELDS:
                if item[key] is None:
                    del item[key]
            out.append(item)
        return out

    def read(self) -> tuple[dict | None, dict[str, int], list[dict]]:
        """Settings, counts by status and finished runs, with every check: what each command reads first."""
        runs = self.runs()
        return self.settings(), self.counts(), [r for r in runs if r["status"] in FINISHED]

    def _json_column(self, item: dict, key: str) -> object:
        """A run's column of JSON text, parsed; NULL stays None."""
        return None if item[key] is None else _parse_json(item[key], self._run(item), key)

    def _run(self, item: dict) -> str:
        """A run of this store as the source of an error: `sweep.db: <id>`."""
        return f"{self.path}: {named(item['id'])}"


def _sidecars(path: Path) -> list[Path]:
    """The store's WAL and shared-memory files, which SQLite makes beside it while it is open."""
    return [Path(f"{path}-wal"), Path(f"{path}-shm")]


def _absent_sidecars(path: Path) -> list[Path]:
    """The sidecar files that do not exist yet: an open that fails removes the ones it made."""
    return [p for p in _sidecars(path) if not p.exists()]


def _unlink(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


_DISK_TROUBLE = (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)


def _disk_trouble(e: sqlite3.Error) -> bool:
    """SQLite could not read or write the file (a full disk, an I/O error): not a damaged or foreign file."""
    return getattr(e, "sqlite_errorcode", 0) & 0xFF in _DISK_TROUBLE


def _parse_json(text: object, source: str, path: str) -> object:
    """JSON text from the store, parsed: a store damaged or edited by hand is one line, not a traceback."""
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        detail = f": {e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise SpecError(source, path, f"expected JSON text{detail}, got {shown(text)}") from None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError:
        raise SpecError(str(path), ROOT, "expected a specgen sweep store (SQLite)") from None
    return db


def read_store(path: str | Path) -> tuple[dict | None, dict[str, int], list[dict]]:
    """`Store.read` of the store at `path`, opened for reading."""
    store = Store.open(path)
    try:
        return store.read()
    finally:
        store.close()


def read_results(path: str | Path) -> list[dict]:
    """Finished runs of a store: each sample line plus status, error, best_error and epochs."""
    return read_store(path)[2]
