"""Bad input becomes one line: `FILE: field.path: what was expected`.

Field paths read like the spec file (`stages[2].group_width`); `$` stands for
the whole document. The CLI prints the line and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from pydantic import ValidationError

ROOT = "$"
_MAX_SHOWN = 40


class SpecError(Exception):
    """Bad input: where it came from, which field, and what was expected."""

    def __init__(self, source: str, path: str, message: str) -> None:
        super().__init__(f"{source}: {path}: {message}")
        self.source, self.path, self.message = source, path, message


class FieldError(ValueError):
    """A validator's refusal that belongs to a field below where pydantic reports it.

    A model validator's errors land at the model itself (`$`); one that is about a field
    (a RegNet's se_ratio, found wrong only once the network is resolved) raises this with
    the field's location, and `first_error` reports it there.
    """

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc


def field_path(loc: tuple) -> str:
    """('stages', 2, 'width') -> 'stages[2].width'; () -> '$'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or ROOT


def shown(value: object) -> str:
    """An input value as JSON spells it, bounded, safe to print whatever the spec holds."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def json_type(value: object) -> str:
    """A parsed JSON value's type as JSON names it: null, true, false, a number, a string, an array
    or an object (never Python's NoneType, list or dict)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def named(text: object) -> str:
    """A name from the input in the place of a source (a run's id): as it is when printable, else shown."""
    return text if isinstance(text, str) and text.isprintable() else shown(text)


def _number(x: object) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


_COMPARISONS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_KINDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "bool_type": "true or false",
}
_TAGS = {"kind": "the kind of spec, 'regnet' or 'anynet'"}
"""What a tagged union's tag may be, by the tag's name, for the message when it is missing."""


def how_many(x: float) -> str:
    """A count as digits with commas, or in scientific notation past 10^15 (not 300 digits; an
    integer past a float's range too)."""
    return f"{x:,.0f}" if x < 1e15 else f"{Decimal(x):.3g}" if x > sys.float_info.max else f"{x:.3g}"


def expectation(error: dict, tags: dict[str, str] | None = None) -> str:
    """What was expected, in words, for one pydantic error (`tags`: as `_TAGS`, for more unions)."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in _COMPARISONS:
        bound = next(iter(ctx.values()))
        return f"expected a value {_COMPARISONS[kind]} {_number(bound)}, got {shown(value)}"
    if kind in _KINDS:
        return f"expected {_KINDS[kind]}, got {shown(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        return (
            "expected 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit, "
            f"got {shown(value)}"
        )
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {shown(value)}"
    if kind in ("too_short", "too_long"):
        word = "at least" if kind == "too_short" else "at most"
        bound = ctx.get("min_length", ctx.get("max_length"))
        return f"expected {word} {bound} item{'s' * (bound != 1)}, got {ctx.get('actual_length')}"
    if kind == "union_tag_invalid":  # ctx's tag is the value as text: "5" for 5; the input has it as given
        expected = ctx["expected_tags"].rsplit(", ", 1)
        tag = ctx["tag"]
        if isinstance(value, dict):
            tag = value.get(ctx["discriminator"].strip("'"), tag)
        return f"expected {' or '.join(expected)}, got {shown(tag)}"
    if kind == "union_tag_not_found":
        tag = ctx["discriminator"].strip("'")
        return f"required field is missing: {({**_TAGS, **(tags or {})}).get(tag, tag)}"
    if kind in ("string_too_short", "string_too_long"):
        word = "at least" if kind == "string_too_short" else "at most"
        bound = ctx.get("min_length", ctx.get("max_length"))
        return f"expected {word} {how_many(bound)} characters, got {how_many(len(value))}"
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"]


def first_error(
    exc: ValidationError, tag_at: int | None = None, tags: dict[str, str] | None = None
) -> tuple[str, str]:
    """(field path, expectation) of the first error pydantic found.

    `tag_at`: where the path holds the tag of a tagged union (pydantic puts it there, the
    file does not), dropped: ('regnet', 'depth') -> 'depth' with tag_at=0. An error in the
    tag itself is reported at the tag's field.
    """
    errors = exc.errors(include_url=False)
    error = errors[0]
    loc = tuple(error["loc"])
    if loc[-1:] == ("int",) and len(errors) > 1 and tuple(errors[1]["loc"]) == (*loc[:-1], "float"):
        # An `int | float` field: pydantic names the member it tried; neither took the value.
        loc, error = loc[:-1], {**error, "type": "float_type"}
    if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
        loc = (*loc, error["ctx"]["discriminator"].strip("'"))
    elif tag_at is not None and len(loc) > tag_at:
        loc = loc[:tag_at] + loc[tag_at + 1 :]
    if error["type"] == "value_error" and isinstance(error["ctx"]["error"], FieldError):
        loc = (*loc, *error["ctx"]["error"].loc)
    return field_path(loc), expectation(error, tags)
