"""The repository stands alone: nothing in it reads or cites a file outside it.

A user's clone has nothing beside it, so a path that climbs out of the repository, or a citation of a
document the repository does not hold, is a defect. The code cites the paper's rules as
`docs/reference.md §N`, and each cited section must exist there.
"""

import re

from .conftest import ROOT

TEXT_FILES = [
    path
    for top in ("specgen", "specs", "tests", "templates", "bench", "docs", ".ci")
    for path in (ROOT / top).rglob("*")
    if path.is_file() and path.suffix in {".py", ".j2", ".md", ".toml", ".json", ""}
] + [ROOT / "README.md", ROOT / "pyproject.toml"]

# A path out of the repository, or a reference document it does not hold.
OUTSIDE = re.compile(r"\.\./shared|parent\s*/\s*[\"']shared[\"']|REFERENCE\.md|REFERENCE §")
CITATION = re.compile(r"docs/reference\.md §(\d+)")


def _lines(pattern: re.Pattern) -> list[tuple[str, int, re.Match]]:
    found = []
    for path in TEXT_FILES:
        if path == ROOT / "tests" / "test_standalone.py":
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            found += [(str(path.relative_to(ROOT)), n, m) for m in pattern.finditer(line)]
    return found


def test_nothing_reaches_outside_the_repository():
    assert [f"{path}:{n}: {m[0]}" for path, n, m in _lines(OUTSIDE)] == []


def test_every_cited_section_exists():
    sections = set(re.findall(r"^## §(\d+) ", (ROOT / "docs" / "reference.md").read_text(), flags=re.M))
    citations = _lines(CITATION)
    assert citations, "the code cites docs/reference.md"
    assert [f"{path}:{n}: §{m[1]}" for path, n, m in citations if m[1] not in sections] == []
