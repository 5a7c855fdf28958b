"""One spec against a design space: accepted exactly when the space's constraints allow it.

The spec becomes a batch of one design and goes through the same masks the sampler filters
with; the first rule it fails gives the one-line error (the failing constraint words it).
"""

from __future__ import annotations

import numpy as np

from specgen.errors import SpecError
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.space.batch import Designs, number, rules
from specgen.space.schema import DesignSpace


def design_of(space: DesignSpace, spec: RegNetSpec | NetworkSpec, source: str) -> Designs:
    """A spec's free parameters as a batch of one, refusing a spec of the wrong form."""
    for field, expected in space.fixed_fields().items():
        if getattr(spec, field) != expected:
            form = "{:g}" if isinstance(expected, int | float) else "{}"
            raise SpecError(
                source,
                field,
                f"expected {form.format(expected)} as in the space, got {form.format(getattr(spec, field))}",
            )
    if space.resolver is not None:
        if not isinstance(spec, RegNetSpec):
            raise SpecError(source, "kind", f"expected a regnet spec for the RegNet space {space.name}")
        for field, expected in space.resolver.spec_fields().items():
            if getattr(spec, field) != expected:
                raise SpecError(
                    source, field, f"expected {expected} ({space.resolver.name}), got {getattr(spec, field)}"
                )
        return Designs({p: np.array([getattr(spec, p)]) for p in space.parameters})
    net = spec.resolve()
    if len(net.stages) != space.num_stages:
        raise SpecError(
            source, "stages", f"expected {space.num_stages} stages (num_stages), got {len(net.stages)}"
        )
    for i, (stage, stride) in enumerate(zip(net.stages, space.stage_strides(len(net.stages)), strict=True)):
        if stage.stride != stride:
            raise SpecError(
                source, f"stages[{i}].stride", f"expected {stride} as in the space, got {stage.stride}"
            )
    return Designs(
        {
            "depth": np.array([net.depths]),
            "width": np.array([net.widths]),
            "bottleneck_ratio": np.array([net.bottleneck_ratios]),
            "group_width": np.array([net.group_widths]),
        }
    )


def variant_of(space: DesignSpace, spec: RegNetSpec | NetworkSpec, source: str) -> DesignSpace:
    """The fixed space (`DesignSpace.variants`) a spec would come from: its stem and block types and,
    in an AnyNet space, its stage count; one SpecError line when the space has none of them."""
    if not space.mixed:
        return space
    for field, allowed in (("stem_type", space.stem_types), ("block_type", space.block_types)):
        if getattr(spec, field) not in allowed:
            raise SpecError(
                source,
                field,
                f"expected one of {', '.join(allowed)} as in the space, got {getattr(spec, field)}",
            )
    count = len(spec.resolve().stages) if space.family == "anynet" else space.num_stages
    if count not in space.stage_counts:
        counts = space.stage_counts
        raise SpecError(
            source, "stages", f"expected {counts[0]} to {counts[-1]} stages (num_stages), got {count}"
        )
    return next(
        v
        for v in space.variants()
        if (v.stem_type, v.block_type, v.num_stages) == (spec.stem_type, spec.block_type, count)
    )


def validate(space: DesignSpace, spec: RegNetSpec | NetworkSpec, source: str) -> None:
    """Accept a spec exactly when the space's constraints allow it; otherwise one SpecError line."""
    space = variant_of(space, spec, source)
    designs = design_of(space, spec, source)
    for rule in rules(space, designs):
        if rule.rows()[0]:
            continue
        if rule.constraint is not None:
            raise rule.constraint.explain(space, designs, rule, source)
        # Otherwise a domain: NetworkSpec's limits hold for any spec that loaded.
        values = designs.values[rule.field][0]
        what = "a value of the space's domain"
        if rule.mask.ndim == 1:
            raise SpecError(source, rule.field, f"expected {what}, got {number(values)}")
        stage = int(np.argmin(rule.mask[0]))
        raise SpecError(
            source, f"stages[{stage}].{rule.field}", f"expected {what}, got {number(values[stage])}"
        )
