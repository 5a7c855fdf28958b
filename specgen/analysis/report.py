"""The `specgen analyze` report: spaces compared by their error EDFs, KS statistics,
bootstrap ranges of good parameters, and quantized linear fits of the best models.

Everything is computed and drawn in memory first; only then is the report
written, into a temporary folder that is moved into place whole. So bad input
leaves no report at all, and a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations
from pathlib import Path

import numpy as np

from specgen.analysis.bootstrap import DEFAULT_FRACTION, DEFAULT_SAMPLES
from specgen.analysis.edf import (
    DEFAULT_BINS,
    EXACT_MAX_N,
    complexity_edges,
    edf,
    ks_2samp,
    normalized_weights,
)
from specgen.analysis.forked import map_forked
from specgen.analysis.parameters import parameter_columns
from specgen.analysis.results import DIVERGED_ERROR, _no_cycle_collection, load_table
from specgen.analysis.table import Columns, concatenated
from specgen.analysis.timing import CORRELATED, CORRELATION, timed_runs
from specgen.analysis.timing import summary as timing_summary
from specgen.atomic import missing_folders, remove_empty, write_atomic
from specgen.errors import ROOT, SpecError, shown
from specgen.fmt import percent, table
from specgen.sweep.store import TIMING_FIELDS

BY = ("space", "source")
NORMALIZE = ("flops", "params")
COMMAND = "specgen analyze"
MARK = ".specgen-report"
MARK_TEXT = "This folder is a report of `specgen analyze`; a new report replaces it whole.\n"
"""Written into every report: only a folder holding it (and report files) is ever replaced."""
REPORT_FILE = re.compile(
    r"(\.specgen-report|index\.html|summary\.json|(edf(-flops|-params)?|num-samples|scatter-[a-z0-9]+|time-(flops|params|acts)|widths-\d+)\.(png|svg))"
)
"""Every name a report may hold: an existing folder holding anything else is never replaced."""


@dataclass(frozen=True)
class Group:
    """The runs of one space (or source) that finished or diverged; failed runs counted."""

    name: str
    rows: np.ndarray
    """Its runs' places in the table, in id order."""
    failed: int
    errors: np.ndarray
    """Each run's analysis error (`Result.analysis_error`)."""
    diverged_runs: np.ndarray
    """True where a run diverged."""

    @property
    def n(self) -> int:
        return self.rows.size

    @property
    def diverged(self) -> int:
        return int(np.count_nonzero(self.diverged_runs))


@dataclass
class Report:
    summary: dict
    files: dict[str, bytes] = field(default_factory=dict)

    def text(self) -> str:
        """The tables printed by `specgen analyze`: the spaces, then KS statistics between them."""
        spaces = [
            [s["name"], s["n"], s["diverged"], s["failed"], percent(s["min_error"]), percent(s["mean_error"])]
            for s in self.summary["groups"]
        ]
        headers = [self.summary["by"], "n", "diverged", "failed", "min error", "mean error"]
        out = [table(headers, spaces, right=[False] + [True] * 5)]
        if self.summary["skipped"]:
            families = ", ".join(f"{n} {family}" for family, n in self.summary["skipped"].items())
            out[0] += f"\nskipped (networks specgen does not build): {families}"
        if self.summary["ks"]:
            headers = ["a", "b", "KS", "p-value"]
            for measure in self.summary["normalize"]:
                headers += [f"KS ({measure}-normalized)", "p-value"]
            rows = [[k["a"], k["b"], *_ks_cells(k)] for k in self.summary["ks"]]
            out.append(table(headers, rows, right=[False, False] + [True] * (len(headers) - 2)))
        if self.summary["timing"]:
            out.append(_timing_table(self.summary))
        return "\n\n".join(out)


def _ks_cells(k: dict) -> list[str]:
    cells = [f"{k['statistic']:.4f}", f"{k['pvalue']:.3g}"]
    for norm in k.get("normalized", {}).values():
        cells += [f"{norm['statistic']:.4f}", f"{norm['pvalue']:.3g}"]
    return cells


def _timing_table(summary: dict) -> str:
    """Each group's timed runs: the median time of each timing and its correlation with flops and acts."""
    headers = [summary["by"], "timed"]
    for timing in TIMING_FIELDS:
        name = timing.removesuffix("_seconds").replace("_", "+")
        headers += [f"{name} (ms)"] + [f"r {name}~{m}" for m in CORRELATED]
    rows = []
    for g in summary["groups"]:
        t = g["timing"]
        if t is None:
            continue
        row = [g["name"], t["n"]]
        for timing in TIMING_FIELDS:
            median = t[timing]["median"]
            row += ["-" if median is None else f"{1e3 * median:.2f}"]
            row += ["-" if t[timing]["r"][m] is None else f"{t[timing]['r'][m]:.3f}" for m in CORRELATED]
        rows.append(row)
    note = f"r: {summary['timing']['correlation'].capitalize()} correlation over the timed runs"
    return table(headers, rows, right=[False] + [True] * (len(headers) - 1)) + "\n" + note


def group_results(table: Columns, by: str) -> list[Group]:
    """Runs grouped by space name or source (in name order, each in id order); each needs a finished run.

    A run (an id) twice in a group, say a store given with its own export, would count twice.
    Read column-wise: ids sorted as a NumPy array, where a repeat is next to its first.
    """
    keys = table.space if by == "space" else table.source
    names = sorted(set(keys))
    index = {name: i for i, name in enumerate(names)}
    which = np.fromiter(map(index.__getitem__, keys), np.int64, len(keys))
    ids = np.array(table.id)
    by_id = []
    for i in range(len(names)):
        rows = np.flatnonzero(which == i)
        in_order = ids[rows]
        order = np.argsort(in_order, kind="stable")
        rows, in_order = rows[order], in_order[order]
        if np.any(in_order[1:] == in_order[:-1]):
            _refuse_repeats(table, keys, by)
        by_id.append(rows)
    failed = np.fromiter(map("failed".__eq__, table.status), bool, len(table))
    diverged = np.fromiter(map("diverged".__eq__, table.status), bool, len(table))
    errors = table.error.copy()  # a failed run's None: NaN
    errors[diverged] = DIVERGED_ERROR
    groups = []
    for name, rows in zip(names, by_id, strict=True):
        # In id order, so the bootstrap's draws do not depend on the order the sources were given in.
        kept = rows[~failed[rows]]
        if not kept.size:
            message = f"expected a run of {shown(name)} that did not fail; all {rows.size} failed"
            raise SpecError(table.source[rows.min()], "status", message)
        groups.append(Group(name, kept, rows.size - kept.size, errors[kept], diverged[kept]))
    return groups


def _refuse_repeats(table: Columns, keys: list[str], by: str) -> None:
    """The first run seen again in its group, refused at its row."""
    first: dict[tuple[str, str], int] = {}
    for i, key in enumerate(zip(keys, table.id, strict=True)):
        seen = first.setdefault(key, i)
        if seen != i:
            again = f"got {json.dumps(key[1])} again (first at {table.where[seen]})"
            raise SpecError(table.where[i], "id", f"expected each run once in a {by}, {again}")


def _rounded(x: float) -> float:
    return round(float(x), 6)


def measures(normalize: str | Sequence[str] | None) -> tuple[str, ...]:
    """The measures EDFs are normalized over, each once in the order named: `normalize` is one, a
    comma-separated list ("flops,params"), or several of either (a repeated --normalize)."""
    given = [normalize] if isinstance(normalize, str) else list(normalize or ())
    return tuple(dict.fromkeys(m.strip() for text in given for m in text.split(",")))


def _check_options(sources: list[str], by: str, normalize: tuple[str, ...], seed: int) -> None:
    if by not in BY:
        raise SpecError(COMMAND, "--by", f"expected one of {', '.join(BY)}, got {shown(by)}")
    for measure in normalize:
        if measure not in NORMALIZE:
            expected = ", ".join(NORMALIZE)
            raise SpecError(COMMAND, "--normalize", f"expected one of {expected}, got {shown(measure)}")
    if seed < 0:
        raise SpecError(COMMAND, "--seed", f"expected an integer >= 0, got {seed}")
    seen: dict[object, int] = {}
    for i, source in enumerate(sources):
        first = seen.setdefault(_file_identity(source), i)
        if first != i:
            message = f"the same file as {sources[first]}; its results would count twice"
            raise SpecError(source, ROOT, message)


def _file_identity(path: str) -> object:
    """What tells files apart whatever the spelling of their paths (./x, links): device and inode."""
    try:
        stat = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (stat.st_dev, stat.st_ino)


def _ks_table(names: list[str], errors: list[np.ndarray], weights: dict[str, list[np.ndarray]]) -> list[dict]:
    """KS statistic and p-value of every pair of groups, plain and normalized over each measure weighed."""
    rows = []
    for i, j in combinations(range(len(names)), 2):
        plain = ks_2samp(errors[i], errors[j])
        row = {"a": names[i], "b": names[j], "statistic": _rounded(plain.statistic), "pvalue": plain.pvalue}
        row["pvalue_method"] = plain.method
        if weights:
            row["normalized"] = {}
        for measure, w in weights.items():
            norm = ks_2samp(errors[i], errors[j], w[i], w[j])
            row["normalized"][measure] = {"statistic": _rounded(norm.statistic), "pvalue": norm.pvalue}
            row["normalized"][measure]["pvalue_method"] = norm.method
        rows.append(row)
    return rows


def grouped_columns(groups: list[Group], table: Columns) -> dict[str, list[np.ndarray]]:
    """Parameter -> its values in each group (`parameter_columns`)."""
    columns = parameter_columns(table)
    return {parameter: [column[g.rows] for g in groups] for parameter, column in columns.items()}


@_no_cycle_collection()
def build(
    sources: list[str],
    *,
    by: str = "space",
    normalize: str | Sequence[str] | None = None,
    bins: int = DEFAULT_BINS,
    seed: int = 0,
    samples: int = DEFAULT_SAMPLES,
) -> Report:
    """Load, compare and draw everything; nothing is written yet.

    The cycle collector stays paused throughout, not only while reading: with the runs in memory its
    passes find nothing, rows being trees.
    """
    summary, files = _compare(sources, by, measures(normalize), bins, seed, samples)
    report = Report(summary, files)
    report.files["summary.json"] = (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode()
    report.files["index.html"] = _html(report).encode()
    return report


def _compare(
    sources: list[str], by: str, normalize: tuple[str, ...], bins: int, seed: int, samples: int
) -> tuple[dict, dict[str, bytes]]:
    """The summary and the figures' files of the sources' results.

    The rows are read and grouped here; the rest is done in pieces that each compute what a figure or
    two show and draw them, two pieces at a time where the machine can (`map_forked`), so that one
    scatter's bootstrap or fit overlaps another's drawing.
    """
    _check_options(sources, by, normalize, seed)
    from specgen.analysis import pieces, plots

    skipped: dict[str, int] = {}
    table = concatenated([load_table(s, skipped) for s in sources])
    groups = group_results(table.columns, by)
    if len(groups) > plots.COLORS:
        colours = f"expected at most {plots.COLORS} {by}s to compare, one colour each in the plots"
        message = f"{colours}; got {len(groups)}"
        raise SpecError(COMMAND, "--by", message)
    names = [g.name for g in groups]
    errors = [g.errors for g in groups]
    edfs = {"edf": ([edf(e) for e in errors], "error EDF")}
    weights = {}
    for measure in normalize:
        complexity = [getattr(table.columns, measure)[g.rows] for g in groups]
        edges = complexity_edges(complexity, bins)
        weights[measure] = [normalized_weights(c, edges) for c in complexity]
        normalized = [edf(e, w) for e, w in zip(errors, weights[measure], strict=True)]
        edfs[f"edf-{measure}"] = (normalized, f"{measure}-normalized error EDF ({bins} bins)")
    columns = grouped_columns(groups, table.columns)
    best = [pieces.best_models(g, table) for g in groups]
    timed = [timed_runs(table, g.rows, g.errors) for g in groups]
    counts = [(g.n, g.diverged, g.failed) for g in groups]
    del table  # the pieces need only columns: a forked child is a copy of less

    # The num-samples curve draws from the EDF compared (normalized over the first measure named, as NDS).
    by_group = weights[normalize[0]] if normalize else [None] * len(errors)
    what = f"{normalize[0]}-normalized" if normalize else "random"
    draws = pieces.Draws(errors, samples, seed)
    work: dict[str, pieces.Piece] = {
        "edf": partial(pieces.edfs, names, errors, edfs),
        "num-samples": partial(pieces.num_samples, names, errors, by_group, seed, what),
    }
    for parameter, values in columns.items():
        work[parameter] = partial(pieces.scatter, parameter, names, values, errors, draws)
    work["widths"] = partial(pieces.widths, names, best)
    if any(t is not None for t in timed):
        work["time"] = partial(pieces.times, names, timed)
    # Longest first, so that neither process is left with a long one at the end: the fits (seconds on
    # AnyNet results), the scatters (every run's point), then the EDFs, curves and times.
    begun = ["widths", *columns, *(name for name in work if name not in columns and name != "widths")]
    done = dict(zip(begun, map_forked(pieces.drawn, [work[name] for name in begun]), strict=True))
    done = {name: done[name] for name in work}  # in the report's order
    files = {name: data for _, drawn in done.values() for name, data in drawn.items()}
    curves, fits = done["num-samples"][0], done["widths"][0]
    ranges = {parameter: done[parameter][0] for parameter in columns}

    summary = {
        "by": by,
        "sources": list(sources),
        "normalize": list(normalize),
        "bins": bins if normalize else None,
        "bootstrap": {"samples": samples, "fraction": DEFAULT_FRACTION, "seed": seed},
        "diverged_error": DIVERGED_ERROR,
        "skipped": skipped,
        "groups": [
            {
                "name": name,
                "n": n,
                "diverged": diverged,
                "failed": failed,
                "min_error": _rounded(e.min()),
                "mean_error": _rounded(e.mean()),
                "median_error": _rounded(np.median(e)),
                "ranges": {
                    parameter: {k: _rounded(v) for k, v in vars(found[i]).items()}
                    for parameter, found in ranges.items()
                    if found[i] is not None
                },
                "best": [
                    {
                        "id": b.id,
                        "error": b.error,
                        "fit": {k: v if isinstance(v, int) else _rounded(v) for k, v in vars(f).items()},
                    }
                    for b, f in zip(best[i], fits[i], strict=True)
                ],
                "timing": None if timed[i] is None else timing_summary(timed[i]),
                "num_samples": [
                    {k: v if isinstance(v, int) else _rounded(v) for k, v in vars(p).items()}
                    for p in curves[i]
                ],
            }
            for i, (name, e, (n, diverged, failed)) in enumerate(zip(names, errors, counts, strict=True))
        ],
        "ks": _ks_table(names, errors, weights),
        "timing": {"correlation": CORRELATION, "fields": list(TIMING_FIELDS)}
        if any(t is not None for t in timed)
        else None,
        "plots": [name.removesuffix(".png") for name in files if name.endswith(".png")],
    }
    return summary, files


def _html(report: Report) -> str:
    from specgen.emit.templates import environment

    template = environment().overlay(autoescape=True).get_template("analysis_report.html.j2")
    return template.render(s=report.summary, pct=percent, ks_cells=_ks_cells, exact_max_n=EXACT_MAX_N)


def check_out(out: str | Path) -> Path:
    """The report's folder, resolved, if it may be written: new, empty, or an earlier report only.

    An earlier report is a folder holding MARK and plain files with report names, all
    written by us; anything else there might be the user's, so it is never replaced.
    Links are followed (the report lands in their target), and the current folder or
    one holding it is refused: it cannot be swapped for a new one under the user's feet.
    """
    given, out = str(out), Path(os.path.realpath(out))
    if out == Path.cwd() or out in Path.cwd().parents:
        raise SpecError(
            given, ROOT, "expected a folder for the report, got the current folder or one above it"
        )
    above = next(p for p in (out, *out.parents) if p.exists())
    if not above.is_dir():
        where = "got a file" if above == out else f"{above} is a file"
        raise SpecError(given, ROOT, f"expected a folder for the report, {where}")
    if above == out:
        entries = sorted(out.iterdir())
        strangers = [p.name for p in entries if not (REPORT_FILE.fullmatch(p.name) and _plain_file(p))]
        if strangers:
            message = f"expected a new or empty folder or an earlier report; it holds {shown(strangers[0])}"
            raise SpecError(given, ROOT, message)
        if entries and not (out / MARK).is_file():
            message = f"expected a new or empty folder or an earlier report, which holds {MARK}; it has none"
            raise SpecError(given, ROOT, message)
    return out


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def publish(report: Report, out: str | Path) -> Path:
    """Write the report's files into `out` as a whole: a new folder, or one replacing an earlier report."""
    given, out = str(out), check_out(out)
    made = missing_folders(out.parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as e:
        remove_empty(made)
        raise SpecError(given, ROOT, f"cannot write the report: {e.strerror}") from None
    old = tmp.with_suffix(".old")
    try:
        _replace_with(report, tmp, out, old)
    except OSError as e:  # a full disk: the earlier report (if any) stays, and nothing half-written
        shutil.rmtree(tmp, ignore_errors=True)
        remove_empty(made)
        raise SpecError(given, ROOT, f"cannot write the report: {e.strerror}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out


def _replace_with(report: Report, tmp: Path, out: Path, old: Path) -> None:
    """The report's files into the folder `tmp`, then `tmp` in place of `out` (moved to `old`)."""
    for name, data in report.files.items():
        write_atomic(tmp / name, data)
    write_atomic(tmp / MARK, MARK_TEXT)
    os.chmod(tmp, 0o755)
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)
        raise
