"""zbench's pytest plugin (entry point ``pytest11``: ``zbench``).

Active in every pytest run of an environment where zbench is installed; it adds only
fixtures and one option, and loads no zbench plugin until a fixture asks for one.

* ``zbench_registry`` - a fresh plugin registry (installed plugins) made the process-wide
  one for the test, so ``zbench.run_suite`` and the CLI see exactly it.
* ``zbench_plugin(obj, name)`` - register a plugin object (a module, or any object with
  ``@zbench.hookimpl`` functions) for one test; returns its record (``status``, ``error``).
* ``zbench_cli(*args)`` - run the ``zbench`` command in-process; returns click's ``Result``.
* ``zbench_pages(n)`` - write ``n`` generated pages of mixed compressibility to a raw dump
  file under ``tmp_path`` and return its path.
* ``--zbench-examples N`` - hypothesis examples for the contract's stateful test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zbench", "zbench plugin contract suite")
    group.addoption("--zbench-examples", dest="zbench_examples", type=int, default=None,
                    metavar="N", help="hypothesis examples for the allocator contract's "
                                      "stateful test (default: the contract class's)")


def pytest_report_header(config: pytest.Config) -> str:
    from zbench.api.version import __version__

    return f"zbench {__version__} (contract suites: zbench.testing)"


@pytest.fixture
def zbench_registry() -> Iterator[Any]:
    from zbench.api.registry import Registry, reset_registry

    reg = Registry()
    reg.load_entry_points()
    reset_registry(reg)
    try:
        yield reg
    finally:
        reset_registry(None)


@pytest.fixture
def zbench_plugin(zbench_registry: Any) -> Callable[..., Any]:
    def register(obj: object, name: str | None = None) -> Any:
        return zbench_registry.register_plugin(obj, name or getattr(obj, "__name__", "test"))

    return register


@pytest.fixture
def zbench_cli(zbench_registry: Any) -> Callable[..., Any]:
    from click.testing import CliRunner

    from zbench.cli import app as cli_mod

    add = getattr(cli_mod, "_add_dump_commands", None)
    if callable(add):
        add()
    zbench_registry.register_commands(cli_mod.cli)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(cli_mod.cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def zbench_pages(tmp_path: Path) -> Callable[[int], Path]:
    from zbench.testing.others import make_pages

    def write(n: int = 64, seed: int = 0) -> Path:
        path = tmp_path / f"pages-{n}-{seed}.raw"
        path.write_bytes(make_pages(n, seed))
        return path

    return write
