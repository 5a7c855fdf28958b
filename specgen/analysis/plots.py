"""Figures of the report, drawn with matplotlib's Agg renderer (no pyplot, no display).

Every figure has the same fixed size and dpi, so a PNG is always SIZE_PX
pixels; SVG output carries a fixed hash salt and no date, so the same data
gives the same bytes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from specgen.analysis.bootstrap import Range
from specgen.analysis.edf import EDF
from specgen.analysis.fit import QuantizedLinearFit
from specgen.analysis.num_samples import Point
from specgen.analysis.parameters import LOG_SCALED
from specgen.analysis.results import DIVERGED_ERROR
from specgen.analysis.timing import Timed

FIGSIZE = (7.2, 4.8)
DPI = 100
SIZE_PX = (720, 480)
_STYLE = {
    "svg.hashsalt": "specgen",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.grid": True,
    "axes.titley": 1.0,  # where matplotlib puts it anyway (no labels on top); saves it measuring every axis
}


def _label(name: str) -> str:
    """A name drawn as itself: '$' would start matplotlib's math text."""
    return name.replace("$", r"\$")


COLORS = 10
"""The colours of matplotlib's default cycle: one for each space compared."""


def color(i: int) -> str:
    return f"C{i % COLORS}"


def render(fig: Figure) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of a figure, without timestamps or version strings.

    Rasterized artists (a scatter's points) are drawn once: onto layers of their own that are laid
    onto the PNG where the artists stand, and that are the SVG's images.
    """
    with rc_context(_STYLE), _boxes_for_missing_glyphs():
        layers: list[RendererAgg] = []
        return _png(fig, layers), _svg(fig, iter(layers))


def _png(fig: Figure, layers: list[RendererAgg]) -> bytes:
    """The figure drawn with Agg, each run of rasterized artists onto a new layer kept in `layers`."""
    canvas = FigureCanvasAgg(fig)
    width, height = fig.get_size_inches()

    def layer(*size_and_dpi: float) -> RendererAgg:
        layers.append(RendererAgg(*size_and_dpi))
        return layers[-1]

    fig.draw(MixedModeRenderer(fig, width, height, fig.dpi, canvas.get_renderer(), layer))
    out = io.BytesIO()
    # zlib's level 3, its last fast one: two thirds of the time of its default (6), files 2% larger.
    pixels, options = canvas.buffer_rgba(), {"compress_level": 3}
    imsave(
        out,
        pixels,
        format="png",
        origin="upper",
        dpi=fig.dpi,
        metadata={"Software": None},
        pil_kwargs=options,
    )
    return out.getvalue()


def _svg(fig: Figure, layers: Iterator[RendererAgg]) -> bytes:
    """The figure as SVG (what FigureCanvasSVG.print_svg writes), its images the layers already drawn."""
    FigureCanvasSVG(fig)
    width, height = fig.get_size_inches()
    dpi, fig.dpi = fig.dpi, 72  # the SVG's unit is the point; the layers keep the figure's dpi
    out = io.StringIO()
    try:
        metadata = {"Date": None, "Creator": None}
        svg = RendererSVG(width * 72, height * 72, out, image_dpi=dpi, metadata=metadata)
        renderer = MixedModeRenderer(fig, width, height, dpi, svg, lambda *_: _Drawn(next(layers)))
        fig.draw(renderer)
        renderer.finalize()
    finally:
        fig.dpi = dpi
    return out.getvalue().encode()


class _Drawn(RendererBase):
    """A layer drawn for the PNG, standing in for the SVG's raster renderer: drawing onto it draws
    nothing, and the mixed-mode renderer takes its pixels for the SVG's image."""

    def __init__(self, layer: RendererAgg) -> None:
        super().__init__()
        self._layer = layer

    def buffer_rgba(self) -> memoryview:
        return self._layer.buffer_rgba()

    def draw_path(self, *args, **kwargs) -> None:
        pass

    def draw_markers(self, *args, **kwargs) -> None:
        pass

    def draw_path_collection(self, *args, **kwargs) -> None:
        pass

    def draw_image(self, *args, **kwargs) -> None:
        pass

    def draw_gouraud_triangles(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def _boxes_for_missing_glyphs() -> Iterator[None]:
    """A name in a script the font lacks is drawn as boxes; that is no reason for noise on stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        yield


def _styled(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw under the report's style, leaving matplotlib's global settings alone."""

    @functools.wraps(draw)
    def styled(*args, **kwargs) -> Figure:
        with rc_context(_STYLE):
            return draw(*args, **kwargs)

    return styled


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.1, top=0.94)
    return fig, fig.add_subplot()


@_styled
def edf_figure(names: Sequence[str], edfs: Sequence[EDF], errors: Sequence[np.ndarray], title: str) -> Figure:
    """The EDFs of the spaces together, each labelled with n, min and mean error."""
    fig, ax = _figure()
    lo = min(float(e.errors[0]) for e in edfs)
    hi = max(float(e.errors[-1]) for e in edfs)
    hi += 0.02 * (hi - lo) or 0.01  # past the largest error, so its last step up to 1 shows
    for i, (name, f, err) in enumerate(zip(names, edfs, errors, strict=True)):
        x, y = f.steps()
        label = f"{_label(name)} (n={f.n}, min {100 * err.min():.1f}%, mean {100 * err.mean():.1f}%)"
        ax.plot(
            100 * np.append(x, hi), np.append(y, 1.0), drawstyle="steps-post", color=color(i), label=label
        )
    ax.set(xlabel="error (%)", ylabel="cumulative prob.", ylim=(0, 1.02), title=title)
    ax.legend(loc="lower right")
    return fig


@_styled
def scatter_figure(
    parameter: str,
    names: Sequence[str],
    values: Sequence[np.ndarray],
    errors: Sequence[np.ndarray],
    ranges: Sequence[Range | None],
) -> Figure:
    """Error against one parameter, each space with its bootstrap 95% range shaded and best value dashed.

    Diverged runs (at DIVERGED_ERROR) are in the ranges but not drawn, so the axis shows the trained ones.
    A space without the parameter (w0 of AnyNet) has no legend entry: nothing of it is drawn.
    The legend says what the shading and the dashes are once, in grey: each space's are in its colour.
    """
    fig, ax = _figure()
    for i, (name, x, err, r) in enumerate(zip(names, values, errors, ranges, strict=True)):
        keep = np.isfinite(x) & (err < DIVERGED_ERROR)
        # Rasterized: in the SVG the points are one image, not a vector path per model.
        ax.scatter(
            x[keep],
            100 * err[keep],
            s=14,
            alpha=0.7,
            color=color(i),
            label=_label(name) if keep.any() else None,
            linewidths=0,
            rasterized=True,
        )
        if r is not None:
            ax.axvspan(r.low, r.high, color=color(i), alpha=0.12, linewidth=0)
            ax.axvline(r.best, color=color(i), linestyle="--", linewidth=1)
    ax.set(xlabel=parameter, ylabel="error (%)", title=f"error vs {parameter}")
    if parameter in LOG_SCALED:
        ax.set_xscale("log")
    handles = ax.get_legend_handles_labels()[0]
    if any(r is not None for r in ranges):
        handles += [
            Patch(color="0.5", alpha=0.25, linewidth=0, label="bootstrap 95% range"),
            Line2D([], [], color="0.3", linestyle="--", linewidth=1, label="best value (bootstrap median)"),
        ]
    _legend_clear_of_data(ax, "upper right", handles=handles)
    return fig


def _legend_clear_of_data(ax: Axes, loc: str, **legend) -> None:
    """The legend in an upper or lower corner, the y axis stretched (in its own scale, linear or log)
    past the data on that side, so that no point or line lies under the legend."""
    with _boxes_for_missing_glyphs():  # measuring the legend draws its text
        box = ax.transAxes.inverted().transform(ax.legend(loc=loc, **legend).get_window_extent())
    scale = ax.yaxis.get_transform()
    low, high = scale.transform(np.array(ax.get_ylim()))
    if loc.startswith("upper"):
        high = low + (high - low) / (box[0, 1] - 0.02)
    else:
        low = high - (high - low) / (1 - box[1, 1] - 0.02)
    ax.set_ylim(*scale.inverted().transform(np.array([low, high])))


@_styled
def widths_figure(
    name: str,
    ids: Sequence[str],
    errors: Sequence[float],
    widths: Sequence[np.ndarray],
    fits: Sequence[QuantizedLinearFit],
) -> Figure:
    """Per-block widths of the best models (solid) and their quantized linear fits (dashed)."""
    fig, ax = _figure()
    for i, (model, err, w, f) in enumerate(zip(ids, errors, widths, fits, strict=True)):
        blocks = np.arange(w.size)
        shown = f"{_label(model[:12])} (error {100 * err:.1f}%)"
        ax.plot(blocks, w, "o-", color=color(i), markersize=3, label=shown)
        label = f"fit w0={f.w0}, wa={f.wa:.1f}, wm={f.wm:.2f}, e_fit={f.e_fit:.3f}"
        ax.plot(blocks, f.widths(w.size), "--", color=color(i), linewidth=1, label=label)
    ax.set_yscale("log", base=2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="block index",
        ylabel="width",
        title=f"{_label(name)}: best models and their quantized linear fits",
    )
    _legend_clear_of_data(ax, "lower right", fontsize=7)
    return fig


_TIMING_LABELS = {"forward_seconds": ("forward", "o"), "forward_backward_seconds": ("forward+backward", "^")}


@_styled
def time_figure(measure: str, names: Sequence[str], timed: Sequence[Timed | None]) -> Figure:
    """Error (left) and time (right, both timings) against one complexity measure, of the timed runs.

    Diverged runs are timed, so they are in the time panel; their error is not drawn, as in the scatters.
    """
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.92, wspace=0.28)
    left, right = fig.subplots(1, 2)
    for i, (name, t) in enumerate(zip(names, timed, strict=True)):
        if t is None:
            continue
        x = t.measures[measure]
        trained = t.errors < DIVERGED_ERROR
        left.scatter(x[trained], 100 * t.errors[trained], s=14, alpha=0.7, color=color(i), linewidths=0)
        for field, seconds in t.seconds.items():
            what, marker = _TIMING_LABELS[field]
            label = f"{_label(name)} {what}"
            right.scatter(x, 1e3 * seconds, s=14, alpha=0.7, color=color(i), marker=marker, label=label)
    left.set(xlabel=measure, ylabel="error (%)", title=f"error vs {measure}")
    right.set(xlabel=measure, ylabel="time (ms)", title=f"time vs {measure}")
    for ax in (left, right):
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
    _legend_clear_of_data(right, "upper left", fontsize=7)
    return fig


@_styled
def num_samples_figure(names: Sequence[str], curves: Sequence[Sequence[Point]], title: str) -> Figure:
    """Expected minimum error of n random models against n (log2), the drawn band shaded."""
    fig, ax = _figure()
    for i, (name, points) in enumerate(zip(names, curves, strict=True)):
        n = np.log2([p.n for p in points])
        ax.plot(n, [100 * p.expected for p in points], "o-", color=color(i), label=_label(name), markersize=4)
        low, high = [100 * p.low for p in points], [100 * p.high for p in points]
        ax.fill_between(n, low, high, color=color(i), alpha=0.15, linewidth=0)
    ax.set(xlabel="models sampled (log2)", ylabel="expected min error (%)", title=title)
    ax.legend(loc="upper right")
    return fig
