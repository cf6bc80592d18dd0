"""One job per module and no import cycles: the project's own import graph, lazy imports included, is acyclic."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> the name it is imported under (the installed package maps the folders under cdk_data_tier)
PACKAGES = {"app_code": "cdk_data_tier.app", "stacks": "cdk_data_tier.stacks",
            "cdk_constructs": "cdk_data_tier.constructs", "cdk_data_tier": "cdk_data_tier", "docgen": "docgen"}
ROOTS = ("cdk_data_tier", "docgen")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "lambdas" in path.parts:  # Lambda handlers are deployed code, not part of the import graph
                continue
            if folder == "cdk_data_tier" and path.parent != ROOT / folder:
                continue  # its subfolders are links to the folders above
            name = ".".join((package, *path.relative_to(ROOT / folder).with_suffix("").parts)).removesuffix(".__init__")
            found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (a function-level import counts: it is a dependency too)."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for target in targets:
                dep = owner(target) if target.split(".")[0] in ROOTS else None
                # A module may import its own package (its __init__): that is containment, not a cycle.
                if dep and dep != name and not name.startswith(dep + "."):
                    graph[name].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_app_code_imports_neither_stacks_nor_constructs() -> None:
    graph = import_graph()
    leaks = {m: sorted(d for d in deps if not d.startswith("cdk_data_tier.app")) for m, deps in graph.items()
             if m.startswith("cdk_data_tier.app")}
    assert {m: d for m, d in leaks.items() if d} == {}
