import os
from pathlib import Path

import pytest
from hypothesis import settings

# The CI profile is selected by pytest's addopts (--hypothesis-profile=ci):
# derandomized, no deadline, no example database, so a run is repeatable.
settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=200)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
# The published figures of the 24 RegNetX/Y model-zoo networks (pycls's model zoo): stage widths,
# depths and group widths, flops, params, acts and 100-epoch top-1 errors.
MODEL_ZOO = ROOT / "tests" / "data" / "regnet_model_zoo.json"
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="module")
def one_thread():
    """For modules that run many tiny networks: one torch thread skips OpenMP's start-up on every op
    (10x faster on a busy 2-core machine). Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
