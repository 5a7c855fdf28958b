"""`flops`, `params`, `acts`: a complexity band, min <= x <= max at a resolution.

The same class carries the bands a space declares, the ones `--flops LO:HI` asks for, and
NetworkSpec's own params and flops limits at the resolution samples are built for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from specgen.errors import ROOT, SpecError
from specgen.network import limits
from specgen.space.batch import Batch, Designs, Rule, measure, number, resolve
from specgen.space.constraints.base import Counting, SpaceConstraint

_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


class Band(SpaceConstraint):
    """min <= flops (or params, acts) <= max, counted at `resolution` (default: the space's)."""

    measured: ClassVar[bool] = True
    name: Literal["flops", "params", "acts"]
    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)
    resolution: int | None = Field(default=None, ge=1, le=limits.MAX_RESOLUTION)

    @classmethod
    def limits(cls, resolution: int) -> list[Band]:
        """NetworkSpec's params and flops limits, as bands at the resolution samples are built for."""
        return [
            cls(name="params", max=limits.MAX_PARAMS, resolution=resolution),
            cls(name="flops", max=limits.MAX_FLOPS, resolution=resolution),
        ]

    def at(self, space) -> int:
        """The resolution the band is counted at."""
        return space.resolution if self.resolution is None else self.resolution

    def check(self, space, index: int, source: str) -> None:
        path = f"constraints[{index}]"
        if self.min is None and self.max is None:
            raise SpecError(source, path, "expected min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SpecError(source, path, f"contradictory: min {self.min:,.0f} > max {self.max:,.0f}")

    def rules(self, batch: Batch) -> Iterator[Rule]:
        x = getattr(batch.measured(self.at(batch.space)), self.name)
        lo = -np.inf if self.min is None else self.min
        hi = np.inf if self.max is None else self.max
        yield Rule(self.name, self.name, (x >= lo) & (x <= hi), self)

    def explain(self, space, designs: Designs, rule: Rule, source: str) -> SpecError:
        value = getattr(measure(space, resolve(space, designs), self.at(space)), self.name)[0]
        lo = "-" if self.min is None else number(self.min)
        hi = "-" if self.max is None else number(self.max)
        return SpecError(
            source, ROOT, f"expected {self.name} in [{lo}, {hi}] at {self.at(space)} px, got {number(value)}"
        )

    def count(self, counting: Counting) -> None:
        """Nothing: the exact size counts the configurations bands aside; a band's share is estimated."""

    def strategy(self, pick: Callable, space, values: dict) -> None:
        """A band cannot be built into a design: samples of a banded space come from the sampler."""
        return None


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
