import shutil
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT


def test_ruff__source_tests_and_benchmarks_pass_the_linter():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is in the test extra")
    result = subprocess.run([ruff, "check", "src", "tests", "benchmarks", "experiments"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_functions__none_in_src_is_longer_than_80_lines():
    """A function a reader takes in at one sitting: the longer ones were split (train, the FineGym
    planner, the clip decoder)."""
    import ast

    long = []
    for path in sorted((PROJECT_ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name} "
                            f"({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def _python_files(*folders):
    for folder in folders:
        yield from sorted((PROJECT_ROOT / folder).rglob("*.py"))


def test_nodes__are_adapters_under_450_lines_in_all():
    """The work lives in the packages (issue 38): the pipelines' node modules together stay thin."""
    nodes = sorted((PROJECT_ROOT / "src/carl_pipeline/pipelines").glob("*/nodes.py"))
    lines = {path.parent.name: len(path.read_text().splitlines()) for path in nodes}
    assert len(nodes) >= 6 and sum(lines.values()) < 450, lines


def test_pipelines__only_pipelines_and_the_registry_import_them_and_no_pipeline_imports_anothers_nodes():
    """Experiments, benchmarks, packages and tests use the packages; a pipeline's nodes are its own
    (tests of pipelines build them through their ``pipeline`` modules)."""
    import ast

    src_pipelines = PROJECT_ROOT / "src/carl_pipeline/pipelines"
    wrong = []
    for path in _python_files("src", "tests", "benchmarks", "experiments"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in (n for n in names if n.startswith("carl_pipeline.pipelines")):
                parts = name.split(".")
                inside = path.is_relative_to(src_pipelines)
                own = inside and len(parts) > 2 and path.relative_to(src_pipelines).parts[0] == parts[2]
                if name.endswith(".nodes") or ".nodes." in name:
                    if not own:
                        wrong.append(f"{path.relative_to(PROJECT_ROOT)}: {name}")
                elif not (inside or path.name == "pipeline_registry.py"
                          or path.is_relative_to(PROJECT_ROOT / "tests/pipelines")):
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)}: {name}")
    assert not wrong, wrong


def test_modules__the_training_loop_and_the_conversion_under_350_lines_and_none_over_450():
    lines = {str(p.relative_to(PROJECT_ROOT)): len(p.read_text().splitlines()) for p in _python_files("src")}
    assert lines["src/carl_pipeline/training/loop.py"] < 350 and lines["src/carl_pipeline/ingest/convert.py"] < 350
    assert not {p: n for p, n in lines.items() if n >= 450}


def test_compat__every_shim_in_one_module_says_when_it_goes_and_imports_nothing_of_the_project():
    """The compatibility shims live in ``carl_pipeline.compat``, each with its condition to go."""
    import ast

    path = PROJECT_ROOT / "src/carl_pipeline/compat.py"
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)]
    shims = [n for n in tree.body if isinstance(n, ast.Assign | ast.FunctionDef)]
    assert len(shims) >= 8
    for node in shims:
        if isinstance(node, ast.FunctionDef):
            said = ast.get_docstring(node) or ""
        else:  # the comment block above the assignment
            above = node.lineno - 2
            block = []
            while above >= 0 and lines[above].startswith("#"):
                block.insert(0, lines[above])
                above -= 1
            said = " ".join(block)
        assert "Goes" in said or "goes" in said, f"compat.py:{node.lineno} does not say when it goes"
    # and nothing else keeps a list of its own
    for path in (PROJECT_ROOT / "src").rglob("*.py"):
        if path.name != "compat.py":
            text = path.read_text()
            assert "ADDED_LATER = {" not in text and "ADDED_LATER_ENCODER = {" not in text, path
