"""The core's shape (docs/architecture.md): imports go one way, testing → cli → report →
run → sim | input → api, with no cycle between modules (function-level and ``TYPE_CHECKING``
imports included), and the core imports no plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

#: Layers from the top down; a module may import its own layer's modules and the layers below.
#: ``sim`` and ``input`` are siblings: neither imports the other.  ``zbench.testing`` (the
#: contract suites for plugin authors) is on top and, like a plugin, imports the ``zbench``
#: package; nothing else imports the package, which is the facade over the layers.
LAYERS: list[set[str]] = [{"testing"}, {"cli"}, {"report"}, {"run"}, {"sim", "input"}, {"api"}]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
CORE = Path(__file__).resolve().parents[1] / "zbench"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("zbench", include_external_packages=True)


def _package(module: str) -> str | None:
    """The sub-package a core module lives in (``None`` for ``zbench`` itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "zbench" else None


def _edges(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    return [(m, t) for m in sorted(graph.modules) if m.startswith("zbench.")
            for t in sorted(graph.find_modules_directly_imported_by(m))]


def test_every_core_module_is_in_a_layer() -> None:
    loose = [p.name for p in CORE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert loose == [], f"modules outside the layers: {loose}"
    for pkg in CORE.iterdir():
        if pkg.is_dir() and (pkg / "__init__.py").is_file():
            assert pkg.name in RANK, f"zbench/{pkg.name} is in no layer"


def _back_edges(edges: list[tuple[str, str]]) -> list[str]:
    back = []
    for src, dst in edges:
        a, b = _package(src), _package(dst)
        if dst == "zbench" and a != "testing":
            back.append(f"{src} imports the zbench package itself (import from its module)")
        elif a in RANK and b in RANK and a != b and RANK[b] <= RANK[a]:
            back.append(f"{src} -> {dst}")
    return back


def test_imports_go_down_the_layers(graph: grimp.ImportGraph) -> None:
    back = _back_edges(_edges(graph))
    assert back == [], "imports against the layers:\n" + "\n".join(back)


def test_the_layers_test_sees_back_edges() -> None:
    assert _back_edges([("zbench.api.allocator", "zbench.run.runner"),
                        ("zbench.sim.migrate", "zbench.input.dump"),
                        ("zbench.input.dump", "zbench"),
                        ("zbench.run.case", "zbench.sim.migrate"),
                        ("zbench.cli.app", "zbench.report.tables")]) == [
        "zbench.api.allocator -> zbench.run.runner", "zbench.sim.migrate -> zbench.input.dump",
        "zbench.input.dump imports the zbench package itself (import from its module)"]


def _cycles(adj: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(adj[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycle(graph: grimp.ImportGraph) -> None:
    core = {m for m in graph.modules if m == "zbench" or m.startswith("zbench.")}
    adj = {m: {t for t in graph.find_modules_directly_imported_by(m) if t in core}
           for m in core if m != "zbench"}
    for m in adj:  # the package itself is the facade on top; nothing below imports it
        adj[m].discard("zbench")
    assert _cycles(adj) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_core_imports_no_plugin(graph: grimp.ImportGraph) -> None:
    plugins = {p.name for p in (CORE.parent / "plugins").iterdir() if p.is_dir()}
    bad = [(m, t) for m, t in _edges(graph) if t.split(".")[0] in plugins]
    assert bad == []


def _zbench_imports(source: str) -> list[str]:
    """The zbench modules ``source`` imports (``zbench``, ``zbench.api.x``, ...)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m == "zbench" or m.startswith("zbench.")]


def test_plugins_import_only_the_public_api() -> None:
    """A plugin (built-in or example) imports ``zbench`` and nothing below it; its tests may
    import ``zbench.testing`` too."""
    bad = []
    for root in ("plugins", "examples"):
        for path in sorted((CORE.parent / root).rglob("*.py")):
            if "build" in path.parts:
                continue
            ok = {"zbench", "zbench.testing"} if "tests" in path.parts else {"zbench"}
            bad += [f"{path.relative_to(CORE.parent)}: {m}"
                    for m in _zbench_imports(path.read_text()) if m not in ok]
    assert bad == []


def test_the_plugin_import_check_sees_deep_imports() -> None:
    assert _zbench_imports("from zbench.api import safeio\nimport zbench\n") == [
        "zbench.api", "zbench"]
