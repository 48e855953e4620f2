"""Plugins contribute to the reports through the registry: metric definitions
(``register_metrics``), report tables with their side-by-side rows and migratability
columns (``register_tables``), and size classes through ``Allocator.size_classes``;
the core's renderers follow one section list (``zbench.report.tables.SECTIONS``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from conftest import ROOT

from zbench import hookimpl
from zbench.api.metrics import METRICS, MetricDef, markdown_table, merged
from zbench.api.registry import Registry, get_registry, reset_registry
from zbench.api.reporter import ReportTable, SideRow
from zbench.report import tables
from zbench.report.casetables import side_by_side
from zbench.report.render import render_html
from zbench.run.distributions import class_rows

EXTRA = MetricDef("widgets", "pages", "pages the widget front end kept", "lower")


class _Widgets(ReportTable):
    name = "widgets"
    title = "widget counters"
    keys = 1
    columns = (("widgets", "kept"),)
    legend_extra: ClassVar[tuple[tuple[str, str], ...]] = (("—", "no widgets"),)
    side_rows: ClassVar[tuple[SideRow, ...]] = (
        SideRow("kept", ("widgets",), "that the widgets kept"),)
    migration_columns = (("widgets", "wid"),)
    migration_explain = "`wid`: widgets kept"

    @classmethod
    def render(cls, results: dict[str, Any], fmt: str) -> tuple[str, str] | None:
        rows = [f"{c['allocator']['label']}={c['metrics']['widgets']}"
                for c in results["cases"] if "widgets" in (c.get("metrics") or {})]
        return ("WIDGETS " + " ".join(rows), "`—`: no widgets.") if rows else None


class _Broken(ReportTable):
    name = "broken"
    title = "broken table"

    @classmethod
    def render(cls, results: dict[str, Any], fmt: str) -> tuple[str, str] | None:
        raise RuntimeError("boom")


class _WidgetPlugin:
    @hookimpl
    def register_metrics(self, register: Callable[[Any], None]) -> None:
        register(EXTRA)

    @hookimpl
    def register_tables(self, register: Callable[[type], None]) -> None:
        register(_Widgets)


@pytest.fixture
def registry() -> Iterator[Registry]:
    """The installed plugins plus the widget plugin, as the process registry."""
    old = get_registry()
    reg = Registry()
    reg.load_entry_points()
    assert reg.register_plugin(_WidgetPlugin(), "widgets").status == "ok"
    reset_registry(reg)
    yield reg
    reset_registry(old)


def _case(label: str, widgets: int, stored: int = 100, **extra: Any) -> dict[str, Any]:
    part = {"name": label, "label": label, "options": {}, "kernel": "6.6",
            "simplifications": ""}
    return {"allocator": part, "frontend": {**part, "name": "widget-fe", "label": "wfe"},
            "compressor": {**part, "name": "lz4", "label": "lz4", "library": "lz4 4"},
            "workload": {**part, "name": "fill", "label": "fill"},
            "dump": {"name": "d", "sha256": "0" * 64, "pages": 128},
            "metrics": {"stored_pages": stored, "same_filled_pages": 0, "pool_pages": 50,
                        "effective_ratio": 2.0, "widgets": widgets}, **extra}


def _results() -> dict[str, Any]:
    migration = {"rules": "r", "evacuation_ms": 1.0}
    return {"suite": {"name": "w"}, "environment": {
        "zbench_version": "0", "python": "3", "kernel": "k", "cpu_model": "c", "cpu_count": 1,
        "date": "today"},
        "cases": [_case("a", 3, migration=migration), _case("b", 5, migration=migration)]}


def test_plugin_metrics_join_their_group_after_the_core(registry: Registry) -> None:
    defs = registry.metrics()
    groups = [d.group for d in defs]
    assert groups == sorted(groups, key=("counters", "work", "timing", "migration").index)
    counters = [d.name for d in defs if d.group == "counters"]
    core = [d.name for d in METRICS if d.group == "counters"]
    assert counters[:len(core)] == core and counters[-1] == "widgets"  # registered last
    names = [d.name for d in defs]
    assert "pool_total_size" in counters and "aspace_index_bytes" in names  # built-ins
    assert [d.name for d in merged([])] == [d.name for d in METRICS]


def test_a_metric_defined_twice_or_not_a_metricdef_breaks_its_plugin() -> None:
    class Twice:
        @hookimpl
        def register_metrics(self, register: Callable[[Any], None]) -> None:
            register(MetricDef("mine", "x", "first"))
            register(MetricDef("pool_pages", "pages", "the core's"))

    class NotADef:
        @hookimpl
        def register_metrics(self, register: Callable[[Any], None]) -> None:
            register({"name": "x"})

    reg = Registry()
    rec = reg.register_plugin(Twice(), "twice")
    assert rec.status == "broken" and "already defined" in rec.error
    assert "mine" not in {d.name for d in reg.metrics()}  # rolled back
    assert "not a zbench.MetricDef" in reg.register_plugin(NotADef(), "nodef").error


def test_the_plugin_table_takes_its_place_in_every_report(registry: Registry) -> None:
    res = _results()
    docs = [t for t, _, _ in tables.report_sections(res, "github")]
    assert docs.index("widget counters") == docs.index("Migratability") - 1
    md = tables.report_markdown(res)
    assert "## widget counters\n\nWIDGETS a=3 b=5\n\n`—`: no widgets.\n" in md
    term = tables.terminal_report(res)
    assert "\nwidget counters\n\nWIDGETS a=3 b=5\n\nkept: pages the widget front end kept; " \
           "—: no widgets." in term
    assert "<h2>widget counters</h2>" in render_html(res)
    assert "| `widgets` | pages | pages the widget front end kept |" in md


def test_side_rows_and_migration_columns_come_from_the_plugin(registry: Registry) -> None:
    res = _results()
    _allocs, rows = side_by_side(res)
    assert [k[3] for k, _ in rows] == ["fill", "↳ kept"]  # stored is equal: not shown
    assert rows[1][1] == {"a": "3", "b": "5"}
    md = tables.report_markdown(res)
    # the tables in name order: aspace-migratability, widgets, zswap-counters
    assert "`↳ stored` / `↳ kept` / `↳ rejected` / `↳ written back`: the pages the " \
           "allocators stored, that the widgets kept, that zswap rejected and that it wrote " \
           "back, where they differ." in md
    header = next([c.strip() for c in ln.strip("|").split("|")] for ln in md.splitlines()
                  if "migr %" in ln)
    assert header[-3:] == ["crossing", "wid", "evac ms"]
    assert "invariant; `wid`: widgets kept; `—`: not measured." in md


def test_a_table_that_raises_is_contained() -> None:
    class Plugin:
        @hookimpl
        def register_tables(self, register: Callable[[type], None]) -> None:
            register(_Broken)

    old = get_registry()
    reg = Registry()
    reg.register_plugin(Plugin(), "broken")
    reset_registry(reg)
    try:
        res = _results()
        md = tables.report_markdown(res)
        assert "## broken table\n\n(not rendered: RuntimeError: boom)" in md
        assert "<p>(not rendered: RuntimeError: boom)</p>" in render_html(res)
    finally:
        reset_registry(old)


def test_without_the_plugins_the_core_shows_no_plugin_section() -> None:
    old = get_registry()
    reset_registry(Registry())  # no plugin at all
    try:
        res = _results()
        md = tables.report_markdown(res)
        assert "widget" not in md and "zswap counters" not in md
        assert "`↳ stored`: the pages the allocators stored, where they differ." in md
        assert "`widgets`" not in md  # no definition installed: not in the Metrics table
    finally:
        reset_registry(old)


def test_one_section_list_orders_the_terminal_too() -> None:
    names = [p.name for p in tables.SECTIONS]
    assert names.index("plugin tables") == names.index("reporters") + 1
    last = [p.name for p in tables.SECTIONS if p.terminal_last]
    assert last == ["failed"]


class _Classes:
    def __init__(self, rows: list[dict[str, int]] | None) -> None:
        self.rows = rows

    def size_classes(self) -> list[dict[str, int]] | None:
        return self.rows


def test_class_rows_keep_the_allocators_fields_in_its_order() -> None:
    rows = [{"size": 32, "chunks": 2, "obj_allocated": 10, "obj_used": 7}]
    assert class_rows(_Classes(rows)) == rows  # type: ignore[arg-type]
    assert list(class_rows(_Classes(rows))[0]) == ["size", "chunks", "obj_allocated",
                                                    "obj_used"]  # type: ignore[arg-type]
    assert class_rows(_Classes(None)) == []  # type: ignore[arg-type]
    assert class_rows(_Classes([{"size": 32, "obj_used": 1}])) == []  # type: ignore[arg-type]


def test_zsmalloc_records_its_classes_as_before() -> None:
    from zbench import PageFrames, get_plugin_class

    cls = get_plugin_class("allocator", "zsmalloc")
    pool = cls(cls.Options(), PageFrames())
    pool.malloc(100)
    rows = class_rows(pool)
    assert rows and list(rows[0]) == ["size", "pages_per_zspage", "obj_allocated", "obj_used"]
    assert sum(r["obj_used"] for r in rows) == 1


def test_metrics_doc_lists_each_plugins_metrics() -> None:
    from zbench_aspace.report import METRICS as ASPACE
    from zbench_zram.metrics import METRICS as ZRAM
    from zbench_zswap.report import METRICS as ZSWAP

    doc = (ROOT / "docs" / "metrics.md").read_text()
    for defs in (METRICS, ZSWAP, ASPACE, ZRAM):
        assert markdown_table(defs) in doc


def test_metrics_command_lists_plugin_metrics(registry: Registry) -> None:
    from click.testing import CliRunner

    from zbench.cli.app import cli

    out = CliRunner().invoke(cli, ["metrics", "--markdown"]).stdout
    assert out == markdown_table(registry.metrics())
    assert "| `widgets` |" in out and "| `pool_total_size` |" in out
