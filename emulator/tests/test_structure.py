"""The emulator package's shape, read from its source (no server, no import of it).

* **No import cycle** between the package's modules, counting every import wherever it
  is written (a function-local import that hides a cycle is still one), with relative
  imports resolved and a package's ``__init__`` counted when another package imports
  from it.
* **``wire.py`` is a leaf**: it imports none of the package's modules, so any module may
  use it.
* **No module-level instance of the package's own classes** (a store, a clock, a
  cache): ``world.World`` builds the state and hands it on, nothing reaches it as a
  module global.
* **Files and functions stay small** enough to read: one responsibility per module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "ami_usage_emulator"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@pytest.fixture(autouse=True)
def clean() -> None:
    """Overrides conftest's reset: these tests read files and need no emulator."""


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()
SOURCES = {name: (path.read_text(), path.name == "__init__.py") for name, path in MODULES.items()}


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def _targets(module: str, node: ast.Import | ast.ImportFrom, packages: dict[str, bool]) -> list[str]:
    """The modules of ``packages`` (name -> is a package) that one import statement loads:
    the named module, each name of a ``from … import name`` that is itself a module, and
    the packages on the way (not the importing module's own: they are loading it)."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        if node.level:
            here = module if packages[module] else module.rsplit(".", 1)[0]
            base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
            full = f"{base}.{node.module}" if node.module else base
        else:
            full = node.module or ""
        named = [full] + [f"{full}.{alias.name}" for alias in node.names]
    loaded = set()
    for name in named:
        if name in packages:
            loaded.add(name)
            loaded.update(a for a in _ancestors(name) if a in packages)
    return sorted(loaded - set(_ancestors(module)) - {module})


def _graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the modules it imports, from ``sources`` (name -> (source, is a package)).
    Every import counts, also one inside a function."""
    packages = {name: is_package for name, (_, is_package) in sources.items()}
    graph: dict[str, set[str]] = {}
    for module, (source, _) in sources.items():
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(source, module)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(_targets(module, node, packages))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _path_within(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component, for the failure message: a -> b -> … -> a."""
    members, start = set(component), component[0]
    trail, seen = [start], {start}
    while True:
        nxt = sorted(n for n in graph[trail[-1]] if n in members)
        back = [n for n in nxt if n == start]
        if back and len(trail) > 1:
            return " -> ".join(trail + [start])
        fresh = [n for n in nxt if n not in seen]
        if not fresh:
            return " -> ".join(trail + nxt[:1])
        trail.append(fresh[0])
        seen.add(fresh[0])


def test_the_package_has_no_import_cycle():
    graph = _graph(SOURCES)
    cycles = _cycles(graph)
    assert not cycles, "import cycles in the emulator:\n" + "\n".join(
        f"  {', '.join(c)}\n    e.g. {_path_within(graph, c)}" for c in cycles
    )


def test_the_checker_sees_a_cycle_hidden_in_a_function():
    """The check itself: relative imports resolved, a function-local import counted,
    a package's ``__init__`` loaded by importing from it, its own modules not."""
    sources = {
        "p": ("from . import a\n", True),
        "p.a": ("from .sub.b import thing\n", False),
        "p.sub": ("", True),
        "p.sub.b": ("def late():\n    from .. import a\n    from . import c\n", False),
        "p.sub.c": ("import os\n", False),
    }
    graph = _graph(sources)
    assert graph == {
        "p": {"p.a"},
        "p.a": {"p.sub", "p.sub.b"},
        "p.sub": set(),
        "p.sub.b": {"p.a", "p.sub.c"},
        "p.sub.c": set(),
    }
    assert _cycles(graph) == [["p.a", "p.sub.b"]]
    assert _path_within(graph, ["p.a", "p.sub.b"]) == "p.a -> p.sub.b -> p.a"


def test_wire_is_a_leaf():
    wire = f"{PACKAGE}.wire"
    assert wire in MODULES, "wire.py holds the wire helpers every module may use"
    imports = _graph(SOURCES)[wire]
    assert imports == set(), f"wire.py imports the package's {sorted(imports)}"


def _own_classes() -> set[str]:
    names = set()
    for source, _ in SOURCES.values():
        names.update(n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef))
    return names


def test_no_module_level_instances_of_the_emulators_classes():
    classes = _own_classes()
    found = []
    for module, (source, _) in SOURCES.items():
        for node in ast.parse(source).body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            func = value.func if isinstance(value, ast.Call) else None
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in classes:
                found.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not found, "module-level state (the World builds it and hands it on):\n  " + "\n  ".join(found)


def test_modules_and_functions_stay_readable():
    too_long = []
    for module, (source, _) in SOURCES.items():
        tree = ast.parse(source)
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{module}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(
                        f"{module}:{node.lineno} {node.name}: {length} lines (at most {MAX_FUNCTION_LINES})"
                    )
    assert not too_long, "\n".join(too_long)
