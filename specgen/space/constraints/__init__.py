"""The registry of design-space constraints: one module, one class each.

A space file's `constraints` entries are validated against the union of the registered
classes (tagged by `name`); the order here is the order their masks are checked and reported
in. Adding a constraint is one module here and one line in `CONSTRAINTS`.
"""

import functools
import operator
from typing import Annotated

from pydantic import Field

from specgen.space.constraints.band import Band
from specgen.space.constraints.base import Counting, SpaceConstraint
from specgen.space.constraints.contiguous_levels import ContiguousLevels
from specgen.space.constraints.divisible import Divisible
from specgen.space.constraints.non_decreasing import NonDecreasing
from specgen.space.constraints.num_stages import NumStages
from specgen.space.constraints.quantized_linear import QuantizedLinear
from specgen.space.constraints.shared import Shared

CONSTRAINTS: tuple[type[SpaceConstraint], ...] = (
    NumStages,
    Shared,
    NonDecreasing,
    Divisible,
    QuantizedLinear,
    ContiguousLevels,
    Band,
)

Constraint = Annotated[functools.reduce(operator.or_, CONSTRAINTS), Field(discriminator="name")]
"""A constraint as a space file declares it: one of the registered classes, by its `name`."""

__all__ = ["CONSTRAINTS", "Band", "Constraint", "Counting", "SpaceConstraint"]
