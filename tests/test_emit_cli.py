"""`specgen emit` and `specgen convert`: files written, summary, failures one line each, nothing unsafe."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision.models as tvm
from click.testing import CliRunner

from specgen.atomic import write_all_atomic
from specgen.cli import main
from specgen.emit.load import load_network_class
from specgen.emit.python import class_name, render_module
from specgen.emit.writer import emit
from specgen.errors import SpecError
from specgen.network.spec import NetworkSpec, Stage
from specgen.specfile import load_spec

from .conftest import ROOT, SPECS

pytestmark = pytest.mark.usefixtures("one_thread")

NAME_RULE = "expected 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit, got "
TINY = {
    "kind": "anynet",
    "name": "tiny",
    "stem_width": 8,
    "stages": [{"depth": 2, "width": 16, "group_width": 8}, {"depth": 1, "width": 32, "group_width": 8}],
    "se_ratio": 0.25,
    "num_classes": 5,
    "resolution": 32,
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write_spec(folder: Path, file_name: str, **changes) -> Path:
    path = folder / file_name
    path.write_text(json.dumps({**TINY, **changes}))
    return path


def test_readme_command_writes_both_files_and_a_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = run("emit", "specs/regnetx_600mf.json", "--out", str(tmp_path))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regnetx_600mf.onnx", "regnetx_600mf.py"]
    assert (tmp_path / "regnetx_600mf.py").read_bytes() == (
        ROOT / "generated" / "regnetx_600mf.py"
    ).read_bytes()
    header, _, row = out.splitlines()
    assert header.split() == ["name", "stages", "flops", "params", "files", "time"]
    assert row.split()[:7] == [
        "regnetx_600mf",
        "4",
        "600.9",
        "MF",
        "6.20",
        "M",
        f"{tmp_path}/regnetx_600mf.py",
    ]
    onnx.checker.check_model(onnx.load(str(tmp_path / "regnetx_600mf.onnx")))


def test_onnx_weights_are_the_seeded_module_and_deterministic(tmp_path):
    spec = write_spec(tmp_path, "tiny.json")
    for out, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert run("emit", str(spec), "--out", str(tmp_path / out), "--seed", seed)[0] == 0
    data = {out: (tmp_path / out / "tiny.onnx").read_bytes() for out in "abc"}
    assert data["a"] == data["b"] != data["c"]
    net = load_spec(spec).resolve()
    torch.manual_seed(0)
    module = load_network_class(tmp_path / "a" / "tiny.py", class_name(net))().eval()
    x = torch.randn(2, 3, 32, 32)
    session = ort.InferenceSession(data["a"], providers=["CPUExecutionProvider"])
    with torch.no_grad():
        np.testing.assert_allclose(
            session.run(["logits"], {"input": x.numpy()})[0], module(x).numpy(), atol=1e-4
        )


def test_weights_over_the_inline_limit_go_to_one_external_data_file(tmp_path, monkeypatch):
    """As RegNetY-128GF's 2.6 GB would (protobuf refuses 2 GiB); the limit is lowered, not the data raised."""
    monkeypatch.setattr("specgen.emit.onnx.INLINE_WEIGHTS_LIMIT", 1000)
    spec, good = write_spec(tmp_path, "tiny.json"), write_spec(tmp_path, "x.json", name="x")
    code, out, err = run("emit", str(spec), str(good), "--out", str(tmp_path / "out"))
    assert code == 0, err
    names = ["tiny.onnx", "tiny.onnx.data", "tiny.py", "x.onnx", "x.onnx.data", "x.py"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    assert out.splitlines()[2].split()[6:9] == [
        f"{tmp_path}/out/tiny.{s}" for s in ("py", "onnx", "onnx.data")
    ]
    model_path, data_path = tmp_path / "out" / "tiny.onnx", tmp_path / "out" / "tiny.onnx.data"
    onnx.checker.check_model(str(model_path), full_check=True)  # by path: how a model over 2 GiB is checked
    net = load_spec(spec).resolve()
    torch.manual_seed(0)
    module = load_network_class(tmp_path / "out" / "tiny.py", class_name(net))().eval()
    state = module.state_dict()
    floats = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert data_path.stat().st_size == 4 * floats
    graph = onnx.load(str(model_path), load_external_data=False).graph
    assert {(t.data_location, t.raw_data, t.external_data[0].value) for t in graph.initializer} == {
        (onnx.TensorProto.EXTERNAL, b"", "tiny.onnx.data")
    }
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(
            session.run(["logits"], {"input": x.numpy()})[0], module(x).numpy(), atol=1e-4
        )
    first = (model_path.read_bytes(), data_path.read_bytes())
    assert run("emit", str(spec), "--out", str(tmp_path / "again"))[0] == 0
    assert first == (
        (tmp_path / "again" / "tiny.onnx").read_bytes(),
        (tmp_path / "again" / "tiny.onnx.data").read_bytes(),
    )
    monkeypatch.undo()  # the same network, now light enough to be one file: the old data file goes
    assert run("emit", str(spec), "--out", str(tmp_path / "out"))[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [n for n in names if n != "tiny.onnx.data"]


def test_a_target_that_cannot_be_written_leaves_none_of_the_specs_files(tmp_path):
    spec = write_spec(tmp_path, "tiny.json")
    (tmp_path / "out" / "tiny.onnx").mkdir(parents=True)
    code, out, err = run("emit", str(spec), "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == f"{spec}: $: cannot write {tmp_path}/out/tiny.onnx: Is a directory\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["tiny.onnx"]


def test_files_staged_before_a_failure_are_removed(tmp_path):
    def failing():
        yield b"half"
        raise OSError(28, "No space left on device")

    (tmp_path / "a.py").write_text("old")
    with pytest.raises(OSError) as err:
        write_all_atomic({tmp_path / "a.py": "new", tmp_path / "b.onnx": failing()})
    assert (err.value.filename, err.value.strerror) == (str(tmp_path / "b.onnx"), "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]
    assert (tmp_path / "a.py").read_text() == "old"


def test_jsonl_of_samples_writes_the_good_ones_and_reports_each_bad_line(tmp_path):
    good = [{**TINY, "name": f"s{i}", "num_classes": 3 + i} for i in range(2)]
    lines = [json.dumps({"id": "x", "space": "test", "index": i, "spec": s}) for i, s in enumerate(good)]
    lines.insert(1, "")
    lines.append(json.dumps({"spec": {**TINY, "name": "bad", "stem_width": 0}}))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(lines) + "\n")
    code, out, err = run("emit", str(samples), "--out", str(tmp_path / "out"), "--format", "py")
    assert code == 2
    assert err.splitlines() == [f"{samples}:4: spec.stem_width: expected a value >= 1, got 0"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s0.py", "s1.py"]
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["s0", "s1"]
    assert f"Spec: {samples}" in (tmp_path / "out" / "s0.py").read_text()


def test_jsonl_lines_end_only_at_newlines(tmp_path):
    """U+2028 and U+0085 inside a JSON string are no line breaks: the next line keeps its number."""
    lines = [json.dumps({**TINY, "name": "a", "note": "x\u2028y\x85z"}, ensure_ascii=False), "{"]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run("emit", str(samples), "--out", str(tmp_path / "out"), "--format", "py")
    assert code == 2
    assert err.splitlines() == [
        f"{samples}:1: note: unknown field",
        f"{samples}:2: $: invalid JSON at line 1, column 2: Expecting property name enclosed in double"
        " quotes",
    ]


def test_a_jsonl_file_without_specs_is_an_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n")
    code, out, err = run("emit", str(empty), "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert err == f"{empty}: $: expected at least one spec (one JSON object a line), got none\n"


def test_progress_bar_only_for_more_than_a_few(tmp_path):
    specs = [str(write_spec(tmp_path, f"n{i}.json", name=f"n{i}")) for i in range(5)]
    assert "emitting" not in run("emit", *specs[:4], "--out", str(tmp_path / "a"), "--format", "py")[2]
    code, out, err = run("emit", *specs, "--out", str(tmp_path / "b"), "--format", "py")
    assert code == 0 and "emitting" in err and len(out.splitlines()) == 2 + 5


def test_a_name_twice_in_one_run_is_refused(tmp_path):
    a, b = write_spec(tmp_path, "a.json"), write_spec(tmp_path, "b.json", num_classes=9)
    code, _, err = run("emit", str(a), str(b), "--out", str(tmp_path / "out"), "--format", "py")
    assert code == 2
    assert err.splitlines() == [f"{b}: name: expected a name not emitted before in this run ({a})"]
    assert "(N, 5) logits" in (tmp_path / "out" / "tiny.py").read_text()  # the first one stays


def test_bad_options_are_one_line_before_any_work(tmp_path):
    spec = write_spec(tmp_path, "tiny.json")
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"), "--format", "py,pdf")
    assert (code, err) == (2, "--format: $: expected py or onnx, got 'pdf'\n")
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"), "--opset", "5")
    assert code == 2 and err.startswith("--opset: $: expected an ONNX opset from 17 to ")
    assert not (tmp_path / "out").exists()


def test_weights_option_and_convert_command(tmp_path):
    torch.manual_seed(0)
    reference = tvm.regnet_y_400mf(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / "tv.pt")
    data = json.loads((SPECS / "regnety_400mf.json").read_text())
    spec = tmp_path / "regnety_400mf.json"
    spec.write_text(json.dumps({**data, "rounding": "torchvision", "resolution": 32}))
    code, _, err = run("emit", str(spec), "--out", str(tmp_path), "--weights", str(tmp_path / "tv.pt"))
    assert code == 0, err
    graph = onnx.load(str(tmp_path / "regnety_400mf.onnx"))
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in graph.graph.initializer}
    np.testing.assert_array_equal(
        initializers["s2.b1.f.se.f_ex.0.weight"],
        reference.state_dict()["trunk_output.block2.block2-0.f.se.fc1.weight"].numpy(),
    )

    code, out, err = run("convert", str(tmp_path / "tv.pt"), str(spec), "-o", str(tmp_path / "ours.pt"))
    assert code == 0, err
    assert out == f"{tmp_path / 'ours.pt'}: 384 tensors from a torchvision layout\n"
    missing = tmp_path / "no" / "ours.pt"
    code, _, err = run("convert", str(tmp_path / "tv.pt"), str(spec), "-o", str(missing))
    assert (code, err) == (2, f"{missing}: $: expected a file in an existing folder\n")
    net = load_spec(spec).resolve()
    module = load_network_class(tmp_path / "regnety_400mf.py", class_name(net))().eval()
    module.load_state_dict(torch.load(tmp_path / "ours.pt"), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x), atol=1e-5, rtol=0)

    code, _, err = run(
        "emit",
        str(SPECS / "regnetx_200mf.json"),
        "--out",
        str(tmp_path / "x"),
        "--format",
        "py",
        "--weights",
        str(tmp_path / "tv.pt"),
    )
    assert code == 2
    unexpected = (
        "trunk_output.block1.block1-0.f.se.fc1.weight: unexpected tensor: network regnetx_200mf has no such"
        " parameter (s1.b1.f.se.f_ex.0.weight in the emitted module)"
    )
    assert err == f"{tmp_path / 'tv.pt'}: {unexpected}\n"
    assert not (tmp_path / "x").exists()


def test_emitting_only_python_never_imports_torch(tmp_path):
    script = (
        "import sys; from specgen.cli import main\n"
        f"main(['emit', {str(SPECS / 'regnety_600mf.json')!r}, '--out', {str(tmp_path)!r}, '--format', 'py'],"
        " standalone_mode=False)\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "regnety_600mf.py").exists()


# -- untrusted specs -----------------------------------------------------------------------------------

INJECTIONS = [
    ("name", 'x"""\nimport os\n"""', f"name: {NAME_RULE}" + r'"x\"\"\"\nimport os\n\"\"\""'),
    ("name", "x;__import__('os')", f"name: {NAME_RULE}" + "\"x;__import__('os')\""),
    ("kind", "anynet'); import os #", "kind: expected 'regnet' or 'anynet', got \"anynet'); import os #\""),
]


@pytest.mark.parametrize(("field", "value", "message"), INJECTIONS, ids=["docstring", "statement", "kind"])
def test_code_in_a_text_field_is_refused(field, value, message, tmp_path):
    spec = write_spec(tmp_path, "evil.json", **{field: value})
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"))
    assert (code, err) == (2, f"{spec}: {message}\n")
    assert not (tmp_path / "out").exists()


def test_code_in_a_regnet_text_field_is_refused(tmp_path):
    spec = tmp_path / "evil.json"
    data = json.loads((SPECS / "regnetx_200mf.json").read_text())
    spec.write_text(json.dumps({**data, "rounding": "pycls\nimport os"}))
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"))
    assert (code, err) == (
        2,
        f"{spec}: rounding: expected 'pycls' or 'torchvision', got \"pycls\\nimport os\"\n",
    )


def test_a_name_that_leaves_the_output_folder_is_refused(tmp_path):
    spec = write_spec(tmp_path, "evil.json", name="../evil")
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"))
    assert (code, err) == (2, f'{spec}: name: {NAME_RULE}"../evil"\n')
    assert not list(tmp_path.rglob("evil.py"))


def test_the_writer_refuses_such_a_name_even_unvalidated(tmp_path):
    """Defence in depth: a NetworkSpec built without validation still cannot choose the path."""
    net = NetworkSpec.model_construct(**{**NetworkSpec.model_validate(TINY).__dict__, "name": "../evil"})
    with pytest.raises(SpecError) as e:
        emit(net, tmp_path / "out", ("py",))
    assert str(e.value) == "spec: name: expected a name that stays inside the output folder, got '../evil'"
    assert not list(tmp_path.rglob("*.py"))


def test_a_hostile_spec_path_stays_inside_the_docstring(tmp_path):
    """The spec's path is not validated (any file name), so it is escaped: the code is unchanged."""
    folder = tmp_path / 'a"""\nimport os; os.system("x") #\\N'
    folder.mkdir()
    spec = write_spec(folder, "tiny.json")
    code, _, err = run("emit", str(spec), "--out", str(tmp_path / "out"), "--format", "py")
    assert code == 0, err
    hostile = ast.parse((tmp_path / "out" / "tiny.py").read_text())
    plain = ast.parse(render_module(NetworkSpec.model_validate(TINY), "tiny.json"))
    assert f"Spec: {spec}\n" in hostile.body[0].value.value  # escaped in the text, intact as a value
    assert [ast.dump(n) for n in hostile.body[1:]] == [ast.dump(n) for n in plain.body[1:]]


def test_library_render_without_a_source_says_how_to_regenerate():
    text = render_module(NetworkSpec(name="n", stages=[Stage(depth=1, width=8, group_width=8)]))
    assert "specgen emit <spec file>" in text and "Spec: " not in text


def test_an_emit_on_a_full_disk_is_one_line_and_leaves_no_folder_it_made(tmp_path, full_disk):
    disk, fill = full_disk
    spec = write_spec(tmp_path, "tiny.json")
    fill()
    code, out, err = run("emit", str(spec), "--format", "py", "--out", str(disk / "gen" / "nets"))
    assert (code, out) == (2, "")
    assert err == f"{spec}: $: cannot write {disk}/gen/nets/tiny.py: No space left on device\n"
    assert [p.name for p in disk.iterdir()] == [".filler"]
