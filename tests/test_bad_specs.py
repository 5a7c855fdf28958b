"""Bad input: each file in the corpus gets its exact one-line message and exit status 2."""

import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given

from specgen.cli import main
from specgen.errors import SpecError
from specgen.specfile import validate_spec
from specgen.testing import invalid_specs

from .conftest import ROOT

CORPUS = ROOT / "tests" / "bad_specs"
EXPECTED = dict(line.split("\t", 1) for line in (CORPUS / "expected.txt").read_text().splitlines())


def test_corpus_is_large_and_complete():
    files = {p.name for p in CORPUS.glob("*.json")}
    assert len(EXPECTED) >= 20
    assert files | {"does_not_exist.json"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("command", ["validate", "describe"])
def test_bad_spec_gets_one_exact_line(name, command):
    path = str(CORPUS / name)
    result = CliRunner().invoke(main, [command, path])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}: {EXPECTED[name]}\n"


def test_real_process_reports_every_bad_file_without_traceback():
    names = sorted(EXPECTED)[:5]
    good = str(ROOT / "specs" / "regnetx_600mf.json")
    args = [str(CORPUS / n) for n in names]
    proc = subprocess.run(
        [sys.executable, "-m", "specgen", "validate", *args, good], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"{a}: {EXPECTED[n]}" for a, n in zip(args, names, strict=True)]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == f"{good}: ok (regnet, 4 stages, 600.9 MF)\n"


@given(invalid_specs())
def test_each_broken_rule_is_reported_at_its_field(case):
    with pytest.raises(SpecError) as err:
        validate_spec(case.data, "spec.json")
    assert err.value.path == case.path, case.rule
    assert str(err.value).startswith(f"spec.json: {case.path}: ")
    assert "\n" not in str(err.value)
