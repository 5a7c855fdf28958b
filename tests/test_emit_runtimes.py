"""The emitted file works the ways people run PyTorch models, and where specgen is not installed."""

from __future__ import annotations

import copy
import importlib.metadata
import os
import re
import subprocess
import venv
from pathlib import Path

import pytest
import torch

from specgen.emit.python import class_name, render_module
from specgen.network.spec import NetworkSpec, Stage

from .oracles import emitted_class, pycls_anynet

# SE, a bottleneck ratio of 2, and both kinds of shortcut: every optional part of the template.
NET = NetworkSpec(
    name="runtime_probe",
    stem_width=16,
    stages=[
        Stage(depth=2, width=32, group_width=8, bottleneck_ratio=2.0),
        Stage(depth=1, width=48, group_width=8),
    ],
    se_ratio=0.25,
    num_classes=7,
    resolution=32,
)
# An X network (no SE, bottleneck ratio 1): the template renders it without those parts.
X_NET = NetworkSpec(
    name="runtime_probe_x",
    stem_width=16,
    stages=[Stage(depth=2, width=24, group_width=8), Stage(depth=2, width=32, group_width=8)],
    num_classes=7,
    resolution=32,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=[NET, X_NET], ids=["y", "x"])
def net(request) -> NetworkSpec:
    return request.param


@pytest.fixture(scope="module")
def model(net, tmp_path_factory) -> torch.nn.Module:
    cls = emitted_class(net, tmp_path_factory.mktemp("emitted"))
    torch.manual_seed(0)
    return cls().eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_torch_jit_script(model, x):
    scripted = torch.jit.script(model)
    with torch.no_grad():
        _close(scripted(x), model(x))


def test_torch_export(model, x):
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    with torch.no_grad():
        _close(exported.module()(x[:1]), model(x[:1]))


def test_torch_compile(model, x):
    """One graph, no breaks, through Dynamo and AOTAutograd, in eval and in a training step (where the
    in-place ReLUs and sums are functionalized). (The default inductor backend passes too, checked by
    hand; its C++ code generation took 50 s on a busy 2-core machine: not for CI.)"""
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        _close(compiled(x), model(x))
    eager, trained = copy.deepcopy(model).train(), copy.deepcopy(model).train()
    eager(x).logsumexp(1).mean().backward()
    torch.compile(trained, fullgraph=True, backend="aot_eager")(x).logsumexp(1).mean().backward()
    for (name, p), q in zip(trained.named_parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_channels_last(model, x):
    """The same outputs with weights and input in channels_last (Module.to works in place)."""
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert last.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        _close(last(x.to(memory_format=torch.channels_last)), model(x))


def test_trains_a_step(model, x):
    """Gradients reach every parameter (nothing emitted is dead)."""
    model.train()
    model(x).logsumexp(1).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad()
    model.eval()


def test_a_training_step_gives_pycls_gradients(net, model, x):
    """The in-place ReLUs and residual sums leave backward intact: the loss and every gradient are
    pycls's for the same weights."""
    ours = copy.deepcopy(model).train()
    theirs = pycls_anynet(net).train()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    losses = [m(x).logsumexp(1).mean() for m in (ours, theirs)]
    for loss in losses:
        loss.backward()
    _close(losses[0], losses[1])
    reference = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, reference[name].grad, atol=1e-5, rtol=1e-4, msg=name)


def test_relus_and_residual_sums_run_in_place(model, x):
    """As pycls's nn.ReLU(inplace=True): an out-of-place ReLU or sum allocates a new activation,
    which made RegNetX-600MF 6-17% slower than pycls on CPU (bench/bench_forward.py)."""
    with torch.no_grad(), torch.profiler.profile() as prof:
        model(x)
    ops = {event.key for event in prof.key_averages()}
    assert {"aten::relu_", "aten::add_"} <= ops
    assert not {"aten::relu", "aten::add"} & ops


# -- a fresh virtual environment with torch and without specgen ----------------------------------------


def _distributions_of(name: str, seen: set[str]) -> set[str]:
    """`name` and everything it requires (this platform's markers, no extras), by distribution name."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return seen
    seen.add(key)
    for requirement in importlib.metadata.requires(name) or []:
        spec, _, marker = requirement.partition(";")
        if marker and ("extra" in marker or not _marker_holds(marker)):
            continue
        _distributions_of(re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0], seen)
    return seen


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker.strip()).evaluate()


def _link_torch(site_packages: Path) -> None:
    """torch and its requirements, linked from this interpreter's installation (nothing else)."""
    tops: set[Path] = set()
    for name in _distributions_of("torch", set()):
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            if file.parts and file.parts[0] != ".." and not file.parts[0].endswith(".pth"):
                tops.add(Path(dist.locate_file(file.parts[0])))
    for top in tops:
        if top.exists() and not (site_packages / top.name).exists():
            (site_packages / top.name).symlink_to(top)


def test_runs_in_a_fresh_venv_without_specgen(tmp_path):
    """A new venv (no system site-packages) given only torch and what torch requires.

    Installing torch from its wheel (`pip install torch==2.13.0`, offline) took 28 s here, too
    slow for every CI run; linking the installed torch gives the same isolation from specgen.
    """
    torch.manual_seed(0)
    model = emitted_class(NET, tmp_path)().eval()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    _link_torch(site_packages)
    vendored = tmp_path / "project" / "my_model.py"
    vendored.parent.mkdir()
    vendored.write_text(render_module(NET))
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    torch.save(x, tmp_path / "x.pt")
    script = f"""
import importlib.util, sys, torch
assert importlib.util.find_spec("specgen") is None, "specgen is importable"
try:
    import specgen
    raise SystemExit("import specgen worked")
except ModuleNotFoundError:
    pass
from my_model import {class_name(NET)} as Net
model = Net().eval()
model.load_state_dict(torch.load(sys.argv[1]), strict=True)
with torch.no_grad():
    torch.save(model(torch.load(sys.argv[2])), sys.argv[3])
"""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONNOUSERSITE": "1"}
    done = subprocess.run(
        [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(vendored.parent)!r})\n{script}"]
        + [str(tmp_path / f) for f in ("weights.pt", "x.pt", "y.pt")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        _close(torch.load(tmp_path / "y.pt"), model(x))
