"""The standalone PyTorch module of a network, rendered from `templates/network.py.j2`.

The file reads as if written by hand for this one network: only the parts it
uses are rendered (no SE code in an X network, no projection branch where no
block changes shape). Every value from the spec reaches the text as a
validated identifier or a number literal; the spec's path, which is not
validated, only appears escaped inside the docstring.
"""

from __future__ import annotations

import builtins
import re
import shlex

from specgen import describe
from specgen.emit.templates import environment
from specgen.spec import NetworkSpec

TEMPLATE = "network.py.j2"
_SEPARATORS = re.compile(r"[_.\-]+")
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# Names the module defines or uses, and Python's capitalized builtins: the class must shadow none.
_TAKEN = frozenset(
    {"Stem", "SqueezeExcitation", "Bottleneck", "Block", "Stage", "Head", "OrderedDict"}
    | {name for name in dir(builtins) if name[:1].isupper()}
)


def class_name(net: NetworkSpec) -> str:
    """CamelCase of the spec's name: regnetx_600mf -> Regnetx600mf.

    Never a keyword, a builtin, a name the module uses, or one letter (ruff's E742: I, O).
    """
    parts = [p for p in _SEPARATORS.split(net.name) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts)
    if not name[:1].isalpha():
        name = "Net" + name
    if name in _TAKEN or len(name) == 1:
        name += "Net"
    if not _CLASS_NAME.fullmatch(name):  # the name pattern makes this unreachable; keep the guard explicit
        raise ValueError(f"cannot make a class name from {net.name!r}")
    return name


def docstring_text(text: str) -> str:
    """Any text made safe inside a triple-quoted docstring: escapes for backslashes,
    control and non-ASCII characters, and every double quote."""
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def shortcut_kind(net: NetworkSpec) -> str:
    """'projection' when every block changes width or stride, 'identity' when none does, else 'mixed'."""
    w_in, kinds = net.stem_width, set()
    for stage in net.stages:
        kinds.add(stage.width != w_in or stage.stride != 1)
        if stage.depth > 1:
            kinds.add(False)
        w_in = stage.width
    return "mixed" if len(kinds) == 2 else ("projection" if True in kinds else "identity")


def _context(net: NetworkSpec, source: str | None) -> dict:
    bottleneck = any(s.bottleneck_width != s.width for s in net.stages)
    w_b = "w_b, " if bottleneck else ""
    w_b_param = "w_b: int, " if bottleneck else ""
    stages, w_in = [], net.stem_width
    for s in net.stages:
        args = f"{w_in:d}, {s.width:d}, stride={s.stride:d}, depth={s.depth:d}, "
        if bottleneck:
            args += f"w_b={s.bottleneck_width:d}, "
        stages.append({"args": args + f"group_width={s.group_width:d}"})
        w_in = s.width
    return {
        "name": net.name,
        "class_name": class_name(net),
        "source": source,
        "regenerate": shlex.quote(source) if source is not None else "<spec file>",
        "content_hash": net.content_hash(),
        "description": describe.render(net).split("\n", 1)[1],  # its first line repeats the name
        "se": net.se_ratio > 0,
        "se_ratio": repr(float(net.se_ratio)),
        "bottleneck": bottleneck,
        "shortcut": shortcut_kind(net),
        "block_params": f"w_in: int, w_out: int, stride: int, {w_b_param}group_width: int",
        "block_args": f"w_in, w_out, stride, {w_b}group_width",
        "stage_params": f"w_in: int, w_out: int, stride: int, depth: int, {w_b_param}group_width: int",
        "other_block_args": f"w_out, w_out, 1, {w_b}group_width",
        "stages": stages,
        "stem_width": f"{net.stem_width:d}",
        "in_channels": f"{net.in_channels:d}",
        "num_classes": f"{net.num_classes:d}",
        "head_width": f"{net.stages[-1].width:d}",
    }


def render_module(net: NetworkSpec, source: str | None = None) -> str:
    """The text of the standalone .py for `net`; `source` is the spec file it came from."""
    net = NetworkSpec.model_validate(net.model_dump(), strict=True)  # re-check what was built in code
    env = environment()
    env.filters.setdefault("docstring", docstring_text)
    return env.get_template(TEMPLATE).render(_context(net, source))
