"""The GPU benchmark can only be measured where a GPU is lent, so its code is kept honest here: with
`--device cpu` and tiny sizes it runs both parts end to end (bf16 on the CPU) and prints its ratios.

Every run must train to the end for its images/s to count, so the tiny runs take an lr at which their
loss does not climb: 0.005, four times below the 0.02 that still keeps it at or below its start
(measured over seeds 0-2 of both parts); the paper's 0.05 makes it climb to 5-10 in eight steps."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from .conftest import ROOT

SCRIPT = ROOT / "bench" / "gpu_trainer.py"
TINY = ["--images", "64", "--resolution", "32", "--batch-size", "32", "--epochs", "2", "--concurrent", "2"]
TINY += ["--small-images", "256", "--small-resolution", "16", "--small-batch-size", "64", "--lr", "0.005"]


def _figure(out: str, label: str) -> float:
    """A figure the script printed after `label` (images/s with thousands commas, or a ratio)."""
    match = re.search(rf"^  {re.escape(label)}\s+([\d,]+(?:\.\d+)?)(?: img/s.*)?$", out, re.M)
    assert match, (label, out)
    return float(match[1].replace(",", ""))


def _is_the_ratio(ratio: float, ours: float, base: float, decimals: int) -> bool:
    """Whether `ratio` is ours / base, as far as the printed figures (rounded to whole img/s) tell."""
    assert ours > 0 and base > 0
    slack = ratio * (0.5 / ours + 0.5 / base) + 0.5 * 10**-decimals
    return abs(ratio - ours / base) <= slack


def test_the_gpu_benchmark_runs_on_cpu_and_prints_both_ratios(tmp_path):
    """Both parts train every run to the end (or the script stops) and print each ratio with the two
    figures it divides: positive, finite and consistent. Their size is the machine's business."""
    args = [sys.executable, str(SCRIPT), "--device", "cpu", *TINY, "--cache", str(tmp_path / "cache")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("regnetx_400mf at 32 px, batch 32, bf16, cpu:\n")
    ours, base = _figure(out, "shared trainer"), _figure(out, "plain loop (base)")
    assert _is_the_ratio(_figure(out, "ratio trainer / plain loop:"), ours, base, 3), out
    assert re.search(r"^  ratio trainer / plain loop: \d+\.\d{3}$", out, re.M), out
    assert "2 small networks at 16 px, batch 64, 2 epochs each, bf16, on cpu:" in out
    ours, base = _figure(out, "concurrently, 2 workers"), _figure(out, "one at a time (base)")
    assert _is_the_ratio(_figure(out, "ratio concurrent / one at a time:"), ours, base, 2), out
    assert re.search(r"^  ratio concurrent / one at a time: \d+\.\d{2}$", out, re.M), out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_without_a_gpu_it_says_so_in_one_line():
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (
        "bench/gpu_trainer.py: no CUDA device here; run it where a GPU is lent (--device cpu: a check)\n"
    )
