"""The front door: a README a newcomer reads through, and every link in it and in docs/ leads
somewhere."""

import re

import pytest

from tests.conftest import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def test_readme__under_300_lines_with_the_two_commands():
    text = (PROJECT_ROOT / "README.md").read_text()
    assert text.count("\n") < 300
    assert "pip install -e . && kedro run" in text and 'pip install -e ".[test]" && pytest' in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs__every_relative_link_resolves(page):
    broken = []
    for markdown, image in LINK.findall(page.read_text()):
        target = markdown or image
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


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"\n## ", text[start + len(heading):])
    return text[start:start + len(heading) + following.start()] if following else text[start:]


def _first_cells(section: str) -> list[str]:
    return [line.split("|")[1] for line in section.splitlines()
            if line.startswith("|") and not set(line) <= set("|-: ")][1:]  # the header row left out


@pytest.fixture(scope="module")
def kedro_context():
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT) as session:
        return session.load_context()


def test_readme__the_pipelines_table_names_every_registered_pipeline_and_no_other(kedro_context):
    from kedro.framework.project import pipelines

    section = _section((PROJECT_ROOT / "README.md").read_text(), "## Pipelines")
    named = {name for cell in _first_cells(section) for name in re.findall(r"`([\w]+)`", cell)}
    mentioned = set(re.findall(r"`([a-z_]\w*)`", section))
    registered = set(pipelines)
    assert named <= registered, sorted(named - registered)
    assert registered <= mentioned, sorted(registered - mentioned)


def test_readme__what_a_run_leaves_is_where_the_catalog_writes(kedro_context):
    """Each folder or file of the README's short table is where catalog entries write (their
    ``filepath``/``path``, ``{dataset}`` read as ``<d>``)."""
    catalog = kedro_context.config_loader["catalog"]
    globals_ = kedro_context.config_loader["globals"]

    def where(entry: dict) -> str | None:
        path = entry.get("filepath") or entry.get("path")
        if path is None and isinstance(entry.get("dataset"), dict):
            path = entry["dataset"].get("filepath") or entry["dataset"].get("path")
        return str(path).replace("{dataset}", "<d>") if path else None

    written = {where(entry) for entry in catalog.values() if isinstance(entry, dict)} - {None}
    assert any(w.startswith("data/0") for w in written), (sorted(written)[:5], globals_)
    section = _section((PROJECT_ROOT / "README.md").read_text(), "## What a run leaves")
    cells = [cell for line in section.splitlines() if line.startswith("| `data/")
             for cell in [line.split("|")[1], line.split("|")[2]]]
    places = [(m, cell) for cell in cells for m in re.findall(r"`(data/[^`]+)`", cell)]
    folders = [m for m, _ in places if m.endswith("/")]
    files = [m for m, _ in places if not m.endswith("/")]
    assert folders and files
    assert [f for f in folders if not any(w.startswith(f) or w == f.rstrip('/') for w in written)] == []
    assert [f for f in files if f not in written and not any(w.startswith(f + "/") for w in written)] == []
    for line in section.splitlines():  # the file names listed beside a folder
        if line.startswith("| `data/") and line.split("|")[1].strip().strip("`").endswith("/"):
            folder = line.split("|")[1].strip().strip("`")
            for name in re.findall(r"`([\w.]+\.(?:json|parquet|png|mp4|pt))`", line.split("|")[2]):
                assert any(w.startswith(folder) and w.endswith(name) for w in written), (folder, name)


def _parameter_names(cell: str) -> list[str]:
    """``<d>.train.model.backbone``, ``backbone_weights`` -> both as full dotted names."""
    names = re.findall(r"`([^`]+)`", cell)
    full = []
    for name in names:
        if "." in name:
            full.append(name)
        elif full:
            full.append(full[-1].rsplit(".", 1)[0] + "." + name)
    return full


def test_parameters_page__every_parameter_it_names_is_in_the_demo_conf(kedro_context):
    """``docs/PARAMETERS.md``'s table against ``conf/base``: every name it lists is a parameter of
    at least one dataset (``<d>``: any dataset namespace; ``<t>``: a FineGym taxonomy;
    ``<algorithm>``: the block that holds them)."""
    params = kedro_context.config_loader["parameters"]
    datasets = [k for k, v in params.items() if isinstance(v, dict)]
    section = _section((PROJECT_ROOT / "docs/PARAMETERS.md").read_text(), "## Parameters")
    missing = []
    for cell in _first_cells(section):
        for name in _parameter_names(cell):
            name = name.split(".<algorithm>")[0]
            candidates = [name.replace("<d>", d).replace("<t>", t) for d in datasets for t in ("gym99", "gym288")]
            found = False
            for candidate in candidates:
                value = params
                for part in candidate.split("."):
                    if not isinstance(value, dict) or part not in value:
                        break
                    value = value[part]
                else:
                    found = True
                    break
            if not found:
                missing.append(name)
    assert not missing, missing


def test_parameters_page__the_layout_lists_every_package_and_nothing_that_is_not_there():
    text = _section((PROJECT_ROOT / "docs/PARAMETERS.md").read_text(), "## Layout")
    block = text[text.index("```") + 3:text.rindex("```")]
    listed = set(re.findall(r"^  (\w+)/", block, re.M))
    packages = {p.parent.name for p in (PROJECT_ROOT / "src/carl_pipeline").glob("*/__init__.py")}
    assert listed == packages, (sorted(packages - listed), sorted(listed - packages))
    for top in re.findall(r"^([\w.]+/?[\w./]*)\s", block, re.M):
        assert (PROJECT_ROOT / top.rstrip("/")).exists(), top
