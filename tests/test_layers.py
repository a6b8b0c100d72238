"""Imports flow one way: every module imports only its own layer or the ones below, with no circle.

Every ``import`` counts, inside functions too; only those under ``if TYPE_CHECKING:`` do not.
The layers, bottom up, are drawn in the README's "Architecture" section.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vecrank

PACKAGE = Path(vecrank.__file__).parent

# Bottom up. A module belongs to the layer of the longest name that is it or a package above it.
# The root package imports only the base statically; its other names it imports on first use.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "vecrank",
            "vecrank.errors",
            "vecrank.extras",
            "vecrank.pairs",
            "vecrank.candidate",
            "vecrank.hookspecs",
            "vecrank.models",
            "vecrank.cascade",
        ),
    ),
    ("config schema", ("vecrank.config",)),
    ("core", ("vecrank.core",)),
    ("plugins", ("vecrank.plugins",)),
    ("config loading", ("vecrank.config_loading",)),
    ("adapters", ("vecrank.adapters",)),
    ("integrations, server", ("vecrank.integrations", "vecrank.server")),
    ("evaluation", ("vecrank.evaluation",)),
    (
        "demo, bench, cli",
        (
            "vecrank.demo",
            "vecrank.bench",
            "vecrank.distillation",
            "vecrank.cli",
            "vecrank.__main__",
            "vecrank.testing",
        ),
    ),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The index of ``module``'s layer in :data:`LAYERS`."""
    best = None
    for number, (_, names) in enumerate(LAYERS):
        for name in names:
            covers = module == name or (name != "vecrank" and module.startswith(name + "."))
            if covers and (best is None or len(name) > len(best[1])):
                best = (number, name)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to the README's drawing)"
    return best[0]


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST):
    """Every import statement below ``node``, skipping the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _under_type_checking(child):
            for other in child.orelse:
                yield from _import_nodes_of(other)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _import_nodes(node)


def _known(name: str) -> str | None:
    """The vecrank module ``name`` is, or is inside (an imported function or class)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> list[tuple[str, int]]:
    """(imported vecrank module, line) for every import in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
            ]
        for target in targets:
            known = _known(target)
            if known is not None and known != module:
                found.append((known, node.lineno))
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_points_up_a_layer():
    upward = [
        f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: {module} ({LAYERS[layer_of(module)][0]}) "
        f"imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in GRAPH.items()
        for target, line in targets
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_no_import_circle():
    edges = {module: sorted({target for target, _ in targets}) for module, targets in GRAPH.items()}
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in edges[module]:
            if state.get(target) == "open":
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(circle) for circle in circles)


def test_the_checks_see_function_imports_and_skip_type_checking(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from vecrank.cli import main\n"
        "def later():\n    from vecrank.plugins import manager\n"
    )
    tree = ast.parse(source)
    names = [node.module for node in _import_nodes(tree)]
    assert names == ["typing", "vecrank.plugins"]


def test_import_vecrank_loads_no_torch_pydantic_pluggy_or_plugin():
    import subprocess
    import sys

    code = (
        "import sys, vecrank\n"
        "print(sorted(m for m in ('torch', 'transformers', 'pydantic', 'pluggy', 'vecrank.plugins')"
        " if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
