"""The `specgen` command line. It calls the library; the library never imports it.

Commands that need no tensors (validate, describe, schema, sample, spaces, analyze, and
emit --format py) never import torch: each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
import math
import sys
from typing import NoReturn

import click

from specgen.errors import SpecError


class _Group(click.Group):
    """Bad input, in a file or on the command line, becomes one line on stderr and exit status 2."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:
            _usage_error(e)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpecError as e:
            click.echo(str(e), err=True)
            sys.exit(2)
        except click.UsageError as e:
            _usage_error(e)


def _usage_error(e: click.UsageError) -> NoReturn:
    """click's usage errors without the usage block: the command, what was wrong, where help is."""
    if isinstance(e, click.exceptions.NoArgsIsHelpError):  # a bare group: its help, as click shows it
        e.show()
        sys.exit(e.exit_code)
    command = e.ctx.command_path if e.ctx else "specgen"
    click.echo(f"{command}: {e.format_message()} (see '{command} --help')", err=True)
    sys.exit(2)


class FiniteFloat(click.FloatRange):
    """The type of every float option: a range that also refuses nan and infinities.

    click's float takes 'nan' and 'inf', and a NaN passes every range check; a run that
    stored one would print non-JSON and could never be resumed.
    """

    def convert(self, value, param, ctx) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


BATCH_SIZE_OPTION = click.option(
    "--batch-size",
    type=click.IntRange(2, 1 << 16),
    default=128,
    show_default=True,
    help="At least 2: BatchNorm cannot train on one value per channel.",
)
PRECISION_OPTION = click.option(
    "--precision",
    default="auto",
    show_default=True,
    help="auto, bf16 or fp32 for training; auto: bf16 on a GPU with native bf16, else fp32. Tests: fp32.",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="specgen")
def main() -> None:
    """Design spaces of convolutional networks, written as data, turned into code."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
def validate(files: tuple[str, ...]) -> None:
    """Check spec files; exit 0 when all are valid, 2 otherwise."""
    from specgen.fmt import flops_human
    from specgen.network import complexity
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
        click.echo(json.dumps(description.summary(spec, resolution), indent=2, allow_nan=False))
    else:
        click.echo(description.render(spec, resolution))


@main.command()
def schema() -> None:
    """Print the JSON Schema of spec files."""
    from specgen.specfile import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, allow_nan=False))


def _bands(flops: str | None, params: str | None, acts: str | None, resolution: int | None) -> list:
    """--flops/--params/--acts LO:HI (K, M, G suffixes) as complexity bands."""
    from specgen.space.constraints.band import parse_band

    given = (("flops", flops), ("params", params), ("acts", acts))
    return [parse_band(text, name, resolution) for name, text in given if text is not None]


def _check_output(output: str) -> None:
    """Refuse an output file whose folder is missing before any work is done."""
    from pathlib import Path

    from specgen.errors import ROOT

    if not Path(output).resolve().parent.is_dir():
        raise SpecError(output, ROOT, "expected a file in an existing folder")


def _write_output(output: str, data: str | bytes) -> None:
    """Write a command's output file atomically; a file system refusal is one line, not a traceback."""
    from specgen.atomic import write_atomic
    from specgen.errors import ROOT

    try:
        write_atomic(output, data)
    except OSError as e:
        raise SpecError(output, ROOT, f"cannot write: {e.strerror}") from None


_BAND_HELP = "Keep only {} in LO:HI, e.g. 360M:400M (K, M, G suffixes; either end may be empty)."


@main.command()
@click.argument("space")
@click.option(
    "--n", "n", default=500, show_default=True, type=click.IntRange(1, 100_000), help="Samples to draw."
)
@click.option("--flops", help=_BAND_HELP.format("flops (multiply-adds)"))
@click.option("--params", help=_BAND_HELP.format("parameters"))
@click.option("--acts", help=_BAND_HELP.format("activations"))
@click.option("--resolution", type=click.IntRange(1, 2048), help="Count bands at this input size.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write JSONL here (default: stdout).")
@click.option("--unique", is_flag=True, help="Skip networks already drawn (same content hash).")
def sample(space, n, flops, params, acts, resolution, seed, output, unique) -> None:
    """Draw N networks from a design space (a built-in name or a JSON file), one JSON line each."""
    from specgen.space.builtins import load_space
    from specgen.space.sampler import samples

    if output is not None:
        _check_output(output)
    design_space = load_space(space)
    bands = {b.name: (b.min, b.max) for b in _bands(flops, params, acts, resolution)}
    # Each sample becomes its line at once: the lines, not 100,000 spec objects, are held.
    drawn = samples(design_space, n, seed=seed, resolution=resolution, unique=unique, **bands)
    text = "".join([json.dumps(s.to_json(), allow_nan=False) + "\n" for s in drawn])
    if output is None:
        click.echo(text, nl=False)
        return
    _write_output(output, text)
    click.echo(f"wrote {n} samples of {design_space.name} to {output}", err=True)


@main.command()
@click.argument("names", nargs=-1)
@click.option("--flops", help="Estimate the share of each space in this band, LO:HI (K, M, G suffixes).")
@click.option("--params", help="As --flops, for parameters.")
@click.option("--acts", help="As --flops, for activations.")
@click.option("--resolution", type=click.IntRange(1, 2048), help="Count bands at this input size.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def spaces(names, flops, params, acts, resolution, as_json) -> None:
    """List design spaces (the built-in ones, or NAMES/files) with their degrees of freedom and sizes.

    Sizes: the paper's nominal figure, the exact number of configurations that satisfy
    the constraints, and with a band the estimated share inside it (95% CI).
    """
    from specgen.space import sizes
    from specgen.space.builtins import builtin_spaces, load_space

    bands = _bands(flops, params, acts, resolution)
    summaries = [sizes.summary(load_space(name), bands, name) for name in names or builtin_spaces()]
    click.echo(json.dumps(summaries, indent=2, allow_nan=False) if as_json else sizes.render(summaries))


@main.command("scale")
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=True))
@click.option("--factor", type=FiniteFloat(0, 1e6, min_open=True), help="Flops factor s.")
@click.option("--to-flops", help="Target flops (K, M, G suffixes), instead of --factor: the nearest factor.")
@click.option(
    "--strategy",
    default="d1_w8_g8_r1",
    show_default=True,
    help="Weights of depth, width, groups and resolution (d1_w8_g8_r1: the paper's fast compound), "
    "or letters (dwr, dw, w, ...: weight 1 each).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the spec here (default: stdout)."
)
def scale_command(spec_file, factor, to_flops, strategy, output) -> None:
    """Scale a network by a flops factor (Dollár et al., Fast and Accurate Model Scaling) to an anynet spec.

    Prints the old and new resolution, flops, params and acts, and how far the flops factor achieved
    is from the one asked for (on stderr when the spec goes to stdout).
    """
    from specgen import scale
    from specgen.errors import ROOT
    from specgen.space.constraints.band import parse_count
    from specgen.specfile import dump_spec, load_spec

    if (factor is None) == (to_flops is None):
        raise click.UsageError("expected one of --factor and --to-flops")
    try:
        how = scale.parse_strategy(strategy)
    except ValueError as e:
        raise SpecError("--strategy", ROOT, str(e)) from None
    target = None
    if to_flops is not None:
        try:
            target = parse_count(to_flops)
        except ValueError:
            target = 0.0
        if not target >= 1:
            raise SpecError(
                "--to-flops",
                ROOT,
                f"expected a count >= 1 with an optional K, M or G suffix, got {to_flops!r}",
            )
    if output is not None:
        _check_output(output)
    spec = load_spec(spec_file)
    try:
        s = factor if target is None else scale.factor_for_flops(spec, target, how)
        scaled = scale.scale(spec, s, how, scale.scaled_name(spec.name, s))
    except ValueError as e:
        raise SpecError(spec_file, ROOT, str(e)) from None
    report = scale.render(spec.resolve(), scaled, s, how, target)
    if output is None:
        click.echo(report, err=True)
        click.echo(dump_spec(scaled), nl=False)
        return
    _write_output(output, dump_spec(scaled))
    click.echo(f"{report}\nwrote {output}")


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option("--out", "out_dir", default="generated", show_default=True, help="Output folder.")
@click.option("--format", "formats", default="py,onnx", show_default=True, help="Comma-separated: py, onnx.")
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seeds the ONNX weights."
)
@click.option("--weights", type=click.Path(dir_okay=False), help="Checkpoint for the ONNX weights.")
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset (17 or newer).")
@click.option(
    "--outputs",
    type=click.Choice(["logits", "features"]),
    default="logits",
    show_default=True,
    help="What the ONNX graph returns: the logits, or the stem's and each stage's output.",
)
def emit(
    specs: tuple[str, ...],
    out_dir: str,
    formats: str,
    seed: int,
    weights: str | None,
    opset: int,
    outputs: str,
):
    """Write <name>.py (standalone PyTorch) and <name>.onnx for each spec (files or JSONL of samples)."""
    from specgen.emit.batch import emit_all, read_specs, summary
    from specgen.emit.writer import check_formats

    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    check_formats(chosen)
    if "onnx" in chosen:
        from specgen.emit.onnx import check_opset

        check_opset(opset)
    state = None
    if weights:
        from specgen.emit.weights import load_checkpoint  # torch, only when there are weights to read

        state = load_checkpoint(weights)
    items = read_specs(specs)

    def report(error: SpecError) -> None:
        click.echo(str(error), err=True)

    shown = len(items) > 4  # a progress bar only when there are more than a few
    with click.progressbar(length=len(items), label="emitting", file=sys.stderr, hidden=not shown) as bar:
        done, errors = emit_all(
            items,
            out_dir,
            chosen,
            seed,
            state,
            weights or "weights",
            opset,
            report,
            lambda: bar.update(1),
            outputs,
        )
    if done:
        click.echo(summary(done))
    if errors:
        sys.exit(2)


@main.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("spec", type=click.Path(dir_okay=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to save.")
def convert(checkpoint: str, spec: str, output: str) -> None:
    """Rename a torchvision, timm or pycls RegNet checkpoint to the emitted file's layout."""
    import io

    import torch

    from specgen.emit.fits import with_hint
    from specgen.emit.weights import layout, load_checkpoint, to_pycls_layout, unwrapped
    from specgen.specfile import load_spec

    _check_output(output)
    network_spec = load_spec(spec)
    data = load_checkpoint(checkpoint)
    try:
        state = to_pycls_layout(data, network_spec.resolve(), checkpoint)
    except SpecError as e:  # say which spec the checkpoint fits (torchvision rounds widths its own way)
        raise with_hint(e, data, network_spec) from None
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _write_output(output, buffer.getvalue())
    click.echo(f"{output}: {len(state)} tensors from a {layout(unwrapped(data))} layout")


@main.command()
@click.argument("spec_file", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--data", required=True, help="digits, synthetic:N, cifar10:PATH or folder:PATH.")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=10, show_default=True)
@BATCH_SIZE_OPTION
@click.option(
    "--lr",
    type=FiniteFloat(0, 100, min_open=True),
    default=0.05,
    show_default=True,
    help="Learning rate at batch 128; scaled linearly with the batch size.",
)
@click.option("--weight-decay", type=FiniteFloat(0, 1), default=5e-5, show_default=True)
@click.option("--resolution", type=click.IntRange(8, 2048), help="Training resolution [default: the spec's].")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@PRECISION_OPTION
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option(
    "--cache",
    type=click.Path(file_okay=False),
    default=".specgen-cache",
    show_default=True,
    help="Folder for the emitted modules that are trained.",
)
@click.option(
    "--onnx-check/--no-onnx-check",
    default=True,
    show_default=True,
    help="Evaluate the trained weights through the emitted ONNX graph with onnxruntime too.",
)
def train(
    spec_file,
    data,
    epochs,
    batch_size,
    lr,
    weight_decay,
    resolution,
    device,
    precision,
    seed,
    cache,
    onnx_check,
):
    """Train a spec's emitted module (the paper's short schedule); a JSON line of results on stdout."""
    from pathlib import Path

    from specgen.train.run import train_file
    from specgen.train.schedule import Schedule

    schedule = Schedule(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay)
    result = train_file(
        spec_file,
        data,
        schedule,
        resolution=resolution,
        device=device,
        precision=precision,
        seed=seed,
        cache_dir=Path(cache),
        onnx_check=onnx_check,
    )
    click.echo(json.dumps(result, allow_nan=False))


@main.command("time")
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@BATCH_SIZE_OPTION
@click.option("--resolution", type=click.IntRange(8, 2048), help="Input size [default: each spec's].")
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    help="auto, bf16 or fp32 for torch; auto: bf16 on a GPU with native bf16, else fp32. ONNX runs fp32.",
)
@click.option(
    "--runtime", type=click.Choice(["torch", "onnxruntime", "both"]), default="torch", show_default=True
)
@click.option(
    "--mode",
    type=click.Choice(["eval", "train", "both"]),
    default="both",
    show_default=True,
    help="eval: forward; train: forward and backward (torch only).",
)
@click.option("--warmup", type=click.IntRange(1, 1000), default=3, show_default=True, help="Untimed calls.")
@click.option("--repeats", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Timed calls.")
@click.option("--compile", "compile_", is_flag=True, help="Run the torch module through torch.compile.")
@click.option("--cache", type=click.Path(file_okay=False), default=".specgen-cache", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def time_command(
    specs, device, batch_size, resolution, precision, runtime, mode, warmup, repeats, compile_, cache, as_json
) -> None:
    """Time the emitted module (and ONNX graph) of each spec on synthetic inputs: median and quartiles."""
    from pathlib import Path

    from specgen.emit.batch import read_specs
    from specgen.train import timing
    from specgen.train.trainer import versions

    nets = []
    for where, _, spec in read_specs(specs):
        if isinstance(spec, SpecError):
            raise spec
        nets.append((where, timing.at_resolution(spec.resolve(), resolution, where)))
    settings = timing.resolve_settings(
        device, precision, batch_size=batch_size, warmup=warmup, repeats=repeats, compile=compile_
    )
    runtimes = timing.RUNTIMES if runtime == "both" else (runtime,)
    rows = timing.plan(nets, runtimes, timing.MODES if mode == "both" else (mode,))
    results = timing.time_all(rows, settings, Path(cache))
    if as_json:
        out = {"runs": [t.to_json() for t in results], "versions": versions()}
        click.echo(json.dumps(out, allow_nan=False))
    else:
        click.echo(timing.render(results, settings))


class _SweepGroup(_Group):
    """`specgen sweep SPACE ...` means `specgen sweep run SPACE ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_SweepGroup)
def sweep() -> None:
    """Sample a design space, train every sample, and keep the results in a resumable store.

    `specgen sweep SPACE --n N ...` runs (or resumes) a sweep; `status` and `export` read its store.
    """


@sweep.command("run")
@click.argument("space")
@click.option("--n", "n", type=click.IntRange(1, 1_000_000), required=True, help="Networks to sample.")
@click.option("--flops", help="Complexity band LO:HI, counted at --resolution (e.g. 1e6:2e6 or 360M:400M).")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--data", required=True, help="digits, synthetic:N, cifar10:PATH or folder:PATH.")
@click.option("--store", type=click.Path(dir_okay=False), required=True, help="The SQLite results file.")
@click.option(
    "--resolution",
    type=click.IntRange(8, 2048),
    default=224,
    show_default=True,
    help="Training resolution, also the one the band is counted at.",
)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 4096), help="Trainings at once [local: 1; ray: the cluster's]."
)
@click.option("--address", help="Ray cluster address [default: start a local Ray].")
@click.option(
    "--gpus-per-run",
    type=FiniteFloat(0, 64),
    default=0.0,
    show_default=True,
    help="Ray: GPUs per training; fractions share a GPU.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@BATCH_SIZE_OPTION
@click.option("--lr", type=FiniteFloat(0, 100, min_open=True), default=0.05, show_default=True)
@click.option("--weight-decay", type=FiniteFloat(0, 1), default=5e-5, show_default=True)
@click.option("--device", default="auto", show_default=True, help="Local executor: auto, cpu or cuda[:N].")
@PRECISION_OPTION
@click.option("--cache", type=click.Path(file_okay=False), default=".specgen-cache", show_default=True)
@click.option(
    "--time",
    "time_runs",
    is_flag=True,
    help="Also record each network's forward and forward+backward seconds (median of 5 calls, batch size).",
)
def sweep_run(
    space,
    n,
    flops,
    epochs,
    data,
    store,
    resolution,
    executor,
    workers,
    address,
    gpus_per_run,
    seed,
    batch_size,
    lr,
    weight_decay,
    device,
    precision,
    cache,
    time_runs,
) -> None:
    """Sample SPACE and train every sample into --store; rerun the same command to resume.

    A space that draws lr, weight_decay or epochs trains each run with its own; setting one of those
    here too is refused.
    """
    from pathlib import Path

    from click.core import ParameterSource

    from specgen.space.constraints.band import parse_band
    from specgen.sweep.driver import Sweep, run_sweep
    from specgen.sweep.worker import Job
    from specgen.train.precision import check_precision
    from specgen.train.schedule import Schedule

    if executor == "local":  # Ray's workers take cuda or cpu by --gpus-per-run instead
        from specgen.train.trainer import resolve_device

        resolve_device(device)  # before the store is made or the progress bar shows
    schedule = Schedule(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay)
    job = Job(
        data,
        resolution,
        schedule,
        seed=seed,
        device=device,
        precision=check_precision(precision),
        cache_dir=str(Path(cache).resolve()),
        time=time_runs,
    )
    band = parse_band(flops, "flops") if flops else None
    context = click.get_current_context()
    given = frozenset(
        name
        for name in ("lr", "weight_decay", "epochs")
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    )
    plan = Sweep(space, n, job, (band.min, band.max) if band else None, given)

    def make_executor():
        if executor == "ray":
            try:
                from specgen.sweep.ray_executor import RayExecutor
            except ImportError:
                raise SpecError("--executor", "ray", "needs Ray: pip install 'specgen[ray]'") from None

            return RayExecutor(job, address, gpus_per_run, workers)
        if workers and workers > 1:
            from specgen.sweep.executors import ProcessPool

            return ProcessPool(job, workers)
        from specgen.sweep.executors import InProcess

        return InProcess(job)

    counts = run_sweep(plan, store, make_executor)
    click.echo(json.dumps({"store": store, "counts": counts}, allow_nan=False))


@sweep.command("status")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sweep_status(store: str, as_json: bool) -> None:
    """Summarize a sweep store: runs by status, errors, the best runs."""
    from specgen.sweep import report

    info = report.summary(store)
    click.echo(json.dumps(info, allow_nan=False) if as_json else report.render(info))


@sweep.command("export")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="runs.jsonl or runs.csv")
def sweep_export(store: str, output: str) -> None:
    """Write the finished runs of a store as JSON lines or CSV."""
    from specgen.sweep import report

    count = report.export(store, output)
    click.echo(f"{output}: {count} runs", err=True)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--by", default="space", show_default=True, help="Group results by 'space' or 'source' (file).")
@click.option(
    "--normalize",
    metavar="flops|params|flops,params",
    multiple=True,
    help="Also compare EDFs normalized over this complexity (repeat or list both: one EDF each).",
)
@click.option("-o", "--out", default="report", show_default=True, help="Folder of the report.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json instead of tables.")
def analyze(
    sources: tuple[str, ...], by: str, normalize: tuple[str, ...], out: str, seed: int, as_json: bool
) -> None:
    """Compare design spaces from sweep stores or JSONL/CSV results: EDFs, KS, ranges, fits.

    Writes EDF, scatter and width plots (PNG and SVG), summary.json and an
    index.html that shows them all. Diverged runs count at error 1.0.
    """
    from specgen.analysis.report import build, check_out, publish

    check_out(out)
    report = build(list(sources), by=by, normalize=normalize, seed=seed)
    folder = publish(report, out)
    if as_json:
        click.echo(json.dumps(report.summary, indent=2, allow_nan=False))
    else:
        click.echo(report.text())
        click.echo(f"\nwrote {folder}/index.html and {len(report.files) - 1} more files")
