"""Time against complexity, from the timings of `specgen sweep --time`.

The paper finds that a network's time on a GPU follows its activations more closely than its flops;
with each run's forward and forward+backward time, the correlation of time with flops and with acts
makes that claim checkable on the user's own hardware. Correlations are Pearson's r over the timed
runs; r is None where it is undefined (fewer than two runs, or a column with one value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specgen.analysis.results import Result
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


def timed_runs(results: list[Result], errors: np.ndarray) -> Timed | None:
    """The runs of a group (with their analysis errors) that have a timing; None when none has."""
    keep = [
        i
        for i, r in enumerate(results)
        if r.forward_seconds is not None or r.forward_backward_seconds is not None
    ]
    if not keep:
        return None
    runs = [results[i] for i in keep]
    measures = {
        "flops": np.array([r.flops for r in runs], dtype=np.float64),
        "params": np.array([r.params for r in runs], dtype=np.float64),
        "acts": np.array([complexity.count(r.net).acts for r in runs], dtype=np.float64),
    }
    seconds = {
        f: np.array([np.nan if getattr(r, f) is None else getattr(r, f) for r in runs], dtype=np.float64)
        for f in TIMING_FIELDS
    }
    return Timed(measures, errors[keep], seconds)


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
