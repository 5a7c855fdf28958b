"""Emit many specs at once: spec files and JSONL files of samples, each spec on its own.

A spec that fails is reported (one SpecError line) and the others are still
written; two specs with the same name in one run would overwrite each other,
so the second is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from specgen.emit.writer import FORMATS, emit
from specgen.errors import ROOT, SpecError
from specgen.fmt import count_human, flops_human, table
from specgen.network import complexity
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.specfile import load_spec, parse_json, read_text, validate_spec

MAX_JSONL_BYTES = 256 << 20


@dataclass(frozen=True)
class Emitted:
    """One spec written: what it was and what it cost."""

    name: str
    stages: int
    flops: int
    params: int
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def _jsonl_specs(path: str) -> Iterator[tuple[str, RegNetSpec | NetworkSpec | SpecError]]:
    """Each line of a JSONL file: a spec, or a sampler line holding one under "spec".

    Lines end at "\n" only, as JSON Lines says: U+2028 or U+0085 inside a JSON string is no line
    break. A file without a single spec is an error, not a silent success.
    """
    found = False
    for number, line in enumerate(read_text(path, MAX_JSONL_BYTES).split("\n"), start=1):
        if not line.strip():
            continue
        found = True
        where = f"{path}:{number}"
        try:
            yield where, _line_spec(parse_json(line, where), where)
        except SpecError as e:
            yield where, e
    if not found:
        raise SpecError(path, ROOT, "expected at least one spec (one JSON object a line), got none")


def _line_spec(data: object, where: str) -> RegNetSpec | NetworkSpec:
    """A line's spec; errors inside a sampler line's "spec" object are reported under `spec.`."""
    if not (isinstance(data, dict) and isinstance(data.get("spec"), dict)):
        return validate_spec(data, where)
    try:
        return validate_spec(data["spec"], where)
    except SpecError as e:
        raise SpecError(where, "spec" if e.path == ROOT else f"spec.{e.path}", e.message) from None


def read_specs(paths: Sequence[str]) -> list[tuple[str, str, RegNetSpec | NetworkSpec | SpecError]]:
    """(where, file, spec or its error) for every spec named: `where` is `file` or `file:line`."""
    out: list[tuple[str, str, RegNetSpec | NetworkSpec | SpecError]] = []
    for path in paths:
        if str(path).endswith(".jsonl"):
            try:
                out += [(where, path, spec) for where, spec in _jsonl_specs(path)]
            except SpecError as e:
                out.append((path, path, e))
            continue
        try:
            out.append((path, path, load_spec(path)))
        except SpecError as e:
            out.append((path, path, e))
    return out


def emit_all(
    items: Sequence[tuple[str, str, RegNetSpec | NetworkSpec | SpecError]],
    out_dir: str | Path,
    formats: Sequence[str] = FORMATS,
    seed: int = 0,
    weights: Mapping | None = None,
    weights_source: str = "weights",
    opset: int = 17,
    on_error: Callable[[SpecError], None] = lambda e: None,
    on_step: Callable[[], None] = lambda: None,
    outputs: str = "logits",
) -> tuple[list[Emitted], list[SpecError]]:
    """Emit every spec `read_specs` found; the ones written and the errors, in input order."""
    done: list[Emitted] = []
    errors: list[SpecError] = []
    seen: dict[str, str] = {}
    for where, file, spec in items:
        on_step()
        start = time.perf_counter()
        try:
            if isinstance(spec, SpecError):
                raise spec
            net = spec.resolve()
            if net.name in seen:
                raise SpecError(
                    where, "name", f"expected a name not emitted before in this run ({seen[net.name]})"
                )
            files = emit(
                net,
                out_dir,
                formats,
                seed,
                weights,
                opset,
                source=file,
                weights_source=weights_source,
                outputs=outputs,
            )
        except SpecError as e:
            errors.append(e)
            on_error(e)
            continue
        seen[net.name] = where
        cx = complexity.count(net)
        done.append(
            Emitted(net.name, len(net.stages), cx.flops, cx.params, files, time.perf_counter() - start)
        )
    return done, errors


def summary(done: Sequence[Emitted]) -> str:
    """name, stages, flops, params, files written, time: one row per spec."""
    rows = [
        (
            e.name,
            e.stages,
            flops_human(e.flops),
            count_human(e.params),
            " ".join(map(str, e.files)),
            f"{e.seconds:.2f} s",
        )
        for e in done
    ]
    headers = ["name", "stages", "flops", "params", "files", "time"]
    return table(headers, rows, right=[False, True, True, True, False, True])
