"""The hooks a zbench plugin may implement.

A plugin is a module (or object) named by an entry point in the group
``zbench``; it implements any of these hooks with ``@zbench.hookimpl``.  Each
``register_*`` hook receives a ``register`` callback and calls it once per
class it provides (``register_metrics``: once per metric definition).  Argument lists
never change; new needs get new hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("zbench")
hookimpl = pluggy.HookimplMarker("zbench")


@hookspec
def register_allocators(register: Callable[[type], None]) -> None:
    """Register allocator classes (subclasses of ``zbench.Allocator``)."""


@hookspec
def register_frontends(register: Callable[[type], None]) -> None:
    """Register front-end classes (subclasses of ``zbench.FrontEnd``)."""


@hookspec
def register_compressors(register: Callable[[type], None]) -> None:
    """Register compressor classes (subclasses of ``zbench.Compressor``)."""


@hookspec
def register_workloads(register: Callable[[type], None]) -> None:
    """Register workload classes (subclasses of ``zbench.Workload``)."""


@hookspec
def register_reporters(register: Callable[[type], None]) -> None:
    """Register reporter classes (subclasses of ``zbench.Reporter``): sections a suite
    asks for under ``reports:``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``zbench`` command group ``cli``."""


@hookspec
def register_metrics(register: Callable[[Any], None]) -> None:
    """Register the definitions (``zbench.MetricDef``) of the metrics only this plugin's
    models produce: ``zbench metrics``, ``zbench compare`` and the reports describe them
    beside the core's."""


@hookspec
def register_tables(register: Callable[[type], None]) -> None:
    """Register report tables (subclasses of ``zbench.ReportTable``): sections every
    report shows when the results hold something for them (a front end's counters), and
    the rows and columns they add to the core's tables."""
