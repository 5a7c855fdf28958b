"""The constraints of a design space, one vocabulary used three ways.

The same rule functions check a batch of candidate designs (NumPy arrays, one
row per network): the sampler filters its candidates with them, `validate`
checks one user spec against a space with them, and `specgen.sizes` counts the
configurations they admit (its tables of buildable stages use `divisible`).

A batch holds the free parameters as drawn (`Designs`: AnyNet parameters are
(N, S) arrays, one column per stage; RegNet parameters are (N,) arrays) and
what they resolve to (`Stages`: (N, S) arrays, depth 0 for an absent stage).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from specgen import complexity, limits
from specgen.errors import ROOT, SpecError
from specgen.regnet import (
    COMPATIBILITY_BATCH,
    RegNetSpec,
    block_levels_batch,
    level_widths_batch,
    stages_from_blocks_batch,
)
from specgen.spaces import Band, DesignSpace
from specgen.spec import NetworkSpec

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


@dataclass(frozen=True)
class Designs:
    """Free parameters of N candidate networks, by parameter name."""

    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.values.values())))

    def take(self, rows: np.ndarray) -> Designs:
        return Designs({k: v[rows] for k, v in self.values.items()})


@dataclass(frozen=True)
class Stages:
    """What N designs resolve to: per-stage arrays (N, S), each network's stage count, and its
    largest width level plus one (a RegNet's levels; an AnyNet's stage count)."""

    depths: np.ndarray
    widths: np.ndarray
    group_widths: np.ndarray
    bottleneck_ratios: np.ndarray
    count: np.ndarray
    levels: np.ndarray

    def take(self, rows: np.ndarray) -> Stages:
        return Stages(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def resolve(space: DesignSpace, designs: Designs) -> Stages:
    """AnyNet designs are their stages; RegNet designs go through the quantized linear rule."""
    v = designs.values
    if space.family == "anynet":
        depths = v["depth"]
        count = np.full(len(depths), depths.shape[1], dtype=np.int64)
        ratios = v["bottleneck_ratio"].astype(np.float64)
        return Stages(depths, v["width"], v["group_width"], ratios, count, count)
    rule = space.quantized_linear
    levels, mask = block_levels_batch(v["depth"], v["w0"], v["wa"], v["wm"])
    blocks = level_widths_batch(v["w0"], v["wm"], levels, rule.q)
    widths, depths, count = stages_from_blocks_batch(blocks, mask, limits.MAX_STAGES)
    top = np.where(mask, levels, 0).max(axis=1).astype(np.int64) + 1
    ratios = np.broadcast_to(v["bottleneck_ratio"].astype(np.float64)[:, None], widths.shape)
    widths, group_widths = COMPATIBILITY_BATCH[rule.rounding](
        np.maximum(widths, 1), ratios, v["group_width"][:, None]
    )
    present = depths > 0
    widths, group_widths = np.where(present, widths, 0), np.where(present, group_widths, 1)
    return Stages(depths, widths, group_widths, ratios, count, top)


def band_resolution(space: DesignSpace, band: Band) -> int:
    return space.resolution if band.resolution is None else band.resolution


def measure(space: DesignSpace, stages: Stages, resolution: int) -> complexity.BatchComplexity:
    """Flops, params and activations of every candidate, in one vectorized walk."""
    return complexity.count_batch(
        stages.depths,
        np.maximum(stages.widths, 1),
        np.maximum(stages.group_widths, 1),
        stages.bottleneck_ratios,
        2,
        stem_width=space.stem_width,
        se_ratio=space.se_ratio,
        resolution=resolution,
        num_classes=space.num_classes,
        in_channels=space.in_channels,
    )


def divisible(stages: Stages) -> np.ndarray:
    """(N, S): w / b is whole and the group width divides it, i.e. w / (b·g) is whole.

    One float division per stage (exact for these magnitudes); absent stages pass. A group
    width of 0 marks a stage that torchvision rounding refuses (w / b rounds down to 0).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        e = stages.widths / (stages.bottleneck_ratios * stages.group_widths)
    whole = (np.abs(e - np.rint(e)) <= 1e-9 * e) & (stages.group_widths > 0)
    return whole | (stages.depths == 0)


def buildable(width: np.ndarray, bottleneck_ratio: np.ndarray, group_width: np.ndarray) -> np.ndarray:
    """`divisible` for single stages given as flat arrays (the tables of buildable stages)."""
    ones = np.ones_like(width)
    ratios = np.asarray(bottleneck_ratio, dtype=np.float64)
    return divisible(Stages(ones, width, group_width, ratios, ones, ones))


def within_limits(space: DesignSpace, stages: Stages) -> np.ndarray:
    """(N,): NetworkSpec's structural limits hold (stage depth and width, total depth, SE width >= 1).

    Every sample becomes a NetworkSpec, so the sampler must refuse what it would; the
    params and flops limits depend on the resolution and are bands (`limit_bands`).
    """
    present = stages.depths > 0
    fits = (stages.depths <= limits.MAX_STAGE_DEPTH) & (stages.widths <= limits.MAX_WIDTH)
    ok = (fits | ~present).all(axis=1)
    ok &= stages.depths.sum(axis=1) <= limits.MAX_TOTAL_DEPTH
    if space.se_ratio > 0:
        # A stage's width is a block's input width unless it is the last stage and has one block.
        last = present & ~np.concatenate([present[:, 1:], np.zeros((len(present), 1), bool)], axis=1)
        feeds = present & (~last | (stages.depths > 1))
        se_ok = np.rint(stages.widths * space.se_ratio) >= 1
        ok &= (se_ok | ~feeds).all(axis=1) & (round(space.stem_width * space.se_ratio) >= 1)
    return ok


def limit_bands(resolution: int) -> list[Band]:
    """NetworkSpec's params and flops limits, as bands at the resolution samples are built for."""
    return [
        Band(name="params", max=limits.MAX_PARAMS, resolution=resolution),
        Band(name="flops", max=limits.MAX_FLOPS, resolution=resolution),
    ]


@dataclass(frozen=True)
class Rule:
    """One constraint's verdict on a batch: a label, the field it concerns, and a mask.

    The mask is (N,) or (N, S) (per stage); a row passes when all its entries pass.
    """

    label: str
    field: str
    mask: np.ndarray
    band: Band | None = None

    def rows(self) -> np.ndarray:
        return self.mask if self.mask.ndim == 1 else self.mask.all(axis=1)


def structural_rules(
    space: DesignSpace, designs: Designs, stages: Stages, skip: frozenset[str] = frozenset()
) -> Iterator[Rule]:
    """The rules on parameters and stages, in the order `validate` reports them (less `skip`)."""
    v = designs.values
    for name, domain in space.parameters.items():
        if "domain" not in skip:
            yield Rule("domain", name, np.isin(v[name], domain.support))
    if "num_stages" not in skip:
        yield Rule("num_stages", "stages", stages.count == space.num_stages)
    if space.contiguous_levels:
        yield Rule("contiguous_levels", "stages", stages.count == stages.levels)
    for name in sorted(space.shared - skip):
        yield Rule("shared", name, v[name] == v[name][:, :1])
    for name in sorted(space.non_decreasing):
        first = np.ones((len(designs), 1), dtype=bool)
        yield Rule("non_decreasing", name, np.concatenate([first, v[name][:, 1:] >= v[name][:, :-1]], axis=1))
    if "divisible" not in skip:
        yield Rule("divisible", "group_width", divisible(stages))
    yield Rule("limits", "stages", within_limits(space, stages))


def band_rules(space: DesignSpace, stages: Stages, bands: list[Band]) -> Iterator[Rule]:
    """Complexity bands, each network counted once per resolution."""
    measured: dict[int, complexity.BatchComplexity] = {}
    for band in bands:
        res = band_resolution(space, band)
        if res not in measured:
            measured[res] = measure(space, stages, res)
        x = getattr(measured[res], band.name)
        lo = -np.inf if band.min is None else band.min
        hi = np.inf if band.max is None else band.max
        yield Rule(band.name, band.name, (x >= lo) & (x <= hi), band)


def rules(space: DesignSpace, designs: Designs, stages: Stages | None = None, bands=None) -> Iterator[Rule]:
    """Every constraint of the space on a batch; bands default to the space's own."""
    stages = resolve(space, designs) if stages is None else stages
    yield from structural_rules(space, designs, stages)
    yield from band_rules(space, stages, space.bands if bands is None else bands)


def admitted(
    space: DesignSpace,
    designs: Designs,
    stages: Stages | None = None,
    bands=None,
    guaranteed: frozenset[str] = frozenset(),
) -> np.ndarray:
    """Which candidates satisfy every constraint.

    Bands are measured only on the candidates that pass the structural rules (the
    sampler's hot path). `guaranteed` names the rules (and shared parameters) that the
    candidates' construction already ensures, which are then skipped.
    """
    stages = resolve(space, designs) if stages is None else stages
    ok = np.ones(len(designs), dtype=bool)
    for rule in structural_rules(space, designs, stages, guaranteed):
        ok &= rule.rows()
    rows = np.flatnonzero(ok)
    for rule in band_rules(space, stages.take(rows), space.bands if bands is None else bands):
        ok[rows] &= rule.rows()
    return ok


# --- one spec against a space -----------------------------------------------------------------


def design_of(space: DesignSpace, spec: RegNetSpec | NetworkSpec, source: str) -> Designs:
    """A spec's free parameters as a batch of one, refusing a spec of the wrong form."""
    fixed = {
        "stem_width": space.stem_width,
        "se_ratio": space.se_ratio,
        "num_classes": space.num_classes,
        "in_channels": space.in_channels,
    }
    for field, expected in fixed.items():
        if getattr(spec, field) != expected:
            raise SpecError(
                source, field, f"expected {expected:g} as in the space, got {getattr(spec, field):g}"
            )
    if space.family == "regnet":
        if not isinstance(spec, RegNetSpec):
            raise SpecError(source, "kind", f"expected a regnet spec for the RegNet space {space.name}")
        rule = space.quantized_linear
        for field in ("q", "rounding"):
            if getattr(spec, field) != getattr(rule, field):
                raise SpecError(
                    source,
                    field,
                    f"expected {getattr(rule, field)} (quantized_linear), got {getattr(spec, field)}",
                )
        return Designs({p: np.array([getattr(spec, p)]) for p in space.parameters})
    net = spec.resolve()
    if len(net.stages) != space.num_stages:
        raise SpecError(
            source, "stages", f"expected {space.num_stages} stages (num_stages), got {len(net.stages)}"
        )
    for i, stage in enumerate(net.stages):
        if stage.stride != 2:
            raise SpecError(source, f"stages[{i}].stride", f"expected 2 as in the space, got {stage.stride}")
    return Designs(
        {
            "depth": np.array([net.depths]),
            "width": np.array([net.widths]),
            "bottleneck_ratio": np.array([net.bottleneck_ratios]),
            "group_width": np.array([net.group_widths]),
        }
    )


_WHAT = {
    "domain": "a value of the space's domain",
    "shared": "the same value in every stage (shared)",
    "non_decreasing": "values that never decrease from stage to stage (non_decreasing)",
    "divisible": "a group width that divides the bottleneck width w / b (divisible)",
}


def _number(x) -> str:
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def validate(space: DesignSpace, spec: RegNetSpec | NetworkSpec, source: str) -> None:
    """Accept a spec exactly when the space's constraints allow it; otherwise one SpecError line."""
    designs = design_of(space, spec, source)
    for rule in rules(space, designs):
        if rule.rows()[0]:
            continue
        if rule.label == "num_stages":
            raise SpecError(
                source, ROOT, f"resolves to {resolve(space, designs).count[0]} stages; "
                f"expected {space.num_stages} (num_stages)",
            )  # fmt: skip
        if rule.label == "contiguous_levels":
            stages = resolve(space, designs)
            raise SpecError(
                source, ROOT, f"resolves to {stages.count[0]} stages from {stages.levels[0]} width levels; "
                "expected one stage per level, none skipped or merged (contiguous_levels)",
            )  # fmt: skip
        if rule.band is not None:
            band = rule.band
            measured = measure(space, resolve(space, designs), band_resolution(space, band))
            value = getattr(measured, band.name)[0]
            lo = "-" if band.min is None else _number(band.min)
            hi = "-" if band.max is None else _number(band.max)
            raise SpecError(
                source, ROOT, f"expected {band.name} in [{lo}, {hi}] at {band_resolution(space, band)} px, "
                f"got {_number(value)}",
            )  # fmt: skip
        values = designs.values[rule.field][0] if rule.field in designs.values else None
        if rule.mask.ndim == 1:
            raise SpecError(source, rule.field, f"expected {_WHAT[rule.label]}, got {_number(values)}")
        stage = int(np.argmin(rule.mask[0]))
        path = f"stages[{stage}].{rule.field}"
        if rule.label == "domain":
            got = _number(values[stage])
        elif rule.label == "divisible":
            got = f"{_number(values[stage])} with width {_number(designs.values['width'][0][stage])}"
        else:
            got = "[" + ", ".join(_number(x) for x in values) + "]"
        raise SpecError(source, path, f"expected {_WHAT[rule.label]}, got {got}")


def parse_count(text: str) -> float:
    """`400M` (an optional K, M or G suffix) to a finite number >= 0, or ValueError."""
    text = text.strip().upper()
    unit = text[-1] if text[-1:] in ("K", "M", "G") else ""
    number = float(text[: len(text) - len(unit)])
    if not np.isfinite(number) or number < 0:
        raise ValueError(text)
    return number * _UNITS[unit]


def parse_band(text: str, quantity: str, resolution: int | None = None) -> Band:
    """`360M:400M` (K, M, G suffixes; either end may be empty) to a Band, or one SpecError line."""
    parts = text.split(":")
    try:
        if len(parts) != 2 or not (parts[0] or parts[1]):
            raise ValueError
        bounds = [parse_count(part) if part.strip() else None for part in parts]
    except ValueError:
        raise SpecError(
            f"--{quantity}",
            ROOT,
            f"expected LO:HI with optional K, M or G suffixes (e.g. 360M:400M), got {text!r}",
        ) from None
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"--{quantity}", ROOT, f"expected LO <= HI, got {text!r}")
    return Band(name=quantity, min=lo, max=hi, resolution=resolution)
