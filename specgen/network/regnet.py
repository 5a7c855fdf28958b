"""RegNet: quantized linear widths (docs/reference.md §2), resolved to a NetworkSpec.

u_j = w0 + wa·j is quantized to w0·wm^round(log(u_j/w0)/log wm), snapped to
a multiple of q; the distinct widths are the stages. Then each stage's width
and group width are made compatible, by pycls's rule (the paper's reference)
or torchvision's (whose regnet_x_400mf, regnet_y_800mf, regnet_y_8gf differ).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from specgen.errors import ROOT, FieldError, first_error
from specgen.network import limits
from specgen.network.spec import (
    Activation,
    BlockName,
    Name,
    NetworkSpec,
    Shortcut,
    SignlessZero,
    Stage,
    StemName,
    activation_field,
    block_type_field,
    check_block_fits,
    linear_out_field,
    preact_field,
    shortcut_field,
    stem_type_field,
    with_ungrouped_defaults,
    without_default_types,
)

Rounding = Literal["pycls", "torchvision"]


def block_widths(depth: int, w0: float, wa: float, wm: float, q: int = 8) -> np.ndarray:
    """Per-block widths of the quantized linear rule (NumPy's half-to-even rounding)."""
    u = np.arange(depth) * wa + w0
    s = np.round(np.log(u / w0) / np.log(wm))
    return (np.round(w0 * np.power(wm, s) / q) * q).astype(np.int64)


def stages_from_blocks(widths: np.ndarray) -> tuple[list[int], list[int]]:
    """Distinct block widths in increasing order, and how many blocks have each."""
    values, counts = np.unique(widths, return_counts=True)
    return values.tolist(), counts.tolist()


def bottleneck_multiplier(bottleneck_ratio: float) -> float:
    """pycls's bottleneck multiplier m = 1/b (the paper's b is a ratio)."""
    return 1.0 / bottleneck_ratio


def pycls_compatible(width: int, bottleneck_ratio: float, group_width: int) -> tuple[int, int]:
    """Snap a stage's bottleneck width to a multiple of its group width (pycls).

    Python's round (halves to even): RegNetX-400MF's 24, 152, 392 → 32, 160, 384.
    """
    m = bottleneck_multiplier(bottleneck_ratio)
    v = int(max(1, width * m))
    g = int(min(group_width, v))
    step = math.lcm(g, round(m)) if m > 1 else g
    v = max(step, int(round(v / step) * step))
    return int(v / m), g


def torchvision_compatible(width: int, bottleneck_ratio: float, group_width: int) -> tuple[int, int]:
    """torchvision's variant: round half up, and never shrink below 90%."""
    m = bottleneck_multiplier(bottleneck_ratio)
    v = int(width * m)
    if v < 1:  # torchvision would divide by a group width of 0 here
        raise ValueError(
            f"a bottleneck width of int({width} / {bottleneck_ratio:g}) = 0 under torchvision rounding"
        )
    g = min(group_width, v)
    snapped = max(g, int(v + g / 2) // g * g)
    if snapped < 0.9 * v:
        snapped += g
    return int(snapped / m), g


COMPATIBILITY = {"pycls": pycls_compatible, "torchvision": torchvision_compatible}


def block_levels_batch(depth, w0, wa, wm) -> tuple[np.ndarray, np.ndarray]:
    """Per-block levels s_j = round(log(u_j / w0) / log wm) of N networks (N, max depth; floats),
    and the mask of real blocks."""
    depth = np.asarray(depth, dtype=np.int64)
    w0 = np.asarray(w0, dtype=np.int64)[:, None]
    wa = np.asarray(wa, dtype=np.float64)[:, None]
    wm = np.asarray(wm, dtype=np.float64)[:, None]
    j = np.arange(int(depth.max(initial=1)))
    u = j * wa + w0
    return np.round(np.log(u / w0) / np.log(wm)), j < depth[:, None]


def level_widths_batch(w0, wm, levels: np.ndarray, q: int = 8) -> np.ndarray:
    """Widths w0 * wm^s snapped to a multiple of q, for (N, D) levels."""
    w0 = np.asarray(w0, dtype=np.int64)[:, None]
    wm = np.asarray(wm, dtype=np.float64)[:, None]
    return (np.round(w0 * np.power(wm, levels) / q) * q).astype(np.int64)


def block_widths_batch(depth, w0, wa, wm, q: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """`block_widths` for N networks at once: (N, max depth) widths and the mask of real blocks.

    The same elementwise operations as the scalar rule, so the widths agree bit for bit.
    """
    levels, mask = block_levels_batch(depth, w0, wa, wm)
    return level_widths_batch(w0, wm, levels, q), mask


def stages_from_blocks_batch(widths: np.ndarray, mask: np.ndarray, max_stages: int):
    """Stage widths and depths (N, max_stages; depth 0 = absent) and each network's stage count.

    Block widths never decrease along a network, so a stage starts wherever the width changes.
    """
    change = (widths[:, 1:] != widths[:, :-1]) & mask[:, 1:]
    stage = np.concatenate([np.zeros((len(widths), 1), np.int64), np.cumsum(change, axis=1)], axis=1)
    count = 1 + change.sum(axis=1)
    depths = np.zeros((len(widths), max_stages), np.int64)
    stage_widths = np.zeros((len(widths), max_stages), np.int64)
    for k in range(max_stages):
        here = (stage == k) & mask
        depths[:, k] = here.sum(axis=1)
        stage_widths[:, k] = np.where(here, widths, 0).max(axis=1, initial=0)
    return stage_widths, depths, count


def pycls_compatible_batch(width, bottleneck_ratio, group_width) -> tuple[np.ndarray, np.ndarray]:
    """`pycls_compatible` elementwise over arrays (same operations, same results)."""
    m = 1.0 / np.asarray(bottleneck_ratio, dtype=np.float64)
    v = np.maximum(1, np.asarray(width) * m).astype(np.int64)
    g = np.minimum(np.asarray(group_width, dtype=np.int64), v)
    step = np.where(m > 1, np.lcm(g, np.rint(m).astype(np.int64)), g)
    v = np.maximum(step, (np.rint(v / step) * step).astype(np.int64))
    return (v / m).astype(np.int64), g


def torchvision_compatible_batch(width, bottleneck_ratio, group_width) -> tuple[np.ndarray, np.ndarray]:
    """`torchvision_compatible` elementwise over arrays.

    Where the scalar form refuses (w / b rounds down to 0) this gives width 0 and group width 0,
    which no stage is built with (the `divisible` and `quantized_linear` constraints reject it).
    """
    m = 1.0 / np.asarray(bottleneck_ratio, dtype=np.float64)
    v = (np.asarray(width) * m).astype(np.int64)
    g = np.minimum(np.asarray(group_width, dtype=np.int64), v)
    snapped = np.maximum(g, (v + g / 2).astype(np.int64) // np.maximum(g, 1) * g)
    snapped = snapped + g * (snapped < 0.9 * v)
    return (snapped / m).astype(np.int64), g


COMPATIBILITY_BATCH = {"pycls": pycls_compatible_batch, "torchvision": torchvision_compatible_batch}


class RegNetSpec(BaseModel):
    """The six RegNet parameters (d, w0, wa, wm, g, b), SE ratio, and the head/input fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["regnet"] = "regnet"
    name: Name
    q: int = Field(default=8, ge=1, le=limits.MAX_Q, description="Width quantum.")
    depth: int = Field(ge=1, le=limits.MAX_TOTAL_DEPTH, description="d: total number of blocks.")
    w0: int = Field(gt=0, le=limits.MAX_W0, description="Initial width, a multiple of q.")
    wa: Annotated[float, SignlessZero] = Field(
        ge=0, le=limits.MAX_WA, description="Slope of the linear widths."
    )
    wm: float = Field(gt=1, le=limits.MAX_WM, description="Width multiplier between stages.")
    group_width: int = Field(ge=1, le=limits.MAX_GROUP_WIDTH)
    bottleneck_ratio: float = Field(
        default=1.0, ge=limits.MIN_BOTTLENECK_RATIO, le=limits.MAX_BOTTLENECK_RATIO
    )
    se_ratio: Annotated[float, SignlessZero] = Field(default=0.0, ge=0.0, le=limits.MAX_SE_RATIO)
    rounding: Rounding = Field(
        default="pycls", description="Width/group compatibility rule: pycls (the paper) or torchvision."
    )
    stem_type: StemName = stem_type_field()
    block_type: BlockName = block_type_field()
    shortcut: Shortcut = shortcut_field()
    linear_out: bool = linear_out_field()
    preact: bool = preact_field()
    activation: Activation = activation_field()
    stem_width: int = Field(default=32, ge=1, le=limits.MAX_STEM_WIDTH)
    num_classes: int = Field(default=1000, ge=1, le=limits.MAX_CLASSES)
    in_channels: int = Field(default=3, ge=1, le=limits.MAX_IN_CHANNELS)
    resolution: int = Field(default=224, ge=1, le=limits.MAX_RESOLUTION)

    @model_validator(mode="before")
    @classmethod
    def _ungrouped_defaults(cls, data: object) -> object:
        return with_ungrouped_defaults(data, ("group_width",))

    @field_validator("w0")
    @classmethod
    def _w0_on_grid(cls, w0: int, info: ValidationInfo) -> int:
        q = info.data.get("q")
        if q is not None and w0 % q:
            raise ValueError(f"must be a multiple of q = {q}, got {w0}")
        return w0

    @field_validator("bottleneck_ratio")
    @classmethod
    def _multiplier_whole_when_inverted(cls, b: float) -> float:
        m = bottleneck_multiplier(b)
        if m > 1 and abs(m - round(m)) > 1e-9:
            raise ValueError(f"below 1 must be 1/k for a whole k (an inverted bottleneck), got {b:g}")
        return b

    @model_validator(mode="after")
    def _resolves(self) -> RegNetSpec:
        stage = ((), self.bottleneck_ratio, self.group_width)
        check_block_fits(self, [stage])
        self.resolve()
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        return without_default_types(handler(self))

    def stage_widths_and_depths(self) -> tuple[list[int], list[int]]:
        """Stages of the quantized linear rule, before the compatibility step."""
        return stages_from_blocks(block_widths(self.depth, self.w0, self.wa, self.wm, self.q))

    def resolve(self) -> NetworkSpec:
        """The concrete network, by docs/reference.md §2 with this spec's rounding."""
        widths, depths = self.stage_widths_and_depths()
        if len(widths) > limits.MAX_STAGES:
            raise ValueError(
                f"resolves to {len(widths)} stages; expected at most {limits.MAX_STAGES} "
                "(lower wa or raise wm)"
            )
        compatible = COMPATIBILITY[self.rounding]
        stages = []
        for i, (w, d) in enumerate(zip(widths, depths, strict=True)):
            try:
                w, g = compatible(w, self.bottleneck_ratio, self.group_width)
            except ValueError as e:
                raise FieldError(
                    ("bottleneck_ratio",),
                    f"stages[{i}] of width {w} gets {e}; expected a ratio that keeps every "
                    "bottleneck width >= 1",
                ) from None
            try:
                stage = Stage(
                    depth=d, width=w, stride=2, bottleneck_ratio=self.bottleneck_ratio, group_width=g
                )
            except ValidationError as e:
                raise _resolve_error(e, f"stages[{i}].") from None
            stages.append(stage)
        try:
            return NetworkSpec(
                name=self.name,
                stem_type=self.stem_type,
                block_type=self.block_type,
                shortcut=self.shortcut,
                linear_out=self.linear_out,
                preact=self.preact,
                activation=self.activation,
                stem_width=self.stem_width,
                stages=stages,
                se_ratio=self.se_ratio,
                num_classes=self.num_classes,
                in_channels=self.in_channels,
                resolution=self.resolution,
            )
        except ValidationError as e:
            raise _resolve_error(e) from None


def _resolve_error(e: ValidationError, prefix: str = "") -> ValueError:
    """The resolved network's first error, at the RegNet field it comes from (se_ratio) when there
    is one, else at the spec as a whole, naming the network's field (stages[2].depth) if any."""
    path, message = first_error(e)
    if not prefix and path in RegNetSpec.model_fields:
        return FieldError((path,), message)
    if not prefix and path == ROOT:  # the network as a whole (too large): this spec as a whole
        return ValueError(message)
    return ValueError(f"resolves to a network whose {prefix}{path} is invalid: {message}")
