"""timm's RegNet options (shortcut, linear_out, preact, activation): a timm model built with them,
converted to our names, loads strictly into the emitted module, which agrees with it, and so
does the ONNX graph."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from timm.models.regnet import RegNet, RegNetCfg

from specgen.cli import main
from specgen.emit.onnx import build_onnx, onnx_bytes
from specgen.emit.weights import to_pycls_layout
from specgen.errors import SpecError
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.specfile import validate_spec

from .oracles import emitted_class, randomized

pytestmark = pytest.mark.usefixtures("one_thread")

REGNET = {"kind": "regnet", "name": "small", "depth": 6, "w0": 16, "wa": 8.0, "wm": 1.5, "group_width": 8}
"""Four stages (timm's RegNet builds only four): widths 16, 24, 32, 56."""
OPTIONS = [
    (shortcut, linear_out, preact, activation, se_ratio)
    for shortcut, linear_out, preact, activation, se_ratio in itertools.product(
        ("conv1x1", "avg"), (False, True), (False, True), ("relu", "silu"), (0.0, 0.25)
    )
    if not (linear_out and preact)  # a pre-activation block ends in its sum already
]


def timm_regnet(spec: RegNetSpec) -> torch.nn.Module:
    """timm's own RegNet with the spec's parameters and options."""
    cfg = RegNetCfg(
        depth=spec.depth,
        w0=spec.w0,
        wa=spec.wa,
        wm=spec.wm,
        group_size=spec.group_width,
        bottle_ratio=spec.bottleneck_ratio,
        se_ratio=spec.se_ratio,
        stem_width=spec.stem_width,
        downsample=spec.shortcut,
        linear_out=spec.linear_out,
        preact=spec.preact,
        act_layer=spec.activation,
    )
    torch.manual_seed(0)
    return randomized(RegNet(cfg, in_chans=spec.in_channels, num_classes=spec.num_classes))


@pytest.mark.parametrize("shortcut, linear_out, preact, activation, se_ratio", OPTIONS)
def test_timm_regnet_with_options_converts_and_agrees(
    shortcut, linear_out, preact, activation, se_ratio, tmp_path
):
    options = {"shortcut": shortcut, "linear_out": linear_out, "preact": preact, "activation": activation}
    options["se_ratio"] = se_ratio
    spec = RegNetSpec.model_validate({**REGNET, **options, "num_classes": 7, "resolution": 24})
    net = spec.resolve()
    theirs = timm_regnet(spec)
    state = to_pycls_layout(theirs.state_dict(), net)
    ours = emitted_class(net, tmp_path)().eval()
    ours.load_state_dict(state, strict=True)
    assert sum(p.numel() for p in ours.parameters()) == complexity.count(net).params
    x = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = theirs(x).numpy()
        assert np.abs(ours(x).numpy() - want).max() <= 1e-5
    for opset in (17, onnx.defs.onnx_opset_version()):
        model = onnx_bytes(build_onnx(net, state, opset))
        onnx.checker.check_model(model, full_check=True)
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        assert np.abs(session.run(["logits"], {"input": x.numpy()})[0] - want).max() <= 1e-4


def test_convert_takes_a_timm_checkpoint_with_options(tmp_path):
    spec = RegNetSpec.model_validate({**REGNET, "shortcut": "avg", "activation": "silu", "preact": True})
    checkpoint, spec_file, out = tmp_path / "timm.pt", tmp_path / "small.json", tmp_path / "ours.pt"
    torch.save(timm_regnet(spec).state_dict(), checkpoint)
    spec_file.write_text(spec.model_dump_json())
    result = CliRunner().invoke(main, ["convert", str(checkpoint), str(spec_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "from a timm layout" in result.stdout
    ours = emitted_class(spec.resolve(), tmp_path)()
    ours.load_state_dict(torch.load(out), strict=True)


def test_options_left_out_hash_the_same_and_named_ones_do_not():
    plain = RegNetSpec.model_validate(REGNET)
    named = RegNetSpec.model_validate(
        {**REGNET, "shortcut": "conv1x1", "linear_out": False, "activation": "relu"}
    )
    assert (
        plain.model_dump() == named.model_dump()
        and plain.resolve().content_hash() == named.resolve().content_hash()
    )
    silu = RegNetSpec.model_validate({**REGNET, "activation": "silu"})
    assert silu.resolve().content_hash() != plain.resolve().content_hash()


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"block_type": "vanilla_block", "shortcut": "avg"},
            "shortcut: vanilla_block has no shortcut; expected conv1x1, got avg",
        ),
        (
            {"block_type": "vanilla_block", "linear_out": True},
            "linear_out: vanilla_block has no sum to leave linear; expected false",
        ),
        ({"activation": "gelu"}, "activation: expected 'relu' or 'silu', got \"gelu\""),
        ({"shortcut": "pool"}, "shortcut: expected 'conv1x1' or 'avg', got \"pool\""),
        (
            {"block_type": "res_basic_block", "preact": True},
            "preact: res_basic_block has no pre-activation form; expected false",
        ),
        (
            {"stem_type": "res_stem_in", "preact": True},
            "preact: res_stem_in has no pre-activation form; expected false",
        ),
        (
            {"preact": True, "linear_out": True},
            "linear_out: pre-activation blocks end in their sum already; expected false",
        ),
    ],
)  # fmt: skip
def test_an_option_a_block_has_no_place_for_gets_one_line(body, message):
    with pytest.raises(SpecError) as e:
        validate_spec(
            {
                "kind": "anynet",
                "name": "bad",
                "stages": [{"depth": 1, "width": 24, "group_width": 1}],
                **body,
            },
            "bad.json",
        )
    assert str(e.value) == f"bad.json: {message}"
