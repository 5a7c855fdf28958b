"""The standalone PyTorch module of a network, rendered from `templates/network.py.j2`, which
includes its stem type's and block type's fragments (`templates/stems/`, `templates/blocks/`).

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
from collections.abc import Iterable

from specgen import describe
from specgen.emit.layout import block_shapes, features
from specgen.emit.templates import environment
from specgen.fmt import table
from specgen.network.blocks import BLOCK_TYPES
from specgen.network.layers import projects
from specgen.network.spec import NetworkSpec
from specgen.network.stems import STEM_TYPES

TEMPLATE = "network.py.j2"
_SEPARATORS = re.compile(r"[_.\-]+")
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
# Names the module defines or uses, and Python's capitalized builtins: the class must shadow none.
_TAKEN = frozenset(
    {"Stem", "SqueezeExcitation", "Bottleneck", "BasicTransform", "Block", "Stage", "Head", "OrderedDict"}
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
    kinds = {bool(projects(b.w_in, b.w_out, b.stride)) for _, b in block_shapes(net)}
    return "mixed" if len(kinds) == 2 else ("projection" if True in kinds else "identity")


def _tuple(items: Iterable[str]) -> str:
    """A tuple literal as ruff formats it: (a,) or (a, b)."""
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _feature_table(net: NetworkSpec) -> str:
    rows = [(f.name, f.channels, f.reduction) for f in features(net)]
    return table(["feature", "channels", "reduction"], rows, right=[False, True, True])


def _context(net: NetworkSpec, source: str | None) -> dict:
    block = BLOCK_TYPES[net.block_type]
    bottleneck = block.grouped and any(s.bottleneck_width != s.width for s in net.stages)
    # The block's arguments beyond (w_in, w_out, stride): only those this network varies.
    extras = (["w_b"] if bottleneck else []) + (["group_width"] if block.grouped else [])
    params, args = "".join(f", {e}: int" for e in extras), "".join(f", {e}" for e in extras)
    stages, w_in = [], net.stem_width
    for s in net.stages:
        values = {"w_b": s.bottleneck_width, "group_width": s.group_width}
        stage_args = f"{w_in:d}, {s.width:d}, stride={s.stride:d}, depth={s.depth:d}"
        stages.append({"args": stage_args + "".join(f", {e}={values[e]:d}" for e in extras)})
        w_in = s.width
    return {
        "name": net.name,
        "class_name": class_name(net),
        "source": source,
        "regenerate": shlex.quote(source) if source is not None else "<spec file>",
        "content_hash": net.content_hash(),
        "description": describe.render(net).split("\n", 1)[1],  # its first line repeats the name
        "feature_channels": _tuple(f"{f.channels:d}" for f in features(net)),
        "feature_reductions": _tuple(f"{f.reduction:d}" for f in features(net)),
        "feature_table": _feature_table(net),
        "stage_modules": _tuple(f"self.s{i}" for i in range(1, len(net.stages) + 1)),
        "stem_template": STEM_TYPES[net.stem_type].template,
        "block_template": BLOCK_TYPES[net.block_type].template,
        # In place, as pycls's nn.ReLU(inplace=True): nothing else reads what they overwrite.
        "act": {"relu": "torch.relu_", "silu": "nn.functional.silu"}[net.activation],
        "act_kw": {"relu": "", "silu": ", inplace=True"}[net.activation],
        "act_name": {"relu": "ReLU", "silu": "SiLU"}[net.activation],
        "act_module": {"relu": "nn.ReLU(inplace=True)", "silu": "nn.SiLU(inplace=True)"}[net.activation],
        "linear_out": net.linear_out,
        "preact": net.preact,
        "avg_shortcut": net.shortcut == "avg",
        "se": net.se_ratio > 0,
        "se_ratio": repr(float(net.se_ratio)),
        "bottleneck": bottleneck,
        "shortcut": shortcut_kind(net),
        "block_params": f"w_in: int, w_out: int, stride: int{params}",
        "block_args": f"w_in, w_out, stride{args}",
        "stage_params": f"w_in: int, w_out: int, stride: int, depth: int{params}",
        "other_block_args": f"w_out, w_out, 1{args}",
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
