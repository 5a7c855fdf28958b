"""The trained weights, through the ONNX emitter, evaluated by onnxruntime on the test split.

Agreement with PyTorch's top-1 error shows that the .onnx a user deploys
computes what was trained. Returns None when onnxruntime is not installed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping

import numpy as np
import torch

from specgen.network.spec import NetworkSpec

EVAL_BATCH = 500
AGREEMENT = 0.001  # 0.1 percentage points of top-1 error


def agrees(onnx_error: float, error: float) -> bool:
    """Within AGREEMENT, counting exactly 0.1 points as in (in floats 10/1000 - 9/1000 > 0.001)."""
    return abs(onnx_error - error) <= AGREEMENT + 1e-12


def onnx_test_error(
    net: NetworkSpec, state_dict: Mapping[str, torch.Tensor], inputs: torch.Tensor, labels: torch.Tensor
) -> float | None:
    """Top-1 error of the emitted ONNX graph with these weights on normalized fp32 `inputs`."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from specgen.emit.writer import emit

    weights = {k: v.detach().float().cpu().contiguous() for k, v in state_dict.items()}
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="specgen-onnx-") as folder:
        # what `specgen emit` writes: a heavy network's weights lie in a data file beside the graph
        path = emit(net, folder, ["onnx"], weights=weights, weights_source="trained weights")[0]
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        x, y = inputs.numpy().astype(np.float32), labels.numpy()
        wrong = 0
        for lo in range(0, len(y), EVAL_BATCH):
            (logits,) = session.run(["logits"], {"input": x[lo : lo + EVAL_BATCH]})
            wrong += int((logits.argmax(1) != y[lo : lo + EVAL_BATCH]).sum())
    return wrong / len(y)
