"""`shared`: one value of each named parameter for all stages (AnyNetX_B shares b, AnyNetX_C also g)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from specgen.errors import SpecError
from specgen.space.batch import Batch, Designs, Rule
from specgen.space.constraints.base import Counting, StageTie, sequence, stage_error


class Shared(StageTie):
    """The named parameters are drawn once per network, not once per stage."""

    name: Literal["shared"]

    @property
    def shares(self) -> tuple[str, ...]:
        return tuple(self.parameters)

    def guaranteed(self, space) -> bool:
        return True  # drawn once per network

    def rules(self, batch: Batch) -> Iterator[Rule]:
        v = batch.designs.values
        for name in sorted(self.parameters):
            yield Rule(self.name, name, v[name] == v[name][:, :1], self)

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        values = designs.values[rule.field][0]
        what = "the same value in every stage (shared)"
        return stage_error(rule, designs, what, lambda _: sequence(values), source)

    def count(self, counting: Counting) -> None:
        counting.shared.update(self.parameters)

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """Designs are drawn with one value per network for the shared parameters (the stage tables'
        shared values), so they hold it already."""
        return values
