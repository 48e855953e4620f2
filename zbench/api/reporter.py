"""The reporter interface: a plugin's own section of the results and the report.

A suite lists reporters under ``reports:`` (a name, or ``{name, label, options}``).
After the cases (and the timing cases, where the suite has them) ``zbench run``
calls each reporter's :meth:`Reporter.collect` with the results so far and the
run's folder; what it returns (JSON-able) is kept under
``results["reports"][label]``.  Every renderer (the terminal, ``report.md``,
``zbench report --html``) then asks the reporter class for its section with
:meth:`Reporter.render`, so a results file re-renders wherever the plugin is
installed (and says so where it is not).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
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
