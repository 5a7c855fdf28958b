"""The GPU benchmark can only be measured where a GPU is lent, so its code is kept honest here: with
`--device cpu` and tiny sizes it runs both parts end to end (bf16 on the CPU) and prints its ratios."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

from .conftest import ROOT

SCRIPT = ROOT / "bench" / "gpu_trainer.py"
TINY = ["--images", "64", "--resolution", "32", "--batch-size", "32", "--epochs", "2", "--concurrent", "2"]
TINY += ["--small-images", "256", "--small-resolution", "16", "--small-batch-size", "64"]


def test_the_gpu_benchmark_runs_on_cpu_and_prints_both_ratios(tmp_path):
    args = [sys.executable, str(SCRIPT), "--device", "cpu", *TINY, "--cache", str(tmp_path / "cache")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("regnetx_400mf at 32 px, batch 32, bf16, cpu:\n")
    assert re.search(r"^  ratio trainer / plain loop: \d+\.\d{3}$", out, re.M), out
    assert "2 small networks at 16 px, batch 64, 2 epochs each, bf16, on cpu:" in out
    assert re.search(r"^  ratio concurrent / one at a time: \d+\.\d{2}$", out, re.M), out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_without_a_gpu_it_says_so_in_one_line():
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (
        "bench/gpu_trainer.py: no CUDA device here; run it where a GPU is lent (--device cpu: a check)\n"
    )
