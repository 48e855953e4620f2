"""A finished case leaves nothing of its models behind in the process: the zspages, zswap
entries and frames of one case (their list heads make reference cycles) are collected
before the next case runs, so in-process cases peak at the largest, not at their sum."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from conftest import make_pages
from zbench_zsmalloc.zspage import ZsPage
from zbench_zswap.entry import Entry

from zbench import PageFrames, run_suite
from zbench.run import memory


def _alive(cls: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is cls)


@pytest.mark.parametrize("frontend", ["zswap", "zram"])
def test_nothing_of_a_finished_case_stays_alive(frontend: str, tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(256))
    gc.collect()
    before = {cls: _alive(cls) for cls in (ZsPage, Entry, PageFrames)}
    gc.disable()  # only the release after the case may collect
    try:
        res = run_suite({"name": "t", "seed": 1, "dumps": [str(dump)], "compressors": ["lz4"],
                         "frontends": [{"name": frontend, "options": {"kernel": "6.6"}}],
                         "allocators": [{"name": "zsmalloc", "options": {"kernel": "6.6"}}],
                         "workloads": [{"name": "churn", "options": {"steps": 400}}]},
                        quiet=True)
        assert res["cases"][0]["metrics"]["pool_pages"] >= 0
        after = {cls: _alive(cls) for cls in (ZsPage, Entry, PageFrames)}
    finally:
        gc.enable()
    assert after == before
    assert gc.get_freeze_count() == 0  # what was frozen for the cases is given back


def test_release_collects_cycles_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: trims.append)

    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.disable()
    try:
        Node()
        assert _alive(Node) == 1  # a cycle: only the collector frees it
        memory.release_case_memory()
        assert _alive(Node) == 0 and trims == [0]
    finally:
        gc.enable()
