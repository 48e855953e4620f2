"""The core knows no particular plugin: no module under ``zbench/`` (but the contract
suites in ``zbench/testing/``) names a built-in plugin in its code.

Every string constant that is not a docstring, every identifier and attribute name is
checked: none may equal a built-in plugin's name (or ``class_stats``,
``pages_per_zspage``, ``timed``, names of one allocator's interface), and no string may
start with a plugin's name and ``_`` or ``-`` (a metric key such as ``aspace_...``).
Prose in docstrings and comments may name plugins; help texts and notes are strings,
but only an exact or prefix match counts, so a sentence naming zswap passes.  What a
plugin contributes reaches the core through the registry (``register_metrics``,
``register_tables``, the Allocator API).
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "zbench"

#: The built-in plugins' names (entry points and what they register).  Left out: names
#: that are also a library the core pins (``lz4``), an operation of the core's workload
#: API (``migrate``, ``OpKind.MIGRATE``) or a plain word (``fill``, ``kernel``).
PLUGIN_NAMES = frozenset({
    "zbud", "z3fold", "zsmalloc", "zswap", "zram", "zram-kernel", "aspace", "kernel-uml",
    "zswap-aspace", "zstd", "deflate", "churn", "zipf", "pressure", "replay", "fill-discard",
    "zsmalloc-test", "kernel-latency", "zswap-counters", "aspace-migratability"})
#: Names of one plugin's own interface the core must not ask for.
INTERFACE_NAMES = frozenset({"class_stats", "pages_per_zspage", "timed"})
FORBIDDEN = PLUGIN_NAMES | INTERFACE_NAMES


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are statements: docstrings of modules, classes
    and functions, and the attribute docstrings after an assignment."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def _names(node: ast.AST) -> list[str]:
    """The identifiers ``node`` introduces or uses."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.asname or node.name]
    return []


def _string_hit(value: str) -> str | None:
    if value in FORBIDDEN:
        return value
    return next((n for n in PLUGIN_NAMES if value.startswith((f"{n}_", f"{n}-"))
                 and value not in FORBIDDEN), None)


def plugin_names_in(source: str) -> list[tuple[int, str]]:
    """``(line, name)`` of every forbidden name in ``source``'s code."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docs and _string_hit(node.value):
                hits.append((line, node.value))
            continue
        hits += [(line, name) for name in _names(node) if name in FORBIDDEN]
    return sorted(hits)


def _core_modules() -> list[Path]:
    return [p for p in sorted(CORE.rglob("*.py")) if "testing" not in p.relative_to(CORE).parts]


def test_the_core_names_no_plugin() -> None:
    bad = []
    for path in _core_modules():
        rel = path.relative_to(CORE.parent).as_posix()
        bad += [f"{rel}:{line}: {name!r}" for line, name in plugin_names_in(path.read_text())]
    assert bad == [], "the core names plugins:\n" + "\n".join(bad)


def test_the_checker_finds_names_in_code_not_in_prose() -> None:
    snippet = '''
"""zswap and zsmalloc, in a docstring: prose."""
FRONT = "zram"
KEY = "aspace_index_bytes"
LABEL = "zram-kernel"
note = "rejected by zswap"
ok = "zswapped"


def f(zbud: int) -> None:
    """Docstring naming z3fold."""
    pool.class_stats()
    return zsmalloc.pages_per_zspage
'''
    assert plugin_names_in(snippet) == [
        (3, "zram"), (4, "aspace_index_bytes"), (5, "zram-kernel"), (10, "zbud"),
        (12, "class_stats"), (13, "pages_per_zspage"), (13, "zsmalloc")]
