"""`specgen analyze` of timed sweeps: error and time against flops, params and acts, and Pearson's r of
time with flops and with acts, from a real `sweep --time`; timings in rows checked as every field is."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner

from specgen.analysis.results import COLUMNS
from specgen.analysis.timing import pearson
from specgen.cli import main
from specgen.space.builtins import load_space
from specgen.space.sampler import sample
from specgen.sweep.store import TIMING_FIELDS, read_results

ROOT = Path(__file__).resolve().parents[1]
MEASURES = ("flops", "params", "acts")


def _specgen(*args: str, cwd: Path) -> str:
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "specgen", *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    """A real timed sweep (3 RegNetX runs, 1 epoch at 16 px on synthetic data), its report and exports."""
    tmp = tmp_path_factory.mktemp("timed")
    _specgen(
        *("sweep", "run", "regnetx", "--n", "3", "--flops", "1:3M", "--epochs", "1"),
        *("--data", "synthetic:32", "--store", "s.db", "--resolution", "16", "--batch-size", "16"),
        *("--device", "cpu", "--precision", "fp32", "--cache", "cache", "--time"),
        cwd=tmp,
    )
    stdout = _specgen("analyze", "s.db", "-o", "report", cwd=tmp)
    for name in ("runs.jsonl", "runs.csv"):
        _specgen("sweep", "export", "s.db", "-o", name, cwd=tmp)
    return tmp, stdout


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_a_timed_sweep_reports_time_against_complexity(timed):
    tmp, stdout = timed
    runs = read_results(tmp / "s.db")
    assert len(runs) == 3 and all(r[f] > 0 for r in runs for f in TIMING_FIELDS)
    summary = _summary(tmp / "report")
    assert summary["timing"] == {"correlation": "pearson", "fields": list(TIMING_FIELDS)}
    (group,) = summary["groups"]
    t = group["timing"]
    assert t["n"] == 3
    # The oracle: the store's own flops and acts columns (acts as the sampler counted it), numpy's r.
    for field in TIMING_FIELDS:
        seconds = np.array([r[field] for r in runs])
        assert t[field]["median"] == pytest.approx(np.median(seconds))
        for measure in ("flops", "acts"):
            x = np.array([r[measure] for r in runs], dtype=float)
            assert t[field]["r"][measure] == pytest.approx(np.corrcoef(x, seconds)[0, 1], abs=1e-6)
    assert [f"time-{m}" for m in MEASURES] == [p for p in summary["plots"] if p.startswith("time-")]
    for m in MEASURES:
        assert (tmp / "report" / f"time-{m}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp / "report" / f"time-{m}.svg").stat().st_size > 0
    r = t["forward_seconds"]["r"]
    assert f"{r['flops']:.3f}" in stdout and f"{r['acts']:.3f}" in stdout
    assert "r: Pearson correlation over the timed runs" in stdout
    html = (tmp / "report" / "index.html").read_text()
    assert "Time against complexity" in html and "Pearson correlation" in html
    assert all(f'src="time-{m}.png"' in html for m in MEASURES)
    assert f"<td>{r['acts']:.3f}</td>" in html


def test_exports_of_a_timed_sweep_give_its_timings(timed):
    tmp, _ = timed
    expected = _summary(tmp / "report")["groups"][0]["timing"]
    for name in ("runs.jsonl", "runs.csv"):
        result = CliRunner().invoke(main, ["analyze", str(tmp / name), "-o", str(tmp / f"report-{name}")])
        assert result.exit_code == 0, result.output
        assert _summary(tmp / f"report-{name}")["groups"][0]["timing"] == expected


def _rows(n: int = 6) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        s.to_json() | {"status": "done", "error": float(rng.uniform(0.2, 0.8))}
        for s in sample(load_space("regnetx"), n, seed=0, resolution=32, unique=True)
    ]


def _analyze(tmp_path: Path, rows: list[dict], name: str = "rows.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return CliRunner().invoke(main, ["analyze", str(path), "-o", str(tmp_path / "report")]), path


def test_results_without_timings_have_no_time_plots(tmp_path):
    result, _ = _analyze(tmp_path, _rows())
    assert result.exit_code == 0, result.output
    summary = _summary(tmp_path / "report")
    assert summary["timing"] is None and summary["groups"][0]["timing"] is None
    assert not list((tmp_path / "report").glob("time-*")) and "Pearson" not in result.output
    assert "Time against complexity" not in (tmp_path / "report" / "index.html").read_text()


def test_only_timed_runs_count_and_one_timed_run_has_no_correlation(tmp_path):
    rows = _rows()
    rows[2] |= {"forward_seconds": 0.5, "forward_backward_seconds": 1.5}
    rows[4] |= {"forward_seconds": 0, "forward_backward_seconds": None}  # an untimed field: None
    result, _ = _analyze(tmp_path, rows)
    assert result.exit_code == 0, result.output
    t = _summary(tmp_path / "report")["groups"][0]["timing"]
    assert t["n"] == 2
    assert t["forward_seconds"] == {"n": 2, "median": 0.25, "r": t["forward_seconds"]["r"]}
    fwd = [rows[2]["flops"], rows[4]["flops"]]
    assert t["forward_seconds"]["r"]["flops"] == pytest.approx(np.corrcoef(fwd, [0.5, 0])[0, 1], abs=1e-6)
    assert t["forward_backward_seconds"] == {"n": 1, "median": 1.5, "r": {"flops": None, "acts": None}}
    line = next(line for line in result.output.splitlines() if line.startswith("regnetx      2"))
    assert line.split()[-3:] == ["1500.00", "-", "-"]


BAD_TIMINGS = {
    "negative": (-0.001, "forward_seconds: expected a value >= 0, got -0.001"),
    "past a day": (86_400.5, "forward_seconds: expected a value <= 86400, got 86400.5"),
    "infinite": (float("inf"), "forward_seconds: expected a finite number, got Infinity"),
    "not a number": (float("nan"), "forward_seconds: expected a finite number, got NaN"),
    "a string": ("0.1", 'forward_seconds: expected a number, got "0.1"'),
    "a bool": (True, "forward_seconds: expected a number, got true"),
}


@pytest.mark.parametrize("case", sorted(BAD_TIMINGS))
def test_a_bad_timing_gets_one_line_and_no_report(tmp_path, case):
    value, message = BAD_TIMINGS[case]
    rows = _rows(3)
    rows[1] |= {"forward_seconds": value}
    result, path = _analyze(tmp_path, rows)
    assert result.exit_code == 2
    assert result.output == f"{path}:2: {message}\n"
    assert not (tmp_path / "report").exists()


def test_a_bad_timing_cell_in_csv_gets_one_line(tmp_path):
    path = tmp_path / "rows.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*COLUMNS, *TIMING_FIELDS])
        for r, forward in zip(_rows(2), ["", "fast"], strict=True):
            cells = [json.dumps(r[c]) if isinstance(r[c], dict) else r[c] for c in COLUMNS]
            writer.writerow([*cells, forward, ""])
    result = CliRunner().invoke(main, ["analyze", str(path), "-o", str(tmp_path / "report")])
    assert result.exit_code == 2
    assert result.output == f'{path}:3: forward_seconds: expected a number or an empty cell, got "fast"\n'


def test_pearson_is_numpys_r_and_undefined_without_spread():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20), rng.normal(size=20)
    assert pearson(x, y) == pytest.approx(scipy.stats.pearsonr(x, y).statistic)
    y[3] = np.nan  # a run without this timing is left out
    keep = np.isfinite(y)
    assert pearson(x, y) == pytest.approx(scipy.stats.pearsonr(x[keep], y[keep]).statistic)
    assert pearson(x, np.full(20, 0.1)) is None and pearson(x[:1], y[:1]) is None
