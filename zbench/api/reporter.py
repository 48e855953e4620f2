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


def sections(results: dict[str, Any], fmt: str) -> list[tuple[str, str, str]]:
    """``(title, table, note)`` of every reporter section the results hold."""
    from zbench.api.registry import describe_exc, get_registry

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


def run_reports(refs: list[Any], results: dict[str, Any], out_dir: Path, say: Say
                ) -> dict[str, dict[str, Any]]:
    """Collect every reporter the suite lists; a failing one is recorded, not fatal."""
    from zbench.api.registry import get_registry

    reg = get_registry()
    out: dict[str, dict[str, Any]] = {}
    for ref in refs:
        cls = reg.get("reporter", ref.name)
        rep: Reporter = cls(cls.Options.model_validate(ref.options))
        sec: dict[str, Any] = {"reporter": ref.name, "title": cls.title or ref.name,
                               "options": rep.options.model_dump(mode="json")}
        try:
            sec["record"] = rep.collect(results, out_dir, say)
        except Exception as exc:
            sec["error"] = f"{type(exc).__name__}: {exc}"
            say(f"report {ref.display}: failed: {sec['error']}")
        out[ref.display] = sec
    return out
