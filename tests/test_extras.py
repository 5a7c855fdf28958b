"""`pip install 'specgen[testing]'` is enough for specgen.testing, and the `dev` extra includes it."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement

from .conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def _third_party_imports(module: str) -> set[str]:
    """Top-level packages outside specgen and the standard library that `module` imports, directly or
    through the specgen modules it imports (lazy imports inside functions included)."""
    found, seen, todo = set(), set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT.joinpath(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for full in imported:
                top = full.split(".")[0]
                target = ROOT.joinpath(*full.split("."))
                if top == "specgen":
                    if target.is_dir() or target.with_suffix(".py").is_file():  # a module, not a name in one
                        todo.append(full)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def test_the_testing_extra_installs_what_specgen_testing_imports():
    distributions = packages_distributions()
    needed = {distributions[top][0].lower() for top in _third_party_imports("specgen.testing")}
    assert "hypothesis" in needed and "hypothesis" not in _names(PROJECT["dependencies"])
    assert needed - _names(PROJECT["dependencies"]) <= _names(EXTRAS["testing"])


def test_dev_includes_the_testing_extra():
    dev = [Requirement(r) for r in EXTRAS["dev"]]
    assert [r.extras for r in dev if r.name == PROJECT["name"]] == [{"testing"}]
