"""NetworkSpec: the one concrete description of an AnyNet network.

Every other form (RegNet parameters, a sample from a design space) resolves
to a NetworkSpec; code generation, complexity and training read only this.
A NetworkSpec is valid only when the network can be built: each stage's
bottleneck width w/b is a whole number and its group width divides it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from specgen.errors import FieldError
from specgen.network import complexity, limits
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.blocks import DEFAULT as DEFAULT_BLOCK
from specgen.network.layers import ACTIVATIONS, se_width
from specgen.network.stems import DEFAULT as DEFAULT_STEM
from specgen.network.stems import STEM_TYPES

SignlessZero = AfterValidator(lambda x: 0.0 if x == 0 else x)
"""-0.0 becomes 0.0: the same network, so the same content hash (JSON keeps the sign of zero)."""

Name = Annotated[
    str,
    Field(
        pattern=limits.NAME_PATTERN,
        description="Letters, digits, '_', '-', '.'; names the emitted files and class.",
    ),
]


def whole_bottleneck_width(width: int, bottleneck_ratio: float) -> int | None:
    """w / b when it is a whole number of channels, else None."""
    exact = width / bottleneck_ratio
    nearest = round(exact)
    if nearest >= 1 and abs(exact - nearest) <= 1e-9 * exact:
        return nearest
    return None


StemName = Literal[tuple(STEM_TYPES)]  # type: ignore[valid-type]
BlockName = Literal[tuple(BLOCK_TYPES)]  # type: ignore[valid-type]
Shortcut = Literal["conv1x1", "avg"]
Activation = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
LEFT_OUT_DEFAULTS = {
    "stem_type": DEFAULT_STEM,
    "block_type": DEFAULT_BLOCK,
    "shortcut": "conv1x1",
    "linear_out": False,
    "preact": False,
    "activation": "relu",
}
"""The type and option fields, and what a spec that does not name them means: at these values
they are left out of dumps, so specs written before the fields existed hash as they did."""


def stem_type_field():
    return Field(default=DEFAULT_STEM, description="pycls's stem: " + ", ".join(STEM_TYPES) + ".")


def block_type_field():
    return Field(default=DEFAULT_BLOCK, description="pycls's block: " + ", ".join(BLOCK_TYPES) + ".")


def shortcut_field():
    return Field(
        default="conv1x1",
        description="Projection shortcut: conv1x1 (pycls) or avg (2x2 average pool, then 1x1 conv; timm).",
    )


def linear_out_field():
    return Field(
        default=False, description="No activation after a block's sum; one before the head (timm's)."
    )


def preact_field():
    return Field(default=False, description="Pre-activation blocks and a bare-conv stem (timm's RegNetV).")


def activation_field():
    return Field(
        default="relu", description="Every activation but SE's gate: relu or silu (timm's act_layer)."
    )


def without_default_types(data: dict) -> dict:
    """A dump without the type and option fields that hold their defaults: a spec that does not
    name them dumps, hashes and writes sample lines exactly as before the fields existed."""
    return {k: v for k, v in data.items() if k not in LEFT_OUT_DEFAULTS or LEFT_OUT_DEFAULTS[k] != v}


def with_ungrouped_defaults(data: object, stage_lists: tuple[str, ...]) -> object:
    """Raw spec input where a block type without groups gets group_width 1 wherever it is left
    out (it has no group conv to set, and 1 is the only value it takes)."""
    if (
        not isinstance(data, dict)
        or BLOCK_TYPES.get(data.get("block_type"), BLOCK_TYPES[DEFAULT_BLOCK]).grouped
    ):
        return data
    data = dict(data)
    if "group_width" in stage_lists and "group_width" not in data:
        data["group_width"] = 1
    if "stages" in stage_lists and isinstance(data.get("stages"), list):
        data["stages"] = [{"group_width": 1, **s} if isinstance(s, dict) else s for s in data["stages"]]
    return data


def check_block_fits(spec: object, groupings: list[tuple[tuple, float, int]]) -> None:
    """A FieldError where the spec's (or space's) block and stem types have no place for what it
    asks: SE, a shortcut option, pre-activation, a bottleneck ratio or a group width other than 1.
    `groupings`: (field location, b, g) of each stage. Fields `spec` lacks take their defaults."""
    block_type, stem_type, se_ratio, shortcut, linear_out, preact = (
        getattr(spec, name, LEFT_OUT_DEFAULTS.get(name, 0.0))
        for name in ("block_type", "stem_type", "se_ratio", "shortcut", "linear_out", "preact")
    )
    block = BLOCK_TYPES[block_type]
    if se_ratio > 0 and not block.se:
        raise FieldError(("se_ratio",), f"{block_type} has no place for SE; expected 0, got {se_ratio:g}")
    if not block.residual and shortcut != "conv1x1":
        raise FieldError(("shortcut",), f"{block_type} has no shortcut; expected conv1x1, got {shortcut}")
    if not block.residual and linear_out:
        raise FieldError(("linear_out",), f"{block_type} has no sum to leave linear; expected false")
    if preact and not block.preact:
        raise FieldError(("preact",), f"{block_type} has no pre-activation form; expected false")
    if preact and not STEM_TYPES[stem_type].preact:
        raise FieldError(("preact",), f"{stem_type} has no pre-activation form; expected false")
    if preact and linear_out:
        raise FieldError(("linear_out",), "pre-activation blocks end in their sum already; expected false")
    if block.grouped:
        return
    for loc, b, g in groupings:
        if b != 1:
            raise FieldError(
                (*loc, "bottleneck_ratio"), f"{block_type} has no bottleneck; expected 1, got {b:g}"
            )
        if g != 1:
            raise FieldError((*loc, "group_width"), f"{block_type} has no group conv; expected 1, got {g}")


MEASURED = "measured"
"""Validation-context key for the complexity a caller already counted at the spec's resolution."""


def block_input_widths(stem_width: int, stages: list[Stage]) -> list[int]:
    """The widths blocks take as input: the stem's, each earlier stage's, and a stage's own
    after its first block (so a last stage of depth 1 feeds only the head)."""
    return [stem_width] + [s.width for s in stages[:-1]] + [s.width for s in stages if s.depth > 1]


class Stage(BaseModel):
    """d blocks of width w; the first has the stage's stride."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    depth: int = Field(ge=1, le=limits.MAX_STAGE_DEPTH, description="Blocks in the stage (d).")
    width: int = Field(ge=1, le=limits.MAX_WIDTH, description="Output channels of every block (w).")
    stride: int = Field(default=2, ge=1, le=limits.MAX_STRIDE, description="Stride of the first block.")
    bottleneck_ratio: float = Field(
        default=1.0,
        ge=limits.MIN_BOTTLENECK_RATIO,
        le=limits.MAX_BOTTLENECK_RATIO,
        description="b: the bottleneck width is w / b.",
    )
    group_width: int = Field(
        ge=1, le=limits.MAX_GROUP_WIDTH, description="g: channels per group of the 3x3 conv."
    )

    @field_validator("bottleneck_ratio")
    @classmethod
    def _bottleneck_width_is_whole(cls, b: float, info: ValidationInfo) -> float:
        width = info.data.get("width")
        if width is not None and whole_bottleneck_width(width, b) is None:
            raise ValueError(f"width / bottleneck_ratio must be a whole number, got {width} / {b:g}")
        return b

    @field_validator("group_width")
    @classmethod
    def _group_width_divides(cls, g: int, info: ValidationInfo) -> int:
        width, b = info.data.get("width"), info.data.get("bottleneck_ratio")
        if width is None or b is None:
            return g
        w_b = whole_bottleneck_width(width, b)
        if w_b is not None and w_b % g:
            raise ValueError(f"must divide the bottleneck width {w_b}, got {g}")
        return g

    @property
    def bottleneck_width(self) -> int:
        return whole_bottleneck_width(self.width, self.bottleneck_ratio)  # type: ignore[return-value]

    @property
    def groups(self) -> int:
        return self.bottleneck_width // self.group_width


class NetworkSpec(BaseModel):
    """Stem, stages of X (or Y, with SE) blocks, and a linear head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["anynet"] = "anynet"
    name: Name
    stem_type: StemName = stem_type_field()
    block_type: BlockName = block_type_field()
    shortcut: Shortcut = shortcut_field()
    linear_out: bool = linear_out_field()
    preact: bool = preact_field()
    activation: Activation = activation_field()
    stem_width: int = Field(default=32, ge=1, le=limits.MAX_STEM_WIDTH)
    stages: list[Stage] = Field(min_length=1, max_length=limits.MAX_STAGES)
    se_ratio: Annotated[float, SignlessZero] = Field(
        default=0.0, ge=0.0, le=limits.MAX_SE_RATIO, description="0 for X blocks, 0.25 for RegNetY."
    )
    num_classes: int = Field(default=1000, ge=1, le=limits.MAX_CLASSES)
    in_channels: int = Field(default=3, ge=1, le=limits.MAX_IN_CHANNELS)
    resolution: int = Field(default=224, ge=1, le=limits.MAX_RESOLUTION)

    @model_validator(mode="before")
    @classmethod
    def _ungrouped_defaults(cls, data: object) -> object:
        return with_ungrouped_defaults(data, ("stages",))

    @field_validator("stages")
    @classmethod
    def _total_depth_bounded(cls, stages: list[Stage]) -> list[Stage]:
        total = sum(s.depth for s in stages)
        if total > limits.MAX_TOTAL_DEPTH:
            raise ValueError(f"total depth must be at most {limits.MAX_TOTAL_DEPTH}, got {total}")
        return stages

    @field_validator("se_ratio")
    @classmethod
    def _se_width_positive(cls, se_ratio: float, info: ValidationInfo) -> float:
        stages, stem = info.data.get("stages"), info.data.get("stem_width")
        if se_ratio == 0 or stages is None or stem is None:
            return se_ratio
        narrowest = min(block_input_widths(stem, stages))
        if se_width(narrowest, se_ratio) < 1:
            raise ValueError(
                f"gives an SE width of 0 for a block of input width {narrowest}; "
                "expected 0 or a ratio that keeps every SE width >= 1"
            )
        return se_ratio

    @model_validator(mode="after")
    def _block_fits(self) -> NetworkSpec:
        stages = [(("stages", i), s.bottleneck_ratio, s.group_width) for i, s in enumerate(self.stages)]
        check_block_fits(self, stages)
        return self

    @model_validator(mode="after")
    def _complexity_bounded(self, info: ValidationInfo) -> NetworkSpec:
        # The sampler hands over what count_batch measured (the same walk): counting again would
        # be most of the cost of a sample.
        cx = (info.context or {}).get(MEASURED) or complexity.count(self)
        if cx.params > limits.MAX_PARAMS or cx.flops > limits.MAX_FLOPS:
            raise ValueError(
                f"network too large: {cx.params:,} params and {cx.flops:,} flops; "
                f"expected at most {limits.MAX_PARAMS:,} params and {limits.MAX_FLOPS:,} flops"
            )
        return self

    @property
    def depths(self) -> list[int]:
        return [s.depth for s in self.stages]

    @property
    def widths(self) -> list[int]:
        return [s.width for s in self.stages]

    @property
    def group_widths(self) -> list[int]:
        return [s.group_width for s in self.stages]

    @property
    def bottleneck_ratios(self) -> list[float]:
        return [s.bottleneck_ratio for s in self.stages]

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        return without_default_types(handler(self))

    def resolve(self) -> NetworkSpec:
        """A NetworkSpec is already concrete."""
        return self

    def content_hash(self) -> str:
        """SHA-256 of the network's structure (every field but `name`), as hex.

        Two specs with the same hash build the same network; sweeps use it to
        skip what is done. Type fields at their defaults are left out of the dump.
        """
        body = self.model_dump(mode="json", exclude={"name"})
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
