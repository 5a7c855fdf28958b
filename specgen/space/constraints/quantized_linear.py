"""`quantized_linear`: stage widths and depths from (d, w0, wa, wm) by the rule (docs/reference.md §2).

Declaring it makes a RegNet space: its designs are the six RegNet parameters, drawn once per
network, and resolve to stages by the rule, vectorized.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from specgen.errors import SpecError
from specgen.network import limits
from specgen.network.regnet import (
    COMPATIBILITY_BATCH,
    Rounding,
    block_levels_batch,
    level_widths_batch,
    stages_from_blocks_batch,
)
from specgen.space.batch import Batch, Designs, Rule, Stages, admitted, number
from specgen.space.constraints.base import Counting, SpaceConstraint
from specgen.space.domains import is_power_of_two

MAX_LEVELS = 60
"""Width levels w0·wm^k the rule may reach (the exact count keeps them as bits of an int64)."""
MAX_REGNET_WORK = 1_000_000
"""wm values times the largest depth: the exact count of a RegNet space walks each wm over the blocks."""


class QuantizedLinear(SpaceConstraint):
    """Stage widths and depths from (d, w0, wa, wm) (docs/reference.md §2): this makes a RegNet space."""

    family: ClassVar[str] = "regnet"
    once: ClassVar[bool] = True
    name: Literal["quantized_linear"]
    q: int = Field(default=8, ge=1, le=limits.MAX_Q)
    rounding: Rounding = "pycls"

    def spec_fields(self) -> dict[str, object]:
        """The fields a RegNet spec must share with the space's rule."""
        return {"q": self.q, "rounding": self.rounding}

    def resolve(self, designs: Designs) -> Stages:
        v = designs.values
        levels, mask = block_levels_batch(v["depth"], v["w0"], v["wa"], v["wm"])
        blocks = level_widths_batch(v["w0"], v["wm"], levels, self.q)
        widths, depths, count = stages_from_blocks_batch(blocks, mask, limits.MAX_STAGES)
        top = np.where(mask, levels, 0).max(axis=1).astype(np.int64) + 1
        ratios = np.broadcast_to(v["bottleneck_ratio"].astype(np.float64)[:, None], widths.shape)
        widths, group_widths = COMPATIBILITY_BATCH[self.rounding](
            np.maximum(widths, 1), ratios, v["group_width"][:, None]
        )
        present = depths > 0
        widths, group_widths = np.where(present, widths, 0), np.where(present, group_widths, 1)
        return Stages(depths, widths, group_widths, ratios, count, top)

    def check(self, space, index: int, source: str) -> None:
        """Any space may declare it (once): it makes the space a RegNet space."""

    def check_domains(self, space, source: str) -> None:
        """The rule must stay countable (levels, work) and give whole widths within the spec limits."""
        s = space.num_stages
        d_max = int(space.support("depth")[-1])
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
                f"expected a smallest wm that keeps the rule within {MAX_LEVELS} width levels, "
                f"got {levels:.0f}",
            )
        ratios = space.support("bottleneck_ratio").astype(np.float64)
        if not is_power_of_two(ratios).all():
            raise SpecError(
                source,
                "parameters.bottleneck_ratio",
                "expected powers of two in a RegNet space (the compatibility rule keeps w / b whole only "
                f"for those), got {ratios[~is_power_of_two(ratios)][0]:g}",
            )
        w0 = space.support("w0")
        if np.any(w0 % self.q):
            raise SpecError(
                source,
                "parameters.w0",
                f"expected multiples of q = {self.q}, got {int(w0[w0 % self.q != 0][0])}",
            )
        widest = float(w0[-1]) * float(space.support("wm")[-1]) ** (s - 1)
        if widest > limits.MAX_WIDTH / 2:
            raise SpecError(
                source,
                "parameters",
                f"its widest stage can reach {widest:,.0f} channels; "
                f"expected at most {limits.MAX_WIDTH // 2:,}",
            )

    def rules(self, batch: Batch) -> Iterator[Rule]:
        """Every stage keeps w / b >= 1 channel: torchvision's rounding refuses the others (group width 0)."""
        s = batch.stages
        yield Rule(self.name, "bottleneck_ratio", (s.group_widths >= 1) | (s.depths == 0), self)

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        b = number(designs.values["bottleneck_ratio"][0])
        return SpecError(
            source,
            "bottleneck_ratio",
            f"expected a ratio that leaves every stage a bottleneck width w / b of at least 1 under "
            f"{self.rounding} rounding (quantized_linear), got {b}",
        )

    def count(self, counting: Counting) -> None:
        counting.quantization = self.q  # the stage count does not depend on the rounding

    def strategy(self, pick: Callable, space, values: dict) -> dict:
        """The slope wa is drawn among those whose networks every structural rule admits, given the
        other parameters (so the stage count is right by construction)."""
        was = space.support("wa")
        every_wa = Designs({p: np.full(len(was), v) for p, v in values.items() if p != "wa"} | {"wa": was})
        return {**values, "wa": pick(was[admitted(space, every_wa, bands=[])].tolist())}
