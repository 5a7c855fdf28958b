"""Time against complexity, from the timings of `specgen sweep --time`.

The paper finds that a network's time on a GPU follows its activations more closely than its flops;
with each run's forward and forward+backward time, the correlation of time with flops and with acts
makes that claim checkable on the user's own hardware. Correlations are Pearson's r over the timed
runs; r is None where it is undefined (fewer than two runs, or a column with one value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specgen.analysis.table import ResultTable
from specgen.network import complexity
from specgen.sweep.store import TIMING_FIELDS

CORRELATION = "pearson"
MEASURES = ("flops", "params", "acts")
"""What time and error are drawn against; time is correlated with flops and acts."""
CORRELATED = ("flops", "acts")


@dataclass(frozen=True)
class Timed:
    """One group's timed runs, a value per run in each column (a timing a run lacks is NaN)."""

    measures: dict[str, np.ndarray]
    """flops and params as the rows give them, acts counted from each run's network."""
    errors: np.ndarray
    seconds: dict[str, np.ndarray]
    """Each of TIMING_FIELDS."""

    @property
    def n(self) -> int:
        return self.errors.size


def timed_runs(table: ResultTable, rows: np.ndarray, errors: np.ndarray) -> Timed | None:
    """The runs at those places in the table (with their analysis errors) that have a timing; None when
    none has."""
    columns = table.columns
    seconds = {field: columns.seconds[field][rows] for field in TIMING_FIELDS}
    keep = np.flatnonzero(np.logical_or.reduce([~np.isnan(s) for s in seconds.values()]))
    if not keep.size:
        return None
    timed = rows[keep]
    measures = {
        "flops": columns.flops[timed],
        "params": columns.params[timed],
        "acts": np.array([complexity.count(r.net).acts for r in table.results(timed.tolist())], np.float64),
    }
    return Timed(measures, errors[keep], {field: s[keep] for field, s in seconds.items()})


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r over the pairs where both are known; None where it is undefined."""
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def summary(t: Timed) -> dict:
    """A group's timed runs for summary.json: per timing, the median seconds and r with flops and acts."""
    out: dict = {"n": t.n}
    for field, s in t.seconds.items():
        known = s[np.isfinite(s)]
        r = {m: None if (c := pearson(t.measures[m], s)) is None else round(c, 6) for m in CORRELATED}
        out[field] = {"n": known.size, "median": float(np.median(known)) if known.size else None, "r": r}
    return out
