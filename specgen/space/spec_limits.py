"""NetworkSpec's own limits, as rules on a batch: every sample becomes a NetworkSpec, so the sampler
refuses exactly what NetworkSpec would.

The per-stage bounds are read from NetworkSpec's schema (`Stage`'s fields), the rest are the
constants and the SE-width rule its validators use, so a limit changed there changes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from specgen.network import limits
from specgen.network.layers import se_width
from specgen.network.spec import Stage

if TYPE_CHECKING:
    from specgen.space.batch import Stages
    from specgen.space.schema import DesignSpace


def _upper(field: str) -> int:
    """The `le` bound NetworkSpec's Stage declares for one field."""
    return next(m.le for m in Stage.model_fields[field].metadata if getattr(m, "le", None) is not None)


MAX_STAGE_DEPTH = _upper("depth")
MAX_WIDTH = _upper("width")


def within_limits(space: DesignSpace, stages: Stages) -> np.ndarray:
    """(N,): NetworkSpec's structural limits hold (stage depth and width, total depth, SE width >= 1).

    The params and flops limits depend on the resolution and are bands (`Band.limits`).
    """
    present = stages.depths > 0
    fits = (stages.depths <= MAX_STAGE_DEPTH) & (stages.widths <= MAX_WIDTH)
    ok = (fits | ~present).all(axis=1)
    ok &= stages.depths.sum(axis=1) <= limits.MAX_TOTAL_DEPTH
    if space.se_ratio > 0:
        # A stage's width is a block's input width unless it is the last stage and has one block
        # (`spec.block_input_widths`).
        last = present & ~np.concatenate([present[:, 1:], np.zeros((len(present), 1), bool)], axis=1)
        feeds = present & (~last | (stages.depths > 1))
        se_ok = np.rint(stages.widths * space.se_ratio) >= 1  # se_width's round, over arrays
        ok &= (se_ok | ~feeds).all(axis=1) & (se_width(space.stem_width, space.se_ratio) >= 1)
    return ok
