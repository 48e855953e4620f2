"""benchmarks/native_floor.py: its C loop places a fill exactly as the zsmalloc model does,
reads back every page it stored, and is caught when its class table is wrong (the figures
it times are a benchmark's, not asserted here)."""

from __future__ import annotations

import ctypes.util
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "native_floor.py"

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None or ctypes.util.find_library("lz4") is None,
    reason="native_floor.c needs gcc and liblz4.so.1")


@pytest.fixture()
def floor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zbench_benchmarks_native_floor", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_c_fill_equals_the_model_and_every_page_comes_back(
        floor: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert floor.main(["--pages", "20000", "--passes", "1"]) == 0
    out = capsys.readouterr().out
    assert "classes equal" in out and ", 0 mismatches" in out


def test_a_wrong_class_table_is_reported(floor: ModuleType,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    table = floor._table

    def shifted(page_size: int) -> tuple[list[int], bool]:
        words, same_any = table(page_size)
        class_of = 3 + 4 * words[2]  # where class_of[size] starts
        for size in range(1000, 1010):
            words[class_of + size] += 1
        return words, same_any

    floor._table = shifted
    assert floor.main(["--pages", "20000", "--passes", "1"]) == 1
    assert "classes DIFFERENT" in capsys.readouterr().out
