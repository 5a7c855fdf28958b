"""The emitted PyTorch module: pycls's network exactly, by hand-written-looking code, byte for byte stable."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from specgen.emit.load import load_network_class
from specgen.emit.python import class_name, render_module, shortcut_kind
from specgen.network import complexity
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.spec import NetworkSpec, Stage
from specgen.network.stems import STEM_TYPES
from specgen.specfile import load_spec
from specgen.testing import network_specs

from .conftest import ROOT, SPECS
from .oracles import emitted_class, pycls_anynet

ZOO = sorted(SPECS.glob("*.json"))
EXAMPLES = sorted((SPECS / "examples").glob("*.json"))
GENERATED = ROOT / "generated"
ATOL = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


# -- helpers -------------------------------------------------------------------------------------------


def randomize_bn(model: torch.nn.Module, seed: int = 1) -> None:
    """BN affine and running stats random, so eval-mode outputs depend on every one of them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                for t, lo, hi in ((m.weight, 0.5, 1.5), (m.bias, -0.1, 0.1), (m.running_mean, -0.1, 0.1)):
                    t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def same_outputs(a: torch.nn.Module, b: torch.nn.Module, net: NetworkSpec, resolution: int) -> None:
    x = torch.randn(1, net.in_channels, resolution, resolution, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x), atol=ATOL, rtol=0)


# -- the committed files -------------------------------------------------------------------------------


def test_generated_holds_exactly_the_emitted_zoo():
    """Templates and goldens cannot drift apart: re-emitting gives the committed bytes."""
    assert sorted(p.stem for p in GENERATED.glob("*.py")) == sorted(p.stem for p in ZOO)
    for path in ZOO:
        net = load_spec(path).resolve()
        emitted = render_module(net, f"specs/{path.name}").encode()
        assert emitted == (GENERATED / f"{net.name}.py").read_bytes(), (
            f"re-run: specgen emit specs/{path.name}"
        )


def test_generated_examples_hold_one_network_per_stem_and_block_type():
    """specs/examples/<type>.json is a network of that type, for every type the registries hold;
    re-emitting gives the committed bytes."""
    nets = [load_spec(path).resolve() for path in EXAMPLES]
    named = {path.stem: {net.stem_type, net.block_type} for path, net in zip(EXAMPLES, nets, strict=True)}
    assert all(t in named.get(t, ()) for t in [*STEM_TYPES, *BLOCK_TYPES])
    assert sorted(p.stem for p in (GENERATED / "examples").glob("*.py")) == sorted(p.stem for p in EXAMPLES)
    for path, net in zip(EXAMPLES, nets, strict=True):
        emitted = render_module(net, f"specs/examples/{path.name}").encode()
        assert emitted == (GENERATED / "examples" / f"{net.name}.py").read_bytes(), (
            f"re-run: specgen emit specs/examples/{path.name} --out generated/examples --format py"
        )


@pytest.mark.parametrize("path", ZOO + EXAMPLES, ids=[p.stem for p in ZOO + EXAMPLES])
def test_zoo_module_is_pycls_anynet(path):
    """Analytical params, pycls's state-dict names and shapes, and pycls's outputs for the same weights."""
    net = load_spec(path).resolve()
    torch.manual_seed(0)
    ours = load_network_class(
        GENERATED / path.parent.relative_to(SPECS) / f"{net.name}.py", class_name(net)
    )()
    assert n_params(ours) == complexity.count(net).params
    randomize_bn(ours)
    reference = pycls_anynet(net, device="meta")  # built without memory, then given our tensors
    reference.load_state_dict(ours.state_dict(), strict=True, assign=True)
    same_outputs(ours, reference, net, resolution=32)


# -- drawn networks ------------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(net=network_specs())
def test_drawn_networks_are_pycls_anynet(net, tmp_path):
    torch.manual_seed(0)
    ours = emitted_class(net, tmp_path)()
    assert n_params(ours) == complexity.count(net).params
    torch.manual_seed(0)
    reference = pycls_anynet(net)
    if net.in_channels == 3:  # same construction order and init: the same seed gives the same weights
        theirs = reference.state_dict()
        assert list(theirs) == list(ours.state_dict())
        assert all(torch.equal(t, ours.state_dict()[k]) for k, t in theirs.items())
    randomize_bn(ours)
    reference.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(reference.state_dict(), strict=True)
    same_outputs(ours, reference, net, net.resolution)


# -- the text: standalone, hand-written, only what this network uses -----------------------------------


def _net(stages, se_ratio=0.0, stem_width=16, name="probe") -> NetworkSpec:
    return NetworkSpec(name=name, stem_width=stem_width, stages=stages, se_ratio=se_ratio, num_classes=10)


X_NET = _net([Stage(depth=2, width=32, group_width=8), Stage(depth=1, width=64, group_width=8)])
Y_NET = _net([Stage(depth=2, width=32, group_width=8, bottleneck_ratio=2.0)], se_ratio=0.25)
ALL_PROJECT = _net([Stage(depth=1, width=32, group_width=8), Stage(depth=1, width=64, group_width=8)])
NONE_PROJECT = _net([Stage(depth=3, width=16, stride=1, group_width=8)])
# The longest valid name (64 characters) and the widest numbers still give lines within 110 columns.
LONGEST = NetworkSpec(
    name="regnety_" + "x" * 56,
    stem_width=1024,
    stages=[Stage(depth=2, width=10240, stride=4, bottleneck_ratio=4, group_width=256)],
    se_ratio=0.25,
    num_classes=100_000,
    in_channels=64,
    resolution=512,
)


def test_imports_only_torch_and_the_standard_library():
    for net in (X_NET, Y_NET):
        tree = ast.parse(render_module(net))
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert roots - set(sys.stdlib_module_names) == {"torch"}


def test_header_names_the_spec_complexity_and_how_to_regenerate():
    net = load_spec(SPECS / "regnetx_600mf.json").resolve()
    text = render_module(net, "specs/regnetx_600mf.json")
    doc = ast.get_docstring(ast.parse(text))
    cx = complexity.count(net)
    assert doc.startswith("regnetx_600mf: an AnyNet image classifier for PyTorch.")
    assert "Spec: specs/regnetx_600mf.json" in doc
    assert f"Content hash: {net.content_hash()} (the network's, not the file's)" in doc
    assert "specgen emit specs/regnetx_600mf.json" in doc
    assert f"{cx.flops:,}" in doc and f"{cx.params:,}" in doc and f"{cx.acts:,}" in doc
    for i, stage in enumerate(net.stages, start=1):  # the table of stages
        assert any(
            line.split()[:3] == [f"s{i}", str(stage.depth), str(stage.width)] for line in doc.splitlines()
        )


def test_small_classes_and_no_dead_options():
    x, y = render_module(X_NET), render_module(Y_NET)
    classes = {n.name for n in ast.parse(y).body if isinstance(n, ast.ClassDef)}
    assert classes == {"Stem", "SqueezeExcitation", "Bottleneck", "Block", "Stage", "Head", "Probe"}
    assert "SqueezeExcitation" not in x and "SE_RATIO" not in x and "se" not in load_network_class_names(x)
    assert "w_b: int" not in x and "w_b: int" in y  # b = 1 everywhere: no bottleneck-width parameter
    assert shortcut_kind(ALL_PROJECT) == "projection" and "is not None" not in render_module(ALL_PROJECT)
    assert shortcut_kind(NONE_PROJECT) == "identity" and "self.proj" not in render_module(NONE_PROJECT)
    assert shortcut_kind(X_NET) == "mixed" and "is not None" in x


def load_network_class_names(text: str) -> set[str]:
    """Every attribute assigned on self in the module's text."""
    return {
        t.attr
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Attribute)
    }


@pytest.mark.parametrize("net", [X_NET, Y_NET, ALL_PROJECT, NONE_PROJECT], ids=["x", "y", "proj", "identity"])
def test_every_variant_builds_pycls_anynet(net, tmp_path):
    torch.manual_seed(0)
    ours = emitted_class(net, tmp_path)()
    assert n_params(ours) == complexity.count(net).params
    bns = [m for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-5 and m.momentum == 0.1 for m in bns)
    torch.manual_seed(0)
    reference = pycls_anynet(net)
    assert all(torch.equal(t, ours.state_dict()[k]) for k, t in reference.state_dict().items())
    same_outputs(ours, reference, net, 32)


def test_class_names_are_identifiers_that_shadow_nothing():
    def name_of(name: str) -> str:
        return class_name(NetworkSpec.model_validate({**X_NET.model_dump(), "name": name}))

    assert name_of("regnetx_600mf") == "Regnetx600mf"
    assert name_of("anynetx_e-0a1b.c2") == "AnynetxE0a1bC2"
    assert name_of("3d") == "Net3d"
    assert name_of("stem") == "StemNet" and name_of("none") == "NoneNet" and name_of("block") == "BlockNet"
    assert name_of("i") == "INet" and name_of("exception") == "ExceptionNet"


# -- deterministic and clean ---------------------------------------------------------------------------


def test_bytes_do_not_depend_on_the_process(tmp_path):
    """Same spec, same bytes, across interpreters with different hash seeds."""
    script = (
        "import sys; from specgen.emit.python import render_module; from specgen.specfile import load_spec; "
    )
    script += "sys.stdout.write(render_module(load_spec(sys.argv[1]).resolve(), 'spec.json'))"
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(SPECS / "regnety_800mf.json")],
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    ]
    net = load_spec(SPECS / "regnety_800mf.json").resolve()
    assert runs[0] == runs[1] == render_module(net, "spec.json").encode()


def test_emitted_files_are_clean_under_ruff(tmp_path):
    """ruff check and ruff format --check, with the project's settings, on the zoo and drawn networks."""
    texts = [render_module(n) for n in (X_NET, Y_NET, ALL_PROJECT, NONE_PROJECT)]

    @settings(max_examples=60)
    @given(net=network_specs())
    def draw(net):
        texts.append(render_module(net, f"spaces/{net.name}.json"))

    draw()
    texts.append(render_module(LONGEST, f"spaces/{LONGEST.name}.json"))
    files = list(GENERATED.glob("*.py"))
    for i, text in enumerate(texts):
        files.append(tmp_path / f"drawn_{i}.py")
        files[-1].write_text(text)
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for command in (["check", *config], ["format", "--check", *config]):
        done = subprocess.run([sys.executable, "-m", "ruff", *command, *map(str, files)], capture_output=True)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
