"""The reference in docs/ says what the code does, and every link in it leads somewhere."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from unmixed.wire.status import StatusCode, SubCode

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
GENERATED = re.compile(r"<!-- generated: ([a-z0-9-]+) -->.*?<!-- end: \1 -->", re.DOTALL)
GONE = ("DESIGN.md", "../shared")
"""References to documents outside the repository, which readers of it cannot open."""


def test_generated_parts_are_up_to_date() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-docs"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def _anchors(page: Path) -> set[str]:
    """The fragment GitHub gives each heading of `page`."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
        anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_lead_to_files_and_headings_that_exist(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in _anchors(linked):
            broken.append(f"{target}: no such heading")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


def test_nothing_cites_documents_outside_the_repository() -> None:
    sources = [*PAGES, *(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").iterdir()]
    citing = [
        f"{source.relative_to(ROOT)}: {gone}"
        for source in sources
        if source.is_file()
        for gone in GONE
        if gone in source.read_text(errors="replace")
    ]
    assert citing == []


def test_every_status_and_sub_code_is_explained_in_words() -> None:
    """Beyond the generated tables, which only list them: a reader must learn when each
    happens."""
    written = GENERATED.sub("", (ROOT / "docs" / "bots.md").read_text())
    unexplained = [code.value for code in [*StatusCode, *SubCode] if f"`{code}`" not in written]
    assert unexplained == []
