"""The shared trainer on CPU: it learns digits, repeats itself for a seed, records divergence, and the
trained weights give the same top-1 error through the emitted ONNX graph."""

from __future__ import annotations

import itertools
import json
import math
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings

from specgen.cli import main
from specgen.network.spec import NetworkSpec, Stage
from specgen.testing import network_specs
from specgen.train.augment import crop_flip, padding
from specgen.train.crosscheck import AGREEMENT, agrees
from specgen.train.data import load_data
from specgen.train.schedule import Schedule
from specgen.train.trainer import Trainer, fit_to_data

TINY = NetworkSpec(
    name="tiny",
    stem_width=16,
    stages=[Stage(depth=1, width=16, group_width=8), Stage(depth=1, width=32, group_width=8)],
    resolution=16,
)
# Measured on CPU (one thread, seed 0): 2.2% top-1 error (8 of 360) after these 5 epochs; chance is 90%.
DIGITS_SCHEDULE = Schedule(epochs=5, batch_size=32, lr=0.5)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", 16)


@pytest.fixture(scope="module")
def trainer(digits, tmp_path_factory):
    return Trainer(digits, torch.device("cpu"), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def trained(trainer):
    return trainer.train(TINY, DIGITS_SCHEDULE, seed=0)


def test_digits_split_is_fixed_and_upsampled(digits):
    assert digits.train_x.shape == (1437, 1, 16, 16) and digits.test_x.shape == (360, 1, 16, 16)
    assert digits.train_x.dtype == torch.uint8 and int(digits.train_x.max()) == 255
    assert digits.num_classes == 10 and not digits.flip  # a mirrored digit is another symbol
    again = load_data("digits", 16)
    assert torch.equal(again.test_y, digits.test_y) and torch.equal(again.test_x, digits.test_x)


def test_small_network_learns_digits_well_below_chance(trained):
    assert trained.status == "done"
    assert len(trained.epochs) == DIGITS_SCHEDULE.epochs
    assert trained.error < 0.15, trained.error  # chance: 0.90
    assert trained.best_error <= trained.error
    assert trained.epochs[-1].train_loss < trained.epochs[0].train_loss
    assert all(e.images_per_s > 0 and e.seconds > 0 for e in trained.epochs)


def test_a_cpu_trains_in_fp32_by_default(trainer, trained):
    assert trainer.precision == "fp32" and trained.precision == "fp32"
    assert trainer.memory_format == torch.contiguous_format


def test_the_bf16_path_learns_digits_on_cpu_too_and_onnx_agrees(digits, tmp_path):
    """What a GPU with native bf16 runs (autocast; channels_last on a GPU only), on the CPU's bf16 kernels."""
    bf16 = Trainer(digits, torch.device("cpu"), tmp_path, precision="bf16")
    model = bf16.build(fit_to_data(TINY, digits), seed=0)
    assert model.stem.conv.weight.is_contiguous()
    result = bf16.train(TINY, DIGITS_SCHEDULE, seed=0)
    assert result.status == "done" and result.precision == "bf16"
    assert result.error < 0.15, result.error  # chance: 0.90; 3.1% measured
    assert abs(result.onnx_error - result.error) <= AGREEMENT  # evaluation runs in fp32


def test_bf16_keeps_the_loss_weights_gradients_and_momentum_in_fp32(digits, tmp_path):
    bf16 = Trainer(digits, torch.device("cpu"), tmp_path, precision="bf16")
    model = bf16.build(fit_to_data(TINY, digits), seed=0)
    logits = []
    model.head.register_forward_hook(lambda module, args, out: logits.append(out.dtype))
    loss = bf16.loss(model, bf16.normalize(bf16.train_x[:32]), bf16.train_y[:32])
    assert logits == [torch.bfloat16] and loss.dtype == torch.float32  # the network is bf16, not the loss
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss.backward()
    optimizer.step()
    params = list(model.parameters())
    assert {p.dtype for p in params} == {p.grad.dtype for p in params} == {torch.float32}
    assert {s["momentum_buffer"].dtype for s in optimizer.state.values()} == {torch.float32}


def test_bf16_weight_gradients_on_cpu_do_not_read_stale_memory(digits, tmp_path):
    """A 3x3 convolution of stride 2 over a 1x1 map (stage 4 of a 16 px network) sees only padding off its
    centre tap, so those taps' gradient is exactly 0. oneDNN's bf16 kernel left two of them unwritten for
    channels-last weights: memory filled with a loud value just before shows through."""
    widths = (16, 32, 32, 64)  # at 16 px: maps of 8, 4, 2 and 1 pixels enter the four stages
    stages = [Stage(depth=1, width=w, group_width=8) for w in widths]
    four_stages = NetworkSpec(name="four", stem_width=16, stages=stages, resolution=16)
    bf16 = Trainer(digits, torch.device("cpu"), tmp_path, precision="bf16")
    model = bf16.build(fit_to_data(four_stages, digits), seed=0)
    x, y = bf16.normalize(bf16.train_x[:32]), bf16.train_y[:32]
    for _ in range(5):
        stale = [torch.full((n,), 3e33) for n in (1 << 10, 1 << 14, 1 << 18)]
        del stale
        model.zero_grad(set_to_none=True)
        bf16.loss(model, x, y).backward()
        off_centre = model.s4.b1.f.b.weight.grad.clone()
        off_centre[:, :, 1, 1] = 0
        assert not off_centre.any(), off_centre.abs().max()


def test_onnx_cross_check_agrees_on_the_trained_model(trained):
    assert trained.onnx_error is not None
    assert abs(trained.onnx_error - trained.error) <= AGREEMENT


def test_errors_exactly_a_tenth_of_a_point_apart_agree():
    assert agrees(10 / 1000, 9 / 1000) and agrees(0.25, 0.25)
    assert not agrees(11 / 1000, 9 / 1000) and not agrees(1 / 360, 0.0)  # one image of digits' 360


def test_a_cross_check_that_disagrees_is_recorded_and_said(tmp_path, monkeypatch):
    monkeypatch.setattr("specgen.train.crosscheck.onnx_test_error", lambda *args: 0.5)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    args = [
        "train",
        str(tmp_path / "tiny.json"),
        "--data",
        "synthetic:64",
        "--epochs",
        "1",
        "--batch-size",
        "16",
    ]
    result = CliRunner().invoke(main, [*args, "--device", "cpu", "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["status"] == "done" and line["onnx_error"] == 0.5 and line["error"] != 0.5
    message = (
        f"ONNX cross-check failed: 50.00% error in onnxruntime against {100 * line['error']:.2f}% "
        "in PyTorch, more than 0.1 points apart"
    )
    assert line["message"] == message
    assert result.stderr.strip().splitlines()[-1] == f"tiny: {message}"


def test_training_fits_the_network_to_the_data(trained, digits):
    net = trained.spec
    assert (net.in_channels, net.num_classes, net.resolution) == (1, 10, 16)
    assert net.content_hash() != TINY.content_hash()  # the data changed the network
    assert fit_to_data(net, digits) == net


def test_a_run_is_repeatable_on_cpu(trainer):
    schedule = Schedule(epochs=1, batch_size=64, lr=0.2)
    first, second = (trainer.train(TINY, schedule, seed=7, onnx_check=False) for _ in range(2))
    assert first.epochs[0].train_loss == second.epochs[0].train_loss
    assert first.error == second.error
    other = trainer.train(TINY, schedule, seed=8, onnx_check=False)
    assert other.epochs[0].train_loss != first.epochs[0].train_loss


def test_a_non_finite_loss_stops_the_run_as_diverged(trainer):
    result = trainer.train(TINY, Schedule(epochs=3, batch_size=64, lr=1e6), seed=0)
    assert result.status == "diverged"
    assert result.error is None and result.best_error is None and result.onnx_error is None
    assert len(result.epochs) < 3
    assert "non-finite" in result.message
    assert json.loads(json.dumps(result.to_json()))["status"] == "diverged"  # stays valid JSON (no NaN)


def test_weights_that_overflow_inside_the_network_are_diverged_too(trainer):
    # One huge step leaves every weight finite, but the test outputs overflow to NaN: not a 92% error.
    result = trainer.train(TINY, Schedule(epochs=2, batch_size=1437, lr=1e6), seed=0)
    assert result.status == "diverged" and result.epochs == [] and result.error is None
    assert result.message == "non-finite outputs on the test images after epoch 1"


def test_schedule_scales_lr_with_batch_and_decays_by_half_cosine():
    s = Schedule(batch_size=256, lr=0.05)
    assert s.base_lr == pytest.approx(0.1)
    assert s.lr_at(0, 100) == pytest.approx(0.1)
    assert s.lr_at(50, 100) == pytest.approx(0.05)
    assert s.lr_at(100, 100) == pytest.approx(0.0, abs=1e-12)
    lrs = [s.lr_at(i, 100) for i in range(101)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_crop_flip_takes_a_window_of_the_padded_image():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 16 * 16, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 16, 16)
    out = crop_flip(x, gen, flip=True)
    assert out.shape == x.shape and out.dtype == torch.uint8
    pad = padding(16)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    for i in range(2):
        windows = [
            w
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for w in (padded[i, :, dy : dy + 16, dx : dx + 16],)
            for w in (w, w.flip(2))
        ]
        assert any(torch.equal(out[i], w) for w in windows)


def test_train_command_prints_one_json_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    args = ["train", "tiny.json", "--data", "synthetic:64", "--epochs", "2", "--batch-size", "16"]
    result = CliRunner().invoke(main, [*args, "--device", "cpu", "--seed", "3"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["status"] == "done" and line["data"] == "synthetic:64" and line["resolution"] == 16
    assert [e["epoch"] for e in line["epochs"]] == [1, 2]
    assert 0 <= line["error"] <= 1 and math.isclose(line["error"], line["epochs"][-1]["test_error"])
    assert line["schedule"]["lr"] == 0.05 and line["versions"]["torch"] == torch.__version__
    assert line["device"] == "cpu (1 thread)" and line["precision"] == "fp32"  # the module runs on one
    assert list((tmp_path / ".specgen-cache").glob("net_*.py"))  # trained from the emitted file


def test_a_batch_larger_than_the_data_is_one_line_without_a_progress_bar(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    args = ["train", "tiny.json", "--data", "synthetic:64", "--batch-size", "128", "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "--batch-size: $: expected at most the 64 training images, got 128\n"


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (("--precision", "fp16"), "--precision: $: expected auto, bf16 or fp32, got 'fp16'"),
        (("--device", "tpu"), "--device: $: expected auto, cpu or cuda[:N], got 'tpu'"),
        (
            ("--data", "cifar10:nowhere"),
            "nowhere: $: expected the CIFAR-10 python folder (data_batch_1..5, test_batch)",
        ),
    ],
)
def test_a_bad_option_or_data_path_is_one_line_before_anything_is_made_or_read(
    option, expected, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    args = ["train", str(tmp_path / "tiny.json"), "--data", f"folder:{tmp_path / 'missing'}", *option]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == expected + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json"]  # no cache folder made


def test_a_cache_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(TINY.model_dump_json())
    (tmp_path / "file").write_text("not a folder")
    args = ["train", "tiny.json", "--data", "synthetic:64", "--device", "cpu", "--cache", "file/cache"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "--cache: $: cannot make the cache folder file/cache: Not a directory\n"


@settings(max_examples=50)
@given(network_specs())
def test_fitting_to_the_data_changes_only_channels_classes_and_resolution(net):
    data = SimpleNamespace(channels=1, num_classes=10, resolution=16)
    fitted = fit_to_data(net, data)
    assert (fitted.in_channels, fitted.num_classes, fitted.resolution) == (1, 10, 16)
    assert fitted.model_dump(exclude={"in_channels", "num_classes", "resolution"}) == net.model_dump(
        exclude={"in_channels", "num_classes", "resolution"}
    )
    assert fit_to_data(fitted, data) == fitted
    same = (net.in_channels, net.num_classes, net.resolution) == (1, 10, 16)
    assert (fitted.content_hash() == net.content_hash()) == same


def test_the_onnx_cross_check_reads_heavy_weights_from_external_data(trained, trainer, monkeypatch):
    """Past protobuf's 2 GiB the graph's weights lie in a .data file beside it; here the limit is low."""
    import specgen.emit.writer
    from specgen.train.crosscheck import onnx_test_error

    model = trainer.build(trained.spec, seed=0)
    inline = onnx_test_error(trained.spec, model.state_dict(), trainer.test_inputs(), trainer.data.test_y)
    written, write = [], specgen.emit.writer.write_all_atomic
    monkeypatch.setattr(
        specgen.emit.writer, "write_all_atomic", lambda files: written.extend(files) or write(files)
    )
    monkeypatch.setattr("specgen.emit.onnx.INLINE_WEIGHTS_LIMIT", 1024)
    external = onnx_test_error(trained.spec, model.state_dict(), trainer.test_inputs(), trainer.data.test_y)
    assert [p.name for p in written] == [f"{trained.spec.name}.onnx.data", f"{trained.spec.name}.onnx"]
    assert external == inline
