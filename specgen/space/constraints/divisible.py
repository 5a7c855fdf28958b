"""`divisible`: every stage is buildable, w / b is whole and the group width divides it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

import numpy as np

from specgen.errors import SpecError
from specgen.space.batch import Batch, Designs, Rule, number
from specgen.space.constraints.base import Counting, SpaceConstraint, stage_error


def _whole(widths: np.ndarray, ratios: np.ndarray, group_widths: np.ndarray) -> np.ndarray:
    """w / (b·g) is whole: one float division per stage (exact for these magnitudes). A group width
    of 0 marks a stage that torchvision rounding refuses (w / b rounds down to 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        e = widths / (ratios * group_widths)
    return (np.abs(e - np.rint(e)) <= 1e-9 * e) & (group_widths > 0)


class Divisible(SpaceConstraint):
    """Every stage is buildable: w / b is whole and the group width divides it.

    AnyNet spaces reject the draws that are not (rather than adjusting widths
    as pycls's compatibility step does), so a sample keeps the widths it drew
    and the space is exactly its buildable configurations. The rule holds stage by
    stage, so the sampler and the exact count tabulate the buildable stages.
    """

    once: ClassVar[bool] = True
    stage_parameters: ClassVar[tuple[str, ...]] = ("width", "bottleneck_ratio", "group_width")
    name: Literal["divisible"]

    @classmethod
    def missing(cls, space) -> str | None:
        if space.family != "anynet":
            return None
        return "expected a divisible constraint: every stage of an AnyNet space must be buildable"

    def check(self, space, index: int, source: str) -> None:
        if space.family != "anynet":
            raise SpecError(
                source,
                f"constraints[{index}].name",
                "divisible is for AnyNet spaces; quantized_linear makes widths compatible",
            )

    def stage_mask(self, width, bottleneck_ratio, group_width) -> np.ndarray:
        return _whole(width, np.asarray(bottleneck_ratio, dtype=np.float64), group_width)

    def rules(self, batch: Batch) -> Iterator[Rule]:
        s = batch.stages
        whole = _whole(s.widths, s.bottleneck_ratios, s.group_widths)
        yield Rule(self.name, "group_width", whole | (s.depths == 0), self)  # absent stages pass

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        v = designs.values
        what = "a group width that divides the bottleneck width w / b (divisible)"
        return stage_error(
            rule,
            designs,
            what,
            lambda i: f"{number(v['group_width'][0][i])} with width {number(v['width'][0][i])}",
            source,
        )

    def count(self, counting: Counting) -> None:
        counting.stage_masks.append((self.stage_parameters, self.stage_mask))

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """Designs are drawn from the tables of stages that pass every per-stage rule, this one included."""
        return values
