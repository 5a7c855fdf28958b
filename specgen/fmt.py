"""Numbers and tables for people: thousands separators, MF/GF, aligned columns."""

from __future__ import annotations

from collections.abc import Sequence


def flops_human(flops: int) -> str:
    return f"{flops / 1e9:.2f} GF" if flops >= 1e9 else f"{flops / 1e6:.1f} MF"


def percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals: 0.0194 -> '1.94%'."""
    return f"{100 * fraction:.2f}%"


def count_human(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} K"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None
) -> str:
    """Plain aligned columns; numbers right-aligned unless told otherwise."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if right is None:
        right = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
