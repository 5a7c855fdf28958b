"""`rounding: torchvision` reproduces torchvision's RegNets, checked against torchvision itself."""

import json

import pytest
import torch
import torchvision.models as tvm

from specgen import complexity
from specgen.regnet import RegNetSpec

from .conftest import SPECS

# torchvision's three models that differ from pycls, and their parameter counts (REFERENCE §2).
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


@pytest.mark.parametrize(("slug", "builder", "tv_params", "pycls_params"), DIFFERING)
def test_torchvision_rounding_matches_torchvision(slug, builder, tv_params, pycls_params):
    torch.manual_seed(0)
    model = getattr(tvm, builder)(weights=None)
    assert sum(p.numel() for p in model.parameters()) == tv_params

    net = _spec(slug, "torchvision").resolve()
    assert complexity.count(net).params == tv_params
    assert [(s.width, s.depth) for s in net.stages] == _stages_of(model)
    assert complexity.count(_spec(slug, "pycls").resolve()).params == pycls_params


# Every RegNet torchvision ships with a pycls counterpart in specs/ (torchvision has no 4.0GF/6.4GF/12GF).
SHIPPED = {
    f"regnet{x}_{size}": f"regnet_{x}_{size.replace('_0gf', 'gf')}"
    for x in ("x", "y")
    for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8_0gf", "16gf", "32gf")
}


@pytest.mark.parametrize("slug", sorted(SHIPPED))
def test_every_shipped_torchvision_regnet_is_reproduced(slug):
    model = getattr(tvm, SHIPPED[slug])(weights=None)
    net = _spec(slug, "torchvision").resolve()
    assert complexity.count(net).params == sum(p.numel() for p in model.parameters())
    assert [(s.width, s.depth) for s in net.stages] == _stages_of(model)


# RegNetY-128GF is not in the paper's zoo table; its parameters are those torchvision builds it from.
REGNETY_128GF = {"depth": 27, "w0": 456, "wa": 160.83, "wm": 2.52, "group_width": 264, "se_ratio": 0.25}
PUBLISHED = [
    (name, weights)
    for name in sorted(n for n in dir(tvm) if n.startswith("RegNet_") and n.endswith("_Weights"))
    for weights in getattr(tvm, name)
]


def _torchvision_spec(weights_class: str) -> RegNetSpec:
    """RegNet_Y_8GF_Weights -> our regnety_8_0gf spec with torchvision rounding."""
    family, size = weights_class.removeprefix("RegNet_").removesuffix("_Weights").split("_", 1)
    if size == "128GF":
        data = {"kind": "regnet", "name": "regnety_128gf", "rounding": "torchvision", **REGNETY_128GF}
        return RegNetSpec.model_validate(data)
    slug = f"regnet{family.lower()}_{size.lower()}".replace("_8gf", "_8_0gf")
    return _spec(slug, "torchvision")


@pytest.mark.parametrize(("name", "weights"), PUBLISHED, ids=[f"{n}.{w.name}" for n, w in PUBLISHED])
def test_published_torchvision_figures(name, weights):
    """torchvision's published metadata (no download): params exactly, GFLOPs at the crop size to 3 places.

    Up to RegNetY-128GF (644,812,894 params, 374.57 GF at 384 px): the bounds admit it.
    """
    net = _torchvision_spec(name).resolve()
    crop = weights.transforms.keywords["crop_size"]
    cx = complexity.count(net, crop)
    assert cx.params == weights.meta["num_params"]
    assert round(cx.flops / 1e9, 3) == weights.meta["_ops"]
