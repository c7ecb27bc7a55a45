"""The map in docs/architecture.md stays true: its rules are checked against the code.

* the import contracts of pyproject.toml ([tool.importlinter]) hold, and the layers the map
  lists are the contract's layers;
* every import cycle passes through engine/tensor.py (the one cycle the map allows: a
  Tensor's operators call ops and autograd, which build Tensors);
* no name starting with "_" is imported from another module (shared helpers get public
  names in the module whose concept they are);
* no module over 600 lines and no function over 60 lines (not counting its docstring), except
  those the map lists with the reason;
* every file the map names exists, and every module of the package appears in the map;
* the old import paths still give the moved modules (chainrule._moved).
"""
from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "chainrule"
MAP = ROOT / "docs" / "architecture.md"

MODULE_LINES, FUNCTION_LINES = 600, 60


def modules():
    """(dotted name, path) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def code_lines(function) -> int:
    """A function's length without its docstring: the lines a reader steps through."""
    length = function.end_lineno - function.lineno + 1
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        length -= first.end_lineno - first.lineno + 1
    return length


def exceptions(heading: str) -> set:
    """The names listed (as `name` in backticks, one per bullet) under a heading of the map."""
    text = MAP.read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^- `([^`]+)`", section, flags=re.M))


# ---------------------------------------------------------------------- import rules

def test_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.skip("import-linter is not installed (the test extra installs it)")
    done = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_map_lists_the_layers_of_the_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    text = MAP.read_text()
    table = text.split("## The layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| layer")]
    listed = [re.findall(r"`([a-z_]+)/`", row) for row in rows if "`" in row]
    in_contract = [sorted(part.strip() for part in layer.split("|")) for layer in contract["layers"]]
    assert [sorted(names) for names in reversed(listed)] == in_contract


def _import_graph():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the test extra)")
    return grimp.build_graph("chainrule")


def _cycles(graph, modules: set) -> list:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, components, counter = {}, {}, set(), [], [], [0]
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_every_import_cycle_passes_through_the_tensor_module():
    graph = _import_graph()
    everything = {name for name in graph.modules if name.startswith("chainrule")}
    without_tensor = everything - {"chainrule.engine.tensor"}
    cycles = _cycles(graph, without_tensor)
    assert not cycles, f"import cycles that do not pass through engine/tensor.py: {cycles}"


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for name, path in modules():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not source.startswith("chainrule"):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                own_submodule = path.name == "__init__.py" and source == name  # a package's own private module
                if private and not own_submodule:
                    offenders.append(f"{name} imports {alias.name} from {source}")
    assert not offenders, "\n".join(offenders)


# ---------------------------------------------------------------------- sizes

def test_no_module_is_longer_than_the_limit_except_those_the_map_lists():
    allowed = exceptions("### Modules over 600 lines")
    long_modules = {name for name, path in modules() if len(path.read_text().splitlines()) > MODULE_LINES}
    assert long_modules <= allowed, f"modules over {MODULE_LINES} lines not listed in the map: {long_modules - allowed}"


def test_no_function_is_longer_than_the_limit_except_those_the_map_lists():
    allowed = exceptions("### Functions over 60 lines")
    long_functions = set()
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(node) > FUNCTION_LINES:
                long_functions.add(f"{name}.{node.name}")
    assert long_functions <= allowed, (
        f"functions over {FUNCTION_LINES} lines not listed in the map: {long_functions - allowed}"
    )


# ---------------------------------------------------------------------- the map names the code

def test_every_file_the_map_names_exists():
    named = set(re.findall(r"`([a-z_/]+\.py)`", MAP.read_text()))
    missing = [f for f in named if not (PACKAGE / f).exists() and not (ROOT / f).exists()]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_module_appears_in_the_map():
    text = MAP.read_text()
    unnamed = []
    for _name, path in modules():
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py" or relative.count("/") > 1:
            continue  # packages are listed by folder; the map lists two levels down
        if f"`{relative}`" not in text and f"`{path.name}`" not in text:
            unnamed.append(relative)
    assert not unnamed, f"modules that docs/architecture.md does not mention: {unnamed}"


# ---------------------------------------------------------------------- old import paths

@pytest.mark.parametrize("old, new", [
    ("chainrule.autograd", "chainrule.engine.autograd"),
    ("chainrule.ops.linalg", "chainrule.engine.ops.linalg"),
    ("chainrule.backend", "chainrule.engine.backend"),
    ("chainrule.landscape", "chainrule.theory.landscape"),
    ("chainrule.diagnostics", "chainrule.theory.diagnostics"),
    ("chainrule.distributed", "chainrule.engine.distributed"),
    ("chainrule.checkpoint", "chainrule.engine.serialization"),
])
def test_old_import_paths_give_the_moved_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_paths_in_a_fresh_interpreter():
    code = ("from chainrule.landscape import surface; from chainrule.autograd import gradcheck; "
            "from chainrule.tensor import Tensor, tensor; import chainrule, chainrule.theory.landscape as l; "
            "assert surface is l.surface and chainrule.tensor is tensor; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(SRC), "PATH": ""}, check=False)
    assert done.stdout.strip() == "ok", done.stderr
