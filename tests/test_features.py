"""Feature outputs: forward_features and FEATURE_CHANNELS / FEATURE_REDUCTIONS equal timm's
features_only outputs for a timm RegNet loaded through convert, and `--outputs features` makes the
ONNX graph return them, one named output each."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import timm
import torch
from click.testing import CliRunner

from specgen.cli import main
from specgen.emit.onnx import build_onnx, onnx_bytes
from specgen.emit.weights import to_pycls_layout
from specgen.errors import SpecError
from specgen.network.spec import NetworkSpec
from specgen.specfile import load_spec

from .conftest import SPECS
from .oracles import emitted_class, randomized

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=[("regnetx_200mf", "regnetx_002"), ("regnety_200mf", "regnety_002")])
def converted(request, tmp_path_factory):
    """Our emitted class with a random timm RegNet's weights (through convert's renaming), and timm's
    features_only model holding the same weights."""
    slug, builder = request.param
    net = load_spec(SPECS / f"{slug}.json").resolve()
    torch.manual_seed(0)
    theirs = randomized(timm.create_model(builder, pretrained=False))
    cls = emitted_class(net, tmp_path_factory.mktemp("features"))
    ours = cls().eval()
    state = to_pycls_layout(theirs.state_dict(), net)
    ours.load_state_dict(state, strict=True)
    backbone = timm.create_model(builder, pretrained=False, features_only=True).eval()
    result = backbone.load_state_dict(theirs.state_dict(), strict=False)
    assert not result.missing_keys and all(k.startswith("head.") for k in result.unexpected_keys)
    return net, cls, ours, state, backbone


def _input(net: NetworkSpec) -> torch.Tensor:
    return torch.randn(2, net.in_channels, 64, 64, generator=torch.Generator().manual_seed(0))


def test_forward_features_are_timms_features_only(converted):
    net, cls, ours, _, backbone = converted
    x = _input(net)
    with torch.no_grad():
        got, want = ours.forward_features(x), backbone(x)
        logits = ours(x)
    assert len(got) == len(want) == len(net.stages) + 1
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    module = sys.modules[cls.__module__]
    assert tuple(backbone.feature_info.channels()) == module.FEATURE_CHANNELS
    assert tuple(backbone.feature_info.reduction()) == module.FEATURE_REDUCTIONS
    # forward is still the classifier, and reading the features modified none of them
    with torch.no_grad():
        torch.testing.assert_close(ours.head(got[-1]), logits, atol=1e-5, rtol=0)


def test_onnx_features_are_the_named_stage_outputs(converted):
    net, _, ours, state, _ = converted
    x = _input(net)
    with torch.no_grad():
        want = [f.numpy() for f in ours.forward_features(x)]
    at_64 = NetworkSpec.model_validate({**net.model_dump(), "resolution": 64})
    for opset in (17, onnx.defs.onnx_opset_version()):
        model = onnx_bytes(build_onnx(at_64, state, opset, outputs="features"))
        onnx.checker.check_model(model, full_check=True)
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        assert names == ["stem"] + [f"s{i}" for i in range(1, len(net.stages) + 1)]
        assert [o.shape[1:] for o in session.get_outputs()] == [list(w.shape[1:]) for w in want]
        for got, expected in zip(session.run(names, {"input": x.numpy()}), want, strict=True):
            assert np.abs(got - expected).max() <= 1e-4
        stored = {t.name for t in onnx.load_from_string(model).graph.initializer}
        assert not any(k.startswith("head.") for k in stored)


def test_emit_outputs_features_from_the_command_line(tmp_path):
    result = CliRunner().invoke(
        main, ["emit", str(SPECS / "regnetx_200mf.json"), "--out", str(tmp_path), "--format", "onnx",
               "--outputs", "features"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    graph = onnx.load(tmp_path / "regnetx_200mf.onnx").graph
    assert [o.name for o in graph.output] == ["stem", "s1", "s2", "s3", "s4"]
    bad = CliRunner().invoke(main, ["emit", str(SPECS / "regnetx_200mf.json"), "--outputs", "boxes"])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--outputs" in bad.stderr


def test_outputs_other_than_logits_or_features_are_refused():
    net = load_spec(SPECS / "regnetx_200mf.json").resolve()
    with pytest.raises(SpecError, match=r"^--outputs: \$: expected logits or features, got .boxes.$"):
        build_onnx(net, {}, outputs="boxes")
