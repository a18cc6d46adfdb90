"""The front door: a README a newcomer reads through, and every link in it and in docs/ leads
somewhere."""

import re

import pytest

from tests.conftest import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_readme__under_300_lines_with_the_two_commands():
    text = (PROJECT_ROOT / "README.md").read_text()
    assert text.count("\n") < 300
    assert "pip install -e . && kedro run" in text and 'pip install -e ".[test]" && pytest' in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs__every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^(https?:|mailto:|#)", target):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_docs__every_page_is_linked_from_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert [p.name for p in PAGES[1:] if f"docs/{p.name}" not in readme] == []


def test_prose__every_project_path_it_names_exists():
    """A path under benchmarks/, experiments/, docs/ or tests/ named in the source, the docs or the
    README is a file or folder of the repository (prose that points at nothing misleads)."""
    named = re.compile(r"(?<![\w/.-])((?:benchmarks|experiments|docs|tests)/[\w./-]*[\w/])")
    texts = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md")),
             *sorted((PROJECT_ROOT / "src").rglob("*.py")), *sorted((PROJECT_ROOT / "conf").rglob("*.yml"))]
    missing = set()
    for path in texts:
        for match in named.findall(path.read_text()):
            target = match.rstrip(".")
            if "<" in target or "*" in target:
                continue
            if not (PROJECT_ROOT / target).exists():
                missing.add(f"{path.relative_to(PROJECT_ROOT)}: {target}")
    assert not missing, sorted(missing)
