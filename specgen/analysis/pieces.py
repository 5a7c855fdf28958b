"""The pieces of `specgen analyze`'s comparison that each compute what a figure (or a few) shows and draw
it: the EDFs, the num-samples curves, one parameter's scatter with its bootstrap ranges, the best
models' widths with their fits, time against complexity.

A piece needs only arrays and a few best models, no rows, so the pieces are independent: the report
does them two at a time where the machine can (`map_forked`), one piece's bootstrap or fit beside
another's drawing. Each gives back what the summary takes from it and its figures' PNG and SVG files.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from specgen.analysis import plots
from specgen.analysis.bootstrap import Range, best_of_draws, range_of
from specgen.analysis.edf import EDF
from specgen.analysis.fit import fit_quantized_linear
from specgen.analysis.num_samples import curve
from specgen.analysis.timing import MEASURES, Timed

if TYPE_CHECKING:
    from specgen.analysis.report import Group
    from specgen.analysis.table import ResultTable

BEST_MODELS = 3

Piece = Callable[[], tuple[object, dict[str, Figure]]]
"""A piece of the comparison: what it gives the summary, and its figures by name."""


def drawn(piece: Piece) -> tuple[object, dict[str, bytes]]:
    """A piece done and its figures drawn: what it gives the summary, and their PNG and SVG files."""
    found, figures = piece()
    files = {}
    for name in list(figures):
        files[f"{name}.png"], files[f"{name}.svg"] = plots.render(figures.pop(name))
    # A figure is a web of cycles, left to the collector, which a report keeps paused while it runs: the
    # young generation, all made since, is collected here, in whichever process drew the figure.
    gc.collect(0)
    return found, files


class Draws:
    """Each group's best model per bootstrap draw, made on first use and kept by this process.

    Keyed by which of the group's models have the parameter: the draws depend only on those models'
    errors, so parameters that the same models have share them.
    """

    def __init__(self, errors: list[np.ndarray], samples: int, seed: int) -> None:
        self.errors, self.samples, self.seed = errors, samples, seed
        self.made: list[dict[bytes, np.ndarray]] = [{} for _ in errors]

    def range_of(self, group: int, x: np.ndarray) -> Range | None:
        """The bootstrap range of a parameter's values `x` in a group; None where it has none."""
        keep = np.isfinite(x)
        if not keep.any():
            return None
        key, made = keep.tobytes(), self.made[group]
        if key not in made:
            made[key] = best_of_draws(self.errors[group][keep], samples=self.samples, seed=self.seed)
        return range_of(x[keep], made[key])


@dataclass(frozen=True)
class Best:
    """One of a group's best models: what its figure and the summary show of it."""

    id: str
    error: float
    widths: np.ndarray
    """Its per-block widths."""


def best_models(group: Group, table: ResultTable) -> list[Best]:
    """The best finished models of a group (the lowest errors, ties by id) with their per-block widths."""
    done = np.flatnonzero(~group.diverged_runs)
    if done.size > BEST_MODELS:  # the few of the lowest errors, with every tie of the last
        last = np.partition(group.errors[done], BEST_MODELS - 1)[BEST_MODELS - 1]
        done = done[group.errors[done] <= last]
    columns = table.columns
    rows = group.rows[done].tolist()
    best = heapq.nsmallest(BEST_MODELS, rows, key=lambda i: (columns.error[i], columns.id[i]))
    return [Best(r.id, r.error, np.repeat(r.net.widths, r.net.depths)) for r in table.results(best)]


def edfs(names: list[str], errors: list[np.ndarray], by_name: dict[str, tuple[list[EDF], str]]) -> tuple:
    """The error EDFs, plain and normalized: one figure each (name -> the groups' EDFs and a title)."""
    return None, {name: plots.edf_figure(names, f, errors, title) for name, (f, title) in by_name.items()}


def num_samples(
    names: list[str], errors: list[np.ndarray], weights: list[np.ndarray | None], seed: int, what: str
) -> tuple:
    """What a random search of n models finds, by the EDF compared: each group's curve."""
    curves = [curve(e, w, seed) for e, w in zip(errors, weights, strict=True)]
    figure = plots.num_samples_figure(names, curves, f"min error of n {what} models")
    return curves, {"num-samples": figure}


def scatter(
    parameter: str, names: list[str], values: list[np.ndarray], errors: list[np.ndarray], draws: Draws
) -> tuple:
    """Error against one parameter: each group's bootstrap range of its good values."""
    found = [draws.range_of(i, x) for i, x in enumerate(values)]
    return found, {f"scatter-{parameter}": plots.scatter_figure(parameter, names, values, errors, found)}


def widths(names: list[str], best: list[list[Best]]) -> tuple:
    """Each group's best models' widths with their quantized linear fits (a figure a group with any)."""
    fits = [[fit_quantized_linear(b.widths) for b in models] for models in best]
    figures = {}
    for index, (name, models, fitted) in enumerate(zip(names, best, fits, strict=True), 1):
        if models:
            ids, errs, w = zip(*((b.id, b.error, b.widths) for b in models), strict=True)
            figures[f"widths-{index}"] = plots.widths_figure(name, ids, errs, w, fitted)
    return fits, figures


def times(names: list[str], timed: list[Timed | None]) -> tuple:
    """Error and time against each complexity measure, of the timed runs."""
    return None, {f"time-{measure}": plots.time_figure(measure, names, timed) for measure in MEASURES}
