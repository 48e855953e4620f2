"""Page size as a dimension of a run: a dump of 4 K pages read as 16 K / 64 K pages
(``Dump.paged``), a dump captured on a 16 K kernel read natively, the suite's
``dumps: [{path, page_size}]``, the case's page size in its spec, id and record, the
``page_sizes`` declarations and their skips, and zsmalloc storing objects in 16 K frames
end to end with every load verified (docs/page-size.md)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zbench import (
    PAGE_SIZE,
    PAGE_SIZES,
    CaseSkipped,
    DumpError,
    FrontEnd,
    Metrics,
    Page,
    PageFrames,
    hookimpl,
    same_filled_word,
)
from zbench.api.registry import Registry, get_registry
from zbench.input.dump import load_dump, write_dump
from zbench.report.render import render_html
from zbench.run.runner import expand, run_suite
from zbench.run.schema import validate
from zbench.run.spec import CaseSpec
from zbench.run.suite import parse_suite

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = ROOT / "dumps" / "default.zbdump"
K16 = 16384


# -- a front end that follows any page size (what a third-party plugin writes) ----------
class AnyPageFrontEnd(FrontEnd):
    """Same-filled pages kept as their word, others compressed into the allocator (or
    stored whole when they do not fit its largest object), all of ``self.page_size``."""

    name = "anypage"
    page_sizes = PAGE_SIZES

    def __init__(self, options: Any, allocator: Any, compressor: Any) -> None:
        super().__init__(options, allocator, compressor)
        self.slots: dict[int, tuple[str, int, int]] = {}  # offset -> (kind, handle|word, n)

    @property
    def kernel(self) -> str:
        return "test"

    def store(self, offset: int, page: Page) -> None:
        self.invalidate(offset)
        data = page.data
        assert len(data) == self.page_size  # the corpus's pages are the case's
        word = same_filled_word(data)
        if word is not None:
            self.slots[offset] = ("same", word, 0)
            return
        blob, kind = page.compressed, "comp"
        if len(blob) > self.allocator.max_size():
            blob, kind = data, "raw"
        h = self.allocator.malloc(len(blob))
        self.allocator.write(h, blob)
        self.slots[offset] = (kind, h, len(blob))

    def load(self, offset: int) -> bytes | None:
        slot = self.slots.get(offset)
        if slot is None:
            return None
        kind, v, _n = slot
        if kind == "same":
            return v.to_bytes(8, "little") * (self.page_size // 8)
        raw = self.allocator.read(v)
        return raw if kind == "raw" else self.compressor.decompress(raw, self.page_size)

    def invalidate(self, offset: int) -> None:
        slot = self.slots.pop(offset, None)
        if slot is not None and slot[0] != "same":
            self.allocator.free(slot[1])

    def offsets(self) -> list[int]:
        return list(self.slots)

    def metrics(self) -> Metrics:
        live = list(self.slots.values())
        return {"stored_pages": len(live),
                "same_filled_pages": sum(1 for s in live if s[0] == "same"),
                "huge_pages": sum(1 for s in live if s[0] == "raw"),
                "compressed_bytes": sum(s[2] for s in live),
                "object_bytes": sum(s[2] for s in live)}


class _Local:
    @hookimpl
    def register_frontends(self, register):  # noqa: ANN001
        register(AnyPageFrontEnd)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.load_entry_points()
    reg.register_plugin(_Local(), "local")
    return reg


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path / "cache"))


def _suite(dumps: list[Any], **extra: Any) -> dict[str, Any]:
    return {"name": "ps", "seed": 5, "dumps": dumps, "compressors": ["lz4"],
            "allocators": ["zsmalloc"], "workloads": ["fill"], **extra}


def _labelled_dump(path: Path, runs: list[tuple[str, int]], page_size: int = PAGE_SIZE,
                   seed: int = 1) -> bytes:
    """A zbench dump of compressible pages in page runs of the given (region, count)."""
    rng = random.Random(seed)
    n = sum(c for _r, c in runs)
    pages = b"".join(bytes(rng.randrange(4) for _ in range(64)) * (page_size // 64)
                     for _ in range(n))
    page_runs, start = [], 0
    for region, count in runs:
        page_runs.append([region, "prog", start, count])
        start += count
    write_dump(path, pages, {"page_runs": page_runs}, page_size=page_size)
    return pages


# -- dumps --------------------------------------------------------------------------------
def test_paged_groups_consecutive_pages_of_one_run_and_drops_run_tails(tmp_path: Path) -> None:
    pages = _labelled_dump(tmp_path / "d.zbdump", [("heap", 9), ("anon", 3), ("stack", 4)])
    dump = load_dump(tmp_path / "d.zbdump")
    view = dump.paged(K16)
    # heap: 9 pages -> 2 pages of 16 K, 1 dropped; anon: 3 -> none, 3 dropped; stack: 1
    assert view.n_pages == 3 and view.page_size == K16 and view.dropped_pages == 4
    assert view.page_runs == [("heap", "prog", 0, 2), ("stack", "prog", 2, 1)]
    assert view.page(0) == pages[:K16] and view.page(1) == pages[K16:2 * K16]
    assert view.page(2) == pages[12 * PAGE_SIZE:16 * PAGE_SIZE]  # the stack run's 4 pages
    assert view.sha256 == dump.sha256 and view.meta["read_as"]["dropped_pages"] == 4
    assert dump.paged(K16) is view and dump.paged(PAGE_SIZE) is dump


@pytest.mark.parametrize(("size", "why"), [
    (12288, "not a power of two"), (2048, "not a power of two"), (131072, "not a power of two"),
])
def test_paged_refuses_sizes_that_are_not_page_sizes(size: int, why: str) -> None:
    with pytest.raises(DumpError, match=why):
        load_dump(DEFAULT_DUMP).paged(size)


def test_paged_refuses_a_dump_with_no_run_long_enough(tmp_path: Path) -> None:
    _labelled_dump(tmp_path / "s.zbdump", [("heap", 3), ("anon", 2)])
    with pytest.raises(DumpError, match="no page run holds 4 consecutive"):
        load_dump(tmp_path / "s.zbdump").paged(K16)


def test_a_dump_captured_with_16k_pages_reads_natively(tmp_path: Path) -> None:
    pages = _labelled_dump(tmp_path / "n.zbdump", [("anon", 5)], page_size=K16)
    dump = load_dump(tmp_path / "n.zbdump")
    assert (dump.page_size, dump.n_pages, dump.meta["page_size"]) == (K16, 5, K16)
    assert dump.page(4) == pages[4 * K16:]
    assert dump.paged(K16) is dump and dump.paged(65536).n_pages == 1
    with pytest.raises(DumpError, match="smaller than the dump's own 16384"):
        dump.paged(PAGE_SIZE)


def test_the_shipped_dump_and_one_without_page_size_read_as_4k_pages(tmp_path: Path) -> None:
    dump = load_dump(DEFAULT_DUMP)
    assert dump.page_size == PAGE_SIZE and dump.dropped_pages == 0
    assert len(dump.page(0)) == PAGE_SIZE
    _labelled_dump(tmp_path / "o.zbdump", [("anon", 2)])
    blob = (tmp_path / "o.zbdump").read_bytes()
    old = blob.replace(b'"page_size":4096,', b'"page_sizf":4096,')  # as before the key
    assert old != blob
    (tmp_path / "o.zbdump").write_bytes(old)
    assert load_dump(tmp_path / "o.zbdump").page_size == PAGE_SIZE


def test_a_dump_whose_metadata_page_size_is_not_a_page_size_is_refused(tmp_path: Path) -> None:
    _labelled_dump(tmp_path / "b.zbdump", [("anon", 2)])
    blob = (tmp_path / "b.zbdump").read_bytes()
    (tmp_path / "b.zbdump").write_bytes(blob.replace(b'"page_size":4096,',
                                                     b'"page_size":4097,'))
    with pytest.raises(DumpError, match="metadata page_size: page size 4097 is not a power"):
        load_dump(tmp_path / "b.zbdump")


def test_capture_records_the_running_kernels_page_size() -> None:
    from zbench.input import capture

    assert capture.PAGE_SIZE == os.sysconf("SC_PAGE_SIZE")
    assert 1 << capture.PAGE_SHIFT == capture.PAGE_SIZE


# -- suites and specs -----------------------------------------------------------------------
def test_suite_dump_entries_keep_plain_paths_plain() -> None:
    suite = parse_suite(_suite(["a.zbdump", {"path": "b.zbdump", "page_size": K16}]), "s")
    assert suite.model_dump(mode="json")["dumps"] == ["a.zbdump",
                                                      {"path": "b.zbdump", "page_size": K16}]


@pytest.mark.parametrize("bad", [12288, 1024, 131072, "16384", True, 16384.0])
def test_bad_page_size_is_a_one_line_error_naming_file_and_field(tmp_path: Path,
                                                                 bad: Any) -> None:
    suite = tmp_path / "bad.yaml"
    value = f'"{bad}"' if isinstance(bad, str) else str(bad).lower()
    suite.write_text(f"dumps: [{{path: {DEFAULT_DUMP}, page_size: {value}}}]\n"
                     "compressors: [lz4]\nallocators: [zsmalloc]\nworkloads: [fill]\n")
    proc = subprocess.run([sys.executable, "-m", "zbench", "run", str(suite), "--no-timing",
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{suite}: dumps[0].page_size: " in lines[0], proc.stderr


def test_a_dump_too_short_for_the_page_size_names_the_entry(tmp_path: Path,
                                                           registry: Registry) -> None:
    _labelled_dump(tmp_path / "s.zbdump", [("heap", 3)])
    suite = parse_suite(_suite([{"path": "s.zbdump", "page_size": K16}]), "s.yaml")
    with pytest.raises(Exception, match=r"s.yaml: dumps\[0\].page_size: .*no page run"):
        expand(suite, tmp_path, "s.yaml", registry)


def test_case_spec_says_page_size_only_when_not_4096() -> None:
    suite = parse_suite(_suite([str(DEFAULT_DUMP), {"path": str(DEFAULT_DUMP),
                                                    "page_size": K16}]), "s")
    plan = expand(suite, ROOT, "s", get_registry())
    four, sixteen = plan.cases
    assert four.page_size == PAGE_SIZE and sixteen.page_size == K16
    assert four.id.endswith("/default") and sixteen.id.endswith("/default@16K")
    assert "page_size" not in four.spec("x").to_json()
    spec = sixteen.spec("x")
    assert spec.to_json()["page_size"] == K16
    assert CaseSpec.from_json(spec.to_json()) == spec


# -- declarations and skips -------------------------------------------------------------------
def test_plugins_that_model_4k_only_are_skipped_with_a_reason() -> None:
    reg = get_registry()
    for kind, name in (("allocator", "zsmalloc"), ("frontend", "zram"), ("allocator", "zbud"),
                       ("allocator", "z3fold"), ("frontend", "zswap")):
        assert reg.get(kind, name).page_sizes == PAGE_SIZES, name
    for kind, name in (("allocator", "aspace"), ("frontend", "zswap-aspace")):
        assert reg.get(kind, name).page_sizes == (PAGE_SIZE,), name
    suite = parse_suite(_suite([{"path": str(DEFAULT_DUMP), "page_size": K16}],
                               allocators=["zsmalloc", "zbud", "aspace"],
                               frontends=["zram", "zswap", "zswap-aspace"]), "s")
    reasons = {(c.allocator.name, c.frontend.name): c.skip_reason
               for c in expand(suite, ROOT, "s", reg).cases}
    assert not reasons[("zsmalloc", "zram")]  # both model 16 K pages
    assert not reasons[("zsmalloc", "zswap")]
    assert not reasons[("zbud", "zswap")]
    assert reasons[("zsmalloc", "zswap-aspace")] == ("front end zswap-aspace does not model "
                                                     "16384-byte pages (page_sizes: 4096)")
    assert reasons[("aspace", "zswap-aspace")].startswith("allocator aspace does not model 16384")


def test_zsmalloc_follows_the_frames_and_skips_an_explicit_other_page_size() -> None:
    from zbench_zsmalloc.options import ZsOptions
    from zbench_zsmalloc.pool import ZsPool

    pool = ZsPool(ZsOptions(), PageFrames(K16))
    assert pool.page_size == K16 and pool.max_size() == K16
    assert pool.huge_class_size() > 4096  # the 16 K class table's huge class
    assert ZsPool(ZsOptions(page_size=K16), PageFrames(K16)).page_size == K16
    with pytest.raises(CaseSkipped, match="page_size=65536 needs 65536-byte page frames, "
                                          "these are 16384-byte"):
        ZsPool(ZsOptions(page_size=65536), PageFrames(K16))


@pytest.mark.parametrize("page_size", [K16, 65536])
def test_zsmalloc_objects_span_pages_of_the_frames_size(page_size: int) -> None:
    """Objects of every size, including ones straddling a page and the huge class, come
    back byte for byte after compaction and a page migration in big frames."""
    from zbench_zsmalloc.options import ZsOptions
    from zbench_zsmalloc.pool import ZsPool

    frames = PageFrames(page_size)
    pool = ZsPool(ZsOptions(), frames)
    rng = random.Random(page_size)
    objs = {}
    for _ in range(600):
        size = rng.choice([17, 1000, 3000, 5000, 9000, page_size - 8, page_size])
        h = pool.malloc(size)
        data = rng.randbytes(size)
        pool.write(h, data)
        objs[h] = data
    assert pool.page_crossing_copies > 0
    assert all(len(frames.page(p)) == page_size for p in frames.pfns())
    for h in list(objs)[::2]:
        pool.free(h)
        del objs[h]
    pool.compact()
    pfn = frames.pfns()[len(frames.pfns()) // 2]
    if pool.isolate_page(pfn) is None:
        assert pool.migrate_page(pfn, frames.alloc()).ok
    assert all(pool.read(h) == data for h, data in objs.items())


# -- end to end -------------------------------------------------------------------------------
def _run(registry: Registry, data: dict[str, Any], said: list[str]) -> dict[str, Any]:
    suite = parse_suite(data, "t.yaml")
    return run_suite(suite, expand(suite, ROOT, "t.yaml", registry), registry, said.append)


def test_a_16k_case_runs_zsmalloc_on_16k_frames_with_every_load_verified(
        registry: Registry) -> None:
    data = _suite([str(DEFAULT_DUMP), {"path": str(DEFAULT_DUMP), "page_size": K16}],
                  frontends=["anypage"], verify=True,
                  workloads=["fill", {"name": "churn", "options": {
                      "steps": 600, "zero_filled_pct": 10}}])
    said: list[str] = []
    res = _run(registry, data, said)
    by_id = {c["id"]: c for c in res["cases"]}
    four = by_id["zsmalloc/anypage/lz4/fill/default"]
    sixteen = by_id["zsmalloc/anypage/lz4/fill/default@16K"]
    churn = by_id["zsmalloc/anypage/lz4/churn/default@16K"]
    for c in (four, sixteen, churn):
        assert "failed" not in c and "skipped" not in c, c
    assert "page_size" not in four["dump"] and four["dump"]["pages"] == 4096
    assert sixteen["dump"]["page_size"] == K16 and sixteen["dump"]["pages"] == 1024
    assert (four["dump"]["name"], sixteen["dump"]["name"]) == ("default", "default@16K")
    assert sixteen["dump"]["dropped_pages"] == 0
    m4, m16 = four["metrics"], sixteen["metrics"]
    assert m16["stored_pages"] == 1024 and m16["verified_loads"] > 0
    assert m16["huge_class_size"] > m4["huge_class_size"]
    # the same bytes in 16 K frames: pool bytes, not frame counts, are comparable
    assert m16["pool_pages"] * K16 != m4["pool_pages"] * PAGE_SIZE
    assert m16["effective_ratio"] == round(1024 * K16 / (m16["pool_pages"] * K16), 4)
    assert churn["metrics"]["same_filled_pages"] > 0  # injected 16 K zero pages found
    assert any("read as 16384-byte pages: 1024 pages, 0 4096-byte pages" in s for s in said)
    assert {d["dump"] for d in res["distributions"]} == {"default", "default@16K"}
    validate(json.loads(json.dumps(res)), "results.json")  # the results schema takes it
    text = render_html(res)  # every section of the report renders the 16 K cases
    assert "default@16K" in text and "FAILED" not in text
