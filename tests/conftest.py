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


@pytest.fixture
def forks():
    """A test that needs map_forked to fork: skipped where the platform has no fork or one CPU. An
    earlier test's progress bar leaves tqdm's monitor thread running, and map_forked never forks beside
    another thread: the monitor is stopped (a later bar starts a new one), and any other thread fails
    the test, naming it, rather than letting it pass without a child."""
    import threading

    from tqdm import tqdm

    from specgen.analysis import forked

    if not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs fork and two CPUs")
    if tqdm.monitor is not None:
        tqdm.monitor.exit()
    assert threading.active_count() == 1, f"map_forked would not fork beside {threading.enumerate()[1:]}"
    assert forked._can_fork()


@pytest.fixture
def full_disk(tmp_path):
    """A real file system that a test can fill: a 2 MB tmpfs mounted at tmp_path/disk, and `fill()`,
    which writes a filler file until the kernel says ENOSPC, and returns it (unlink it to free the disk).

    Skipped where a tmpfs cannot be mounted (mounting needs root, or CAP_SYS_ADMIN in a container).
    """
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs to mount a small tmpfs (root, or CAP_SYS_ADMIN) to fill a real disk")

    def fill() -> Path:
        filler = disk / ".filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, bytes(4096))
        except OSError as e:
            assert e.errno == 28, e  # ENOSPC, and nothing else
        finally:
            os.close(fd)
        return filler

    try:
        yield disk, fill
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)
