"""CSV cells a spreadsheet reads as values, never as formulas (OWASP's "CSV injection").

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some also
after a tab or carriage return) as a formula. Such text gets a leading single
quote, the mark spreadsheets themselves use for "text, as it is"; text that
already starts with a quote gets one too, so that `restore` (dropping one
leading quote) gives every text back exactly. Finite numbers are written as
they are: `-0.5` is a number to a spreadsheet, not a formula, and stays
numeric there. NaN and infinities are written as text (`'-inf`).
"""

from __future__ import annotations

import math

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralize(value: object) -> object:
    """A value as its CSV cell: a finite number or None as it is, any other value as safe text."""
    if value is None or isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    text = str(value)
    return QUOTE + text if text.startswith((*FORMULA_STARTS, QUOTE)) else text


def restore(cell: str) -> str:
    """The text a cell stands for: `neutralize` undone (one leading quote dropped)."""
    return cell.removeprefix(QUOTE)
