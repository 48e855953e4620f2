"""docs/plugins.md documents every hook (exact signature, a runnable example that is run
here), every public member of the plugin base classes, the contract rules, and exactly
the public API; plugins and templates import nothing below ``zbench.``."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest
from click.testing import CliRunner
from conftest import ROOT, make_pages

import zbench
from zbench.api import hookspecs
from zbench.api.registry import Registry, reset_registry
from zbench.run.runner import run_suite_data
from zbench.testing import RULES, PoolChecker

DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
TEXT = DOC.replace("\\|", "|")  # table cells escape the union bar
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\n```python\n(.*?)```", re.S)


def hook_names() -> list[str]:
    pm = pluggy.PluginManager("zbench")
    pm.add_hookspecs(hookspecs)
    return sorted(n for n in vars(pm.hook) if not n.startswith("_"))


def signature(fn: Any) -> str:
    """``name(a: T, b: U = 1) -> R`` as the source writes it (annotations are strings)."""
    sig = inspect.signature(fn)
    params = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        text = p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {p.annotation}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    out = f"{fn.__name__}({', '.join(params)})"
    if sig.return_annotation is not inspect.Signature.empty:
        out += f" -> {sig.return_annotation}"
    return out


def section(title: str) -> str:
    """The text under the heading containing ``title`` up to the next heading of the
    same or a higher level."""
    m = re.search(rf"^(#+) [^\n]*{re.escape(title)}[^\n]*$", TEXT, re.M)
    assert m, f"docs/plugins.md has no heading with {title!r}"
    level = len(m.group(1))
    nxt = re.compile(rf"^#{{1,{level}}} ", re.M).search(TEXT, m.end())
    return TEXT[m.end():nxt.start() if nxt else len(TEXT)]


def examples() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in EXAMPLE.finditer(DOC)}


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    names = hook_names()
    assert len(names) >= 6
    for name in names:
        fn = getattr(hookspecs, name)
        args = ", ".join(inspect.signature(fn).parameters)
        assert f"### `{name}({args})`" in TEXT, name
        assert f"`{signature(fn)}`" in TEXT, signature(fn)


PUBLIC_BASES = [zbench.Allocator, zbench.FrontEnd, zbench.Compressor, zbench.Workload,
                zbench.Reporter]


def members(cls: type) -> list[tuple[str, Any]]:
    out = [(n, None) for n in cls.__dict__.get("__annotations__", {}) if not n.startswith("_")]
    for name, obj in vars(cls).items():
        if name.startswith("_") or any(name == n for n, _ in out):
            continue
        if isinstance(obj, classmethod | staticmethod):
            out.append((name, obj.__func__))
        elif inspect.isfunction(obj):
            out.append((name, obj))
        elif isinstance(obj, property):
            out.append((name, None))
    return out


@pytest.mark.parametrize("cls", PUBLIC_BASES, ids=lambda c: c.__name__)
def test_every_public_member_of_the_base_classes_is_documented(cls: type) -> None:
    text = section(f"`zbench.{cls.__name__}`")
    missing = []
    for name, fn in members(cls):
        want = f"`{signature(fn)}`" if fn is not None else f"`{name}`"
        if want not in text:
            missing.append(want)
    assert not missing, f"docs/plugins.md, zbench.{cls.__name__}: undocumented {missing}"
    for name in getattr(cls, "__abstractmethods__", ()):
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}"))
        assert "**abstract**" in row, f"{cls.__name__}.{name} is abstract: say so"


def test_option_fields_every_workload_has_are_documented() -> None:
    text = section("4. Options")
    for name in zbench.WorkloadOptions.model_fields:
        assert f"`{name}`" in text, name


def test_public_api_section_is_exactly_zbench_all() -> None:
    text = section("7. What a plugin may import")
    documented = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`(\w+)`", line.split(" | ")[0]))
    assert documented == set(zbench.__all__), (
        f"undocumented: {sorted(set(zbench.__all__) - documented)}; "
        f"not public: {sorted(documented - set(zbench.__all__))}")


def test_every_contract_rule_is_documented() -> None:
    for rule in RULES:
        assert f"`{rule}`" in TEXT, rule


# -- the examples run ------------------------------------------------------------


def load_example(hook: str) -> tuple[Registry, types.ModuleType]:
    code = examples()[hook]
    mod = types.ModuleType(f"docs_example_{hook}")
    exec(compile(code, f"docs/plugins.md example {hook}", "exec"), mod.__dict__)  # noqa: S102
    reg = Registry()
    reg.load_entry_points()
    rec = reg.register_plugin(mod, f"example-{hook}")
    assert rec.status == "ok", rec.error
    reset_registry(reg)
    return reg, mod


def test_every_hook_has_an_example() -> None:
    assert set(examples()) == set(hook_names())


def run_one(tmp_path: Path, reg: Registry, **parts: Any) -> dict[str, Any]:
    dump = tmp_path / "pages.raw"
    dump.write_bytes(make_pages(128))
    data = {"name": "doc", "dumps": [str(dump)], "verify": True, "compressors": ["lz4"],
            "frontends": [{"name": "zswap", "options": {"kernel": "6.14"}}],
            "allocators": ["zsmalloc"], "workloads": ["churn"], **parts}
    res = run_suite_data(data, "docs example", base=tmp_path, registry=reg,
                         report=lambda _m: None)
    assert res["cases"] and not any("skipped" in c for c in res["cases"]), res["cases"]
    return res


def test_allocator_example(tmp_path: Path) -> None:
    reg, mod = load_example("register_allocators")
    assert reg.get("allocator", "myalloc") is mod.MyAlloc
    alloc = mod.MyAlloc(mod.MyAllocOptions(), zbench.PageFrames())
    c = PoolChecker(alloc, alloc.frames, "docs example")
    handles = [c.store(s) for s in (1, 100, 4096)]
    c.verify_all("in the docs example")
    c.free_all(handles)
    c.check_empty("in the docs example")
    run_one(tmp_path, reg, allocators=["myalloc"])


def test_frontend_example(tmp_path: Path) -> None:
    reg, _ = load_example("register_frontends")
    res = run_one(tmp_path, reg, frontends=["plain"])
    assert res["cases"][0]["metrics"]["verified_loads"] > 0


def test_compressor_example(tmp_path: Path) -> None:
    reg, _ = load_example("register_compressors")
    run_one(tmp_path, reg, compressors=[{"name": "rawdeflate", "options": {"level": 1}}])


def test_workload_example(tmp_path: Path) -> None:
    reg, _ = load_example("register_workloads")
    res = run_one(tmp_path, reg, workloads=["storeloadfree"])
    assert [p["label"] for p in res["cases"][0]["phases"]] == ["stored", "half freed"]


def test_reporter_example_loads_and_renders() -> None:
    reg, mod = load_example("register_reporters")
    rec = next(p for p in reg.plugins if p.name == "example-register_reporters")
    assert rec.status == "ok" and rec.provides == [("reporter", "case-count")]
    results = {"cases": [{"skipped": "no"}, {"metrics": {}}]}
    record = mod.CaseCount(zbench.PluginOptions()).collect(results, Path("."), print)
    assert mod.CaseCount.render(record, "simple") == ("1 of 2 cases ran", "")


def test_command_example() -> None:
    _, mod = load_example("register_commands")
    group = click.Group("zbench")
    mod.register_commands(cli=group)
    res = CliRunner().invoke(group, ["max-size", "zbud"])
    assert res.exit_code == 0 and res.output.strip() == "3968"


# -- only the public API ------------------------------------------------------------

PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+zbench\.(?!testing\b)(\w+)", re.M)


def plugin_sources() -> dict[str, str]:
    files = [*(ROOT / "examples").rglob("*.py"), *(ROOT / "zbench" / "templates").rglob("*.tmpl"),
             *(ROOT / "tests" / "fixtures" / "zbench-tiny").rglob("*.py")]
    out = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files}
    out.update({f"docs/plugins.md example {k}": v for k, v in examples().items()})
    return out


def test_examples_and_templates_import_only_the_public_api() -> None:
    sources = plugin_sources()
    assert any("examples/zblock" in k for k in sources)
    bad = {k: PRIVATE_IMPORT.findall(v) for k, v in sources.items() if PRIVATE_IMPORT.search(v)}
    assert not bad, f"imports below zbench. (not public): {bad}"
