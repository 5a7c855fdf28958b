"""The schema of a design space (docs/reference.md §4): parameters with domains, and constraints.

A space is one of two families. An AnyNet space draws depth, width, bottleneck
ratio and group width for every stage; a RegNet space (one that declares the
`quantized_linear` constraint) draws the six RegNet parameters once per network
and derives the stages by the rule. A parameter is drawn per stage unless a
`shared` constraint ties it across stages. Each constraint is one class
(`specgen.space.constraints`); the space's structure (its family, stage count,
shared and ordered parameters, bands) is what its constraints say it is, and the
rules the schema alone cannot state are checked here and by each constraint's own
`check`, each refused with one SpecError line.
"""

from __future__ import annotations

import itertools
import math
import sys
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    model_serializer,
)

from specgen.errors import ROOT, FieldError, SpecError, field_path, first_error, how_many
from specgen.network import complexity, limits
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.layers import se_width
from specgen.network.spec import (
    BlockName,
    Name,
    StemName,
    block_type_field,
    check_block_fits,
    stem_type_field,
    without_default_types,
)
from specgen.space.constraints import CONSTRAINTS, Constraint, SpaceConstraint
from specgen.space.constraints.band import Band
from specgen.space.domains import MAX_DOMAIN_VALUES, STRICT, BaseDomain, ChoiceDomain, Domain, IntDomain
from specgen.train.schedule import HYPERPARAMETER_LIMITS, Hyperparameter

ANYNET_PARAMETERS = ("depth", "width", "bottleneck_ratio", "group_width")
REGNET_PARAMETERS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
INTEGER_PARAMETERS = {"depth", "width", "group_width", "w0", "epochs"}
MAX_STAGE_CONFIGURATIONS = 2_000_000
"""Configurations of one AnyNet stage: the exact count and the sampler tabulate them."""
MAX_SHARED_CONFIGURATIONS = 10_000
"""Combinations of the shared values: the exact count walks them one by one."""


class StemChoice(BaseModel):
    """A stem type drawn per network, uniformly among `values`."""

    model_config = STRICT

    type: Literal["choice"]
    values: list[StemName] = Field(min_length=1, max_length=len(get_args(StemName)))
    distribution: Literal["uniform"] = "uniform"


class BlockChoice(BaseModel):
    """A block type drawn per network, uniformly among `values`."""

    model_config = STRICT

    type: Literal["choice"]
    values: list[BlockName] = Field(min_length=1, max_length=len(get_args(BlockName)))
    distribution: Literal["uniform"] = "uniform"


def _fixed_or_choice(v: object) -> str:
    return "choice" if isinstance(v, dict | StemChoice | BlockChoice) else "name"


StemType = Annotated[
    Annotated[StemName, Tag("name")] | Annotated[StemChoice, Tag("choice")], Discriminator(_fixed_or_choice)
]
BlockType = Annotated[
    Annotated[BlockName, Tag("name")] | Annotated[BlockChoice, Tag("choice")], Discriminator(_fixed_or_choice)
]
TYPE_FIELDS = ("stem_type", "block_type")
"""Fields that hold one type or a choice of types (the discriminator's tag is not in the file)."""


class DesignSpace(BaseModel):
    """A family of networks: parameters, their domains and distributions, and constraints."""

    model_config = STRICT

    name: Name
    description: str = Field(default="", max_length=2000)
    stem_type: StemType = stem_type_field()
    block_type: BlockType = block_type_field()
    stem_width: int = Field(default=32, ge=1, le=limits.MAX_STEM_WIDTH)
    strides: list[Annotated[int, Field(ge=1, le=limits.MAX_STRIDE)]] | None = Field(
        default=None, min_length=1, max_length=limits.MAX_STAGES
    )
    """Each stage's stride (the first S for S stages); None: 2 everywhere, as in the paper."""
    se_ratio: float = Field(default=0.0, ge=0.0, le=limits.MAX_SE_RATIO)
    num_classes: int = Field(default=1000, ge=1, le=limits.MAX_CLASSES)
    in_channels: int = Field(default=3, ge=1, le=limits.MAX_IN_CHANNELS)
    resolution: int = Field(default=224, ge=1, le=limits.MAX_RESOLUTION)
    parameters: dict[str, Domain]
    constraints: list[Constraint] = Field(default_factory=list, max_length=64)
    hyperparameters: dict[Hyperparameter, Domain] = Field(
        default_factory=dict,
        description="Training hyperparameters drawn per sample (lr, weight_decay, epochs), after the "
        "network; a sweep trains each run with its own. None declared: every run takes the sweep's.",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        data = without_default_types(handler(self))
        if not self.hyperparameters:  # a space without them dumps as before they existed
            del data["hyperparameters"]
        if self.strides is None:  # nor one without strides
            del data["strides"]
        return data

    def stage_strides(self, num_stages: int) -> list[int]:
        """The strides of a network of `num_stages` stages (a candidate of a RegNet space that resolves
        to more stages than the space has is refused by num_stages; its extra stages count at 2)."""
        given = [] if self.strides is None else self.strides[:num_stages]
        return given + [2] * (num_stages - len(given))

    @property
    def stem_types(self) -> list[str]:
        """The stem types a network of the space may have (one unless the space draws it)."""
        return self.stem_type.values if isinstance(self.stem_type, StemChoice) else [self.stem_type]

    @property
    def block_types(self) -> list[str]:
        """The block types a network of the space may have (one unless the space draws it)."""
        return self.block_type.values if isinstance(self.block_type, BlockChoice) else [self.block_type]

    @property
    def ranked_constraints(self) -> list[tuple[int, SpaceConstraint]]:
        """(position, constraint) in the registry's order, the order masks are checked and reported."""
        return sorted(enumerate(self.constraints), key=lambda ic: CONSTRAINTS.index(type(ic[1])))

    @property
    def resolver(self) -> SpaceConstraint | None:
        """The constraint whose rule resolves designs into stages (a RegNet space's quantized_linear)."""
        return next((c for c in self.constraints if c.family is not None), None)

    @property
    def family(self) -> Literal["anynet", "regnet"]:
        return "anynet" if self.resolver is None else self.resolver.family

    @property
    def stage_counts(self) -> list[int]:
        """The stage counts its networks may have (a num_stages range gives several)."""
        return next(c.stage_counts for c in self.constraints if c.stage_count is not None)

    @property
    def num_stages(self) -> int:
        """The largest stage count (the only one unless num_stages is a range)."""
        return next(c.stage_count for c in self.constraints if c.stage_count is not None)

    @property
    def shared(self) -> frozenset[str]:
        return frozenset(p for c in self.constraints for p in c.shares)

    @property
    def non_decreasing(self) -> frozenset[str]:
        return frozenset(p for c in self.constraints for p in c.orders)

    @property
    def bands(self) -> list[Band]:
        return [c for c in self.constraints if c.measured]

    @property
    def stage_constraints(self) -> list[SpaceConstraint]:
        """The constraints that hold stage by stage (the sampler's and the count's stage tables)."""
        return [c for c in self.constraints if c.stage_parameters]

    def per_stage(self, parameter: str) -> bool:
        """Drawn once per stage (AnyNet, not shared) rather than once per network."""
        return self.family == "anynet" and parameter not in self.shared

    @property
    def stage_parameters(self) -> list[str]:
        """The parameters drawn once per stage, in declaration order."""
        return [p for p in self.parameters if self.per_stage(p)]

    @property
    def network_parameters(self) -> list[str]:
        """The parameters drawn once per network (shared ones, or all of a RegNet space's)."""
        return [p for p in self.parameters if not self.per_stage(p)]

    def fixed_fields(self) -> dict:
        """The network fields the space fixes for every sample (a fixed variant's stem and block)."""
        return {
            "stem_type": self.stem_type,
            "block_type": self.block_type,
            "stem_width": self.stem_width,
            "se_ratio": self.se_ratio,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
        }

    def support(self, parameter: str) -> np.ndarray:
        return self.parameters[parameter].support

    @property
    def mixed(self) -> bool:
        """Draws its stem type, block type or stage count per network (a mixture of fixed spaces)."""
        fixed = isinstance(self.stem_type, str) and isinstance(self.block_type, str)
        return not fixed or len(self.stage_counts) > 1

    def variants(self) -> list[DesignSpace]:
        """The fixed spaces it mixes, one per stem type x block type x stage count, each drawn with equal
        probability; itself when it draws none of them.

        A block type without bottleneck or groups (vanilla, basic) has b = g = 1 whatever the domains
        say: its variant's b and g domains are {1}, so a network is one configuration, counted once.
        """
        if not self.mixed:
            return [self]
        ones = ChoiceDomain(type="choice", values=[1])
        out = []
        for stem, block, count in itertools.product(self.stem_types, self.block_types, self.stage_counts):
            parameters = dict(self.parameters)
            if not BLOCK_TYPES[block].grouped:
                parameters.update(bottleneck_ratio=ones, group_width=ones)
            constraints = [
                c if c.stage_count is None else c.model_copy(update={"value": count, "max": None})
                for c in self.constraints
            ]
            update = {"stem_type": stem, "block_type": block, "parameters": parameters}
            out.append(self.model_copy(update=update | {"constraints": constraints}))
        return out


_ADAPTER = TypeAdapter(DesignSpace)


def _tags(members, field: str) -> str:
    """The tags of a tagged union's members, in words: 'int', 'float' or 'choice'."""
    names = [t for m in members for t in get_args(m.model_fields[field].annotation)]
    return ", ".join(map(repr, names[:-1])) + f" or {names[-1]!r}"


_TAGS = {
    "type": "the domain's type, " + _tags(get_args(get_args(Domain)[0]), "type"),
    "name": "the constraint's name, " + _tags(CONSTRAINTS, "name"),
}
"""What a domain's type and a constraint's name may be, for the message when one is missing."""


def _check_domain(space: DesignSpace, name: str, domain: BaseDomain, source: str) -> None:
    path = f"{'hyperparameters' if name in HYPERPARAMETER_LIMITS else 'parameters'}.{name}"
    bounds = {
        **HYPERPARAMETER_LIMITS,
        "depth": (1, limits.MAX_STAGE_DEPTH if space.family == "anynet" else limits.MAX_TOTAL_DEPTH),
        "width": (1, limits.MAX_WIDTH),
        "group_width": (1, limits.MAX_GROUP_WIDTH),
        "bottleneck_ratio": (limits.MIN_BOTTLENECK_RATIO, limits.MAX_BOTTLENECK_RATIO),
        "w0": (1, limits.MAX_W0),
        "wa": (0, limits.MAX_WA),
        "wm": (1, limits.MAX_WM),  # wm > 1: the rule divides by log wm
    }[name]
    open_below = name in ("wm", "lr")  # wm > 1: the rule divides by log wm; lr > 0
    opening = "(" if open_below else "["
    expected = f"expected values in {opening}{bounds[0]:g}, {bounds[1]:g}]"
    too_large = f"{expected}, got values too large to represent"
    try:  # counted before a grid is built: a domain's size bounds the memory its grid takes
        size = domain.size()
    except OverflowError:  # min / quantum past a float: values past every bound, or a quantum too fine
        within = abs(domain.min) <= bounds[1] and abs(domain.max) <= bounds[1]
        count = f"expected at most {MAX_DOMAIN_VALUES:,} values, got more than {sys.float_info.max:.2g}"
        raise SpecError(source, path, count if within else too_large) from None
    if size > MAX_DOMAIN_VALUES:
        raise SpecError(source, path, f"expected at most {MAX_DOMAIN_VALUES:,} values, got {how_many(size)}")
    if size == 0:
        raise SpecError(source, path, domain.describe_empty())
    try:
        grid = domain.grid()
    except OverflowError:  # values past int64
        raise SpecError(source, path, too_large) from None
    if len(np.unique(grid)) != len(grid):
        raise SpecError(source, f"{path}.values", "expected distinct values")
    if name in INTEGER_PARAMETERS and grid.dtype != np.int64:
        raise SpecError(source, path, f"expected integer values for {name}: an int domain or integer choices")
    if len(domain.support) == 0:
        raise SpecError(source, f"{path}.distribution", "empty domain: no value is a power of two")
    if domain.distribution in ("log_uniform", "pycls_log_uniform") and grid[0] <= 0:
        raise SpecError(
            source, f"{path}.distribution", f"{domain.distribution} needs min > 0, got {grid[0]:g}"
        )
    if domain.distribution == "pycls_log_uniform":
        if domain.spacing is None:
            raise SpecError(
                source, f"{path}.distribution", "pycls_log_uniform rounds up to a step: expected an int or "
                "float domain, got choices",
            )  # fmt: skip
        if isinstance(domain, IntDomain) and domain.min % domain.step:
            raise SpecError(
                source, f"{path}.min", "pycls_log_uniform rounds up to multiples of the step: expected a "
                f"multiple of {domain.step}, got {domain.min}",
            )  # fmt: skip
    lo, hi = float(grid[0]), float(grid[-1])
    if lo < bounds[0] or hi > bounds[1] or (open_below and lo == bounds[0]):
        raise SpecError(source, path, f"{expected}, got {lo:g}..{hi:g}")


def _check_constraints(space: DesignSpace, source: str) -> None:
    for i, c in enumerate(space.constraints):
        c.check(space, i, source)
    for kind in CONSTRAINTS:
        found = [i for i, c in enumerate(space.constraints) if type(c) is kind]
        if kind.once and len(found) > 1:
            raise SpecError(
                source,
                f"constraints[{found[1]}]",
                f"contradictory: {space.constraints[found[1]].name} is declared twice",
            )
    for kind in CONSTRAINTS:
        message = None if any(type(c) is kind for c in space.constraints) else kind.missing(space)
        if message:
            raise SpecError(source, "constraints", message)


def _check_block_fits(space: DesignSpace, source: str) -> None:
    """A block type without groups or SE fixes b = g = 1 and se_ratio = 0: the space's domains
    must hold only those, by the rule specs follow."""
    b = next((x for x in space.support("bottleneck_ratio") if x != 1), 1)
    g = next((x for x in space.support("group_width") if x != 1), 1)
    try:
        check_block_fits(space, [(("parameters",), float(b), int(g))])
    except FieldError as e:
        raise SpecError(source, field_path(e.loc), str(e)) from None


def _check_size(space: DesignSpace, source: str) -> None:
    """The largest network of an AnyNet space must be within the spec limits, and the space countable."""
    if space.family != "anynet":
        return
    s = space.num_stages
    d_max = int(space.support("depth")[-1])
    for label, params, bound in (
        ("stage", space.stage_parameters, MAX_STAGE_CONFIGURATIONS),
        ("shared", space.network_parameters, MAX_SHARED_CONFIGURATIONS),
    ):
        size = math.prod(len(space.support(p)) for p in params)
        if size > bound:
            raise SpecError(
                source,
                "parameters",
                f"expected at most {bound:,} {label} configurations ({' x '.join(params)}), got {size:,}",
            )
    if s * d_max > limits.MAX_TOTAL_DEPTH:
        raise SpecError(
            source,
            "parameters.depth",
            f"{s} stages of {d_max} blocks exceed {limits.MAX_TOTAL_DEPTH} in all",
        )
    narrowest = min(space.stem_width, int(space.support("width")[0]))
    if space.se_ratio > 0 and se_width(narrowest, space.se_ratio) < 1:
        raise SpecError(
            source,
            "se_ratio",
            f"gives an SE width of 0 for a block of input width {narrowest}; "
            "expected 0 or a ratio that keeps every SE width >= 1",
        )
    w_max = int(space.support("width")[-1])
    b_min = float(space.support("bottleneck_ratio")[0])
    g_min = int(space.support("group_width")[0])
    cx = complexity.count_batch(
        [[d_max] * s], [[w_max] * s], g_min, b_min,
        stem_width=space.stem_width, se_ratio=space.se_ratio, resolution=space.resolution,
        num_classes=space.num_classes, in_channels=space.in_channels,
        stem_type=space.stem_type, block_type=space.block_type,
    )  # fmt: skip
    if cx.flops[0] > limits.MAX_FLOPS or cx.params[0] > limits.MAX_PARAMS:
        raise SpecError(
            source,
            "parameters",
            f"its largest network has {int(cx.flops[0]):,} flops and {int(cx.params[0]):,} params; "
            f"expected at most {limits.MAX_FLOPS:,} and {limits.MAX_PARAMS:,}",
        )


def check_space(space: DesignSpace, source: str) -> DesignSpace:
    """The rules the schema alone cannot state, each refused with one SpecError line."""
    expected = ANYNET_PARAMETERS if space.family == "anynet" else REGNET_PARAMETERS
    for name in space.parameters:
        if name not in expected:
            raise SpecError(
                source,
                f"parameters.{name}",
                f"unknown parameter for {'a RegNet' if space.family == 'regnet' else 'an AnyNet'} space; "
                f"expected {', '.join(expected)}",
            )
    missing = [p for p in expected if p not in space.parameters]
    if missing:
        raise SpecError(source, "parameters", f"missing {', '.join(missing)}")
    _check_constraints(space, source)
    for name, domain in (space.parameters | space.hyperparameters).items():
        _check_domain(space, name, domain, source)
    if space.strides is not None and len(space.strides) < space.num_stages:
        raise SpecError(
            source,
            "strides",
            f"expected a stride for each of {space.num_stages} stages, got {len(space.strides)}",
        )
    for variant in space.variants():
        _check_block_fits(variant, source)
        _check_size(variant, source)
        for c in variant.constraints:
            c.check_domains(variant, source)
    return space


def validate_space(data: object, source: str) -> DesignSpace:
    """Python data to a DesignSpace, or one SpecError line."""
    if not isinstance(data, dict):
        raise SpecError(source, ROOT, f"expected a JSON object, got {type(data).__name__}")
    try:
        space = _ADAPTER.validate_python(data, strict=True)
    except ValidationError as e:
        # Domains and constraints are tagged unions: parameters.depth.int.max -> parameters.depth.max.
        # A type field's tag follows it: block_type.choice.values[0] -> block_type.values[0].
        tag_at = 1 if e.errors()[0]["loc"][0] in TYPE_FIELDS else 2
        raise SpecError(source, *first_error(e, tag_at=tag_at, tags=_TAGS)) from None
    return check_space(space, source)
