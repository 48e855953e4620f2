"""Plugin discovery and containment."""

from __future__ import annotations

import types
from importlib.metadata import EntryPoint

import pytest
from zbench_tiny import PagePerObject

from zbench import PluginError, hookimpl
from zbench.api.registry import Registry


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="zbench")


def test_builtins_are_found_through_entry_points() -> None:
    reg = Registry()
    reg.load_entry_points()
    provided = {(k, n) for p in reg.plugins for k, n in p.provides}
    assert ("compressor", "lz4") in provided
    assert ("workload", "churn") in provided
    assert ("frontend", "zram") in provided
    assert all(p.dist == "zbench" for p in reg.plugins if p.name in {"compressors", "zram"})


def test_import_failure_is_contained_and_named() -> None:
    reg = Registry()
    reg.load_entry_points([_ep("nosuch", "zbench_no_such_module"),
                           _ep("compressors", "zbench_compressors")])
    bad = next(p for p in reg.plugins if p.name == "nosuch")
    assert bad.status == "broken" and "ModuleNotFoundError" in bad.error
    assert reg.get("compressor", "lz4").name == "lz4"
    with pytest.raises(PluginError, match=r"plugin nosuch .* broken: import failed"):
        reg.get("allocator", "nosuch")


def test_misspelt_hook_marks_plugin_broken() -> None:
    mod = types.SimpleNamespace()

    @hookimpl
    def register_allocator(register):  # noqa: ANN001 - misspelt on purpose
        register(PagePerObject)

    mod.register_allocator = register_allocator
    reg = Registry()
    rec = reg.register_plugin(mod, "typo")
    assert rec.status == "broken" and "register_allocator" in rec.error
    with pytest.raises(PluginError, match="unknown allocator 'tiny'"):
        reg.get("allocator", "tiny")


def test_raising_register_hook_is_contained() -> None:
    class Bad:
        @hookimpl
        def register_allocators(self, register):  # noqa: ANN001
            register(PagePerObject)
            raise ValueError("boom")

    class Good:
        @hookimpl
        def register_workloads(self, register):  # noqa: ANN001
            from zbench_workloads.fill import Fill

            register(Fill)

    reg = Registry()
    bad = reg.register_plugin(Bad(), "bad")
    good = reg.register_plugin(Good(), "good")
    assert bad.status == "broken" and "ValueError: boom" in bad.error
    assert good.status == "ok" and good.provides == [("workload", "fill")]
    # what the broken plugin registered before failing is withdrawn
    assert "tiny" not in reg.names("allocator")


def test_duplicate_names_are_refused_with_the_first_provider() -> None:
    class P:
        @hookimpl
        def register_allocators(self, register):  # noqa: ANN001
            register(PagePerObject)

    reg = Registry()
    reg.register_plugin(P(), "first", dist="zbench-first", version="1.0")
    second = reg.register_plugin(P(), "second")
    assert second.status == "broken"
    assert "already provided by plugin first (zbench-first 1.0)" in second.error


def test_non_subclass_is_refused() -> None:
    class P:
        @hookimpl
        def register_allocators(self, register):  # noqa: ANN001
            register(int)

    rec = Registry().register_plugin(P(), "p")
    assert rec.status == "broken" and "not a subclass of zbench.Allocator" in rec.error


def test_allow_and_block_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [_ep("compressors", "zbench_compressors"), _ep("workloads", "zbench_workloads")]
    monkeypatch.setenv("ZBENCH_LOAD_PLUGINS", "workloads")
    reg = Registry()
    reg.load_entry_points(eps)
    status = {p.name: p.status for p in reg.plugins}
    assert status == {"compressors": "blocked", "workloads": "ok"}
    with pytest.raises(PluginError, match="blocked by ZBENCH_LOAD_PLUGINS"):
        reg.get("compressor", "compressors")

    monkeypatch.delenv("ZBENCH_LOAD_PLUGINS")
    monkeypatch.setenv("ZBENCH_DISABLE_PLUGINS", "workloads")
    reg = Registry()
    reg.load_entry_points(eps)
    status = {p.name: p.status for p in reg.plugins}
    assert status == {"compressors": "ok", "workloads": "blocked"}
    assert reg.names("workload") == []


def test_unknown_name_lists_the_known_ones() -> None:
    reg = Registry()
    reg.load_entry_points([_ep("compressors", "zbench_compressors")])
    known = r"unknown compressor 'lzma' \(known: deflate, lz4, zstd\)"
    with pytest.raises(PluginError, match=known):
        reg.get("compressor", "lzma")
