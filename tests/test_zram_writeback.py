"""zram's backing device, ``echo all > idle`` and ``writeback`` (drivers/block/zram/
zram_drv.c ``mark_idle``, ``writeback_store``, ``alloc_block_bdev``, ``zram_read_page``,
``zram_free_page``): which slots are written back per type and kernel, the counters of
bd_stat and mm_stat after it, the page coming back exact from the device, blocks given
back on writes and discards, the limit, the order of the post-processing steps, a
hypothesis state machine over the slot table, the CLI with ``verify: true`` and bad
options (one line)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from zbench_compressors import Lz4
from zbench_zram.frontend import Zram, ZramOptions
from zbench_zram.metrics import METRICS
from zbench_zram.writeback import BackingDevice
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import (
    PAGE_SIZE,
    OptionsError,
    PageFrames,
    VerifyError,
    default_dump_path,
    run_suite,
)

LZ4 = Lz4(Lz4.Options())
RANDOM = [random.Random(s).randbytes(PAGE_SIZE) for s in range(6)]  # lz4: huge
TEXT = [(f"page {s} " * 600).encode()[:PAGE_SIZE] for s in range(6)]  # small objects
ZERO = bytes(PAGE_SIZE)


class P:
    def __init__(self, data: bytes) -> None:
        self.data, self.clean = data, False
        self.compressed = LZ4.compress(data)


def _zram(kernel: str = "6.18", **opts: Any) -> Zram:
    o = ZramOptions.model_validate({"kernel": kernel, **opts})
    pool = ZsPool(ZsOptions(kernel=kernel), PageFrames(PAGE_SIZE))
    return Zram(o, pool, LZ4)


def _filled(kernel: str = "6.18", pages: int = 64, **opts: Any) -> tuple[Zram, list[bytes]]:
    """Offsets 0-5 huge, 6-11 small objects, 12 same-filled."""
    fe = _zram(kernel, backing_dev={"pages": pages}, **opts)
    data = RANDOM + TEXT + [ZERO]
    for off, page in enumerate(data):
        fe.store(off, P(page))
    return fe, data


def _wb(type_: str, **extra: Any) -> dict[str, Any]:
    return {"writeback": {"type": type_, **extra}}


def _written(fe: Zram) -> list[int]:
    return sorted(off for off, s in fe._table.items() if s.wb)


# -- writeback_store: which slots, and the counters after it ------------------------------
def test_huge_writeback_frees_the_objects_and_keeps_pages_stored() -> None:
    """zram_free_page on each slot written: huge_pages and compr_data_size drop, the pool
    shrinks, pages_stored is given back, same_pages stays; bd_count = bd_writes = 6."""
    fe, data = _filled(**_wb("huge"))
    before = fe.metrics()
    pool_before = fe.allocator.pool_pages()
    assert before["huge_pages"] == 6
    assert fe.writeback() == 6
    m = fe.metrics()
    assert _written(fe) == list(range(6))
    assert (m["bd_count_pages"], m["bd_writes_pages"], m["bd_reads_pages"]) == (6, 6, 0)
    assert m["huge_pages"] == 0 and m["huge_pages_since"] == before["huge_pages_since"]
    assert m["compressed_bytes"] == before["compressed_bytes"] - 6 * PAGE_SIZE
    assert m["object_bytes"] == m["compressed_bytes"]
    assert m["stored_pages"] == before["stored_pages"] == len(data)
    assert m["same_filled_pages"] == 1
    assert fe.allocator.pool_pages() < pool_before
    assert all(fe.handle_of(off) is None for off in range(6))


def test_a_written_back_page_loads_exact_from_the_device_and_stays_there() -> None:
    """zram_read_page -> read_from_bdev: bd_reads counts every load, the slot keeps
    ZRAM_WB and its block; a peek (the verifier's read-back) counts nothing."""
    fe, data = _filled("6.12", **_wb("huge"))
    fe.writeback()
    assert fe.load(2) == data[2] and fe.load(2) == data[2]
    assert fe.peek(3) == data[3]
    m = fe.metrics()
    assert m["bd_reads_pages"] == 2 and m["bd_count_pages"] == 6
    assert fe._table[2].wb == 3  # blocks from 1: offset 0 -> block 1
    assert all(fe.load(off) == page for off, page in enumerate(data))


def test_write_and_discard_over_a_written_back_slot_free_its_block() -> None:
    """zram_free_page -> free_block_bdev; the freed block is the first free one again."""
    fe, _ = _filled("6.12", **_wb("huge"))
    fe.writeback()
    fe.store(1, P(TEXT[0]))
    fe.invalidate(4)
    m = fe.metrics()
    assert m["bd_count_pages"] == 4 and m["stored_pages"] == 12
    assert fe.load(1) == TEXT[0] and fe.load(4) is None
    fe.store(20, P(RANDOM[0]))
    assert fe.writeback() == 1 and fe._table[20].wb == 2  # block of offset 1, reused
    assert fe.metrics()["bd_writes_pages"] == 7


@pytest.mark.parametrize(("kernel", "written"), [("6.12", [0, 1]), ("6.18", [4, 5])])
def test_device_full_block_zero_unused_and_the_order_per_kernel(kernel: str,
                                                               written: list[int]) -> None:
    """3 pages hold 2 written pages (block 0 never used), then -ENOSPC.  6.12 writes in
    slot order; 6.13+ ("zram: rework writeback target selection strategy") by size
    bucket, each bucket in reverse scan order: the last huge slots first."""
    fe, _ = _filled(kernel, pages=3, **_wb("huge"))
    assert fe.writeback() == 2
    assert _written(fe) == written
    assert sorted(fe._table[o].wb for o in written) == [1, 2]
    assert fe.metrics()["bd_count_pages"] == 2


def test_writeback_limit_is_one_budget_for_every_pass() -> None:
    fe, _ = _filled(**_wb("huge", limit=4))
    assert fe.writeback() == 4
    assert fe.writeback() == 0  # writeback_limit_enable, bd_wb_limit == 0: -EIO
    fe0, _ = _filled(**_wb("huge", limit=0))
    assert fe0.writeback() == 0 and fe0.metrics()["bd_writes_pages"] == 0


# -- idle marking ---------------------------------------------------------------------------
@pytest.mark.parametrize(("kernel", "marked"), [("6.12", 12), ("6.6", 13)])
def test_mark_idle_skips_same_filled_slots_from_612(kernel: str, marked: int) -> None:
    """6.12 ("zram: do not mark idle slots that cannot be idle") leaves ZRAM_SAME and
    ZRAM_WB slots unmarked; before, every allocated slot was marked."""
    fe, _ = _filled(kernel, mark_idle={}, **_wb("idle"))
    assert fe.mark_idle() == marked
    assert fe.metrics()["idle_pages"] == marked


def test_a_load_or_write_clears_idle_and_idle_writeback_skips_the_slot() -> None:
    """zram_accessed on a read, zram_free_page on a write: the slot is no longer idle;
    same-filled slots are never written back, idle or not."""
    fe, data = _filled("6.6", mark_idle={}, **_wb("idle"))
    fe.mark_idle()
    fe.load(0)
    fe.store(7, P(TEXT[1]))
    assert fe.metrics()["idle_pages"] == 11
    assert fe.writeback() == 10
    assert _written(fe) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]
    m = fe.metrics()
    assert m["idle_pages"] == 1  # the same-filled slot, marked under 6.6 rules
    assert fe.load(12) == ZERO and fe.metrics()["idle_pages"] == 0
    assert fe.peek(9) == data[9]


def test_a_peek_leaves_idle_set() -> None:
    fe, _ = _filled(mark_idle={}, **_wb("idle"))
    fe.mark_idle()
    fe.peek(0)
    assert fe._table[0].idle


@pytest.mark.parametrize(("type_", "written"), [
    ("huge_idle", [0, 2, 3, 4, 5]), ("idle", [0, 2, 3, 4, 5, 6, 8, 9, 10, 11]),
    ("huge", [0, 1, 2, 3, 4, 5]),
])
def test_type_filters(type_: str, written: list[int]) -> None:
    fe, _ = _filled("6.12", mark_idle={}, **_wb(type_))
    fe.mark_idle()
    fe.load(1)
    fe.load(7)
    fe.writeback()
    assert _written(fe) == written


def test_incompressible_writeback_takes_the_slots_recompression_gave_up_on() -> None:
    """zstd cannot shrink random pages: ZRAM_INCOMPRESSIBLE, then written back by
    ``type=incompressible`` (6.2+); zram_free_page clears the flag."""
    fe, data = _filled(recomp_algorithms=[{"name": "zstd", "priority": 1}],
                       recompress={"type": "huge"}, **_wb("incompressible"))
    fe.recompress()
    assert fe.metrics()["incompressible_pages"] == 6
    assert fe.writeback() == 6 and _written(fe) == list(range(6))
    assert fe.metrics()["incompressible_pages"] == 0
    assert all(fe.load(off) == page for off, page in enumerate(data))


# -- the post-processing order ------------------------------------------------------------
@pytest.mark.parametrize(("kernel", "written"), [("6.18", 0), ("6.6", 6)])
def test_mark_idle_then_recompress_then_writeback_at_the_end(kernel: str,
                                                             written: int) -> None:
    """All three at ``when: end`` run in zram.rst's order.  ``type=idle`` recompression
    reads every idle huge slot (zstd fails on random data); from 6.12 ("zram: clear IDLE
    flag after recompression") that clears ZRAM_IDLE, so ``idle`` writeback finds none
    of them; under 6.6 they stay idle and are written back."""
    fe = _zram(kernel, backing_dev={"pages": 64}, mark_idle={},
               recomp_algorithms=[{"name": "zstd", "priority": 1}],
               recompress={"type": "idle"}, writeback={"type": "idle"})
    for off, page in enumerate(RANDOM):
        fe.store(off, P(page))
    fe.workload_ended()
    m = fe.metrics()
    assert m["recompress_attempts"] == 6
    assert m["bd_writes_pages"] == written
    assert m["incompressible_pages"] == 6 - written  # zram_free_page clears the flag
    fe.workload_ended()  # once only
    assert fe.metrics()["recompress_attempts"] == 6


def test_phase_steps_run_before_the_phase_figures() -> None:
    fe, _ = _filled(mark_idle={"when": "phase:fill"},
                    **_wb("huge_idle", when="phase:fill"))
    fe.phase("other")
    assert fe.metrics()["bd_writes_pages"] == 0
    fe.phase("fill")
    assert fe.metrics()["bd_writes_pages"] == 6
    fe.workload_ended()
    assert fe.metrics()["bd_writes_pages"] == 6


# -- a state machine over the slot table --------------------------------------------------
class WritebackMachine(RuleBasedStateMachine):
    """Random writes, reads, discards, idle marks and writebacks on a small device: every
    load is the page last written, and the counters agree with the table."""

    def __init__(self) -> None:
        super().__init__()
        self.fe = _zram("6.12", backing_dev={"pages": 6}, mark_idle={},
                        writeback={"type": "idle"})
        self.pages: dict[int, bytes] = {}
        self.reads = 0

    @rule(off=st.integers(0, 7), which=st.integers(0, 12))
    def write(self, off: int, which: int) -> None:
        page = (RANDOM + TEXT + [ZERO])[which]
        self.fe.store(off, P(page))
        self.pages[off] = page

    @rule(off=st.integers(0, 7))
    def read(self, off: int) -> None:
        slot = self.fe._table.get(off)
        self.reads += bool(slot is not None and slot.wb)
        assert self.fe.load(off) == self.pages.get(off)

    @rule(off=st.integers(0, 7))
    def discard(self, off: int) -> None:
        self.fe.invalidate(off)
        self.pages.pop(off, None)

    @rule()
    def idle(self) -> None:
        self.fe.mark_idle()

    @rule(kind=st.sampled_from(["huge", "idle", "huge_idle"]))
    def writeback(self, kind: str) -> None:
        fe = self.fe
        free = fe._bdev.nr_pages - 1 - fe._bdev.bd_count  # type: ignore[union-attr]
        done = fe.writeback(kind)
        assert done <= free

    @invariant()
    def counters(self) -> None:
        fe, m = self.fe, self.fe.metrics()
        slots = fe._table.values()
        wb = sorted(s.wb for s in slots if s.wb)
        assert len(set(wb)) == len(wb) and all(1 <= b < 6 for b in wb)
        assert m["bd_count_pages"] == len(wb) == len(fe._bdev.blocks)  # type: ignore[union-attr]
        assert m["bd_reads_pages"] == self.reads
        assert m["stored_pages"] == len(fe._table) == len(self.pages)
        assert m["compressed_bytes"] == sum(s.size for s in slots)
        assert m["huge_pages"] == sum(1 for s in slots if s.huge)
        assert not any(s.idle and (s.wb or s.same is not None) for s in slots)
        assert all(fe.peek(off) == page for off, page in self.pages.items())


TestWritebackMachine = WritebackMachine.TestCase
TestWritebackMachine.settings = settings(max_examples=60, stateful_step_count=40,
                                         deadline=None)


# -- runs: the shipped dump, the CLI --------------------------------------------------------
def _suite(fe: dict[str, Any], kernel: str = "6.12", workload: str = "zipf") -> dict[str, Any]:
    return {"name": "writeback", "seed": 1, "verify": True,
            "dumps": [str(default_dump_path())], "compressors": ["lz4"],
            "frontends": [{"name": "zram", "options": {"kernel": kernel, **fe}}],
            "allocators": [{"name": "zsmalloc", "options": {"kernel": kernel}}],
            "workloads": [workload]}


def _metrics(fe: dict[str, Any], kernel: str = "6.12", workload: str = "zipf") -> Any:
    case = run_suite(_suite(fe, kernel, workload), quiet=True)["cases"][0]
    assert "failed" not in case, case.get("failed")
    return case["metrics"]


def test_default_options_record_and_metrics_are_unchanged() -> None:
    plain = _metrics({})
    assert ZramOptions(kernel="6.12").model_dump(mode="json") == {"kernel": "6.12"}
    new = {d.name for d in METRICS} - {"recompressed_pages", "incompressible_pages"}
    assert not new & set(plain)
    with_dev = _metrics({"backing_dev": {"pages": 16}})  # a device alone changes nothing
    assert {k: v for k, v in with_dev.items() if not k.startswith("bd_")
            and k != "elapsed_s"} == {k: v for k, v in plain.items() if k != "elapsed_s"}


def test_zipf_writes_back_at_warmup_and_reads_the_pages_back_verified() -> None:
    """Idle writeback after the warm-up; the zipf accesses then load written-back pages
    (bd_reads), re-store some (blocks freed), and every load is verified."""
    plain = _metrics({})
    m = _metrics({"backing_dev": {"pages": 4096}, "mark_idle": {"when": "phase:warmup"},
                  "writeback": {"type": "idle", "when": "phase:warmup"}})
    assert m["bd_writes_pages"] > m["bd_count_pages"] > 0
    assert m["bd_reads_pages"] > 0
    assert m["verified_loads"] == plain["verified_loads"] > 0
    assert m["stored_pages"] == plain["stored_pages"]
    assert m["pool_pages"] < plain["pool_pages"]


def test_verify_catches_a_device_that_returns_the_wrong_page(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's loads of written-back slots are checked: a device read that returns
    another block's page fails the case."""
    monkeypatch.setattr(BackingDevice, "read", lambda self, blk: self.blocks[
        min(self.blocks) if blk != min(self.blocks) else max(self.blocks)])
    with pytest.raises(VerifyError, match="load of offset"):
        run_suite(_suite({"backing_dev": {"pages": 4096},
                          "mark_idle": {"when": "phase:warmup"},
                          "writeback": {"type": "idle", "when": "phase:warmup"}}), quiet=True)


def test_cli_run_with_verify_passes(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"name: t\nverify: true\ndumps: [{default_dump_path()}]\ncompressors: [lz4]\n"
        "frontends: [{name: zram, options: {kernel: \"6.12\", backing_dev: {pages: 2048},"
        " mark_idle: {when: \"phase:warmup\"}, writeback: {type: huge_idle, "
        "when: \"phase:warmup\"}}}]\nallocators: [zsmalloc]\nworkloads: [zipf]\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "zbench", "run", str(suite), "--no-timing",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(out.rglob("results.json")).read_text())
    m = results["cases"][0]["metrics"]
    assert m["bd_writes_pages"] > 0 and m["bd_reads_pages"] > 0 and m["verified_loads"] > 0


# -- bad input ------------------------------------------------------------------------------
BAD = [
    ({"kernel": "4.19", "backing_dev": {"pages": 8}}, "backing_dev is modelled from 4.20"),
    ({"kernel": "4.9", "backing_dev": {"pages": 8}}, "zram backing_dev appeared in 4.14"),
    ({"kernel": "4.19", "mark_idle": {}}, "zram mark_idle (idle) appeared in 4.20"),
    ({"kernel": "5.15", "backing_dev": {"pages": 8}, "writeback": {"type": "huge_idle"}},
     "zram writeback type=huge_idle appeared in 5.19 (kernel 5.15)"),
    ({"kernel": "6.1", "backing_dev": {"pages": 8}, "writeback": {"type": "incompressible"}},
     "zram writeback type=incompressible appeared in 6.2 (kernel 6.1)"),
    ({"kernel": "5.0", "backing_dev": {"pages": 8},
      "writeback": {"type": "huge", "limit": 4}}, "writeback limit (writeback_limit) "
     "appeared in 5.1"),
    ({"writeback": {"type": "huge"}}, "writeback needs backing_dev"),
    ({"backing_dev": {"pages": 8}, "writeback": {"type": "cold"}},
     "writeback.type: must be one of"),
    ({"backing_dev": {"pages": 1}}, "backing_dev.pages"),
    ({"backing_dev": {"pages": 8}, "writeback": {"type": "huge", "when": "later"}},
     "writeback.when"),
]


@pytest.mark.parametrize(("options", "message"), BAD)
def test_bad_options_are_one_line_options_errors(options: dict[str, Any], message: str) -> None:
    rest = dict(options)
    kernel = rest.pop("kernel", "6.12")
    with pytest.raises(OptionsError) as err:
        run_suite(_suite(rest, kernel, "fill"), quiet=True)
    text = str(err.value)
    assert message in text and "\n" not in text, text
