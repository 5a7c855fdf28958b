"""`rounding: torchvision` reproduces torchvision's RegNets, checked against torchvision itself, and
specs/torchvision/ ships each of torchvision's 15 RegNets under torchvision's name."""

import json

import pytest
import torch
import torchvision.models as tvm
import torchvision.models.regnet as tv_regnet

from specgen.emit.python import render_module
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.specfile import load_spec

from .conftest import ROOT, SPECS

TORCHVISION = SPECS / "torchvision"
SHIPPED = sorted(TORCHVISION.glob("*.json"))
GENERATED = ROOT / "generated" / "torchvision"

# torchvision's three models that differ from pycls, and their parameter counts (docs/reference.md §2).
DIFFERING = [
    ("regnetx_400mf", "regnet_x_400mf", 5_495_976, 5_157_512),
    ("regnety_800mf", "regnet_y_800mf", 6_432_512, 6_263_168),
    ("regnety_8_0gf", "regnet_y_8gf", 39_381_472, 39_180_068),
]


def _spec(slug: str, rounding: str) -> RegNetSpec:
    data = json.loads((SPECS / f"{slug}.json").read_text())
    return RegNetSpec.model_validate({**data, "rounding": rounding})


def _stages_of(model: torch.nn.Module) -> list[tuple[int, int]]:
    """(width, depth) of each stage of a torchvision RegNet, read off its modules."""
    stages = []
    for stage in model.trunk_output.children():
        blocks = list(stage.children())
        stages.append((blocks[0].f.c[0].out_channels, len(blocks)))
    return stages


@pytest.fixture
def torchvision_on_meta(monkeypatch):
    """torchvision's builders make their modules on the meta device: shapes without memory or init,
    so even RegNetY-128GF (645 M params) is counted in a blink. Its widths are still computed on
    the CPU, by torchvision's own code."""
    build = tv_regnet.RegNet

    def on_meta(*args, **kwargs):
        with torch.device("meta"):
            return build(*args, **kwargs)

    monkeypatch.setattr(tv_regnet, "RegNet", on_meta)


@pytest.mark.parametrize(("slug", "builder", "tv_params", "pycls_params"), DIFFERING)
def test_torchvision_rounding_matches_torchvision(slug, builder, tv_params, pycls_params):
    torch.manual_seed(0)
    model = getattr(tvm, builder)(weights=None)
    assert sum(p.numel() for p in model.parameters()) == tv_params

    net = _spec(slug, "torchvision").resolve()
    assert complexity.count(net).params == tv_params
    assert [(s.width, s.depth) for s in net.stages] == _stages_of(model)
    assert complexity.count(_spec(slug, "pycls").resolve()).params == pycls_params


def test_every_torchvision_regnet_is_shipped_under_its_name():
    builders = sorted(name for name in tvm.list_models() if name.startswith("regnet_"))
    assert len(builders) == 15
    assert [p.stem for p in SHIPPED] == builders
    for path in SHIPPED:
        spec = load_spec(path)
        assert (spec.name, spec.rounding) == (path.stem, "torchvision")


@pytest.mark.usefixtures("torchvision_on_meta")
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_spec_is_torchvisions_network(path):
    """Exactly torchvision's parameter count and stages, RegNetY-128GF included."""
    model = getattr(tvm, path.stem)(weights=None)
    net = load_spec(path).resolve()
    assert complexity.count(net).params == sum(p.numel() for p in model.parameters())
    assert [(s.width, s.depth) for s in net.stages] == _stages_of(model)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_spec_has_the_zoo_parameters(path):
    """torchvision builds the paper's zoo models (RegNetY-128GF aside): the same six parameters as
    specs/, only the rounding and the name differ."""
    family, size = path.stem.removeprefix("regnet_").split("_", 1)
    zoo = SPECS / f"regnet{family}_{size.replace('8gf', '8_0gf')}.json"
    if path.stem == "regnet_y_128gf":
        assert not zoo.exists()
        return
    ours, theirs = json.loads(path.read_text()), json.loads(zoo.read_text())
    assert ours == {**theirs, "name": path.stem, "rounding": "torchvision"}


def test_generated_holds_exactly_the_emitted_torchvision_specs():
    """As for the zoo: re-emitting gives the committed bytes, generated/torchvision/<name>.py."""
    assert sorted(p.stem for p in GENERATED.glob("*.py")) == [p.stem for p in SHIPPED]
    for path in SHIPPED:
        source = f"specs/torchvision/{path.name}"
        emitted = render_module(load_spec(path).resolve(), source).encode()
        assert emitted == (GENERATED / f"{path.stem}.py").read_bytes(), (
            f"re-run: specgen emit {source} --format py --out generated/torchvision"
        )


PUBLISHED = [
    (name, weights)
    for name in sorted(n for n in dir(tvm) if n.startswith("RegNet_") and n.endswith("_Weights"))
    for weights in getattr(tvm, name)
]


@pytest.mark.parametrize(("name", "weights"), PUBLISHED, ids=[f"{n}.{w.name}" for n, w in PUBLISHED])
def test_published_torchvision_figures(name, weights):
    """torchvision's published metadata (no download): params exactly, GFLOPs at the crop size to 3 places.

    Up to RegNetY-128GF (644,812,894 params, 374.57 GF at 384 px): the bounds admit it.
    """
    spec = TORCHVISION / f"{name.removesuffix('_Weights').lower()}.json"
    net = load_spec(spec).resolve()
    crop = weights.transforms.keywords["crop_size"]
    cx = complexity.count(net, crop)
    assert cx.params == weights.meta["num_params"]
    assert round(cx.flops / 1e9, 3) == weights.meta["_ops"]
