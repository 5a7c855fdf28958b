"""Spec files: JSON with a `kind` that selects RegNetSpec or NetworkSpec.

A spec is untrusted input: the file is size-capped, duplicate keys and
non-finite numbers (NaN, Infinity, literals such as 1e400 that overflow) are
refused, and validation is strict (no "12" for 12).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from specgen.errors import ROOT, SpecError, first_error, json_type
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec

MAX_SPEC_BYTES = 1 << 20

AnySpec = Annotated[RegNetSpec | NetworkSpec, Field(discriminator="kind")]
_ADAPTER = TypeAdapter(AnySpec)


def refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """json's object_pairs_hook: a key given twice would silently keep only its last value."""
    out = dict(pairs)  # the common case at C speed: analysis parses hundreds of thousands of objects
    if len(out) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise ValueError(f"key {twice!r} appears twice in one object")
    return out


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > sys.get_int_max_str_digits():  # int() would refuse it, with advice meant for programmers
        raise ValueError(f"a number of {digits:,} digits is too long")
    return int(text)


def parse_json(text: str, source: str) -> object:
    """JSON text to Python data, or one SpecError line."""
    try:
        return json.loads(
            text,
            object_pairs_hook=refuse_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except json.JSONDecodeError as e:
        raise SpecError(source, ROOT, f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise SpecError(source, ROOT, f"invalid JSON: {e}") from None


def validate_spec(data: object, source: str) -> RegNetSpec | NetworkSpec:
    """Python data to a spec model, or one SpecError line."""
    if not isinstance(data, dict):
        raise SpecError(source, ROOT, f"expected a JSON object, got {json_type(data)}")
    try:
        return _ADAPTER.validate_python(data, strict=True)
    except ValidationError as e:
        path, message = first_error(e, tag_at=0)
        raise SpecError(source, path, message) from None


def read_bytes(path: str | Path, limit: int = MAX_SPEC_BYTES) -> bytes:
    """A file's bytes, refusing what is missing, unreadable or oversized."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SpecError(source, ROOT, "expected a file, got a directory or device")
        if size > limit:
            raise SpecError(source, ROOT, f"expected at most {limit:,} bytes, got {size:,}")
        return path.read_bytes()
    except FileNotFoundError:
        raise SpecError(source, ROOT, "file not found") from None
    except OSError as e:
        raise SpecError(source, ROOT, f"cannot read: {e.strerror}") from None


def decode_text(data: bytes, source: str) -> str:
    """A file's bytes as text, as open() reads it: UTF-8, and every line ending ('\\r\\n', '\\r') as '\\n'."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(source, ROOT, "expected UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: str | Path, limit: int = MAX_SPEC_BYTES) -> str:
    """A spec file's text, refusing what is missing, unreadable, oversized or not UTF-8."""
    return decode_text(read_bytes(path, limit), str(path))


def load_spec(path: str | Path) -> RegNetSpec | NetworkSpec:
    """Read, parse and validate one spec file."""
    return validate_spec(parse_json(read_text(path), str(path)), str(path))


def spec_json_schema() -> dict:
    """JSON Schema of spec files, for editors.

    `kind` is required there, as `validate` requires it in a file; only the Python models
    default it (RegNetSpec(...) needs no kind="regnet").
    """
    schema = _ADAPTER.json_schema()
    for model in schema["$defs"].values():
        kind = model.get("properties", {}).get("kind")
        if kind is not None:
            del kind["default"]
            model["required"] = ["kind", *model["required"]]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "specgen spec file"
    return schema


def dump_spec(spec: RegNetSpec | NetworkSpec) -> str:
    """Canonical JSON of a spec (round-trips through load_spec)."""
    return json.dumps(spec.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"
