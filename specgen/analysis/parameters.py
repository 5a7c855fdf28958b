"""The design parameters plotted against error: total depth, width per stage,
bottleneck ratio b, group width g, the RegNet w0, wa, wm (when the space has
them) and flops. b and g are one column when every network shares one value
across its stages, and one column per stage otherwise (AnyNetX_A). A value the
design drew (a RegNet's one group width) is preferred to the spec's per-stage
values, which the compatibility rule may have changed.
"""

from __future__ import annotations

import numpy as np

from specgen.analysis.results import Result

REGNET = ("w0", "wa", "wm")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _per_stage(results: list[Result], name: str, values) -> dict[str, list[float]]:
    stages = max(len(r.net.stages) for r in results)
    return {
        f"{name}{i + 1}": [values(r)[i] if i < len(r.net.stages) else np.nan for r in results]
        for i in range(stages)
    }


def _shared_or_per_stage(results: list[Result], name: str, attribute: str) -> dict[str, list[float]]:
    def values(r: Result) -> list[float]:
        # A RegNet design draws one value for all stages; its spec may show it changed by compatibility.
        drawn = r.design.get(attribute)
        if _number(drawn):
            return [float(drawn)] * len(r.net.stages)
        return [float(getattr(s, attribute)) for s in r.net.stages]

    if all(len(set(values(r))) == 1 for r in results):
        return {name: [values(r)[0] for r in results]}
    return _per_stage(results, name, values)


def parameter_columns(results: list[Result]) -> dict[str, np.ndarray]:
    """Parameter name -> one value per result (NaN where a result lacks it), in plotting order."""
    columns: dict[str, list[float]] = {"depth": [float(sum(r.net.depths)) for r in results]}
    columns |= _per_stage(results, "w", lambda r: [float(w) for w in r.net.widths])
    columns |= _shared_or_per_stage(results, "b", "bottleneck_ratio")
    columns |= _shared_or_per_stage(results, "g", "group_width")
    for name in REGNET:
        values = [r.design.get(name) for r in results]
        if any(_number(v) for v in values):
            columns[name] = [float(v) if _number(v) else np.nan for v in values]
    columns["flops"] = [float(r.flops) for r in results]
    return {name: np.asarray(v, dtype=np.float64) for name, v in columns.items()}
