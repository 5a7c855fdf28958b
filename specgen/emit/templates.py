"""The Jinja environment over `templates/`, found from a checkout or an installed wheel.

A wheel carries the top-level `templates/` as the package `specgen.templates`
(see pyproject.toml); a checkout or editable install reads it in place.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

_PACKAGE = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("specgen's templates/ folder is missing from this installation")


@cache
def environment() -> jinja2.Environment:
    """Strict and deterministic: undefined names fail, no autoescape (the output is code)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
