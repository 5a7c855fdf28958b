"""Design spaces as data (docs/reference.md §4): parameters, their domains and distributions, constraints.

A space is one of two families. An AnyNet space draws depth, width, bottleneck
ratio and group width for every stage; a RegNet space (one that declares the
`quantized_linear` constraint) draws the six RegNet parameters once per network
and derives the stages by the rule. A parameter is drawn per stage unless a
`shared` constraint ties it across stages. Named constraints with arguments
(`num_stages`, `shared`, `non_decreasing`, `divisible`, `quantized_linear`,
`contiguous_levels`, and `flops`/`params`/`acts` bands) say which configurations belong to the
space; `specgen.constraints` checks them, `specgen.sampler` draws under them
and `specgen.sizes` counts them. Built-in spaces are JSON files under
`specs/spaces/`, checked by the same schema as a user's file.
"""

from __future__ import annotations

import math
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from specgen import complexity, limits
from specgen.errors import ROOT, SpecError, first_error, how_many, shown
from specgen.regnet import Rounding
from specgen.spec import Name
from specgen.specfile import parse_json, read_text

ANYNET_PARAMETERS = ("depth", "width", "bottleneck_ratio", "group_width")
REGNET_PARAMETERS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
INTEGER_PARAMETERS = {"depth", "width", "group_width", "w0"}
MAX_DOMAIN_VALUES = 100_000
"""A domain may hold at most this many values (the sizes module enumerates them)."""
MAX_STEP = 2**53
"""An int domain's step is also its spacing as a float (pycls_log_uniform's), exact up to 2^53."""
MAX_STAGE_CONFIGURATIONS = 2_000_000
"""Configurations of one AnyNet stage: the exact count and the sampler tabulate them."""
MAX_SHARED_CONFIGURATIONS = 10_000
"""Combinations of the shared values: the exact count walks them one by one."""
MAX_LEVELS = 60
"""Width levels w0·wm^k the rule may reach (the exact count keeps them as bits of an int64)."""
MAX_REGNET_WORK = 1_000_000
"""wm values times the largest depth: the exact count of a RegNet space walks each wm over the blocks."""

Distribution = Literal["uniform", "log_uniform", "pycls_log_uniform", "power_of_two"]
_Strict = ConfigDict(extra="forbid", frozen=True)


def _is_power_of_two(values: np.ndarray) -> np.ndarray:
    """Which values are 2^k for a whole k (negative k allowed: b = 0.5 is 2^-1)."""
    positive = values > 0
    exponents = np.log2(np.where(positive, values, 1.0))
    return positive & (np.abs(exponents - np.rint(exponents)) < 1e-12)


class _Domain(BaseModel):
    model_config = _Strict
    distribution: Distribution = Field(
        default="uniform",
        description="uniform over the values; log_uniform between min and max, snapped to the nearest "
        "value; pycls_log_uniform: pycls's sweep sampler, log-uniform in (min - q', max] rounded up to "
        "a multiple of the step (q' = min(step, min / 2)); power_of_two: uniform over the values that "
        "are powers of two.",
    )

    def grid(self) -> np.ndarray:
        raise NotImplementedError

    def size(self) -> int:
        """How many values the grid holds, counted without building it (a domain may ask for 10^300)."""
        raise NotImplementedError

    @property
    def spacing(self) -> float | None:
        """The step between values (None for a list of choices)."""
        return None

    @property
    def support(self) -> np.ndarray:
        """The values a draw can take, sorted (read-only; computed once per distinct domain)."""
        return _support(type(self), self.model_dump_json())

    def _log_edges(self) -> np.ndarray:
        """The intervals x falls in for each value when log x is uniform between the outer edges.

        log_uniform snaps x to the nearest value (edges at the midpoints); pycls_log_uniform
        rounds x up to the next value, drawing x from (min - q', max] so min gets its share.
        """
        values = self.support.astype(np.float64)
        if self.distribution == "pycls_log_uniform":
            return np.concatenate([[values[0] - min(self.spacing, values[0] / 2)], values])
        return np.concatenate([values[:1], (values[1:] + values[:-1]) / 2, values[-1:]])

    def _is_log(self) -> bool:
        return self.distribution in ("log_uniform", "pycls_log_uniform") and len(self.support) > 1

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Independent draws from the declared distribution."""
        values = self.support
        if not self._is_log():
            return values[rng.integers(0, len(values), size)]
        edges = self._log_edges()
        x = np.exp(rng.uniform(math.log(edges[0]), math.log(edges[-1]), size))
        return values[np.searchsorted(edges[1:-1], x)]

    def probabilities(self) -> np.ndarray:
        """Probability of each support value under the declared distribution."""
        if not self._is_log():
            return np.full(len(self.support), 1 / len(self.support))
        edges = np.log(self._log_edges())
        return np.diff(edges) / (edges[-1] - edges[0])


@lru_cache(maxsize=256)
def _support(kind: type[_Domain], domain_json: str) -> np.ndarray:
    domain = kind.model_validate_json(domain_json)
    values = domain.grid()
    if domain.distribution == "power_of_two":
        values = values[_is_power_of_two(values.astype(np.float64))]
    values.setflags(write=False)
    return values


class IntDomain(_Domain):
    """Integers min, min + step, ... up to max."""

    type: Literal["int"]
    min: int
    max: int
    step: int = Field(default=1, ge=1, le=MAX_STEP)

    def grid(self) -> np.ndarray:
        return np.arange(self.min, self.max + 1, self.step, dtype=np.int64)

    def size(self) -> int:
        return max(0, (self.max - self.min) // self.step + 1)

    @property
    def spacing(self) -> float:
        return float(self.step)

    def describe_empty(self) -> str:
        return f"empty domain: min {shown(self.min)} > max {shown(self.max)}"


def _decimal(x: float) -> tuple[int, int]:
    """A positive float as the shortest decimal that reads back as it: (digits, e) with x = digits·10^-e."""
    mantissa, _, power = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    e = len(fraction.rstrip("0")) - int(power or 0)
    digits = int(whole + fraction.rstrip("0"))
    return (digits * 10**-e, 0) if e < 0 else (digits, e)


class FloatDomain(_Domain):
    """Multiples of `quantum` between min and max (pycls's quantized draws)."""

    type: Literal["float"]
    min: float
    max: float
    quantum: float = Field(gt=0)

    def grid(self) -> np.ndarray:
        """The float nearest to each decimal k·quantum in [min, max] (so 62.7, not 62.699999999999996).

        The bounds allow a relative 1e-9 for the rounding of min / quantum (1.1 / 0.1 is
        11.000000000000002), never an absolute one (min 8, quantum 1e300 has no multiple).
        """
        first, last = self._multiples()
        k = np.arange(first, max(first, last + 1), dtype=np.int64)
        inverse = 1 / self.quantum
        if round(inverse) >= 1 and abs(inverse - round(inverse)) < 1e-9:
            return k / round(inverse)  # quantum 1/n: k / n is the float nearest to k/n
        digits, exponent = _decimal(self.quantum)
        if exponent <= 22 and digits * max(abs(first), abs(last)) < 2**53:
            # quantum = digits·10^-exponent: an exact integer over an exact power of ten, rounded once.
            return (k * digits) / 10.0**exponent
        return k * self.quantum

    def _multiples(self) -> tuple[int, int]:
        """The first and last k with k·quantum in [min, max] (first > last when there is none)."""
        lo, hi = self.min / self.quantum, self.max / self.quantum
        if not math.isfinite(lo) or not math.isfinite(hi):
            raise OverflowError("min / quantum or max / quantum is past a float")
        return math.ceil(lo - 1e-9 * abs(lo)), math.floor(hi + 1e-9 * abs(hi))

    def size(self) -> int:
        first, last = self._multiples()
        return max(0, last - first + 1)

    @property
    def spacing(self) -> float:
        return self.quantum

    def describe_empty(self) -> str:
        return f"empty domain: no multiple of {self.quantum:g} between {self.min:g} and {self.max:g}"


class ChoiceDomain(_Domain):
    """An explicit list of values."""

    type: Literal["choice"]
    values: list[int | float] = Field(max_length=MAX_DOMAIN_VALUES)

    def grid(self) -> np.ndarray:
        integral = all(isinstance(v, int) for v in self.values)
        return np.array(sorted(self.values), dtype=np.int64 if integral else np.float64)

    def size(self) -> int:
        return len(self.values)

    def describe_empty(self) -> str:
        return "empty domain: expected at least one value"


Domain = Annotated[IntDomain | FloatDomain | ChoiceDomain, Field(discriminator="type")]


class NumStages(BaseModel):
    """Exactly `value` stages (pycls's RegNet sampler requires 4)."""

    model_config = _Strict
    name: Literal["num_stages"]
    value: int = Field(ge=1, le=limits.MAX_STAGES)


class Shared(BaseModel):
    """One value of each named parameter for all stages (AnyNetX_B shares b, AnyNetX_C also g)."""

    model_config = _Strict
    name: Literal["shared"]
    parameters: list[str] = Field(min_length=1, max_length=4)


class NonDecreasing(BaseModel):
    """w_{i+1} >= w_i (AnyNetX_D) and d_{i+1} >= d_i (AnyNetX_E) for the named parameters."""

    model_config = _Strict
    name: Literal["non_decreasing"]
    parameters: list[str] = Field(min_length=1, max_length=4)


class Divisible(BaseModel):
    """Every stage is buildable: w / b is whole and the group width divides it.

    AnyNet spaces reject the draws that are not (rather than adjusting widths
    as pycls's compatibility step does), so a sample keeps the widths it drew
    and the space is exactly its buildable configurations.
    """

    model_config = _Strict
    name: Literal["divisible"]


class QuantizedLinear(BaseModel):
    """Stage widths and depths from (d, w0, wa, wm) (docs/reference.md §2): this makes a RegNet space."""

    model_config = _Strict
    name: Literal["quantized_linear"]
    q: int = Field(default=8, ge=1, le=limits.MAX_Q)
    rounding: Rounding = "pycls"


class ContiguousLevels(BaseModel):
    """One stage per width level w0·wm^k, k = 0 .. S-1: none skipped, none merged by snapping.

    pycls's sampler keeps a RegNet only when its number of stages equals its largest level
    plus one; without this a 4-stage network may take levels 0, 1, 2 and 4.
    """

    model_config = _Strict
    name: Literal["contiguous_levels"]


class Band(BaseModel):
    """min <= flops (or params, acts) <= max, counted at `resolution` (default: the space's)."""

    model_config = _Strict
    name: Literal["flops", "params", "acts"]
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)
    resolution: int | None = Field(default=None, ge=1, le=limits.MAX_RESOLUTION)


Constraint = Annotated[
    NumStages | Shared | NonDecreasing | Divisible | QuantizedLinear | ContiguousLevels | Band,
    Field(discriminator="name"),
]


class DesignSpace(BaseModel):
    """A family of networks: parameters, their domains and distributions, and constraints."""

    model_config = _Strict

    name: Name
    description: str = Field(default="", max_length=2000)
    stem_width: int = Field(default=32, ge=1, le=limits.MAX_STEM_WIDTH)
    se_ratio: float = Field(default=0.0, ge=0.0, le=limits.MAX_SE_RATIO)
    num_classes: int = Field(default=1000, ge=1, le=limits.MAX_CLASSES)
    in_channels: int = Field(default=3, ge=1, le=limits.MAX_IN_CHANNELS)
    resolution: int = Field(default=224, ge=1, le=limits.MAX_RESOLUTION)
    parameters: dict[str, Domain]
    constraints: list[Constraint] = Field(default_factory=list, max_length=64)

    def _of(self, kind: type) -> list:
        return [c for c in self.constraints if isinstance(c, kind)]

    @property
    def family(self) -> Literal["anynet", "regnet"]:
        return "regnet" if self._of(QuantizedLinear) else "anynet"

    @property
    def quantized_linear(self) -> QuantizedLinear | None:
        found = self._of(QuantizedLinear)
        return found[0] if found else None

    @property
    def num_stages(self) -> int:
        return self._of(NumStages)[0].value

    @property
    def shared(self) -> frozenset[str]:
        return frozenset(p for c in self._of(Shared) for p in c.parameters)

    @property
    def contiguous_levels(self) -> bool:
        return bool(self._of(ContiguousLevels))

    @property
    def non_decreasing(self) -> frozenset[str]:
        return frozenset(p for c in self._of(NonDecreasing) for p in c.parameters)

    @property
    def bands(self) -> list[Band]:
        return self._of(Band)

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

    def support(self, parameter: str) -> np.ndarray:
        return self.parameters[parameter].support


_ADAPTER = TypeAdapter(DesignSpace)


def _tags(members, field: str) -> str:
    """The tags of a tagged union's members, in words: 'int', 'float' or 'choice'."""
    names = [t for m in members for t in get_args(m.model_fields[field].annotation)]
    return ", ".join(map(repr, names[:-1])) + f" or {names[-1]!r}"


_TAGS = {
    "type": "the domain's type, " + _tags(get_args(get_args(Domain)[0]), "type"),
    "name": "the constraint's name, " + _tags(get_args(get_args(Constraint)[0]), "name"),
}
"""What a domain's type and a constraint's name may be, for the message when one is missing."""
_SPACES_DIRS = (
    Path(__file__).resolve().parent / "builtin_spaces",
    Path(__file__).resolve().parent.parent / "specs" / "spaces",
)


def _builtin_dir() -> Path:
    for candidate in _SPACES_DIRS:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("specgen's built-in design spaces (specs/spaces/) are missing")


def builtin_spaces() -> list[str]:
    """Names of the built-in spaces, in the paper's order."""
    order = ["anynetx_a", "anynetx_b", "anynetx_c", "anynetx_d", "anynetx_e", "regnetx", "regnety"]
    names = sorted(p.stem for p in _builtin_dir().glob("*.json"))
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def _check_domain(space: DesignSpace, name: str, domain: _Domain, source: str) -> None:
    path = f"parameters.{name}"
    bounds = {
        "depth": (1, limits.MAX_STAGE_DEPTH if space.family == "anynet" else limits.MAX_TOTAL_DEPTH),
        "width": (1, limits.MAX_WIDTH),
        "group_width": (1, limits.MAX_GROUP_WIDTH),
        "bottleneck_ratio": (limits.MIN_BOTTLENECK_RATIO, limits.MAX_BOTTLENECK_RATIO),
        "w0": (1, limits.MAX_W0),
        "wa": (0, limits.MAX_WA),
        "wm": (1, limits.MAX_WM),  # wm > 1: the rule divides by log wm
    }[name]
    opening = "(" if name == "wm" else "["
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
    if lo < bounds[0] or hi > bounds[1] or (name == "wm" and lo == bounds[0]):
        raise SpecError(source, path, f"{expected}, got {lo:g}..{hi:g}")


def _check_constraints(space: DesignSpace, source: str) -> None:
    names = set(space.parameters)
    seen: dict[str, str] = {}
    for i, c in enumerate(space.constraints):
        path = f"constraints[{i}]"
        if isinstance(c, Shared | NonDecreasing):
            if space.family == "regnet":
                raise SpecError(
                    source, f"{path}.name", f"{c.name} ties per-stage parameters; a RegNet space has none"
                )
            for p in c.parameters:
                if p not in names:
                    raise SpecError(
                        source, f"{path}.parameters", f"expected parameters of the space, got {p!r}"
                    )
                if p in seen:
                    raise SpecError(
                        source,
                        f"{path}.parameters",
                        f"contradictory: {p} is already {seen[p]}; a parameter is shared or "
                        "non_decreasing, once",
                    )
                seen[p] = c.name
        elif isinstance(c, Band):
            if c.min is None and c.max is None:
                raise SpecError(source, path, "expected min, max or both")
            if c.min is not None and c.max is not None and c.min > c.max:
                raise SpecError(source, path, f"contradictory: min {c.min:,.0f} > max {c.max:,.0f}")
        elif isinstance(c, ContiguousLevels) and space.family == "anynet":
            raise SpecError(
                source, f"{path}.name", "contiguous_levels is for RegNet spaces, with quantized_linear"
            )
        elif isinstance(c, Divisible) and space.family == "regnet":
            raise SpecError(
                source,
                f"{path}.name",
                "divisible is for AnyNet spaces; quantized_linear makes widths compatible",
            )
    for kind, label in (
        (NumStages, "num_stages"),
        (QuantizedLinear, "quantized_linear"),
        (Divisible, "divisible"),
        (ContiguousLevels, "contiguous_levels"),
    ):
        found = [i for i, c in enumerate(space.constraints) if isinstance(c, kind)]
        if len(found) > 1:
            raise SpecError(source, f"constraints[{found[1]}]", f"contradictory: {label} is declared twice")
    if not space._of(NumStages):
        raise SpecError(source, "constraints", "expected a num_stages constraint")
    if space.family == "anynet" and not space._of(Divisible):
        raise SpecError(
            source,
            "constraints",
            "expected a divisible constraint: every stage of an AnyNet space must be buildable",
        )


def _check_size(space: DesignSpace, source: str) -> None:
    """The largest network of the space must be within the spec limits, and the space countable."""
    s = space.num_stages
    d_max = int(space.support("depth")[-1])
    if space.family == "anynet":
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
        if space.se_ratio > 0 and round(narrowest * space.se_ratio) < 1:
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
        )  # fmt: skip
        if cx.flops[0] > limits.MAX_FLOPS or cx.params[0] > limits.MAX_PARAMS:
            raise SpecError(
                source,
                "parameters",
                f"its largest network has {int(cx.flops[0]):,} flops and {int(cx.params[0]):,} params; "
                f"expected at most {limits.MAX_FLOPS:,} and {limits.MAX_PARAMS:,}",
            )
        return
    work = len(space.support("wm")) * d_max
    if work > MAX_REGNET_WORK:
        raise SpecError(
            source,
            "parameters.wm",
            f"expected at most {MAX_REGNET_WORK:,} wm values x largest depth, got {work:,}",
        )
    slope = float(space.support("wa")[-1]) / float(space.support("w0")[0])
    levels = math.log1p(slope * (d_max - 1)) / math.log(float(space.support("wm")[0]))
    if levels > MAX_LEVELS:
        raise SpecError(
            source,
            "parameters.wm",
            f"expected a smallest wm that keeps the rule within {MAX_LEVELS} width levels, got {levels:.0f}",
        )
    q = space.quantized_linear.q
    ratios = space.support("bottleneck_ratio").astype(np.float64)
    if not _is_power_of_two(ratios).all():
        raise SpecError(
            source,
            "parameters.bottleneck_ratio",
            "expected powers of two in a RegNet space (the compatibility rule keeps w / b whole only for "
            f"those), got {ratios[~_is_power_of_two(ratios)][0]:g}",
        )
    w0 = space.support("w0")
    if np.any(w0 % q):
        raise SpecError(
            source, "parameters.w0", f"expected multiples of q = {q}, got {int(w0[w0 % q != 0][0])}"
        )
    widest = float(w0[-1]) * float(space.support("wm")[-1]) ** (s - 1)
    if widest > limits.MAX_WIDTH / 2:
        raise SpecError(
            source,
            "parameters",
            f"its widest stage can reach {widest:,.0f} channels; expected at most {limits.MAX_WIDTH // 2:,}",
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
    for name, domain in space.parameters.items():
        _check_domain(space, name, domain, source)
    _check_size(space, source)
    return space


def validate_space(data: object, source: str) -> DesignSpace:
    """Python data to a DesignSpace, or one SpecError line."""
    if not isinstance(data, dict):
        raise SpecError(source, ROOT, f"expected a JSON object, got {type(data).__name__}")
    try:
        space = _ADAPTER.validate_python(data, strict=True)
    except ValidationError as e:
        # Domains and constraints are tagged unions: parameters.depth.int.max -> parameters.depth.max.
        raise SpecError(source, *first_error(e, tag_at=2, tags=_TAGS)) from None
    return check_space(space, source)


def load_space(name_or_path: str | Path) -> DesignSpace:
    """A built-in space by name ("anynetx_e") or a space file by path.

    A built-in name is always the built-in space, whatever the current folder holds (write
    ./regnetx to read a file so named); anything else is a path when it ends in .json, holds
    a path separator or names an existing file.
    """
    text = str(name_or_path)
    path = Path(text)
    if text in builtin_spaces():
        path = _builtin_dir() / f"{text}.json"
    elif path.suffix != ".json" and not {"/", os.sep} & set(text) and not path.is_file():
        raise SpecError(
            text, ROOT, f"unknown design space; expected one of {', '.join(builtin_spaces())} or a .json file"
        )
    return validate_space(parse_json(read_text(path), text), text)
