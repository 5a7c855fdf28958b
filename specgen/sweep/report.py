"""Reading a sweep store for people and for other tools: a status summary and exports."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from pathlib import Path

from specgen.atomic import write_atomic
from specgen.errors import ROOT, SpecError
from specgen.fmt import count_human, flops_human, percent, table
from specgen.sweep.cells import neutralize
from specgen.sweep.store import (
    EXTRA_FIELDS,
    FINISHED,
    HYPERPARAMETERS,
    RESULT_FIELDS,
    SAMPLE_FIELDS,
    TIMING_FIELDS,
    read_results,
    read_store,
)

STATUSES = ("pending", "running", *FINISHED)
BEST_SHOWN = 5


def summary(path: str | Path) -> dict:
    """Counts by status, the error distribution of finished runs and the best runs."""
    settings, counts, runs = read_store(path)
    errors = sorted(r["error"] for r in runs if r["error"] is not None)
    best = sorted((r for r in runs if r["error"] is not None), key=lambda r: (r["error"], r["id"]))
    trained = [r for r in runs if r["status"] != "failed"]
    return {
        "store": str(path),
        "settings": settings,
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "error": {
            "min": errors[0] if errors else None,
            "median": statistics.median(errors) if errors else None,
            "max": errors[-1] if errors else None,
        },
        "train_seconds": round(sum(r["train_seconds"] or 0 for r in runs), 1),
        "trained_on": dict(sorted(Counter(f"{r['device']} in {r['precision']}" for r in trained).items())),
        "best": best[:BEST_SHOWN],
    }


def render(info: dict) -> str:
    """The summary as text: settings, a table of statuses, and the best runs."""
    s = info["settings"] or {}
    drawn = s.get("hyperparameters") or []
    schedule = "" if "epochs" in drawn else f", {s.get('schedule', {}).get('epochs')} epochs"
    if drawn:
        schedule += f" ({', '.join(drawn)} drawn per run)"
    lines = [
        f"{info['store']}: {s.get('space')} n={s.get('n')} seed={s.get('seed')} data={s.get('data')} "
        f"at {s.get('resolution')} px{schedule}, precision {s.get('precision')}",
        "",
        table(["status", "runs"], [[k, v] for k, v in info["counts"].items()]),
    ]
    e = info["error"]
    if e["min"] is not None:
        lines += [
            "",
            f"top-1 error: min {percent(e['min'])}, median {percent(e['median'])}, max {percent(e['max'])}; "
            f"{info['train_seconds']:.0f} s of training",
            "trained on "
            + ", ".join(f"{where}: {n} run{'s' * (n != 1)}" for where, n in info["trained_on"].items()),
        ]
    if info["best"]:
        rows = [
            [
                r["id"][:12],
                flops_human(r["flops"]),
                count_human(r["params"]),
                percent(r["error"]),
                percent(r["best_error"]),
                percent(r["onnx_error"]) if r["onnx_error"] is not None else "-",
            ]
            for r in info["best"]
        ]
        lines += [
            "",
            table(
                ["best runs", "flops", "params", "error", "best", "onnx"], rows, right=[False] + [True] * 5
            ),
        ]
    return "\n".join(lines)


def export(path: str | Path, out: str | Path) -> int:
    """Finished runs to `out`, JSON lines (.jsonl) or CSV (.csv: nested fields as JSON, every cell safe to
    open in a spreadsheet, see `specgen.sweep.cells`); returns the count."""
    out = Path(out)
    if out.suffix not in (".jsonl", ".csv"):
        raise SpecError(str(out), ROOT, "expected a file name ending in .jsonl or .csv")
    if not out.parent.is_dir():
        raise SpecError(str(out), ROOT, "the output folder does not exist")
    runs = read_results(path)
    if out.suffix == ".jsonl":
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in runs)
    else:
        fields = SAMPLE_FIELDS + RESULT_FIELDS + EXTRA_FIELDS
        if any(key in r for r in runs for key in TIMING_FIELDS):  # a sweep without --time exports as before
            fields += TIMING_FIELDS
        if any(HYPERPARAMETERS in r for r in runs):  # so does one whose space draws no hyperparameters
            fields += (HYPERPARAMETERS,)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a cell holding \r is then quoted
        writer.writerow(fields)
        for r in runs:
            cells = [r.get(f) for f in fields]  # a failed run of a timed sweep has no timings
            writer.writerow(
                [
                    neutralize(json.dumps(c, allow_nan=False) if isinstance(c, dict | list) else c)
                    for c in cells
                ]
            )
        text = buffer.getvalue()
    try:
        write_atomic(out, text)
    except OSError as e:
        raise SpecError(str(out), ROOT, f"cannot write: {e.strerror}") from None
    return len(runs)
