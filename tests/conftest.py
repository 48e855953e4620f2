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


@pytest.fixture(scope="module")
def uml_kernel_612():  # type: ignore[no-untyped-def]
    """The 6.12 UML kernel, built once by ``zbench kernel build`` (built here when none is
    and it can be; else the test skips with the reason)."""
    from zbench_uml import build

    k = build.find("6.12")
    if k is not None:
        return k
    try:
        return build.build("6.12")
    except build.BuildError as exc:
        pytest.skip(f"no 6.12 UML kernel and none can be built here: {exc}")
