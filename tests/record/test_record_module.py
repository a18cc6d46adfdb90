"""The model record on its own floor: importing it loads no training loop, no model code and no
Kedro, and no module of the package imports itself back through others."""

import ast
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_record__importing_it_loads_no_training_loop_no_model_code_and_no_kedro():
    script = ("import sys, carl_pipeline.record\n"
              "heavy = ['carl_pipeline.training', 'carl_pipeline.training.loop', 'carl_pipeline.models', 'torchvision',\n"
              "         'kedro', 'carl_pipeline.export.hub']\n"
              "print([m for m in heavy if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout


def _imports(path):
    """carl_pipeline modules a file imports, at its top or inside a function (a deferred import
    still runs), leaving out those under ``TYPE_CHECKING`` (never run)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("carl_pipeline"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("carl_pipeline"))
    return found


def test_src__no_import_loop_between_modules():
    """No module needs a module that needs it back, at import or later (a package's ``__init__``
    importing its own submodules is how packages are built, and not a loop). The record's
    checkpoint and run folder once needed each other this way."""
    src = PROJECT_ROOT / "src"
    modules = {}
    for path in src.rglob("*.py"):
        name = ".".join(path.relative_to(src).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(path):
            if target in modules and target != name and not (path.name == "__init__.py" and target.startswith(name + ".")):
                edges.add(target)
        graph[name] = edges
    loops = []
    state = {}

    def walk(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                loops.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not loops, loops
