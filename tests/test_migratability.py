"""The migratability experiments end to end: the migrate workload, the address_space
zswap variants, the table, --verify after migration and reclaim, suite exclusions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import make_pages

from zbench import VerifyError, run_suite
from zbench.api.errors import UserError
from zbench.report.migtable import migratability_table, migratability_text
from zbench.report.tables import report_markdown

ROOT = Path(__file__).resolve().parent.parent
FAST = {"name": "migrate", "options": {"churn_pct": 10}}


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> str:
    """1024 generated pages (the shipped dump has 4096; the default suite test uses it)."""
    p = tmp_path_factory.mktemp("mig") / "pages.raw"
    p.write_bytes(make_pages(1024, seed=5))
    return str(p)


def _suite(dump: str, allocators: list[Any], workloads: list[Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"name": "t", "seed": 3, "verify": True, "dumps": [dump], "compressors": ["lz4"],
            "frontends": [{"name": "zswap", "label": "zswap-6.6", "options": {"kernel": "6.6"}}],
            "allocators": allocators, "workloads": workloads or [FAST], **extra}


def _by_label(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["allocator"]["label"]: c for c in results["cases"] if not c.get("skipped")}


@pytest.fixture(scope="module")
def aspace(dump: str) -> dict[str, dict[str, Any]]:
    allocs = [{"name": "aspace", "label": f"aspace-{v}", "options": {"variant": v}}
              for v in ("one-per-page", "buddy-tag", "two-index")]
    allocs.append({"name": "aspace", "label": "aspace-zs",
                   "options": {"variant": "buddy-tag", "backend": "zsmalloc",
                               "backend_options": {"kernel": "4.8", "chain_size": 4}}})
    return _by_label(run_suite(_suite(dump, allocs), quiet=True))


@pytest.mark.slow
def test_one_object_per_page_keeps_the_invariant_and_gains_nothing(aspace: Any) -> None:
    r = aspace["aspace-one-per-page"]
    m = r["metrics"]
    stored = m["stored_pages"] - m["same_filled_pages"]
    assert m["aspace_invariant_breaks"] == m["aspace_multi_offset_pages"] == 0
    assert m["aspace_crossing_objects"] == 0
    assert m["pool_pages"] >= stored  # a page per compressed page: no packing gain
    assert m["effective_ratio"] <= 1.0
    assert m["migrate_updates_per_page"] == 1.0 and m["migrate_success_pct"] == 100.0
    assert m["reclaim_decompressed_per_page"] == 1.0


def test_packed_variants_report_their_breaks(aspace: Any) -> None:
    tag, two = aspace["aspace-buddy-tag"]["metrics"], aspace["aspace-two-index"]["metrics"]
    for m in (tag, two):
        assert m["aspace_multi_offset_pages"] > 0 and m["aspace_invariant_breaks"] > 0
        assert m["aspace_tag_overflow_pages"] == 0  # zbud: at most two, one tag bit will do
        assert m["reclaim_decompressed_per_page"] > 1.0
        assert m["effective_ratio"] > aspace["aspace-one-per-page"]["metrics"]["effective_ratio"]
    # two indexes: the pool page's own slot on top of one entry per buddy
    assert two["migrate_updates_per_page"] == pytest.approx(tag["migrate_updates_per_page"] + 1)
    zs = aspace["aspace-zs"]["metrics"]  # Tomasz's point about zsmalloc
    assert zs["aspace_crossing_objects"] > 0 and zs["aspace_tag_overflow_pages"] > 0


def test_results_name_the_kernel_behaviour_each_row_follows(dump: str) -> None:
    allocs = [{"name": "zbud", "options": {"kernel": "6.6"}},
              {"name": "zbud", "label": "zbud-2013",
               "options": {"kernel": "3.11", "migration": "kozlowski-2013"}},
              {"name": "z3fold", "options": {"kernel": "6.6"}},
              {"name": "zsmalloc", "options": {"kernel": "6.6"}},
              {"name": "zsmalloc", "label": "zs-6.18", "options": {"kernel": "6.18"}}]
    res = run_suite(_suite(dump, allocs), quiet=True)
    cases = _by_label(res)
    rules = {k: c["migration"]["rules"] for k, c in cases.items()}
    assert rules["zbud"] == "pages never migrate"
    assert rules["zbud-2013"].startswith("2013 'mm: migrate zbud pages'")
    assert rules["z3fold"].startswith("5.2 z3fold_page")
    assert rules["zsmalloc"].startswith("5.17 zs_page_migrate")
    assert rules["zs-6.18"].startswith("6.15 zs_page_migrate")
    m = {k: c["metrics"] for k, c in cases.items()}
    assert m["zbud"]["migrate_success_pct"] == 0.0 and m["zbud"]["evac_pinned_frames"] > 0
    assert m["zbud"]["pageblocks_mixed"] > 0  # unmovable pool pages among the anon pages
    assert m["zbud"]["evac_pool_emptied_pct"] == 0.0
    for k in ("zbud-2013", "zsmalloc", "zs-6.18"):
        assert m[k]["migrate_success_pct"] == 100.0 and m[k]["evac_pool_emptied_pct"] == 100.0
    assert m["zsmalloc"]["load_success_pct"] == 100.0 and m["zsmalloc"]["load_waited"] > 0
    assert m["zs-6.18"]["load_success_pct"] < 100.0
    assert m["zsmalloc"]["compact_pages_per_mib"] > 0
    text = migratability_text(res)
    assert text is not None and "6.15 zs_page_migrate" in text
    assert "## Migratability" in report_markdown(res)


@pytest.mark.slow
def test_default_suite_has_the_migratability_rows_and_verifies() -> None:
    """The shipped suite, narrowed to its migrate workload and lz4 (no timing)."""
    data = yaml.safe_load((ROOT / "suites" / "default.yaml").read_text())
    data["dumps"] = [str(ROOT / "dumps" / "default.zbdump")]
    data["compressors"] = ["lz4"]
    data["workloads"] = [w for w in data["workloads"]
                         if isinstance(w, dict) and w["name"] == "migrate"]
    data["allocators"] = [a for a in data["allocators"] if a != "zram-kernel"]
    data.pop("timing", None)
    res = run_suite(data, quiet=True)
    assert res["suite"]["verify"] is True
    labels = [c["allocator"]["label"] for c in res["cases"] if c.get("migration")]
    assert labels == ["zbud", "z3fold", "zsmalloc", "zbud-2013", "aspace-one", "aspace-tag",
                      "aspace-2idx"]
    assert all(c["metrics"]["verified_loads"] > 0 for c in res["cases"])
    table = migratability_table(res)
    assert table is not None and all(label in table for label in labels)


def test_verify_catches_a_migration_that_loses_data(monkeypatch: pytest.MonkeyPatch,
                                                     dump: str) -> None:
    from zbench_zsmalloc.migrate import ZsMovable

    real = ZsMovable.migrate

    def lossy(self: ZsMovable, pfn: int, newpfn: int):  # noqa: ANN202
        r = real(self, pfn, newpfn)
        self.pool.frames.page(newpfn)[:] = bytes(4096)  # forgot to copy the page
        return r

    monkeypatch.setattr(ZsMovable, "migrate", lossy)
    with pytest.raises(VerifyError):
        run_suite(_suite(dump, [{"name": "zsmalloc", "options": {"kernel": "6.6"}}]),
                  quiet=True)


def test_verify_checks_pages_after_lru_reclaim(monkeypatch: pytest.MonkeyPatch,
                                               dump: str) -> None:
    from zbench_aspace.frontend import AspaceZswap

    def forgetful(self: AspaceZswap, offset: int, handle: int) -> bytes:
        return bytes(4096)  # writepage writes a blank page

    monkeypatch.setattr(AspaceZswap, "_decompress", forgetful)
    with pytest.raises(VerifyError):
        run_suite(_suite(dump, [{"name": "aspace", "options": {"variant": "buddy-tag"}}]),
                  quiet=True)


def test_suite_exclude_leaves_combinations_out(dump: str) -> None:
    allocs = [{"name": "zbud", "options": {"kernel": "6.6"}},
              {"name": "zsmalloc", "options": {"kernel": "6.6"}}]
    res = run_suite(_suite(dump, allocs, ["fill", "churn"],
                           exclude=[{"allocators": ["zbud"], "workloads": ["churn"]}]),
                    quiet=True)
    assert [c["id"].split("/")[::3] for c in res["cases"]] == [
        ["zbud", "fill"], ["zsmalloc", "fill"], ["zsmalloc", "churn"]]
    with pytest.raises(UserError, match="exclude"):
        run_suite(_suite(dump, allocs, exclude=[{"allocator": ["zbud"]}]), quiet=True)


def test_the_real_kernel_is_skipped_not_failed() -> None:
    """A pool whose pages are not simulated cannot be migrated: the case is skipped."""
    from zbench.sim.experiments import MigrationLab

    class _Fake:
        name = "fake"

        def pool_pages(self) -> int:
            return 10

    from zbench import CaseSkipped, Op, OpKind, PageFrames

    lab = MigrationLab(PageFrames(), _Fake(), None, 1)  # type: ignore[arg-type]
    with pytest.raises(CaseSkipped, match="simulated page frames"):
        lab.run(Op(OpKind.MIGRATE, label="migrate"))
    with pytest.raises(ValueError, match="unknown migration experiment"):
        lab.run(Op(OpKind.MIGRATE, label="teleport"))
