"""The values a design-space parameter takes (int ranges, float grids, choices) and how they are drawn.

A domain counts its values before building them (a file may ask for 10^300) and draws
from its declared distribution; `support` is what a draw can give.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from specgen.errors import shown

MAX_DOMAIN_VALUES = 100_000
"""A domain may hold at most this many values (the sizes module enumerates them)."""
MAX_STEP = 2**53
"""An int domain's step is also its spacing as a float (pycls_log_uniform's), exact up to 2^53."""

Distribution = Literal["uniform", "log_uniform", "pycls_log_uniform", "power_of_two"]
STRICT = ConfigDict(extra="forbid", frozen=True)
"""Every model of a space file: unknown fields refused, values immutable."""


def is_power_of_two(values: np.ndarray) -> np.ndarray:
    """Which values are 2^k for a whole k (negative k allowed: b = 0.5 is 2^-1)."""
    positive = values > 0
    exponents = np.log2(np.where(positive, values, 1.0))
    return positive & (np.abs(exponents - np.rint(exponents)) < 1e-12)


class BaseDomain(BaseModel):
    model_config = STRICT
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
def _support(kind: type[BaseDomain], domain_json: str) -> np.ndarray:
    domain = kind.model_validate_json(domain_json)
    values = domain.grid()
    if domain.distribution == "power_of_two":
        values = values[is_power_of_two(values.astype(np.float64))]
    values.setflags(write=False)
    return values


class IntDomain(BaseDomain):
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


class FloatDomain(BaseDomain):
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


class ChoiceDomain(BaseDomain):
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
