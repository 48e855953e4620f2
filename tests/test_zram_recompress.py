"""zram recompression (Linux 6.2+, drivers/block/zram/zram_drv.c ``recompress_store`` /
``recompress_slot``): the shipped dump through lz4 with zstd as the secondary algorithm,
the smaller-size-class rule worked by hand, the slot's priority on loads, the case cache's
view of the secondary algorithms, and bad input (exit 2, one line)."""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from zbench_compressors import Lz4
from zbench_zram.frontend import Zram, ZramOptions
from zbench_zram.recompress import ClassLookup, RecompressOptions, Recompressor
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import (
    PAGE_SIZE,
    Compressor,
    OptionsError,
    PageFrames,
    VerifyError,
    default_dump_path,
    load_dump,
    run_suite,
)

LZ4 = Lz4(Lz4.Options())
ZSTD19 = {"name": "zstd", "priority": 1, "options": {"level": 19}}
RANDOM = [random.Random(s).randbytes(PAGE_SIZE) for s in range(4)]  # lz4: > 4096 bytes


class P:
    def __init__(self, data: bytes) -> None:
        self.data, self.clean = data, False
        self.compressed = LZ4.compress(data)


class FixedSize(Compressor):
    """A secondary algorithm whose output has exactly ``size`` bytes (and decodes back):
    it places the recompressed object in the size class the test chooses."""

    name = "fixed"
    library = "test"

    def __init__(self, size: int) -> None:
        super().__init__(Compressor.Options())
        self.size = size
        self.pages: dict[bytes, bytes] = {}

    def library_version(self) -> str:
        return "0"

    def compress(self, page: bytes) -> bytes:
        blob = len(self.pages).to_bytes(4, "little").ljust(self.size, b"\xa5")
        self.pages[blob] = page
        return blob

    def decompress(self, data: bytes, size: int) -> bytes:
        return self.pages[data]


def _zram(kernel: str = "6.18", **recomp: Any) -> Zram:
    opts = ZramOptions.model_validate({"kernel": kernel, **recomp})
    pool = ZsPool(ZsOptions(kernel=kernel), PageFrames(PAGE_SIZE))
    return Zram(opts, pool, LZ4)


def _with_fixed_secondary(size: int) -> tuple[Zram, FixedSize]:
    fe = _zram(recomp_algorithms=[ZSTD19], recompress={"type": "huge"})
    assert fe._recomp is not None
    fixed = FixedSize(size)
    fe._recomp.comps[1] = fixed  # zram->comps[1]: the secondary algorithm of priority 1
    for off, page in enumerate(RANDOM):
        fe.store(off, P(page))
    return fe, fixed


# -- the smaller-class rule -------------------------------------------------------------
def _huge_class_size() -> int:
    hcs = _zram().allocator.huge_class_size()
    assert hcs is not None
    return hcs


def test_a_recompressed_object_in_the_same_class_is_not_kept() -> None:
    """huge_class_size + 8 bytes look up (``zs_lookup_class_index``, no handle added) in
    the huge class (zsmalloc merges every class above the last multi-object one with the
    PAGE_SIZE class): ``class_index_new >= class_index_old``, the old object stays, and
    with no algorithm left the slot is marked ZRAM_INCOMPRESSIBLE."""
    fe, _ = _with_fixed_secondary(_huge_class_size() + 8)
    before = (fe.allocator.pool_pages(), fe.huge_pages, fe.compr_data_size)
    assert fe.huge_pages == len(RANDOM)
    assert fe.recompress() == 0
    assert (fe.allocator.pool_pages(), fe.huge_pages, fe.compr_data_size) == before
    m = fe.metrics()
    assert m["recompressed_pages"] == 0 and m["recompress_attempts"] == len(RANDOM)
    assert m["incompressible_pages"] == len(RANDOM)
    # an incompressible slot is no candidate of a later pass
    assert fe.recompress() == 0 and fe.metrics()["recompress_attempts"] == len(RANDOM)
    assert all(fe.load(off) == page for off, page in enumerate(RANDOM))


def test_same_class_rule_in_a_multi_object_class() -> None:
    """Old and new object in one ordinary class: nothing saved, not kept; one byte under
    the class below: kept."""
    fe = _zram()
    lookup = ClassLookup(fe.allocator)
    old = lookup.sizes[40]
    below = lookup.sizes[39]
    page = RANDOM[0]
    for size, kept in ((old - 1, False), (below + 1, False), (below, True)):
        rc = Recompressor(fe.options.kernel, [], None)  # type: ignore[attr-defined]
        rc.comps[1] = FixedSize(size)
        rc.num_active_comps = 2
        prio, new, incompressible = rc.new_object(page, old, 0, 1, 2, lookup)
        assert (new is not None) == kept, size
        assert prio == (1 if kept else 2)
        assert incompressible == (not kept)  # the only algorithm reached no smaller class


def test_a_smaller_class_above_the_threshold_is_not_incompressible() -> None:
    """zram_recompress: "successful recompression but above threshold" returns before the
    ZRAM_INCOMPRESSIBLE test, which looks at the last algorithm's class (6.12 source)."""
    fe = _zram()
    lookup = ClassLookup(fe.allocator)
    old, below = lookup.sizes[40], lookup.sizes[39]
    opts = RecompressOptions(type="huge", threshold=below - 10)
    rc = Recompressor(fe.options.kernel, [], opts)  # type: ignore[attr-defined]
    rc.comps[1] = FixedSize(below)  # a smaller class, but not below the threshold
    rc.num_active_comps = 2
    assert rc.new_object(RANDOM[0], old, 0, 1, 2, lookup) == (2, None, False)
    rc.comps[1] = FixedSize(old)  # the same class: nothing gained
    assert rc.new_object(RANDOM[0], old, 0, 1, 2, lookup) == (2, None, True)


def test_one_byte_less_lands_in_a_smaller_class_and_is_kept() -> None:
    hcs = _huge_class_size()
    fe, _ = _with_fixed_secondary(hcs - 1)
    pool_before = fe.allocator.pool_pages()
    assert fe.recompress() == len(RANDOM)
    m = fe.metrics()
    assert m["huge_pages"] == 0 and m["recompressed_pages"] == len(RANDOM)
    assert m["incompressible_pages"] == 0
    assert m["compressed_bytes"] == len(RANDOM) * (hcs - 1)
    assert m["huge_pages_before_recompress"] == len(RANDOM)
    assert m["compressed_bytes_before_recompress"] == len(RANDOM) * PAGE_SIZE
    assert m["pool_pages_before_recompress"] == pool_before
    # loads decompress with the slot's priority: the primary could not read these objects
    assert all(fe.load(off) == page for off, page in enumerate(RANDOM))
    with pytest.raises(Exception):  # noqa: B017 - lz4 on a foreign object: any error
        LZ4.decompress(fe.allocator.read(fe.handle_of(0) or 0), PAGE_SIZE)


def test_lookup_without_the_handle_keeps_objects_zs_malloc_puts_in_the_huge_class() -> None:
    """The kernel's quirk, kept: ``zs_lookup_class_index`` looks the bare size up, while
    ``zs_malloc`` adds the 8-byte handle first.  An object of huge_class_size bytes is
    judged a class smaller than the huge one and kept, yet zs_malloc stores it in the huge
    class: a page each, no memory saved, the slot no longer counted in huge_pages."""
    hcs = _huge_class_size()
    fe, _ = _with_fixed_secondary(hcs)
    pool_before = fe.allocator.pool_pages()
    assert fe.recompress() == len(RANDOM)
    assert fe.huge_pages == 0
    assert fe.allocator.pool_pages() == pool_before
    assert fe.allocator.class_of(hcs).size == PAGE_SIZE  # type: ignore[attr-defined]
    assert all(fe.load(off) == page for off, page in enumerate(RANDOM))


def test_class_lookup_is_zs_lookup_class_index_without_the_handle() -> None:
    """A size equal to a class's size is in that class, one byte more in the next one;
    the last multi-object class is huge_class_size + 7 bytes (huge_class_size is that
    class's size less the handle, less one)."""
    fe = _zram()
    lookup = ClassLookup(fe.allocator)
    sizes = lookup.sizes
    mid = sizes[len(sizes) // 2]
    assert lookup.index(mid) == sizes.index(mid)
    assert lookup.index(mid + 1) == sizes.index(mid) + 1
    assert lookup.index(1) == 0 and lookup.index(PAGE_SIZE) == len(sizes) - 1
    hcs = _huge_class_size()
    assert lookup.index(hcs + 8) == lookup.index(PAGE_SIZE) == lookup.index(hcs + 7) + 1


def test_threshold_keeps_only_results_below_it() -> None:
    hcs = _huge_class_size()
    fe, _ = _with_fixed_secondary(hcs - 1)
    assert fe._recomp is not None and fe._recomp.options is not None
    fe._recomp.options = fe._recomp.options.model_copy(update={"threshold": hcs - 1})
    assert fe.recompress() == 0  # comp_len_new >= threshold: no progress
    assert fe.metrics()["huge_pages"] == len(RANDOM)


def test_612_processes_the_largest_bucket_first_in_reverse_scan_order() -> None:
    """place_pp_slot list_add()s each candidate to its 64-byte bucket's head and
    select_pp_slot takes the head of the highest bucket (6.12+); before, slot order."""
    class S:
        def __init__(self, size: int) -> None:
            self.size, self.same, self.huge = size, None, True
            self.prio, self.incompressible = 0, False

    table = {0: S(4096), 1: S(4096), 2: S(4096)}
    new = Recompressor(ZramOptions().kernel, [], None)
    old = Recompressor(ZramOptions(kernel="6.6").kernel, [], None)
    assert new.candidates(table, 2) == [2, 1, 0]
    assert old.candidates(table, 2) == [0, 1, 2]
    table[1].incompressible = True
    table[2].prio = 1  # already at the highest priority the pass may use
    assert new.candidates(table, 2) == [0]


# -- type=idle and huge_idle (idle marking: zbench_zram.writeback) ----------------------
TEXT = [(f"idle {s} " * 600).encode()[:PAGE_SIZE] for s in range(2)]


def _idle_device(kind: str, kernel: str = "6.18") -> Zram:
    """RANDOM at offsets 0-3 (huge), TEXT at 4-5, one zero page at 6; all marked idle,
    then offsets 0 and 4 read (zram_accessed clears ZRAM_IDLE)."""
    params = ZramOptions(kernel=kernel).kernel >= "6.12"  # algorithm_params allowed
    zstd = ZSTD19 if params else {"name": "zstd", "priority": 1}
    fe = _zram(kernel, recomp_algorithms=[zstd], recompress={"type": kind},
               mark_idle={})
    for off, page in enumerate(RANDOM + TEXT + [bytes(PAGE_SIZE)]):
        fe.store(off, P(page))
    fe.mark_idle()
    fe.load(0)
    fe.load(4)
    return fe


@pytest.mark.parametrize(("kind", "picked"), [
    ("idle", [1, 2, 3, 5]), ("huge_idle", [1, 2, 3]), ("huge", [0, 1, 2, 3]),
])
def test_idle_types_pick_the_slots_marked_and_not_read_since(kind: str,
                                                             picked: list[int]) -> None:
    """scan_slots_for_recompress: ZRAM_IDLE for idle/huge_idle, ZRAM_HUGE for
    huge/huge_idle; the same-filled slot never (6.12 does not even mark it)."""
    fe = _idle_device(kind, "6.6")
    assert fe._recomp is not None
    assert sorted(fe._recomp.candidates(fe._table, 2)) == picked


def test_idle_recompression_without_marking_finds_nothing() -> None:
    fe = _zram(recomp_algorithms=[ZSTD19], recompress={"type": "idle"})
    for off, page in enumerate(RANDOM):
        fe.store(off, P(page))
    assert fe.recompress() == 0 and fe.metrics()["recompress_attempts"] == 0


@pytest.mark.parametrize(("kernel", "idle_after"), [("6.18", 0), ("6.6", 3)])
def test_recompression_clears_idle_from_612(kernel: str, idle_after: int) -> None:
    """zstd cannot shrink random pages: the three idle huge slots stay, incompressible;
    6.12+ ("zram: clear IDLE flag after recompression") clears ZRAM_IDLE on each slot
    read, before only the slots whose object was replaced lose it (zram_free_page)."""
    fe = _idle_device("huge_idle", kernel)
    assert fe.recompress() == 0
    m = fe.metrics()
    assert m["recompress_attempts"] == 3 and m["incompressible_pages"] == 3
    idle_huge = sum(1 for off in range(4) if fe._table[off].idle)
    assert idle_huge == idle_after
    assert all(fe.load(off) == page for off, page in enumerate(RANDOM))


# -- the shipped dump: lz4, then zstd on the huge pages --------------------------------
def _suite(frontend_options: dict[str, Any], kernel: str = "6.18") -> dict[str, Any]:
    return {"name": "recompress", "seed": 1, "verify": True,
            "dumps": [str(default_dump_path())], "compressors": ["lz4"],
            "frontends": [{"name": "zram", "options": {"kernel": kernel, **frontend_options}}],
            "allocators": [{"name": "zsmalloc", "options": {"kernel": kernel}}],
            "workloads": ["fill"]}


@functools.cache
def _metrics_json(frontend_options: str, kernel: str) -> str:
    case = run_suite(_suite(json.loads(frontend_options), kernel), quiet=True)["cases"][0]
    assert "failed" not in case, case.get("failed")
    return json.dumps(case["metrics"])


def _metrics(frontend_options: dict[str, Any], kernel: str = "6.18") -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_metrics_json(json.dumps(frontend_options), kernel))
    return out


@pytest.mark.parametrize(("kernel", "algorithm", "when"), [
    ("6.18", ZSTD19, "end"), ("6.18", ZSTD19, "phase:fill"),
    ("6.2", {"name": "zstd", "priority": 1}, "phase:fill"),
])
def test_shipped_dump_lz4_then_zstd_on_huge_pages(kernel: str, algorithm: dict[str, Any],
                                                  when: str) -> None:
    """zstd moves some huge pages below huge_class_size (6.18's zsmalloc: only at level
    19, 6.12's algorithm_params; 6.2's smaller huge_class_size: at the default level);
    the pool does not grow; every page still loads as it was stored (``phase:fill`` runs
    the pass before the run's final read-back of every offset, so --verify covers the
    recompressed objects)."""
    plain = _metrics({}, kernel)
    m = _metrics({"recomp_algorithms": [algorithm],
                  "recompress": {"type": "huge", "when": when}}, kernel)
    assert m["huge_pages_before_recompress"] == plain["huge_pages"] > 0
    assert m["pool_pages_before_recompress"] == plain["pool_pages"]
    assert m["huge_pages"] < plain["huge_pages"]
    assert m["pool_pages"] <= plain["pool_pages"]
    assert m["compressed_bytes"] < plain["compressed_bytes"]
    assert m["recompressed_pages"] == plain["huge_pages"] - m["huge_pages"]
    assert m["incompressible_pages"] == m["huge_pages"]
    assert m["recompress_attempts"] == plain["huge_pages"]
    assert m["stored_pages"] == plain["stored_pages"]
    assert m["verified_loads"] == plain["verified_loads"] > 0


def test_zstd_at_its_default_level_moves_no_huge_page_under_618_rules() -> None:
    """6.18's zsmalloc (chain 8) has a larger huge_class_size than zstd level 3 reaches on
    the shipped dump's huge pages: every one stays, marked incompressible."""
    plain = _metrics({})
    m = _metrics({"recomp_algorithms": [{"name": "zstd", "priority": 1}],
                  "recompress": {"type": "huge"}})
    assert m["huge_pages"] == plain["huge_pages"] == m["incompressible_pages"]
    assert m["pool_pages"] == plain["pool_pages"] and m["recompressed_pages"] == 0


@pytest.mark.parametrize(("kernel", "algorithm", "figures"), [
    ("6.18", {"name": "zstd", "priority": 1}, (80, 80, 2023, 2023, 6868965, 6868965)),
    ("6.18", ZSTD19, (80, 64, 2023, 2022, 6868965, 6860681)),
    ("6.2", {"name": "zstd", "priority": 1}, (123, 80, 1863, 1844, 6900750, 6818729)),
])
def test_the_figures_docs_models_md_quotes(kernel: str, algorithm: dict[str, Any],
                                           figures: tuple[int, ...]) -> None:
    """huge pages, pool pages and compr_data_size before -> after, held as numbers."""
    m = _metrics({"recomp_algorithms": [algorithm], "recompress": {"type": "huge"}}, kernel)
    assert (m["huge_pages_before_recompress"], m["huge_pages"],
            m["pool_pages_before_recompress"], m["pool_pages"],
            m["compressed_bytes_before_recompress"], m["compressed_bytes"]) == figures


def test_recompressed_pages_load_back_after_the_end_pass() -> None:
    """Every offset loads as stored after ``finish`` (the ``when: end`` pass)."""
    dump = load_dump(default_dump_path())
    fe = _zram(recomp_algorithms=[ZSTD19], recompress={"type": "huge"})
    pages = [dump.page(i) for i in range(dump.n_pages)]
    for off, page in enumerate(pages):
        fe.store(off, P(page))
    huge = fe.huge_pages
    fe.finish()
    assert fe.metrics()["recompressed_pages"] > 0 and fe.huge_pages < huge
    assert all(fe.load(off) == page for off, page in enumerate(pages))


def test_verify_catches_a_slot_read_with_the_wrong_algorithm(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's read-back covers the recompressed slots: decoding them with the primary
    algorithm instead of the slot's fails the case."""
    monkeypatch.setattr(Recompressor, "decompressor", lambda self, prio: LZ4)
    with pytest.raises(VerifyError, match="load of offset"):
        run_suite(_suite({"recomp_algorithms": [ZSTD19],
                          "recompress": {"type": "huge", "when": "phase:fill"}}), quiet=True)


def test_default_options_and_metrics_are_unchanged() -> None:
    plain = _metrics({})
    assert ZramOptions().model_dump(mode="json") == {"kernel": "6.18"}
    assert Zram.uses(ZramOptions()) == []
    assert not any("recompress" in k for k in plain)
    assert "recompressed_pages" not in plain


def test_default_options_need_no_algorithm_params_before_612() -> None:
    opts = ZramOptions.model_validate({"kernel": "6.6", "recomp_algorithms": [
        {"name": "zstd", "priority": 1, "options": {"level": 3}}]})
    assert opts.recomp_algorithms[0].name == "zstd"


def test_uses_names_the_secondary_compressors() -> None:
    opts = ZramOptions.model_validate({"kernel": "6.12", "recomp_algorithms": [
        {"name": "zstd", "priority": 1}, {"name": "deflate", "priority": 2}]})
    assert Zram.uses(opts) == [("compressor", "deflate"), ("compressor", "zstd")]


# -- bad input ----------------------------------------------------------------------------
BAD = [
    ({"kernel": "6.1", "recomp_algorithms": [{"name": "zstd", "priority": 1}]},
     "zram recompression appeared in 6.2 (kernel 6.1)"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 4}]}, "must be at most 3"),
    ({"recomp_algorithms": [{"name": "no-such-algo", "priority": 1}]},
     "unknown compressor 'no-such-algo'"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 1}], "recompress": {"type": "cold"}},
     "recompress.type: must be one of 'huge', 'idle' or 'huge_idle'"),
    ({"recompress": {"type": "huge"}}, "recompress needs recomp_algorithms"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 2}]}, "without a gap"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 1}, {"name": "lz4", "priority": 1}]},
     "two algorithms with one priority"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 1}],
      "recompress": {"priority": 2}}, "recompress priority=2: no such recomp_algorithm"),
    ({"recomp_algorithms": [{"name": "zstd", "priority": 1, "options": {"level": 99}}]},
     "zstd options: level"),
    ({"kernel": "6.6", "recomp_algorithms": [ZSTD19]},
     "options are algorithm_params, 6.12+ (kernel 6.6)"),
]


@pytest.mark.parametrize(("options", "message"), BAD)
def test_bad_options_are_one_line_options_errors(options: dict[str, Any], message: str) -> None:
    rest = dict(options)
    kernel = rest.pop("kernel", "6.18")
    with pytest.raises(OptionsError) as err:
        run_suite(_suite(rest, kernel), quiet=True)
    text = str(err.value)
    assert message in text and "\n" not in text, text


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"name: t\ndumps: [{default_dump_path()}]\ncompressors: [lz4]\n"
        "frontends: [{name: zram, options: {kernel: \"6.1\", "
        "recomp_algorithms: [{name: zstd, priority: 1}]}}]\n"
        "allocators: [zsmalloc]\nworkloads: [fill]\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "zbench", "run", str(suite), "--no-timing",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "recompression appeared in 6.2" in lines[0], proc.stderr
    assert not out.exists()
