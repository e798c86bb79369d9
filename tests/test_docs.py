"""The README and docs/ hold together: every relative link lands on a file (and a heading, when
it names one), and what they say the service answers is what it answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.models.enums import Assignment

ROOT = Path(__file__).parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# [text](target) and ![alt](target); the target ends at whitespace or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(document: Path) -> set[str]:
    text = FENCE.sub("", document.read_text())
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def _links(document: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", document.read_text()))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in _links(document):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:: not ours to check
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no such heading in {file.relative_to(ROOT)}")
    assert not broken, f"{document.relative_to(ROOT)}: {broken}"


def test_the_link_check_sees_headings_as_github_does() -> None:
    assert _slug("Who holds a request: `assigned_to` and `assignment`") == (
        "who-holds-a-request-assigned_to-and-assignment"
    )
    assert _slug("REST in five calls") == "rest-in-five-calls"


def test_the_readme_links_every_document() -> None:
    """Nothing moved out of the README is left where nobody finds it."""
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in _links(ROOT / "README.md")}
    assert not [d.name for d in DOCUMENTS[1:] if d.resolve() not in linked]


def test_the_documented_assignments_are_the_ones_the_service_gives() -> None:
    text = (ROOT / "docs" / "directory.md").read_text()
    table = text.split("| `assignment` | how it got to its holder |", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert documented == [a.value for a in Assignment]
