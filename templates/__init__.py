"""The Jinja templates of the emitted files, importable as the package `specgen.templates`
(pyproject.toml maps it here) so that a checkout, an editable install and a wheel find them
the same way."""
