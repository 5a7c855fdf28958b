"""The figures' files: one Agg draw of the points serves the PNG and the SVG, and a report's pieces done
two at a time (half of them in a forked child) give the bytes doing them one by one gives."""

import base64
import io
import os
import re

import numpy as np
import pytest
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from PIL import Image

from specgen.analysis import forked, plots
from specgen.analysis.bootstrap import Range
from specgen.analysis.edf import edf
from specgen.analysis.fit import fit_quantized_linear
from specgen.analysis.plots import edf_figure, render, scatter_figure, widths_figure
from specgen.analysis.report import build

NAMES = ["regnetx", "anynetx_a"]


def _scatter(seed: int = 0) -> Figure:
    rng = np.random.default_rng(seed)
    values = [rng.uniform(8, 200, 3000) for _ in NAMES]
    errors = [rng.uniform(0.2, 0.6, 3000) for _ in NAMES]
    return scatter_figure("w0", NAMES, values, errors, [Range(50, 80, 120), None])


def _figures() -> dict[str, Figure]:
    errors = [np.linspace(0.2, 0.5, 40), np.linspace(0.25, 0.6, 30)]
    widths = [np.array([24, 24, 56, 56, 152, 368]), np.array([32, 64, 64, 160, 400, 400])]
    fits = [fit_quantized_linear(w) for w in widths]
    return {
        "edf": edf_figure(NAMES, [edf(e) for e in errors], errors, "error EDF"),
        "scatter-w0": _scatter(1),
        "widths-1": widths_figure("regnetx", ["a", "b"], [0.3, 0.31], widths, fits),
        "scatter-wa": _scatter(2),
    }


def _matplotlib(fig: Figure) -> tuple[bytes, bytes]:
    """What matplotlib's own canvases write of the figure, each drawing it anew."""
    png, svg = io.BytesIO(), io.BytesIO()
    with rc_context(plots._STYLE):
        FigureCanvasAgg(fig).print_png(png, metadata={"Software": None})
        FigureCanvasSVG(fig).print_svg(svg, metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png))).astype(int)


def test_the_svg_is_the_one_matplotlib_writes_its_images_the_layers_drawn_for_the_png(monkeypatch):
    layers = []

    class Kept(RendererAgg):
        def __init__(self, *args):
            super().__init__(*args)
            layers.append(self)

    monkeypatch.setattr(plots, "RendererAgg", Kept)
    svg = render(_scatter())[1]
    assert svg == _matplotlib(_scatter())[1]
    assert len(layers) == len(NAMES)  # one draw of each space's points, none for the SVG
    shown = re.findall(rb"data:image/png;base64,\n([A-Za-z0-9+/=\n]+)", svg)
    for layer, image in zip(layers, shown, strict=True):
        pixels = np.asarray(layer.buffer_rgba())
        rows, cols = np.nonzero(pixels[..., 3])
        cropped = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert np.array_equal(_pixels(base64.b64decode(image)), cropped[::-1])  # rows stored bottom up
    assert b"<text" not in svg and svg.count(b"<image") == len(NAMES)  # text as vector paths


def test_the_png_is_matplotlibs_where_the_eye_can_tell():
    """Figures without rasterized artists are the same pixels; a scatter's points laid on as one layer
    differ only in the rounding of their antialiased edges."""
    figures, again = _figures(), _figures()
    for name in figures:
        ours, theirs = _pixels(render(figures[name])[0]), _pixels(_matplotlib(again[name])[0])
        assert ours.shape == theirs.shape == (480, 720, 4)
        if not name.startswith("scatter"):
            assert np.array_equal(ours, theirs), name
        else:
            off = np.abs(ours - theirs).max(axis=2)
            assert np.abs(ours - theirs).mean() < 0.5 and np.count_nonzero(off > 2) < 0.02 * off.size, name


def test_the_same_data_gives_the_same_bytes():
    assert render(_scatter()) == render(_scatter())


def _one_by_one(figures: dict[str, Figure]) -> dict[str, bytes]:
    files = {}
    for name, fig in figures.items():
        files[f"{name}.png"], files[f"{name}.svg"] = render(fig)
    return files


needs_fork = pytest.mark.usefixtures("forks")


@needs_fork
def test_a_report_drawn_two_pieces_at_a_time_is_the_one_drawn_in_one_process(monkeypatch, tmp_path):
    """The comparison's pieces (each computes what its figures show and draws them), half of them in a
    forked child: the same summary and files, byte for byte, as doing them all here."""
    from tests.test_analyze_cli import ROWS, _write_jsonl

    results = str(_write_jsonl(tmp_path / "results.jsonl", ROWS))
    monkeypatch.setattr(forked, "_can_fork", lambda: False)
    alone = build([results], normalize="flops,params")
    monkeypatch.undo()
    forks = []

    def fork() -> int:
        forks.append(real_fork())
        return forks[-1]

    real_fork = os.fork
    monkeypatch.setattr(os, "fork", fork)
    split = build([results], normalize="flops,params")
    assert len(forks) == 1
    assert split.summary == alone.summary and split.files == alone.files
    names = [f"{n}.{ext}" for n in alone.summary["plots"] for ext in ("png", "svg")]
    assert list(split.files) == [*names, "summary.json", "index.html"]


@needs_fork
def test_a_figure_failing_in_the_child_raises_what_it_raises_alone():
    def figures() -> dict[str, Figure]:
        bad = Figure()
        bad.add_subplot().set_title(r"$\frac{$")  # math text that does not parse: ValueError when drawn
        return {"bad": bad} | _figures()  # first: the child's

    with pytest.raises(ValueError) as alone:
        _one_by_one(figures())
    with pytest.raises(ValueError) as split:
        forked.map_forked(render, list(figures().values()))
    assert str(split.value) == str(alone.value) and "Expected \\frac{num}{den}" in str(alone.value)
