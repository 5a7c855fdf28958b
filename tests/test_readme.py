"""The README's set-up stays true: CI runs exactly its test command."""

import re

from .conftest import ROOT


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_readme_has_two_setup_commands():
    install_and_run, install_and_test = _commands()
    assert install_and_run.startswith("pip install . && specgen ")
    assert "specs/regnetx_600mf.json" in install_and_run
    assert "[dev]" in install_and_test


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in ci
