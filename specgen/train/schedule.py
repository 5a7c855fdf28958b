"""The paper's short schedule (docs/reference.md §5): SGD with momentum, half-period cosine, no warm-up."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

REFERENCE_BATCH = 128
Hyperparameter = Literal["lr", "weight_decay", "epochs"]
"""The schedule's fields a design space may draw per sample (pycls's cifar_optim sweep draws lr and wd)."""
HYPERPARAMETER_LIMITS = {"lr": (0, 100), "weight_decay": (0, 1), "epochs": (1, 10_000)}
"""The values each may take, from the command line or a space: lr in (0, 100], the others closed."""


@dataclass(frozen=True)
class Schedule:
    """Ten epochs from lr 0.05 at batch 128; the lr scales linearly with the batch size."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-5

    @property
    def base_lr(self) -> float:
        return self.lr * self.batch_size / REFERENCE_BATCH

    def lr_at(self, step: int, total_steps: int) -> float:
        """Half-period cosine from the base lr towards 0, evaluated at every step."""
        return 0.5 * self.base_lr * (1.0 + math.cos(math.pi * step / total_steps))

    def with_hyperparameters(self, drawn: dict) -> Schedule:
        """This schedule with a sample's own hyperparameters in place of the sweep's."""
        return replace(self, **drawn)

    def to_json(self) -> dict:
        return asdict(self)
