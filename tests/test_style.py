import shutil
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT


def test_ruff__source_tests_and_benchmarks_pass_the_linter():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is in the test extra")
    result = subprocess.run([ruff, "check", "src", "tests", "benchmarks"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
