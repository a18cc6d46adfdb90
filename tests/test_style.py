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
