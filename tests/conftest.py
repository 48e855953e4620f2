from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from zbench.testing.others import make_pages  # noqa: F401  (the tests' page generator)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES / "zbench-tiny"))  # the example plugin's module, for unit tests


# UML kernels take minutes to build: the tests use the ones built outside them (the
# environment's cache, as `zbench kernel build` left it), while every other cache is
# a fresh one per test session
os.environ.setdefault("ZBENCH_UML_KERNELS", str(
    Path(os.environ.get("ZBENCH_CACHE") or Path.home() / ".cache" / "zbench") / "uml" / "kernels"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "zbench-cache"))
    from zbench.api import registry as plugins

    plugins.reset_registry()
    yield
    plugins.reset_registry()


@pytest.fixture
def raw_dump(tmp_path: Path) -> Path:
    p = tmp_path / "small.pages"
    p.write_bytes(make_pages(256))
    return p
