"""`contiguous_levels`: one stage per width level w0·wm^k, k = 0 .. S-1, none skipped or merged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

from specgen.errors import ROOT, SpecError
from specgen.space.batch import Batch, Designs, Rule, resolve
from specgen.space.constraints.base import Counting, SpaceConstraint


class ContiguousLevels(SpaceConstraint):
    """One stage per width level w0·wm^k, k = 0 .. S-1: none skipped, none merged by snapping.

    pycls's sampler keeps a RegNet only when its number of stages equals its largest level
    plus one; without this a 4-stage network may take levels 0, 1, 2 and 4.
    """

    once: ClassVar[bool] = True
    name: Literal["contiguous_levels"]

    def check(self, space, index: int, source: str) -> None:
        if space.family != "regnet":
            raise SpecError(
                source,
                f"constraints[{index}].name",
                "contiguous_levels is for RegNet spaces, with quantized_linear",
            )

    def rules(self, batch: Batch) -> Iterator[Rule]:
        yield Rule(self.name, "stages", batch.stages.count == batch.stages.levels, self)

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        stages = resolve(space, designs)
        return SpecError(
            source, ROOT, f"resolves to {stages.count[0]} stages from {stages.levels[0]} width levels; "
            "expected one stage per level, none skipped or merged (contiguous_levels)",
        )  # fmt: skip

    def count(self, counting: Counting) -> None:
        counting.contiguous = True

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """The rule's slope is drawn among those every structural rule admits (quantized_linear's
        strategy), this one included."""
        return values
