"""What a design-space constraint is: one class that carries every use of its rule.

A constraint class is a Pydantic model (its fields are its JSON form, tagged by `name`) with five
parts, which the rest of the layer calls without knowing any constraint by name:

- `check`: the rules its declaration must follow in a space (one SpecError line);
- `rules`: its vectorized mask over a batch of candidates (the sampler filters with it, `validate`
  checks one spec with it);
- `explain`: the one-line error for a spec that fails its mask;
- `count`: its contribution to the exact size (the base class has none: a constraint that does not
  say how it is counted makes the exact size unknown, never wrong);
- `strategy`: its Hypothesis hook, which makes a drawn design satisfy it constructively (None when
  it cannot, and samples then come from the sampler).

Optional hooks say what a constraint does to the space's structure (stages, shared and ordered
parameters, the family whose rule resolves designs) and to the sampler's construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from specgen.errors import SpecError
from specgen.space.batch import number
from specgen.space.domains import STRICT

if TYPE_CHECKING:
    from specgen.space.batch import Batch, Designs, Rule, Stages
    from specgen.space.domains import IntDomain
    from specgen.space.schema import DesignSpace


@dataclass
class Counting:
    """What the exact size needs from the constraints, each adding its part (`SpaceConstraint.count`)."""

    num_stages: int = 0
    shared: set[str] = field(default_factory=set)
    ordered: list[str] = field(default_factory=list)
    stage_masks: list[tuple[tuple[str, ...], Callable[..., np.ndarray]]] = field(default_factory=list)
    quantization: int | None = None
    """q of the quantized linear rule: the space is counted by the rule's structure."""
    contiguous: bool = False
    unknown: list[str] = field(default_factory=list)
    """Constraints that have no counting rule: the exact size is then not known."""


class SpaceConstraint(BaseModel):
    """One named rule of a design space, with its schema, check, mask, error, count and strategy."""

    model_config = STRICT

    family: ClassVar[str | None] = None
    """The family a space declaring it belongs to, when the constraint's rule resolves designs."""
    once: ClassVar[bool] = False
    """Declared at most once in a space."""
    measured: ClassVar[bool] = False
    """Its mask needs the candidates' complexity (checked after the others, on the survivors)."""
    stage_parameters: ClassVar[tuple[str, ...]] = ()
    """The per-stage parameters its `stage_mask` reads, for a rule that holds stage by stage."""

    # --- what it does to the space's structure ---------------------------------------------------

    @property
    def stage_count(self) -> int | None:
        return None

    @property
    def shares(self) -> tuple[str, ...]:
        """Parameters drawn once per network instead of once per stage."""
        return ()

    @property
    def orders(self) -> tuple[str, ...]:
        """Per-stage parameters whose values never decrease from stage to stage."""
        return ()

    @classmethod
    def missing(cls, space: DesignSpace) -> str | None:
        """The error when a space needs this constraint and does not declare it."""
        return None

    def check_domains(self, space: DesignSpace, source: str) -> None:
        """Rules it sets on the domains, checked once they are known to be sound."""

    def guaranteed(self, space: DesignSpace) -> bool:
        """Whether the sampler's construction of candidates already ensures it (its mask is skipped)."""
        return False

    def draw_parameter(
        self,
        space: DesignSpace,
        name: str,
        domain: IntDomain,
        rng: np.random.Generator,
        n: int,
        uniform: bool,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-stage draws of `name` (N, S) built to satisfy it, and which rows succeeded; None to draw
        the parameter independently."""
        return None

    def stage_mask(self, *columns: np.ndarray) -> np.ndarray:
        """Which single stages pass, given the `stage_parameters` as flat arrays."""
        raise NotImplementedError(f"{self.name} holds for whole networks, not stage by stage")

    def resolve(self, designs: Designs) -> Stages:
        """The stages of a batch of designs (for the constraint that sets the family)."""
        raise NotImplementedError(f"{self.name} does not resolve designs")

    # --- the five parts every constraint class has -------------------------------------------------

    def check(self, space: DesignSpace, index: int, source: str) -> None:
        """Refuse a declaration (the space's constraints[index]) that the space cannot hold."""
        raise NotImplementedError(f"{self.name} has no check")

    def rules(self, batch: Batch) -> Iterator[Rule]:
        """Its masks over a batch of candidates."""
        raise NotImplementedError(f"{self.name} has no mask")

    def explain(self, space: DesignSpace, designs: Designs, rule: Rule, source: str) -> SpecError:
        """The one line for a single design (a batch of one) that fails `rule`."""
        raise NotImplementedError(f"{self.name} has no error message")

    def count(self, counting: Counting) -> None:
        """Add its part to the exact count. Without a counting rule, the exact size is unknown."""
        counting.unknown.append(self.name)

    def strategy(self, pick: Callable[[list], object], space: DesignSpace, values: dict) -> dict | None:
        """A drawn design (parameter -> per-stage array, or value) changed to satisfy it; `pick` draws
        one of a list of values (Hypothesis's sampled_from)."""
        raise NotImplementedError(f"{self.name} has no strategy")


def stage_error(rule: Rule, designs: Designs, what: str, got: Callable[[int], str], source: str) -> SpecError:
    """`stages[i].field: expected <what>, got <...>` for the first stage that fails a per-stage rule."""
    stage = int(np.argmin(rule.mask[0]))
    return SpecError(source, f"stages[{stage}].{rule.field}", f"expected {what}, got {got(stage)}")


def sequence(values: np.ndarray) -> str:
    """[1, 2, 4] as an error message shows a parameter's stage values."""
    return "[" + ", ".join(number(x) for x in values) + "]"


class StageTie(SpaceConstraint):
    """A rule over named per-stage parameters (shared, non_decreasing): each parameter is tied once."""

    name: str
    parameters: list[str] = Field(min_length=1, max_length=4)

    def check(self, space: DesignSpace, index: int, source: str) -> None:
        path = f"constraints[{index}]"
        if space.family != "anynet":
            raise SpecError(
                source, f"{path}.name", f"{self.name} ties per-stage parameters; a RegNet space has none"
            )
        seen = {}
        for earlier in space.constraints[:index]:
            if isinstance(earlier, StageTie):
                seen |= {p: earlier.name for p in earlier.parameters if p not in seen}
        for p in self.parameters:
            if p not in space.parameters:
                raise SpecError(source, f"{path}.parameters", f"expected parameters of the space, got {p!r}")
            if p in seen:
                raise SpecError(
                    source,
                    f"{path}.parameters",
                    f"contradictory: {p} is already {seen[p]}; a parameter is shared or non_decreasing, once",
                )
            seen[p] = self.name
