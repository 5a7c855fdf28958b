"""Which spec a checkpoint fits when it does not fit the one given.

A torchvision regnet_x_400mf checkpoint does not fit specs/regnetx_400mf.json only because
torchvision rounds widths its own way; a shape error alone does not say so. The candidates are
the same RegNet parameters under the other rounding, and the specs shipped in the checkout
(specs/*.json, specs/torchvision/*.json). A wheel carries no specs: installed that way, only the
other rounding is tried. Nothing here needs torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from specgen.emit.layout import check_state_dict
from specgen.emit.weights import layout, renamed_state, unwrapped
from specgen.errors import SpecError
from specgen.network.regnet import RegNetSpec
from specgen.network.spec import NetworkSpec
from specgen.specfile import load_spec

CHECKOUT = Path(__file__).resolve().parents[2]
"""The folder holding specgen/ and, in a checkout (it has pyproject.toml), specs/."""


def shipped_specs() -> list[Path]:
    """The zoo specs and torchvision's, from the checkout specgen runs from; none from a wheel."""
    if not (CHECKOUT / "pyproject.toml").is_file():
        return []
    specs = CHECKOUT / "specs"
    return sorted(specs.glob("*.json")) + sorted((specs / "torchvision").glob("*.json"))


def _fits(state: Mapping, net: NetworkSpec) -> bool:
    try:
        check_state_dict(net, state, "checkpoint")
    except SpecError:
        return False
    return True


def _other_rounding(spec: RegNetSpec | NetworkSpec) -> RegNetSpec | None:
    """The same RegNet parameters under the other rounding, if they make a valid network."""
    if not isinstance(spec, RegNetSpec):
        return None
    other = "pycls" if spec.rounding == "torchvision" else "torchvision"
    try:
        return RegNetSpec.model_validate({**spec.model_dump(), "rounding": other})
    except ValidationError:
        return None


def _shown(path: Path) -> str:
    """A path as the user would type it: `specs/...` when that name reaches the file from the working
    folder (in the checkout, or through a link to its specs), else relative to the working folder when
    inside it, else whole."""
    in_checkout = path.relative_to(CHECKOUT)
    if (Path.cwd() / in_checkout).resolve() == path.resolve():
        return str(in_checkout)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def fitting_spec(checkpoint: Mapping, spec: RegNetSpec | NetworkSpec) -> str | None:
    """What the checkpoint fits instead of `spec`, said for an error line; None when nothing does.

    A shipped spec is named first (under the other rounding's when that fits, else the rounding of
    the checkpoint's source: torchvision's for its layout, pycls's otherwise).
    """
    state, _ = renamed_state(checkpoint, spec.resolve())
    other = _other_rounding(spec)
    if other is not None and _fits(state, other.resolve()):
        preferred = other.rounding
    else:
        other, preferred = None, "torchvision" if layout(unwrapped(checkpoint)) == "torchvision" else "pycls"
    candidates = []
    for path in shipped_specs():
        try:
            candidates.append((path, load_spec(path)))
        except SpecError:  # a broken file in the checkout is no candidate
            continue
    candidates.sort(key=lambda c: getattr(c[1], "rounding", None) != preferred)  # stable: path order kept
    for path, candidate in candidates:
        if _fits(state, candidate.resolve()):
            rounding = getattr(candidate, "rounding", None)
            return f"the checkpoint fits {_shown(path)}" + (f" ({rounding} rounding)" if rounding else "")
    if other is not None:
        return f'the checkpoint fits this spec with "rounding": "{other.rounding}"'
    return None


def with_hint(error: SpecError, checkpoint: Mapping, spec: RegNetSpec | NetworkSpec) -> SpecError:
    """`error`, still one line, naming the spec the checkpoint fits when one does."""
    hint = fitting_spec(checkpoint, spec)
    return error if hint is None else SpecError(error.source, error.path, f"{error.message}; {hint}")
