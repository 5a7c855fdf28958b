"""The Jinja environment over `templates/`, found through the package `specgen.templates`.

pyproject.toml maps the top-level `templates/` to that package, so a checkout's editable
install and a wheel find the same files the same way.
"""

from __future__ import annotations

from functools import cache

import jinja2

PACKAGE = "specgen.templates"


@cache
def environment() -> jinja2.Environment:
    """Strict and deterministic: undefined names fail, no autoescape (the output is code)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
