"""The shared trainer: one per device, it holds a dataset there and trains a queue of networks.

Loading data is the slow part of a short run, so a Trainer loads it once (onto
the GPU when it fits) and then trains network after network against it. Each
network is the emitted module, imported from its file. One code path serves
GPU and CPU: training in bf16 adds autocast (and channels_last on a GPU), a GPU adds
cudnn benchmarking. By default a GPU with native bf16 trains in it and everything
else in fp32, where a CPU run is repeatable for a seed.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import ValidationError

import specgen
from specgen.errors import ROOT, SpecError, first_error
from specgen.fmt import percent
from specgen.network.spec import NetworkSpec
from specgen.train.augment import crop_flip
from specgen.train.data import Dataset
from specgen.train.modules import DEFAULT_CACHE, network_class
from specgen.train.precision import check_precision
from specgen.train.schedule import Schedule

EVAL_BATCH = 500
CHECK_EVERY = 10  # steps between looks at the running loss (each look syncs a GPU)
DEVICE_SHARE = 0.25  # the dataset moves onto a GPU when it takes at most this share of free memory


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    train_loss: float
    test_error: float
    images_per_s: float
    seconds: float


@dataclass
class RunResult:
    """What one training run produced; `error` is the final top-1 test error as a fraction."""

    status: str  # "done" or "diverged"
    spec: NetworkSpec
    device: str
    precision: str
    epochs: list[EpochResult] = field(default_factory=list)
    error: float | None = None
    best_error: float | None = None
    onnx_error: float | None = None
    seconds: float = 0.0
    message: str = ""

    def to_json(self) -> dict:
        return {
            "id": self.spec.content_hash(),
            "status": self.status,
            "error": self.error,
            "best_error": self.best_error,
            "onnx_error": self.onnx_error,
            "epochs": [asdict(e) for e in self.epochs],
            "device": self.device,
            "precision": self.precision,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "versions": versions(),
        }


def versions() -> dict:
    """The software a result was produced with."""
    out = {"specgen": specgen.__version__, "torch": torch.__version__, "python": platform.python_version()}
    try:
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return out


def resolve_device(name: str) -> torch.device:
    """'auto' is the first GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SpecError("--device", ROOT, f"expected auto, cpu or cuda[:N], got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError("--device", ROOT, "expected a CUDA device, but none is available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise SpecError("--device", ROOT, f"expected cuda:0 to cuda:{count - 1}, got {name!r}")
    if device.type not in ("cpu", "cuda"):
        raise SpecError("--device", ROOT, f"expected auto, cpu or cuda[:N], got {name!r}")
    return device


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' is bf16 on a GPU that computes it natively (compute capability 8.0, Ampere, on), else fp32.

    Older GPUs only emulate bf16, slower than fp32; a CPU trains in fp32, the reference precision.
    """
    if check_precision(name) != "auto":
        return name
    native = device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0)
    return "bf16" if native else "fp32"


def fit_to_data(net: NetworkSpec, data: Dataset) -> NetworkSpec:
    """The network with the data's input channels, classes and resolution.

    Its content hash differs from the spec's whenever one of these changes.
    """
    body = net.model_dump(mode="json")
    body.update(in_channels=data.channels, num_classes=data.num_classes, resolution=data.resolution)
    try:
        return NetworkSpec.model_validate(body)
    except ValidationError as e:
        raise SpecError(net.name, *first_error(e)) from None


def batch_loss(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device_type: str, bf16: bool
) -> torch.Tensor:
    """The mean cross-entropy of a batch. In bf16 only the network runs under autocast: the loss is
    taken on fp32 logits, and the weights, their gradients and SGD's momentum stay fp32."""
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    return F.cross_entropy(logits.float(), y)


class Trainer:
    """A dataset held on one device, and the loop that trains networks against it."""

    def __init__(
        self, data: Dataset, device: torch.device, cache_dir: Path = DEFAULT_CACHE, precision: str = "auto"
    ) -> None:
        self.data, self.device, self.cache_dir = data, device, Path(cache_dir)
        self.precision = resolve_precision(precision, device)
        self.bf16 = self.precision == "bf16"
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.resident = device.type != "cuda" or _fits(data, device)
        self.train_x = _place(data.train_x, device, self.resident)
        self.test_x = _place(data.test_x, device, self.resident)
        self.train_y, self.test_y = data.train_y.to(device), data.test_y.to(device)
        mean, std = data.mean_std()
        self.mean, self.std = mean.view(1, -1, 1, 1).to(device), std.view(1, -1, 1, 1).to(device)
        self.memory_format = preferred_memory_format(device, self.bf16)

    def _fetch(self, images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if self.resident:
            return images[idx]
        return images[idx.cpu()].to(self.device, non_blocking=True)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pixels to standardized floats, in the device's preferred layout."""
        return ((x.float() - self.mean) / self.std).contiguous(memory_format=self.memory_format)

    def build(self, net: NetworkSpec, seed: int) -> torch.nn.Module:
        """The emitted network for this data, initialized from `seed`."""
        cls = network_class(net, self.cache_dir)
        torch.manual_seed(seed)
        return cls().to(self.device, memory_format=self.memory_format)

    def train(
        self,
        net: NetworkSpec,
        schedule: Schedule,
        seed: int = 0,
        *,
        onnx_check: bool = True,
        on_step: Callable[[], None] | None = None,
        on_epoch: Callable[[EpochResult], None] | None = None,
    ) -> RunResult:
        """Train `net` (fitted to the data) with `schedule`; stop early, as diverged, on a non-finite loss
        or non-finite test outputs (weights can blow up within float range and still overflow inside)."""
        net = fit_to_data(net, self.data)
        steps = self.steps_per_epoch(schedule)
        start = time.perf_counter()
        model = self.build(net, seed)
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=schedule.base_lr,
            momentum=schedule.momentum,
            weight_decay=schedule.weight_decay,
        )
        gen = torch.Generator(device=self.device).manual_seed(seed)
        result = RunResult("done", net, self.hardware(), self.precision)
        for epoch in range(schedule.epochs):
            loss = self._epoch(model, optimizer, gen, schedule, epoch * steps, steps, on_step)
            if loss is None:
                result.status, result.message = "diverged", f"non-finite training loss in epoch {epoch + 1}"
                break
            train_loss, seconds = loss
            error = self.evaluate(model)
            if error is None:
                result.status = "diverged"
                result.message = f"non-finite outputs on the test images after epoch {epoch + 1}"
                break
            record = EpochResult(epoch + 1, train_loss, error, steps * schedule.batch_size / seconds, seconds)
            result.epochs.append(record)
            if on_epoch:
                on_epoch(record)
        if result.status == "done":
            result.error = result.epochs[-1].test_error
            result.best_error = min(e.test_error for e in result.epochs)
            if onnx_check:
                from specgen.train.crosscheck import AGREEMENT, agrees, onnx_test_error

                result.onnx_error = onnx_test_error(
                    net, model.state_dict(), self.test_inputs(), self.data.test_y
                )
                if result.onnx_error is not None and not agrees(result.onnx_error, result.error):
                    result.message = (
                        f"ONNX cross-check failed: {percent(result.onnx_error)} error in onnxruntime against "
                        f"{percent(result.error)} in PyTorch, more than {100 * AGREEMENT:g} points apart"
                    )
        result.seconds = time.perf_counter() - start
        return result

    def hardware(self) -> str:
        return hardware(self.device)

    def steps_per_epoch(self, schedule: Schedule) -> int:
        """Full batches in one pass over the training images; the last partial one is dropped, as in pycls."""
        n = len(self.train_y)
        if schedule.batch_size > n:
            raise SpecError(
                "--batch-size", ROOT, f"expected at most the {n} training images, got {schedule.batch_size}"
            )
        return n // schedule.batch_size

    def _epoch(
        self, model, optimizer, gen, schedule, first_step, steps, on_step
    ) -> tuple[float, float] | None:
        """One pass over the training images: (mean loss, seconds), or None once the loss is not finite."""
        model.train()
        total_steps = schedule.epochs * steps
        bs = schedule.batch_size
        running = torch.zeros((), device=self.device)
        sync(self.device)
        start = time.perf_counter()
        order = torch.randperm(len(self.train_y), generator=gen, device=self.device)
        for i in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = schedule.lr_at(first_step + i, total_steps)
            idx = order[i * bs : (i + 1) * bs]
            x = self.normalize(crop_flip(self._fetch(self.train_x, idx), gen, self.data.flip))
            loss = self.loss(model, x, self.train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach()
            if on_step:
                on_step()
            if ((i + 1) % CHECK_EVERY == 0 or i + 1 == steps) and not torch.isfinite(running):
                return None
        sync(self.device)
        return running.item() / steps, time.perf_counter() - start

    def loss(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean cross-entropy of a batch, at this trainer's device and precision."""
        return batch_loss(model, x, y, self.device.type, self.bf16)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> float | None:
        """Top-1 error on the test split, as a fraction; None when an output is not finite.

        In fp32 even after training in bf16: the error is then that of
        the weights as a user's vendored module runs them, which the ONNX cross-check
        must match to 0.1 points; bf16 logits would flip borderline images.
        """
        model.eval()
        wrong = torch.zeros((), dtype=torch.int64, device=self.device)
        finite = torch.ones((), dtype=torch.bool, device=self.device)
        for lo in range(0, len(self.test_y), EVAL_BATCH):
            idx = torch.arange(lo, min(lo + EVAL_BATCH, len(self.test_y)), device=self.device)
            logits = model(self.normalize(self._fetch(self.test_x, idx)))
            wrong += (logits.argmax(1) != self.test_y[idx]).sum()
            finite &= torch.isfinite(logits).all()
        return wrong.item() / len(self.test_y) if finite.item() else None

    def test_inputs(self) -> torch.Tensor:
        """The normalized test images as fp32 on the CPU, for onnxruntime."""
        mean, std = self.mean.cpu(), self.std.cpu()
        return (self.data.test_x.float() - mean) / std


def preferred_memory_format(device: torch.device, bf16: bool) -> torch.memory_format:
    """Channels-last (NHWC) for bf16 on a GPU, the layout its tensor cores read.

    Not on a CPU: there oneDNN's bf16 weight gradient of a channels-last 3x3 convolution of stride 2 over a
    1x1 map leaves two off-centre taps unwritten (their gradient is 0: they see only padding), so they hold
    whatever the memory held before (up to 1e35 measured) and a run diverges, or not, by the luck of the
    allocator. With contiguous weights the same kernel is right.
    """
    return torch.channels_last if bf16 and device.type == "cuda" else torch.contiguous_format


def hardware(device: torch.device) -> str:
    """The device as a run records it: the GPU's model, or the CPU threads, since a CPU run
    repeats bit for bit (and a timing compares) only at the same thread count."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' * (threads != 1)})"


def _fits(data: Dataset, device: torch.device) -> bool:
    size = data.train_x.nbytes + data.test_x.nbytes
    free, _ = torch.cuda.mem_get_info(device)
    return size <= DEVICE_SHARE * free


def _place(images: torch.Tensor, device: torch.device, resident: bool) -> torch.Tensor:
    if resident:
        return images.to(device)
    return images.pin_memory()


def sync(device: torch.device) -> None:
    """Wait for the GPU's queued work, so a clock read after it times the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
