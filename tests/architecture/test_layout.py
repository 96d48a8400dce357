"""The layout's rules, checked on the source (issue "Capability packages"):

- no import cycle between the portal's modules at import time;
- no function-local import of the portal's own code, except in task entry points
  (`<package>/tasks.py`), which import what they run inside the task body, and in
  `AppConfig.ready` (Django's place for registering receivers once models are loaded);
- no module over 450 lines (migrations excepted).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTAL_PACKAGES = ("subscriptions", "portal")
MAX_LINES = 450


def _modules():
    for package in PORTAL_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_portal(name):
    return name.split(".")[0] in PORTAL_PACKAGES


def _imported_names(node, modules=()):
    """The modules an import statement loads: `from a.b import c` loads a.b.c when that is a
    module, else a.b (c is an attribute of it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.module is None:
        return []
    names = []
    for alias in node.names:
        submodule = f"{node.module}.{alias.name}"
        names.append(submodule if submodule in modules else node.module)
    return names


def _top_level_imports(tree):
    """Imports that run when the module is imported (module body, class bodies, and
    if/try blocks at those levels), not those inside functions."""
    found = []
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.ClassDef | ast.If | ast.Try | ast.With):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _function_imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield node, inner


def _graph():
    modules = {_module_name(p): p for p in _modules()}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for node in _top_level_imports(tree):
            for target in _imported_names(node, modules):
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and _is_portal(target):
                    edges.add(target)
        graph[name] = edges
    return graph


def test_no_import_cycle_at_import_time():
    graph = _graph()
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_function_local_imports_of_portal_code_only_in_task_entry_points():
    offenders = []
    for path in _modules():
        if path.name in ("tasks.py", "apps.py"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for function, node in _function_imports(tree):
            if any(_is_portal(name) for name in _imported_names(node)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} in {function.name}")
    assert offenders == []


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_450_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
