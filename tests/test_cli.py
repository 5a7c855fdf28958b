"""validate, describe and schema: output, --json, and no torch on the way."""

import json
import subprocess
import sys

import jsonschema
import pytest
from click.testing import CliRunner

from specgen.cli import main

from .conftest import ROOT, SPECS

X600 = str(SPECS / "regnetx_600mf.json")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_describe_regnetx_600mf():
    result = run("describe", X600)
    assert result.exit_code == 0, result.output
    out = result.stdout
    rows = [line.split() for line in out.splitlines() if line.startswith("s") and line[1:2].isdigit()]
    assert [int(r[2]) for r in rows] == [48, 96, 240, 528]
    assert [int(r[1]) for r in rows] == [1, 3, 5, 7]
    assert [int(r[3]) for r in rows] == [24, 24, 24, 24]
    assert "600,891,112" in out and "600.9 MF" in out
    assert "6,196,040" in out and "6.20 M" in out
    assert "3,975,096" in out and "3.98 M" in out


def test_describe_json_and_resolution():
    result = run("describe", X600, "--json")
    info = json.loads(result.stdout)
    assert (info["flops"], info["params"], info["acts"]) == (600_891_112, 6_196_040, 3_975_096)
    assert [s["width"] for s in info["stages"]] == [48, 96, 240, 528]
    small = json.loads(run("describe", X600, "--json", "--resolution", "32").stdout)
    assert small["params"] == info["params"] and small["flops"] < info["flops"]
    assert small["resolution"] == 32


def test_describe_anynet_spec(tmp_path):
    spec = {
        "kind": "anynet",
        "name": "tiny",
        "stages": [{"depth": 1, "width": 32, "group_width": 8}, {"depth": 2, "width": 64, "group_width": 8}],
        "se_ratio": 0.25,
        "num_classes": 10,
        "resolution": 32,
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec))
    result = run("describe", str(path))
    assert result.exit_code == 0
    assert "tiny: AnyNet" in result.stdout and "Y (SE 0.25) blocks, 10 classes" in result.stdout


def test_validate_all_zoo_specs():
    files = sorted(str(p) for p in SPECS.glob("*.json"))
    result = run("validate", *files)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 24


def test_schema_checks_spec_files():
    schema = json.loads(run("schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in SPECS.glob("*.json"):
        jsonschema.validate(json.loads(path.read_text()), schema)
    bad = json.loads((SPECS / "regnetx_600mf.json").read_text()) | {"colour": "red"}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)


def test_schema_and_validate_agree_that_kind_is_required(tmp_path):
    schema = json.loads(run("schema").stdout)
    spec = json.loads((SPECS / "regnetx_600mf.json").read_text())
    del spec["kind"]
    (tmp_path / "no_kind.json").write_text(json.dumps(spec))
    assert not jsonschema.Draft202012Validator(schema).is_valid(spec)
    assert run("validate", str(tmp_path / "no_kind.json")).exit_code == 2
    for model in ("RegNetSpec", "NetworkSpec"):
        assert "kind" in schema["$defs"][model]["required"]
        assert "default" not in schema["$defs"][model]["properties"]["kind"]


def test_light_commands_never_import_torch():
    code = (
        "import sys\n"
        "from specgen.cli import main\n"
        f"for args in (['describe', {X600!r}], ['validate', {X600!r}], ['schema']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_help_lists_commands():
    out = run("--help").stdout
    for command in ("validate", "describe", "schema"):
        assert command in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bogus"], "specgen: No such command 'bogus'. (see 'specgen --help')"),
        (["--bogus"], "specgen: No such option '--bogus'. (see 'specgen --help')"),
        (["describe"], "specgen describe: Missing argument 'FILE'. (see 'specgen describe --help')"),
        (
            ["train", X600, "--data", "digits", "--epochs", "0"],
            "specgen train: Invalid value for '--epochs': 0 is not in the range 1<=x<=10000."
            " (see 'specgen train --help')",
        ),
        (
            ["sweep", "regnetx", "--n", "2", "--data", "digits", "--store", "s.db", "--executor", "k8s"],
            "specgen sweep run: Invalid value for '--executor': 'k8s' is not one of 'local', 'ray'."
            " (see 'specgen sweep run --help')",
        ),
        (
            ["emit", X600, "--seed", str(2**64)],
            "specgen emit: Invalid value for '--seed': 18446744073709551616 is not in the range"
            " 0<=x<=9223372036854775807. (see 'specgen emit --help')",
        ),
        (
            ["sweep", "status"],
            "specgen sweep status: Missing argument 'STORE'. (see 'specgen sweep status --help')",
        ),
    ],
)
def test_a_bad_command_line_is_one_line_too(args, expected):
    result = CliRunner().invoke(main, args, prog_name="specgen")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == expected + "\n"


def test_a_bare_group_shows_its_help():
    for args, first in (
        ([], "Usage: specgen [OPTIONS] COMMAND"),
        (["sweep"], "Usage: specgen sweep [OPTIONS]"),
    ):
        result = CliRunner().invoke(main, args, prog_name="specgen")
        assert result.exit_code == 2 and result.stderr.startswith(first) and "Commands:" in result.stderr
