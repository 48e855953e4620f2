"""Deterministic cost counters: bytes copied, objects moved, page-crossing copies, list
operations (per model, worked out by hand) and how a run reports them."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_pages
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_zbud import ZbudPool
from zbench_zbud.options import ZbudOptions
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import PageFrames, run_suite
from zbench.api.metrics import BY_NAME, COST_PER_OP

COST = ("bytes_written", "bytes_read", "bytes_moved", "bytes_copied", "objs_moved",
        "page_crossing_copies", "list_ops")


def test_zsmalloc_counts_copies_and_page_crossings() -> None:
    pool = ZsPool(ZsOptions(kernel="6.18", chain_size=8), PageFrames())
    hs = [pool.malloc(200) for _ in range(20)]  # class 208: slot 19 spans 3952..4160
    for h in hs:
        pool.write(h, bytes(200))
    s = pool.stats()
    assert s["bytes_written"] == 20 * 200 and s["bytes_read"] == 0
    assert s["page_crossing_copies"] == 1  # only object 19 runs into the second page
    assert pool.read(hs[19]) == bytes(200) and pool.read(hs[0]) == bytes(200)
    s = pool.stats()
    assert s["bytes_read"] == 400 and s["page_crossing_copies"] == 2
    assert s["bytes_copied"] == 20 * 200 + 400
    # one zspage: inserted once, then moved group to group as it fills (6.4+ ratios)
    assert s["list_ops"] == 1 + 2 * (pool.fullness.group(20, 59) - pool.fullness.group(1, 59))


def test_zsmalloc_compaction_counts_moved_slots() -> None:
    pool = ZsPool(ZsOptions(kernel="6.18", chain_size=8), PageFrames())
    hs = [pool.malloc(200) for _ in range(59 * 3)]
    for h in hs:
        pool.write(h, b"x" * 200)
    for i, h in enumerate(hs):
        if i % 3:
            pool.free(h)
    before = pool.stats()
    freed = pool.compact()
    s = pool.stats()
    assert freed > 0 and s["objs_moved"] > 0
    assert s["bytes_moved"] == 208 * s["objs_moved"]  # zs_object_copy: the whole slot
    assert s["page_crossing_copies"] > before["page_crossing_copies"]
    assert s["list_ops"] > before["list_ops"]
    assert all(pool.read(h) == b"x" * 200 for i, h in enumerate(hs) if not i % 3)


def test_zbud_counts_list_operations_and_never_moves() -> None:
    pool = ZbudPool(ZbudOptions(kernel="6.6"), PageFrames())
    a = pool.malloc(100)  # new page: unbuddied list_add
    b = pool.malloc(100)  # list_del from unbuddied, list_add to buddied
    pool.write(a, bytes(100))
    pool.free(b)  # list_del from buddied, list_add to unbuddied
    pool.free(a)  # list_del, page freed
    s = pool.stats()
    assert s["list_ops"] == 1 + 2 + 2 + 1
    assert (s["bytes_written"], s["bytes_read"], s["objs_moved"], s["bytes_moved"],
            s["page_crossing_copies"]) == (100, 0, 0, 0, 0)
    old = ZbudPool(ZbudOptions(kernel="6.4"), PageFrames())  # with the LRU: one more op each
    old.malloc(100)
    assert old.stats()["list_ops"] == 2


def test_z3fold_counts_in_page_compaction_as_a_move() -> None:
    pool = Z3foldPool(Z3Options(kernel="6.14"), PageFrames())
    a, b, c = pool.malloc(128), pool.malloc(640), pool.malloc(300)  # FIRST, LAST, MIDDLE
    for h, n in ((a, 128), (b, 640), (c, 300)):
        pool.write(h, bytes(n))
    pool.free(a)  # the middle buddy (5 chunks) slides up against LAST
    s = pool.stats()
    assert s["objs_moved"] == 1 and s["bytes_moved"] == 5 * 64
    assert s["bytes_written"] == 128 + 640 + 300 and s["page_crossing_copies"] == 0
    assert s["list_ops"] > 0
    assert s["bytes_copied"] == s["bytes_written"] + s["bytes_read"] + s["bytes_moved"]


@pytest.mark.parametrize("name", ["zsmalloc", "zbud", "z3fold"])
def test_every_model_reports_every_cost_counter(name: str, tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(64))
    res = run_suite({"name": "t", "seed": 1, "dumps": [str(dump)], "compressors": ["lz4"],
                     "frontends": [{"name": "zswap", "options": {"kernel": "6.6"}}],
                     "allocators": [{"name": name, "options": {"kernel": "6.6"}}],
                     "workloads": [{"name": "churn", "options": {"steps": 80}}]}, quiet=True)
    m = res["cases"][0]["metrics"]
    for key in COST:
        assert key in BY_NAME and BY_NAME[key].kind == "deterministic"
        assert isinstance(m[key], int) and m[key] >= 0, key
    for key, _unit, _better in COST_PER_OP:
        assert m[f"{key}_per_op"] == round(m[key] / m["operations"], 4)
    assert m["bytes_written"] > 0 and m["list_ops"] > 0


def test_verify_reads_do_not_count(tmp_path: Path) -> None:
    """``--verify`` peeks at every live page: those reads are not the workload's cost."""
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(64))
    suite = {"name": "t", "seed": 1, "dumps": [str(dump)], "compressors": ["lz4"],
             "allocators": ["zsmalloc"],
             "workloads": [{"name": "churn", "options": {"steps": 80}}]}
    plain = run_suite(suite, quiet=True)["cases"][0]["metrics"]
    checked = run_suite({**suite, "verify": True}, quiet=True)["cases"][0]["metrics"]
    assert checked["verified_loads"] > plain["verified_loads"] == 0
    assert {k: checked[k] for k in COST} == {k: plain[k] for k in COST}
