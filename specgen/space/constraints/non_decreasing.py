"""`non_decreasing`: w_{i+1} >= w_i (AnyNetX_D) and d_{i+1} >= d_i (AnyNetX_E) for the named parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

from specgen.errors import SpecError
from specgen.space.batch import Batch, Designs, Rule
from specgen.space.constraints.base import Counting, StageTie, sequence, stage_error


class NonDecreasing(StageTie):
    """The named per-stage parameters never decrease from stage to stage.

    A uniform parameter is drawn ordered, not filtered: S distinct draws from m + S - 1
    values, sorted, minus 0..S-1, is a uniform non-decreasing sequence (stars and bars),
    the same law as uniform draws kept only when ordered. Other distributions are drawn
    independently and kept when ordered.
    """

    name: Literal["non_decreasing"]

    @property
    def orders(self) -> tuple[str, ...]:
        return tuple(self.parameters)

    def draw_parameter(self, space, name, domain, rng, n, uniform):
        if name not in self.parameters or not (uniform or domain.distribution == "uniform"):
            return None
        s, support = space.num_stages, domain.support
        bars = np.sort(rng.integers(0, len(support) + s - 1, (n, s)), axis=1)
        distinct = (np.diff(bars, axis=1) > 0).all(axis=1)
        # Rows with repeated bars are refused; clipping only keeps their (unused) indices in range.
        return support[np.clip(bars - np.arange(s), 0, len(support) - 1)], distinct

    def rules(self, batch: Batch) -> Iterator[Rule]:
        v = batch.designs.values
        first = np.ones((len(batch.designs), 1), dtype=bool)
        for name in sorted(self.parameters):
            yield Rule(
                self.name, name, np.concatenate([first, v[name][:, 1:] >= v[name][:, :-1]], axis=1), self
            )

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        values = designs.values[rule.field][0]
        what = "values that never decrease from stage to stage (non_decreasing)"
        return stage_error(rule, designs, what, lambda _: sequence(values), source)

    def count(self, counting: Counting) -> None:
        counting.ordered.extend(self.parameters)

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """Sorted: a parameter that a per-stage rule couples to others (divisible's width, b, g) sorts
        the stages it belongs to, so they stay whole; a free one (depth) is sorted on its own."""
        coupled = {p for c in space.stage_constraints for p in c.stage_parameters}
        for p in self.parameters:
            if p in coupled:
                order = np.argsort(values[p], kind="stable")
                values = {q: v[order] if q in coupled else v for q, v in values.items()}
            else:
                values = {**values, p: np.sort(values[p])}
        return values
