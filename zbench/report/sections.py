"""What plugins add to the reports, found through the registry: reporter sections (a
suite's ``reports:``), report tables (:class:`~zbench.api.reporter.ReportTable`), their
rows and columns in the core's tables, and metric definitions.  The terminal, report.md
and the HTML report all ask here, so the core's tables name no plugin's counters."""

from __future__ import annotations

from typing import Any

from zbench.api.metrics import MetricDef
from zbench.api.registry import describe_exc, get_registry
from zbench.api.reporter import ReportTable, SideRow, Timings

#: The side-by-side table's own sub-row: the pages each allocator stored.
STORED = SideRow("stored", ("stored_pages",), "pages the allocators stored")


def sections(results: dict[str, Any], fmt: str) -> list[tuple[str, str, str]]:
    """``(title, table, note)`` of every reporter section the results hold."""
    out = []
    for label, sec in (results.get("reports") or {}).items():
        title = sec.get("title") or label
        if sec.get("error"):
            out.append((title, f"failed: {sec['error']}", ""))
            continue
        try:
            cls = get_registry().get("reporter", sec["reporter"])
        except Exception as exc:  # the plugin is not installed here
            out.append((title, f"(not rendered: {exc})", ""))
            continue
        try:  # plugin code on a record read back from a file: contained like collect()
            table, note = cls.render(sec["record"], fmt)
        except Exception as exc:  # noqa: BLE001
            out.append((title, f"(not rendered: {describe_exc(exc)})", ""))
            continue
        out.append((title, table, note))
    return out


def reporter_timings(results: dict[str, Any]) -> list[Timings]:
    """The timings every reporter section of ``results`` offers the verdict
    (:meth:`~zbench.api.reporter.Reporter.timings`); a section whose plugin is not
    installed here, or that fails, offers none."""
    out: list[Timings] = []
    for sec in (results.get("reports") or {}).values():
        if sec.get("error") or "record" not in sec:
            continue
        try:
            cls = get_registry().get("reporter", sec["reporter"])
            out += cls.timings(sec["record"])
        except Exception:  # noqa: BLE001 - plugin code on a record read back from a file
            continue
    return out


def report_tables() -> list[type[ReportTable]]:
    """The installed report tables, by name."""
    reg = get_registry()
    out: list[type[ReportTable]] = []
    for name in reg.names("table"):
        cls = reg.get("table", name)
        if isinstance(cls, type) and issubclass(cls, ReportTable):
            out.append(cls)
    return out


def table_sections(results: dict[str, Any], fmt: str
                   ) -> list[tuple[type[ReportTable], str, str, str]]:
    """``(table class, title, table, note)`` of every report table the results hold
    something for; a table whose plugin code raises says so in its place."""
    out = []
    for cls in report_tables():
        title = cls.title or cls.name
        try:
            got = cls.render(results, fmt)
        except Exception as exc:  # noqa: BLE001 - plugin code: contained
            out.append((cls, title, f"(not rendered: {describe_exc(exc)})", ""))
            continue
        if got is not None:
            out.append((cls, title, *got))
    return out


def side_rows() -> list[SideRow]:
    """The side-by-side table's sub-rows: :data:`STORED`, then the plugins'."""
    return [STORED, *(row for cls in report_tables() for row in cls.side_rows)]


def migration_columns() -> list[tuple[str, str]]:
    """``(metric, header)`` columns plugins add to the migratability table."""
    return [col for cls in report_tables() for col in cls.migration_columns]


def migration_explains() -> list[str]:
    """What those columns mean, one phrase per plugin that adds some."""
    return [cls.migration_explain for cls in report_tables() if cls.migration_explain]


def metric_defs() -> tuple[MetricDef, ...]:
    """Every metric definition installed: the core's and the plugins'."""
    return get_registry().metrics()


def meaning(name: str) -> str:
    """The meaning of metric ``name`` (the name itself when none is installed)."""
    d = next((m for m in metric_defs() if m.name == name), None)
    return d.meaning if d else name
