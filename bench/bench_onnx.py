"""ONNX emission of RegNetX-600MF (224 px) against `torch.onnx.export` of the same module.

Baselines, measured in the same run: `torch.onnx.export` with its default
(dynamo) exporter and with `dynamo=False` (the TorchScript exporter), each
exporting the emitted module (`specgen/emit/python.py`) with a dynamic batch
to bytes in memory. Ours is `build_onnx` + `onnx_bytes` from that module's
state dict: render the template, parse it, attach the initializers, serialize.

Each method runs in its own fresh process: the same setup (imports, emitted
module, state dict, input), then one cold call (what a `specgen emit` user
pays) and `--repeat` warm calls (median). Peak memory is the process's peak
resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`), read after
the setup and after the calls; their difference is what emission itself adds.

    python bench/bench_onnx.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "regnetx_600mf.json"
METHODS = {
    "specgen build_onnx": "ours",
    "torch.onnx.export (default exporter)": "dynamo",
    "torch.onnx.export (dynamo=False)": "torchscript",
}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def setup(tmp: Path):
    """The emitted module of RegNetX-600MF in eval mode, its spec and a 224 px input."""
    import torch

    from specgen.emit.load import load_network_class
    from specgen.emit.python import class_name, render_module
    from specgen.specfile import load_spec

    net = load_spec(SPEC).resolve()
    path = tmp / f"{net.name}.py"
    path.write_text(render_module(net, str(SPEC)), encoding="utf-8")
    torch.manual_seed(0)
    module = load_network_class(path, class_name(net))().eval()
    return net, module, torch.randn(1, net.in_channels, net.resolution, net.resolution)


def emitter(method: str, net, module, x):
    """A function of no arguments that emits the graph once and returns its bytes."""
    import torch

    if method == "ours":
        from specgen.emit.onnx import build_onnx, onnx_bytes

        state = module.state_dict()
        return lambda: onnx_bytes(build_onnx(net, state))

    def export() -> bytes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "dynamo":  # torch.onnx.export's default: dynamo=True, its default opset
                program = torch.onnx.export(
                    module,
                    (x,),
                    input_names=["input"],
                    output_names=["logits"],
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                    verbose=False,
                )
                return program.model_proto.SerializeToString()
            buffer = io.BytesIO()
            torch.onnx.export(
                module,
                (x,),
                buffer,
                dynamo=False,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
            )
            return buffer.getvalue()

    return export


def stages_of_ours(net, repeat: int = 5) -> dict:
    """Median seconds of the text steps: rendering the template and parsing it."""
    import onnx

    from specgen.emit.onnx import render

    renders, parses = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        text = render(net)
        renders.append(time.perf_counter() - start)
        start = time.perf_counter()
        onnx.parser.parse_model(text)
        parses.append(time.perf_counter() - start)
    return {"render_s": statistics.median(renders), "parse_s": statistics.median(parses), "chars": len(text)}


def worker(method: str, repeat: int) -> dict:
    import torch

    with tempfile.TemporaryDirectory(prefix="specgen-bench-") as tmp, torch.no_grad():
        net, module, x = setup(Path(tmp))
        emit = emitter(method, net, module, x)
        after_setup = peak_mib()
        start = time.perf_counter()
        size = len(emit())
        cold = time.perf_counter() - start
        warm = []
        for _ in range(repeat):
            start = time.perf_counter()
            emit()
            warm.append(time.perf_counter() - start)
        split = stages_of_ours(net) if method == "ours" else {}
    return {
        "split": split,
        "cold_s": cold,
        "warm_s": statistics.median(warm),
        "bytes": size,
        "setup_mib": after_setup,
        "peak_mib": peak_mib(),
    }


def measure(method: str, repeat: int) -> dict:
    argv = [sys.executable, __file__, "--worker", method, "--repeat", str(repeat)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm calls per method (median)")
    parser.add_argument("--worker", choices=sorted(METHODS.values()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return
    results = {name: measure(method, args.repeat) for name, method in METHODS.items()}
    print(f"RegNetX-600MF at 224 px, batch dimension symbolic; warm = median of {args.repeat}")
    print(f"{'method':<38} {'cold s':>8} {'warm s':>8} {'MB out':>7} {'peak MiB':>9} {'+ over setup':>13}")
    for name, r in results.items():
        print(
            f"{name:<38} {r['cold_s']:8.3f} {r['warm_s']:8.3f} {r['bytes'] / 1e6:7.1f} "
            f"{r['peak_mib']:9.0f} {r['peak_mib'] - r['setup_mib']:13.0f}"
        )
    ours = results["specgen build_onnx"]
    for name, r in results.items():
        if r is not ours:
            print(
                f"ours vs {name}: {r['cold_s'] / ours['cold_s']:.1f}x faster cold, "
                f"{r['warm_s'] / ours['warm_s']:.1f}x faster warm"
            )
    split = ours["split"]
    rest = ours["warm_s"] - split["render_s"] - split["parse_s"]
    print(
        f"ours, warm: render {split['render_s'] * 1e3:.1f} ms ({split['chars']:,} chars of text), "
        f"parse {split['parse_s'] * 1e3:.1f} ms, weights and serialization {rest * 1e3:.1f} ms"
    )
    print("peak memory: ru_maxrss of each method's own process (setup included); '+' is emission's share")


if __name__ == "__main__":
    main()
