"""Atomic file writes: temporary files in the same folder, then renames.

A reader (or a crash) never sees a half-written output file, and files that
belong together are all staged before any of them replaces its target.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

Payload = str | bytes | Iterable[bytes | memoryview]
"""Text, bytes, or a sequence of byte buffers (NumPy arrays too) written one after another."""


def _stage(path: Path, data: Payload) -> Path:
    """`data` in a fresh temporary file beside `path`, flushed to disk; its path."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, str):
                data = data.encode("utf-8")
            for chunk in [data] if isinstance(data, bytes) else data:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_all_atomic(files: Mapping[str | Path, Payload]) -> None:
    """Write every file, or (when one fails) none of them.

    All are staged and every target is checked to be replaceable before the first rename.
    An OSError names the target it concerns in `filename`.
    """
    staged: dict[Path, Path] = {}
    try:
        for target in map(Path, files):
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        for target, data in files.items():
            target = Path(target)
            try:
                staged[target] = _stage(target, data)
            except OSError as e:
                raise OSError(e.errno, e.strerror, str(target)) from e
        for target, tmp in staged.items():
            os.replace(tmp, target)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: Payload) -> None:
    """One file, written whole or not at all."""
    write_all_atomic({path: data})


def missing_folders(folder: str | Path) -> list[Path]:
    """The folders `mkdir -p folder` would make, deepest first: what a failed write must take back."""
    folder = Path(folder)
    return [p for p in (folder, *folder.parents) if not p.exists()]


def remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (deepest first) while they are empty, so a failed write (a full disk) leaves
    no empty output folder behind; one that holds anything stays, with the folders above it."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
