"""Bad checkpoints get one exact line: which spec they fit instead, and never a warning before it."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
import torch
import torchvision.models as tvm
from click.testing import CliRunner

from specgen.cli import main
from specgen.emit import fits
from specgen.emit.load import load_network_class
from specgen.emit.python import class_name
from specgen.specfile import load_spec

from .conftest import ROOT
from .oracles import pycls_anynet, randomized

pytestmark = pytest.mark.usefixtures("one_thread")

UNREADABLE = "expected a file saved with torch.save holding tensors, numbers and strings only"
TV_X400 = "trunk_output.block4.block4-0.proj.0.weight: expected shape [384, 160, 1, 1], got [400, 160, 1, 1]"


def _torchvision(name: str, **kwargs) -> dict:
    torch.manual_seed(0)
    return tvm.get_model(name, weights=None, **kwargs).state_dict()


def _pycls(spec: str) -> dict:
    torch.manual_seed(0)
    return {"epoch": 100, "model_state": pycls_anynet(load_spec(ROOT / spec).resolve()).state_dict()}


def _ten_classes_spec(tmp_path) -> str:
    """A user's spec: RegNetX-400MF's parameters (pycls rounding), 10 classes: no shipped spec has it."""
    data = json.loads((ROOT / "specs" / "regnetx_400mf.json").read_text())
    (tmp_path / "mine.json").write_text(json.dumps({**data, "name": "mine", "num_classes": 10}))
    return str(tmp_path / "mine.json")


# (checkpoint, spec given, the line after "ckpt.pth: "); a callable spec is made in tmp_path.
CASES = {
    "torchvision_x400_against_the_zoo": (
        lambda: _torchvision("regnet_x_400mf"),
        "specs/regnetx_400mf.json",
        f"{TV_X400} (s4.b1.proj.weight in the emitted module); "
        "the checkpoint fits specs/torchvision/regnet_x_400mf.json (torchvision rounding)",
    ),
    "torchvision_y800_in_a_training_checkpoint": (
        lambda: {"epoch": 3, "model": _torchvision("regnet_y_800mf")},
        "specs/regnety_800mf.json",
        "trunk_output.block2.block2-0.proj.0.weight: expected shape [128, 64, 1, 1], got [144, 64, 1, 1] "
        "(s2.b1.proj.weight in the emitted module); "
        "the checkpoint fits specs/torchvision/regnet_y_800mf.json (torchvision rounding)",
    ),
    "pycls_x400_against_torchvision": (
        lambda: _pycls("specs/regnetx_400mf.json"),
        "specs/torchvision/regnet_x_400mf.json",
        "s4.b1.proj.weight: expected shape [400, 160, 1, 1], got [384, 160, 1, 1]; "
        "the checkpoint fits specs/regnetx_400mf.json (pycls rounding)",
    ),
    "another_network_entirely": (
        lambda: _torchvision("regnet_x_3_2gf"),
        "specs/regnetx_400mf.json",
        "trunk_output.block1.block1-1.f.a.0.weight: unexpected tensor: network regnetx_400mf has no such "
        "parameter (s1.b2.f.a.weight in the emitted module); "
        "the checkpoint fits specs/torchvision/regnet_x_3_2gf.json (torchvision rounding)",
    ),
    "a_users_spec_under_the_other_rounding": (
        lambda: _torchvision("regnet_x_400mf", num_classes=10),
        _ten_classes_spec,
        f"{TV_X400} (s4.b1.proj.weight in the emitted module); "
        'the checkpoint fits this spec with "rounding": "torchvision"',
    ),
    "fits_nothing": (
        lambda: _torchvision("regnet_x_400mf", num_classes=10),
        "specs/regnety_200mf.json",
        "trunk_output.block2.block2-1.f.a.0.weight: unexpected tensor: network regnety_200mf has no such "
        "parameter (s2.b2.f.a.weight in the emitted module)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_checkpoint_that_does_not_fit_names_the_spec_it_fits(case, tmp_path, monkeypatch):
    make, spec, expected = CASES[case]
    torch.save(make(), tmp_path / "ckpt.pth")
    spec = spec(tmp_path) if callable(spec) else spec
    monkeypatch.chdir(ROOT)  # shipped specs are named as typed from the checkout
    result = CliRunner().invoke(
        main, ["convert", str(tmp_path / "ckpt.pth"), spec, "-o", str(tmp_path / "o")]
    )
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{tmp_path / 'ckpt.pth'}: {expected}\n"
    assert not (tmp_path / "o").exists()


def test_installed_without_a_checkout_only_the_other_rounding_is_offered(tmp_path, monkeypatch):
    """A wheel carries no specs/: the hint falls back to the spec's own parameters."""
    monkeypatch.setattr(fits, "CHECKOUT", tmp_path)
    assert fits.shipped_specs() == []
    torch.save(_torchvision("regnet_x_400mf"), tmp_path / "ckpt.pth")
    spec = str(ROOT / "specs" / "regnetx_400mf.json")
    result = CliRunner().invoke(
        main, ["convert", str(tmp_path / "ckpt.pth"), spec, "-o", str(tmp_path / "o")]
    )
    assert result.stderr == (
        f"{tmp_path / 'ckpt.pth'}: {TV_X400} (s4.b1.proj.weight in the emitted module); "
        'the checkpoint fits this spec with "rounding": "torchvision"\n'
    )


def test_the_named_spec_converts_the_checkpoint(tmp_path, monkeypatch):
    """Following the hint works: the checkpoint converts against the spec named, loads strict into
    its golden module and computes what torchvision's model computes."""
    torch.manual_seed(0)
    theirs = randomized(tvm.regnet_x_400mf(weights=None))
    torch.save(theirs.state_dict(), tmp_path / "ckpt.pth")
    monkeypatch.chdir(ROOT)
    ckpt = str(tmp_path / "ckpt.pth")
    first = CliRunner().invoke(main, ["convert", ckpt, "specs/regnetx_400mf.json", "-o", "x"])
    named = first.stderr.rstrip("\n").rsplit("fits ", 1)[1].split(" ")[0]
    out = tmp_path / "ours.pt"
    again = CliRunner().invoke(main, ["convert", ckpt, named, "-o", str(out)])
    assert (again.exit_code, again.stdout) == (0, f"{out}: 428 tensors from a torchvision layout\n")
    net = load_spec(named).resolve()
    ours = load_network_class(ROOT / "generated" / "torchvision" / f"{net.name}.py", class_name(net))()
    ours.load_state_dict(torch.load(out), strict=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs(x), atol=1e-5, rtol=0)


# -- warnings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["convert", "emit"])
def test_a_plain_pickle_gets_one_line_and_no_warning(command, tmp_path):
    """torch warns about a plain pickle's protocol while refusing it; in a real process, with every
    warning shown (PYTHONWARNINGS=always), stderr is still exactly the one line."""
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"stem.conv.weight": [[0.0]]}, protocol=pickle.HIGHEST_PROTOCOL))
    spec, out = str(ROOT / "specs" / "regnetx_200mf.json"), tmp_path / "out"
    args = {
        "convert": ["convert", str(path), spec, "-o", str(out)],
        "emit": ["emit", spec, "--weights", str(path), "--out", str(out)],
    }[command]
    env = {**os.environ, "PYTHONWARNINGS": "always", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "specgen", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"{path}: $: {UNREADABLE}\n"
    assert not out.exists()


def test_loading_raises_no_warning_of_any_kind(tmp_path, recwarn):
    """The in-process side of the same promise: nothing reaches the warnings machinery either."""
    from specgen.emit.weights import load_checkpoint
    from specgen.errors import SpecError

    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(SpecError):
        load_checkpoint(str(path))
    assert [str(w.message) for w in recwarn] == []
