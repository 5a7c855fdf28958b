"""The README's examples print what the README shows.

Every fenced block whose lines start with `$ ` is run, command by command, by bash in an empty folder
that holds the repository's `specs/` and `docs/` and each JSON spec the README shows, as `<its name>.json`.
The output under a command must match the lines the README shows under it, where
- a line `...` stands for any number of lines, and `...` inside a line for any text;
- durations and rates (`2.75 s`, `16 s`, `4,185 img/s`, a progress bar's `00:05<00:00, 36.80step/s`) are
  machine-dependent, as the README says, and match any figure;
- runs of spaces (table alignment) match any run of spaces, and a table's rule (a line of dash runs) any
  rule with as many columns, since a column of machine-dependent figures is as wide as its widest one.
The training examples pin the thread count on their command line, so their figures repeat.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SPECS

README = (ROOT / "README.md").read_text()
# A duration or rate, or tqdm's elapsed<remaining, rate.
MACHINE_DEPENDENT = re.compile(
    r"\d[\d,]*(?:\.\d+)? (?:s|ms|img/s)\b|\d+:\d\d<\d+:\d\d, +\d[\d.]*(?:\w+/s|s/\w+)"
)
RULE = re.compile(r"-+(?: +-+)*")  # the line under a table's headers


def _fenced(info: str) -> list[str]:
    """The bodies of the README's fenced blocks whose opening fence reads ```<info>, in order."""
    bodies, opened, lines = [], None, []
    for line in README.splitlines():
        if opened is None and line.startswith("```"):
            opened, lines = line[3:].strip(), []
        elif opened is not None and line == "```":
            if opened == info:
                bodies.append("\n".join(lines) + "\n")
            opened = None
        elif opened is not None:
            lines.append(line)
    return bodies


def _example_blocks() -> list[list[tuple[str, list[str]]]]:
    """Each shell example as (command, expected output lines) pairs, in README order."""
    blocks = []
    for body in _fenced(""):
        lines = body.splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        steps: list[tuple[str, list[str]]] = []
        for line in lines:
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append(steps)
    return blocks


def _readme_specs() -> dict[str, str]:
    """The JSON specs the README shows, by the file name the examples use for them."""
    specs = {}
    for body in _fenced("json"):
        spec = json.loads(body)
        specs[f"{spec['name']}.json"] = body
    return specs


def _line_pattern(expected: str) -> re.Pattern:
    if RULE.fullmatch(expected):
        return re.compile(" +".join(["-+"] * len(expected.split())))
    parts = []
    for i, piece in enumerate(expected.split("...")):
        if i:
            parts.append(".*")
        for j, word in enumerate(re.split(r" +", MACHINE_DEPENDENT.sub("\0", piece))):
            if j:
                parts.append(" +")
            parts.append(".+?".join(re.escape(w) for w in word.split("\0")))
    return re.compile("".join(parts))


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the actual lines match the expected ones, `...` lines matching any run of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(_matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and bool(_line_pattern(head).fullmatch(actual[0])) and _matches(rest, actual[1:])


BLOCKS = _example_blocks()


def test_the_readme_has_examples_to_run():
    commands = [command for block in BLOCKS for command, _ in block]
    assert len(BLOCKS) == README.count("\n```\n$ ")
    assert any(c.startswith("specgen emit ") for c in commands)
    assert any("specgen train " in c for c in commands)
    assert any("specgen sweep " in c for c in commands)


def test_the_matcher_is_strict_where_the_readme_is():
    assert _matches(["a  b", "...", "end"], ["a b", "x", "y", "end"])
    assert _matches(["took 2.75 s"], ["took 12.5 s"])
    assert _matches(
        ["x: 100%| 6/6 [00:21<00:00,  3.56s/run, last=16.9%]"],
        ["x: 100%| 6/6 [01:02<00:00, 9.1s/run, last=16.9%]"],
    )
    assert not _matches(
        ["x: 100%| 6/6 [00:21<00:00,  3.56s/run, last=16.9%]"],
        ["x: 100%| 6/6 [00:21<00:00,  3.56s/run, last=17.0%]"],
    )
    assert not _matches(["error 1.94%"], ["error 1.95%"])
    assert not _matches(["a", "b"], ["a"])
    assert _matches(["----  ------"], ["------  ----"])
    assert not _matches(["----  ------"], ["----  ----  --"])
    assert not _matches(["----  ------"], ["----  --x---"])
    assert _matches(['{"a": 1, ..., "z": 2}'], ['{"a": 1, "b": 3, "z": 2}'])


@pytest.mark.parametrize("block", BLOCKS, ids=[block[0][0].split(" -")[0][:60] for block in BLOCKS])
def test_readme_example(block, tmp_path):
    (tmp_path / "specs").symlink_to(SPECS, target_is_directory=True)
    (tmp_path / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    for name, text in _readme_specs().items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command, expected in block:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        output = done.stdout.decode()  # as bytes: text mode would turn a progress bar's \r into \n
        # What a terminal leaves on screen: a progress bar redraws its line after each carriage return
        # and pads it with spaces.
        lines = output.removesuffix("\n").split("\n") if output else []
        actual = [line.rsplit("\r", 1)[-1].rstrip() for line in lines]
        assert _matches(expected, actual), f"$ {command}\n" + "\n".join(actual)
