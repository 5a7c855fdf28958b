"""validate, describe and schema: output, --json, and no torch on the way."""

import ast
import json
import subprocess
import sys

import click
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


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    """(command path, command) for every command of the tool, sub-commands included."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


FLOAT_OPTIONS = [
    (path, param.opts[0])
    for path, command in _commands(main)
    for param in command.params
    if isinstance(param.type, click.types.FloatParamType)
]


def test_the_float_options_are_the_ones_expected():
    assert sorted(FLOAT_OPTIONS) == [
        (("scale",), "--factor"),
        (("sweep", "run"), "--gpus-per-run"),
        (("sweep", "run"), "--lr"),
        (("sweep", "run"), "--weight-decay"),
        (("train",), "--lr"),
        (("train",), "--weight-decay"),
    ]


@pytest.mark.parametrize(("path", "option"), FLOAT_OPTIONS)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_every_float_option_refuses_nan_and_infinities(path, option, value):
    """A NaN passes every range check: `--lr nan` trained and printed "lr": NaN, which is not JSON."""
    result = CliRunner().invoke(main, [*path, option, value], prog_name="specgen")
    command = " ".join(("specgen", *path))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"{command}: Invalid value for '{option}': '{value}' is not a finite number."
        f" (see '{command} --help')\n"
    )


def test_float_options_still_take_finite_values_in_their_range():
    from specgen.cli import FiniteFloat

    lr = FiniteFloat(0, 100, min_open=True)
    assert lr.convert("0.05", None, None) == 0.05 and lr.convert(7, None, None) == 7.0
    with pytest.raises(click.BadParameter, match="0 is not in the range 0<x<=100"):
        lr.convert("0", None, None)


def _json_writes(tree: ast.AST):
    """Every json.dump / json.dumps call in a module that writes a document, with the keywords it passes.
    A call inside an f-string quotes a value in a message, never a document: it is left out."""
    quoted = {id(n) for s in ast.walk(tree) if isinstance(s, ast.JoinedStr) for n in ast.walk(s)}
    for node in ast.walk(tree):
        if (
            id(node) not in quoted
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("dump", "dumps")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "json"
        ):
            yield node.lineno, {k.arg: k.value for k in node.keywords}


MESSAGES_ONLY = {"errors.py"}
"""Modules whose json.dumps only quote values inside error messages (never a JSON document)."""


def test_every_json_the_tool_writes_is_strict():
    """json.dumps writes NaN and Infinity unless told not to: every call that writes a document says so."""
    loose = []
    for module in sorted((ROOT / "specgen").rglob("*.py")):
        name = module.relative_to(ROOT / "specgen").as_posix()
        for line, keywords in _json_writes(ast.parse(module.read_text())):
            if name in MESSAGES_ONLY:
                continue
            flag = keywords.get("allow_nan")
            if not (isinstance(flag, ast.Constant) and flag.value is False):
                loose.append(f"{name}:{line}")
    assert loose == []


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_json_of_the_light_commands_parses_strictly():
    for args in (["describe", X600, "--json"], ["schema"], ["spaces", "regnetx_constrained", "--json"]):
        result = run(*args)
        assert result.exit_code == 0, result.stderr
        _strict(result.stdout)
    result = run("sample", "anynetx_e", "--n", "3")
    assert [_strict(line)["index"] for line in result.stdout.splitlines()] == [0, 1, 2]
