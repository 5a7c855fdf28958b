"""`num_stages`: exactly `value` stages (pycls's RegNet sampler requires 4), or, in an AnyNet space, a
range `value`..`max` as pycls's NUM_STAGES [lo, hi]: each count drawn with equal probability, then its
stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specgen.errors import ROOT, SpecError
from specgen.network import limits
from specgen.space.batch import Batch, Designs, Rule, resolve
from specgen.space.constraints.base import Counting, SpaceConstraint

Count = Annotated[int, Field(ge=1, le=limits.MAX_STAGES)]


class NumStages(SpaceConstraint):
    """Exactly `value` stages: an AnyNet space draws that many, a RegNet space keeps the designs whose
    rule gives that many."""

    once: ClassVar[bool] = True
    name: Literal["num_stages"]
    value: Count
    max: Count | None = None
    """The largest stage count, for a range value..max (an AnyNet space); None: exactly `value`."""

    @property
    def stage_counts(self) -> list[int]:
        """Every stage count allowed: value..max."""
        return list(range(self.value, (self.value if self.max is None else self.max) + 1))

    @property
    def stage_count(self) -> int:
        return self.stage_counts[-1]

    @classmethod
    def missing(cls, space) -> str:
        return "expected a num_stages constraint"

    def check(self, space, index: int, source: str) -> None:
        """Any space may declare it (once); a range only an AnyNet space, whose stages are drawn."""
        if self.max is None:
            return
        if self.max < self.value:
            raise SpecError(
                source, f"constraints[{index}].max", f"expected at least value = {self.value}, got {self.max}"
            )
        if space.family != "anynet":
            raise SpecError(
                source,
                f"constraints[{index}].max",
                "a range of stage counts is for AnyNet spaces; a RegNet space's rule gives its stages: "
                "expected one count",
            )

    def guaranteed(self, space) -> bool:
        return space.family == "anynet"  # an AnyNet design is drawn with its stages

    def rules(self, batch: Batch) -> Iterator[Rule]:
        yield Rule(self.name, "stages", batch.stages.count == self.value, self)

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        count = resolve(space, designs).count[0]
        return SpecError(source, ROOT, f"resolves to {count} stages; expected {self.value} (num_stages)")

    def count(self, counting: Counting) -> None:
        counting.num_stages = self.value

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """An AnyNet design is drawn with `value` stages; a RegNet's depth is at least `value` blocks."""
        if space.family == "anynet":
            return values
        depths = space.support("depth")
        return {**values, "depth": pick(depths[depths >= self.value].tolist())}
