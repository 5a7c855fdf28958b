"""The `specgen` command line. It calls the library; the library never imports it.

Commands that need no tensors (validate, describe, schema) never import torch.
"""

from __future__ import annotations

import json
import sys

import click

from specgen.errors import SpecError


class _Group(click.Group):
    """Bad input becomes one line on stderr and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpecError as e:
            click.echo(str(e), err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="specgen")
def main() -> None:
    """Design spaces of convolutional networks, written as data, turned into code."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
def validate(files: tuple[str, ...]) -> None:
    """Check spec files; exit 0 when all are valid, 2 otherwise."""
    from specgen import complexity
    from specgen.fmt import flops_human
    from specgen.specfile import load_spec

    failed = 0
    for path in files:
        try:
            spec = load_spec(path)
        except SpecError as e:
            click.echo(str(e), err=True)
            failed += 1
            continue
        net = spec.resolve()
        cx = complexity.count(net)
        click.echo(f"{path}: ok ({spec.kind}, {len(net.stages)} stages, {flops_human(cx.flops)})")
    if failed:
        sys.exit(2)


@main.command()
@click.argument("file", type=click.Path(dir_okay=True))
@click.option("--resolution", type=click.IntRange(1, 2048), help="Count at this input size.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def describe(file: str, resolution: int | None, as_json: bool) -> None:
    """Show the resolved stages of a spec and its flops, params and activations."""
    from specgen import describe as description
    from specgen.specfile import load_spec

    spec = load_spec(file)
    if as_json:
        click.echo(json.dumps(description.summary(spec, resolution), indent=2))
    else:
        click.echo(description.render(spec, resolution))


@main.command()
def schema() -> None:
    """Print the JSON Schema of spec files."""
    from specgen.specfile import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2))
