"""torchvision, timm and pycls weights, renamed to our layout, load into the emitted file and agree."""

from __future__ import annotations

import argparse
import json

import pytest
import timm
import torch
import torchvision.models as tvm
from click.testing import CliRunner

from specgen.cli import main
from specgen.emit.load import load_network_class
from specgen.emit.python import class_name
from specgen.emit.weights import layout, load_checkpoint, to_pycls_layout
from specgen.errors import SpecError
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.specfile import load_spec

from .conftest import ROOT, SPECS
from .oracles import emitted_class, pycls_anynet, randomized

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(slug: str, rounding: str = "pycls") -> NetworkSpec:
    data = json.loads((SPECS / f"{slug}.json").read_text())
    return RegNetSpec.model_validate({**data, "rounding": rounding}).resolve()


def _emitted(net: NetworkSpec, tmp_path) -> torch.nn.Module:
    return emitted_class(net, tmp_path)().eval()


def _agree(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf", "regnet_y_800mf", "regnet_x_800mf"])
def test_torchvision_weights(name):
    """The shipped specs/torchvision/ and their goldens in generated/torchvision/ take torchvision's
    weights; regnet_x_400mf and regnet_y_800mf differ from pycls's widths."""
    torch.manual_seed(0)
    theirs = randomized(getattr(tvm, name)(weights=None))
    assert layout(theirs.state_dict()) == "torchvision"
    net = load_spec(SPECS / "torchvision" / f"{name}.json").resolve()
    ours = load_network_class(ROOT / "generated" / "torchvision" / f"{name}.py", class_name(net))().eval()
    ours.load_state_dict(to_pycls_layout(theirs.state_dict(), net), strict=True)
    _agree(ours, theirs)


@pytest.mark.parametrize(
    ("slug", "builder"), [("regnetx_400mf", "regnetx_004"), ("regnety_400mf", "regnety_004")]
)
def test_timm_weights(slug, builder, tmp_path):
    torch.manual_seed(0)
    theirs = randomized(timm.create_model(builder, pretrained=False))
    assert layout(theirs.state_dict()) == "timm"
    net = _net(slug)
    ours = _emitted(net, tmp_path)
    ours.load_state_dict(to_pycls_layout(theirs.state_dict(), net), strict=True)
    _agree(ours, theirs)


def test_timm_training_checkpoint_is_unwrapped(tmp_path):
    """As timm's CheckpointSaver writes it: the state dict under "state_dict", beside the epoch,
    the optimizer and the training arguments (an argparse.Namespace)."""
    torch.manual_seed(0)
    theirs = randomized(timm.create_model("regnetx_002", pretrained=False))
    checkpoint = {
        "epoch": 3,
        "arch": "regnetx_002",
        "state_dict": theirs.state_dict(),
        "optimizer": torch.optim.SGD(theirs.parameters(), lr=0.1).state_dict(),
        "version": 2,
        "args": argparse.Namespace(model="regnetx_002", lr=0.1, epochs=[3]),
        "metric": 71.2,
    }
    torch.save(checkpoint, tmp_path / "checkpoint-3.pth.tar")
    spec, out = str(SPECS / "regnetx_200mf.json"), tmp_path / "ours.pt"
    result = CliRunner().invoke(
        main, ["convert", str(tmp_path / "checkpoint-3.pth.tar"), spec, "-o", str(out)]
    )
    assert (result.exit_code, result.stdout) == (0, f"{out}: 266 tensors from a timm layout\n"), result.stderr
    net = _net("regnetx_200mf")
    ours = _emitted(net, tmp_path)
    ours.load_state_dict(torch.load(out), strict=True)
    _agree(ours, theirs)


def test_pycls_checkpoint_loads_as_it_is(tmp_path):
    """pycls's `model_state` needs no renaming: it loads with load_state_dict directly, and back."""
    net = _net("regnety_200mf")
    theirs = randomized(pycls_anynet(net))
    checkpoint = {"epoch": 100, "model_state": theirs.state_dict(), "optimizer_state": {}}
    torch.save(checkpoint, tmp_path / "model.pyth")
    ours = _emitted(net, tmp_path)
    ours.load_state_dict(load_checkpoint(str(tmp_path / "model.pyth"))["model_state"], strict=True)
    _agree(ours, theirs)
    assert to_pycls_layout(checkpoint, net).keys() == theirs.state_dict().keys()
    theirs.load_state_dict(ours.state_dict(), strict=True)


def test_a_checkpoint_for_another_network_is_refused_by_name_and_shape():
    state = tvm.regnet_x_400mf(weights=None).state_dict()  # torchvision's widths, not pycls's
    with pytest.raises(SpecError) as e:
        to_pycls_layout(state, _net("regnetx_400mf"), "tv.pt")
    assert str(e.value) == (
        "tv.pt: trunk_output.block4.block4-0.proj.0.weight: expected shape [384, 160, 1, 1], "
        "got [400, 160, 1, 1] (s4.b1.proj.weight in the emitted module)"
    )
    with pytest.raises(SpecError) as e:
        to_pycls_layout(
            {**state, "extra.weight": torch.zeros(1)}, _net("regnetx_400mf", "torchvision"), "tv.pt"
        )
    assert (
        str(e.value) == "tv.pt: extra.weight: unexpected tensor: network regnetx_400mf has no such parameter"
    )
    del state["fc.bias"]
    with pytest.raises(SpecError) as e:
        to_pycls_layout(state, _net("regnetx_400mf", "torchvision"), "tv.pt")
    assert str(e.value) == "tv.pt: head.fc.bias: required tensor of shape [1000] is missing"


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    for name, text in (("notes.txt", "not a checkpoint"), ("every.txt", "every thing")):
        (tmp_path / name).write_text(text)
        with pytest.raises(SpecError) as e:
            load_checkpoint(str(tmp_path / name))
        expected = "expected a file saved with torch.save holding tensors, numbers and strings only"
        assert str(e.value) == f"{tmp_path / name}: $: {expected}"
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(SpecError) as e:
        load_checkpoint(str(tmp_path / "list.pt"))
    assert str(e.value) == f"{tmp_path / 'list.pt'}: $: expected a state dict, got list"
    with pytest.raises(SpecError) as e:
        load_checkpoint(str(tmp_path / "missing.pt"))
    assert str(e.value) == f"{tmp_path / 'missing.pt'}: $: file not found"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda t: t.to("meta"), "expected a tensor with data, got a meta tensor"),
        (lambda t: t.to_sparse(), "expected a dense tensor, got layout torch.sparse_coo"),
        (lambda t: t.long(), "expected floating-point numbers, got dtype torch.int64"),
        (lambda t: t.bool(), "expected floating-point numbers, got dtype torch.bool"),
    ],
)
def test_tensors_of_the_right_shape_without_usable_weights_are_refused(make, expected, tmp_path):
    """Meta and sparse tensors passed the shape check and then crashed with a traceback."""
    net = _net("regnetx_200mf")
    state = pycls_anynet(net).state_dict()
    state["s1.b1.f.b.weight"] = make(state["s1.b1.f.b.weight"])
    torch.save(state, tmp_path / "w.pt")
    spec, out = str(SPECS / "regnetx_200mf.json"), str(tmp_path / "out")
    result = CliRunner().invoke(main, ["emit", spec, "--out", out, "--weights", str(tmp_path / "w.pt")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"{tmp_path / 'w.pt'}: s1.b1.f.b.weight: {expected}\n"
    assert not (tmp_path / "out").exists()
