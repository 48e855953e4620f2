"""The reporter interface: a plugin's own section of the results and the report.

A suite lists reporters under ``reports:`` (a name, or ``{name, label, options}``).
After the cases (and the timing cases, where the suite has them) ``zbench run``
calls each reporter's :meth:`Reporter.collect` with the results so far and the
run's folder; what it returns (JSON-able) is kept under
``results["reports"][label]``.  Every renderer (the terminal, ``report.md``,
``zbench report --html``) then asks the reporter class for its section with
:meth:`Reporter.render`, so a results file re-renders wherever the plugin is
installed (and says so where it is not).

A :class:`ReportTable` is a plugin's table in every report, with no suite entry: the
renderers ask each registered one for its section where the core's sections list the
plugins' tables (``zbench.report.tables.SECTIONS``), and for the rows and columns it
adds to the core's tables, so the core names no plugin's counters.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from zbench.api.options import PluginOptions

Say = Callable[[str], None]


class Reporter(abc.ABC):
    """Base class of reporter plugins."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: The section's heading.
    title: ClassVar[str] = ""
    Options: ClassVar[type[PluginOptions]] = PluginOptions

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    @abc.abstractmethod
    def collect(self, results: dict[str, Any], out_dir: Path, say: Say) -> dict[str, Any]:
        """Measure or compute the section's record after the cases; may write files into
        ``out_dir`` (the run's folder); ``say`` reports progress.  An exception marks the
        section failed with the reason; the run's results are kept (options were
        checked before the first case)."""

    @classmethod
    @abc.abstractmethod
    def render(cls, record: dict[str, Any], fmt: str) -> tuple[str, str]:
        """``(table, note)`` for ``record``: ``fmt`` is a tabulate format (``simple`` for
        the terminal, ``github`` for report.md, ``html`` for the HTML report, where the
        table is HTML)."""

    @classmethod
    def timings(cls, record: dict[str, Any]) -> list[Timings]:
        """Per-pass timings the verdict compares (the fastest of each group, with Welch's
        test), from this section's ``record``; default: none."""
        return []


@dataclass(frozen=True)
class Timings:
    """One group of timings a reporter offers the verdict: ``what`` (``"real store"``)
    over ``scope`` (what the figures are), for one compressor (its name), with each
    contender's (allocator's) per-pass values in nanoseconds."""

    what: str
    scope: str
    compressor: str
    values: dict[str, list[float]]


@dataclass(frozen=True)
class SideRow:
    """A sub-row of the allocators side-by-side table: under a row whose allocators differ
    in it, ``↳ label`` with the sum of the ``keys`` metrics per allocator.  ``meaning``
    continues "pages the allocators stored, ..." in the table's legend (e.g. "that the
    front end rejected")."""

    label: str
    keys: tuple[str, ...]
    meaning: str


class ReportTable(abc.ABC):
    """Base class of report-table plugins: a section computed from the results mapping,
    and what the plugin adds to the core's tables (all optional)."""

    name: ClassVar[str]
    #: The section's heading (the terminal's, report.md's and the HTML report's).
    title: ClassVar[str] = ""
    #: Leading key columns (allocator, front end, ...) the terminal repeats in every
    #: part of a table it splits to fit its width.
    keys: ClassVar[int] = 4
    #: ``(metric, header)`` of the table's metric columns: the terminal's legend gives
    #: each header the metric's meaning (its ``MetricDef``).
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: ``(label, meaning)`` pairs the terminal's legend adds after the columns'.  With
    #: neither columns nor these, the terminal prints the note as the legend.
    legend_extra: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Sub-rows of the side-by-side table, after the core's ``↳ stored``.
    side_rows: ClassVar[tuple[SideRow, ...]] = ()
    #: ``(metric, header)`` columns appended to the migratability table.
    migration_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: What those columns mean, prose with `backticks` around names, in the
    #: migratability table's legend.
    migration_explain: ClassVar[str] = ""

    @classmethod
    def render(cls, results: dict[str, Any], fmt: str) -> tuple[str, str] | None:
        """``(table, note)`` from ``results`` in ``fmt`` (a tabulate format, as
        :meth:`Reporter.render`); ``None`` (the default) when the results hold nothing
        for this table, so the section is left out."""
        return None
