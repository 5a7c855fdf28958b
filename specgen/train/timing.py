"""`specgen time`: how fast the emitted network runs, on synthetic inputs, as a user would run it.

What is timed is what a user vendors: the emitted .py imported from its file
(forward in eval mode; forward and backward in train mode, as pycls's timing
mode measures a training step) and the emitted ONNX graph in onnxruntime
(forward). Each measurement is a few untimed warm-up calls, then repeats timed
one call each; a GPU is synchronized before every clock read. The spread is the
median and quartiles of the repeats, so one slow call on a busy machine moves
the quartiles, not the median.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import ValidationError
from tqdm import tqdm

from specgen.errors import ROOT, SpecError, first_error
from specgen.fmt import count_human, flops_human, table
from specgen.network import complexity
from specgen.network.spec import NetworkSpec
from specgen.train.modules import DEFAULT_CACHE, cache_folder, network_class
from specgen.train.trainer import (
    batch_loss,
    hardware,
    preferred_memory_format,
    resolve_device,
    resolve_precision,
    sync,
)

RUNTIMES = ("torch", "onnxruntime")
MODES = ("eval", "train")  # onnxruntime runs a graph for inference only: eval
PROGRESS_DELAY = 2.0  # seconds before the progress bar shows: short runs print only their table
SWEEP_WARMUP, SWEEP_REPEATS = 2, 5  # `sweep --time`: a few calls, small beside a training run


@dataclass(frozen=True)
class Settings:
    """How every network is timed."""

    device: torch.device
    precision: str  # resolved: bf16 or fp32 (the ONNX graph always runs in fp32)
    batch_size: int
    resolution: int | None = None  # None: each spec's own
    warmup: int = 3
    repeats: int = 10
    compile: bool = False


@dataclass
class Timing:
    """One network, runtime and mode: the seconds of each timed call and their spread."""

    spec: str
    net: NetworkSpec
    runtime: str
    mode: str
    device: str
    precision: str
    batch_size: int
    compiled: bool
    seconds: list[float] = field(default_factory=list)

    def quartiles(self) -> tuple[float, float, float]:
        q1, median, q3 = np.percentile(self.seconds, [25, 50, 75])
        return float(q1), float(median), float(q3)

    def to_json(self) -> dict:
        q1, median, q3 = self.quartiles()
        cx = complexity.count(self.net)
        return {
            "spec": self.spec,
            "name": self.net.name,
            "runtime": self.runtime,
            "mode": self.mode,
            "device": self.device,
            "precision": self.precision,
            "compiled": self.compiled,
            "batch_size": self.batch_size,
            "resolution": self.net.resolution,
            "flops": cx.flops,
            "params": cx.params,
            "acts": cx.acts,
            "median_s": median,
            "q1_s": q1,
            "q3_s": q3,
            "images_per_s": self.batch_size / median,
            "seconds": self.seconds,
        }


def at_resolution(net: NetworkSpec, resolution: int | None, source: str) -> NetworkSpec:
    """The network counted (and its ONNX graph shaped) at the timing resolution."""
    if resolution is None or resolution == net.resolution:
        return net
    try:
        return NetworkSpec.model_validate({**net.model_dump(mode="json"), "resolution": resolution})
    except ValidationError as e:
        raise SpecError(source, *first_error(e)) from None


def plan(
    nets: Sequence[tuple[str, NetworkSpec]], runtimes: Sequence[str], modes: Sequence[str]
) -> list[tuple[str, NetworkSpec, str, str]]:
    """(source, network, runtime, mode) for every row of the table; onnxruntime rows are eval only."""
    if tuple(runtimes) == ("onnxruntime",) and "eval" not in modes:
        raise SpecError(
            "--mode", ROOT, "expected eval or both with --runtime onnxruntime, which runs inference only"
        )
    return [
        (source, net, runtime, mode)
        for source, net in nets
        for runtime in runtimes
        for mode in modes
        if runtime == "torch" or mode == "eval"
    ]


def check_onnxruntime(device: torch.device) -> list[str]:
    """The onnxruntime providers that run on `device`; refused in one line when there are none."""
    try:
        import onnxruntime
    except ImportError:
        raise SpecError(
            "--runtime", ROOT, "onnxruntime is not installed: pip install 'specgen[train]'"
        ) from None
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise SpecError("--runtime", ROOT, "expected onnxruntime with CUDA (onnxruntime-gpu) to time on cuda")
    return [("CUDAExecutionProvider", {"device_id": device.index or 0})]


def time_all(
    rows: Sequence[tuple[str, NetworkSpec, str, str]],
    settings: Settings,
    cache_dir=DEFAULT_CACHE,
    progress: bool = True,
) -> list[Timing]:
    """Time every row; a progress bar on stderr for runs long enough to need one, gone when done."""
    providers = check_onnxruntime(settings.device) if any(r[2] == "onnxruntime" for r in rows) else []
    if any(r[2] == "torch" for r in rows):
        cache_folder(cache_dir)
    calls = len(rows) * (settings.warmup + settings.repeats)
    bar = tqdm(
        total=calls,
        desc="time",
        unit="call",
        file=sys.stderr,
        leave=False,
        delay=PROGRESS_DELAY,
        disable=not progress,
    )
    out = []
    try:
        for source, net, runtime, mode in rows:
            if runtime == "torch":
                call, precision = _torch_call(net, mode, settings, cache_dir), settings.precision
            else:
                call, precision = _onnx_call(net, settings, providers), "fp32"
            compiled = settings.compile and runtime == "torch"
            timing = Timing(
                source,
                net,
                runtime,
                mode,
                hardware(settings.device),
                precision,
                settings.batch_size,
                compiled,
            )
            timing.seconds = list(timed_calls(call, settings, lambda: bar.update(1)))
            out.append(timing)
    except torch.OutOfMemoryError:
        raise SpecError(
            "--batch-size", ROOT, f"out of memory on {settings.device} at batch {settings.batch_size}"
        ) from None
    finally:
        bar.close()
    return out


def median_times(
    net: NetworkSpec, device: torch.device, precision: str, batch_size: int, cache_dir=DEFAULT_CACHE
) -> tuple[float, float]:
    """`sweep --time`: the median seconds of a forward and a forward+backward call of the emitted module."""
    settings = Settings(device, precision, batch_size, warmup=SWEEP_WARMUP, repeats=SWEEP_REPEATS)
    rows = plan([(net.name, net)], ["torch"], MODES)
    forward, forward_backward = time_all(rows, settings, cache_dir, progress=False)
    return forward.quartiles()[1], forward_backward.quartiles()[1]


def timed_calls(call: Callable[[], None], settings: Settings, step: Callable[[], None]) -> Iterator[float]:
    """The seconds of each timed call, after the warm-up; `step` after every call, for a progress bar."""
    for _ in range(settings.warmup):
        call()
        step()
    sync(settings.device)
    for _ in range(settings.repeats):
        start = time.perf_counter()
        call()
        sync(settings.device)
        yield time.perf_counter() - start
        step()


def _inputs(net: NetworkSpec, settings: Settings) -> torch.Tensor:
    """Synthetic images, standardized as the trainer feeds them; the same for every runtime."""
    gen = torch.Generator().manual_seed(0)
    shape = (settings.batch_size, net.in_channels, net.resolution, net.resolution)
    return torch.randn(shape, generator=gen)


def _torch_call(net: NetworkSpec, mode: str, settings: Settings, cache_dir) -> Callable[[], None]:
    """The emitted module, imported from its file in the cache, as a call to time."""
    torch.manual_seed(0)
    return torch_call(network_class(net, cache_dir)(), net, mode, settings)


def torch_call(model: torch.nn.Module, net: NetworkSpec, mode: str, settings: Settings) -> Callable[[], None]:
    """One forward (eval, no grad) or forward and backward (train) of `model`, a network `net` describes.

    Benchmarks time other implementations of the same network through it, so all run alike.
    """
    device, bf16 = settings.device, settings.precision == "bf16"
    memory_format = preferred_memory_format(device, bf16)
    model = model.to(device, memory_format=memory_format)
    model.train(mode == "train")
    run = torch.compile(model) if settings.compile else model
    x = _inputs(net, settings).to(device).contiguous(memory_format=memory_format)
    y = torch.randint(net.num_classes, (settings.batch_size,), generator=torch.Generator().manual_seed(0))
    y = y.to(device)

    def forward() -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return run(x)

    def evaluate() -> None:
        with torch.no_grad():
            forward()

    def train_step() -> None:
        batch_loss(run, x, y, device.type, bf16).backward()
        model.zero_grad(set_to_none=True)

    return train_step if mode == "train" else evaluate


def _onnx_call(net: NetworkSpec, settings: Settings, providers: list) -> Callable[[], None]:
    """One run of the emitted graph (seeded weights, as `specgen emit` writes it) in onnxruntime.

    On a CPU it gets torch's thread count, so the two runtimes are compared on the same cores.
    """
    import onnxruntime

    from specgen.emit.writer import emit

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if settings.device.type == "cpu":
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory(prefix="specgen-time-") as folder:
        path = emit(net, folder, ["onnx"])[0]  # the session holds the weights once it is made
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    x = _inputs(net, settings).numpy()

    def evaluate() -> None:
        session.run(["logits"], {"input": x})

    return evaluate


def _duration(seconds: float) -> str:
    """Milliseconds with three or more significant figures: 0.853 ms, 12.3 ms, 1,234 ms."""
    ms = 1e3 * seconds
    decimals = 3 if ms < 1 else 2 if ms < 10 else 1 if ms < 100 else 0
    return f"{ms:,.{decimals}f} ms"


def render(timings: Sequence[Timing], settings: Settings) -> str:
    """The table: one row per network, runtime and mode, under a line that says how it was timed."""
    devices = sorted({t.device for t in timings})
    head = (
        f"{', '.join(devices)}, batch {settings.batch_size}"
        f"{', compiled' if settings.compile else ''}: median and quartiles of {settings.repeats} "
        f"timed call{'s' * (settings.repeats != 1)} after {settings.warmup} warm-up"
    )
    headers = [
        "network",
        "px",
        "flops",
        "acts",
        "runtime",
        "mode",
        "precision",
        "median",
        "q1",
        "q3",
        "img/s",
    ]
    rows = []
    for t in timings:
        q1, median, q3 = t.quartiles()
        cx = complexity.count(t.net)
        mode = "forward" if t.mode == "eval" else "forward+backward"
        size = [t.net.name, t.net.resolution, flops_human(cx.flops), count_human(cx.acts)]
        speed = [_duration(median), _duration(q1), _duration(q3), f"{t.batch_size / median:,.0f} img/s"]
        rows.append([*size, t.runtime, mode, t.precision, *speed])
    right = [False, True, True, True, False, False, False, True, True, True, True]
    return head + "\n\n" + table(headers, rows, right)


def resolve_settings(device: str, precision: str, **rest) -> Settings:
    """Settings from the command line's names; a bad device or precision is refused in one line."""
    target = resolve_device(device)
    return Settings(target, resolve_precision(precision, target), **rest)
