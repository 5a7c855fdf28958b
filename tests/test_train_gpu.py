"""The shared trainer's GPU path (bf16 autocast and channels_last where the GPU has native bf16, cudnn
benchmark, data on the device).

Skipped without CUDA; on a lent GPU machine run it with `python -m pytest tests/test_train_gpu.py`,
then `python bench/gpu_trainer.py` for the throughput figures.
"""

from __future__ import annotations

import pytest
import torch

from specgen.errors import SpecError
from specgen.train.crosscheck import AGREEMENT
from specgen.train.data import load_data
from specgen.train.trainer import Trainer, resolve_device

from .test_train import DIGITS_SCHEDULE, TINY

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def gpu_trainer(tmp_path_factory):
    return Trainer(load_data("digits", 16), torch.device("cuda"), tmp_path_factory.mktemp("cache"))


def test_data_lives_on_the_device_and_bf16_trains_channels_last(gpu_trainer):
    assert gpu_trainer.resident and gpu_trainer.train_x.is_cuda and gpu_trainer.test_x.is_cuda
    assert torch.backends.cudnn.benchmark
    native = torch.cuda.get_device_capability() >= (8, 0)
    assert gpu_trainer.precision == ("bf16" if native else "fp32")
    model = gpu_trainer.build(TINY.model_copy(update={"in_channels": 1, "num_classes": 10}), seed=0)
    weight = model.stem.conv.weight
    assert weight.is_cuda and weight.is_contiguous(memory_format=torch.channels_last) == native


def test_small_network_learns_digits_on_the_gpu_and_onnx_agrees(gpu_trainer):
    result = gpu_trainer.train(TINY, DIGITS_SCHEDULE, seed=0)
    assert result.status == "done" and result.device.startswith("cuda")
    assert result.precision == gpu_trainer.precision
    assert result.error < 0.15, result.error  # chance: 0.90
    assert abs(result.onnx_error - result.error) <= AGREEMENT


def test_fp32_on_the_gpu_learns_digits_too(gpu_trainer, tmp_path):
    fp32 = Trainer(gpu_trainer.data, torch.device("cuda"), tmp_path, precision="fp32")
    assert fp32.memory_format == torch.contiguous_format
    result = fp32.train(TINY, DIGITS_SCHEDULE, seed=0)
    assert result.status == "done" and result.precision == "fp32"
    assert result.error < 0.15 and abs(result.onnx_error - result.error) <= AGREEMENT


def test_a_gpu_that_is_not_there_is_one_line():
    count = torch.cuda.device_count()
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(SpecError) as err:
        resolve_device(f"cuda:{count}")
    assert str(err.value) == f"--device: $: expected cuda:0 to cuda:{count - 1}, got 'cuda:{count}'"


def test_data_too_large_for_the_gpu_streams_from_pinned_host_memory(gpu_trainer, tmp_path, monkeypatch):
    monkeypatch.setattr("specgen.train.trainer.DEVICE_SHARE", 0.0)
    streaming = Trainer(gpu_trainer.data, torch.device("cuda"), tmp_path)
    assert not streaming.resident and streaming.train_x.is_pinned() and not streaming.train_x.is_cuda
    result = streaming.train(TINY, DIGITS_SCHEDULE, seed=0)
    assert result.status == "done" and result.error < 0.15
    assert abs(result.onnx_error - result.error) <= AGREEMENT
