"""What ``zbench run`` prints: every line within 120 columns, a legend under each table,
the verdict first, stored pages beside pool pages where they differ; ``--wide`` in full."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_pages

from zbench.cli.app import cli
from zbench.report.tables import WIDTH, comparison_table, fit
from zbench.report.verdict import verdict, verdict_text


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("term")
    dump = d / "d.pages"
    dump.write_bytes(make_pages(384))
    s = d / "s.yaml"
    s.write_text(json.dumps({
        "name": "term", "seed": 1, "dumps": [str(dump)], "compressors": ["lz4"],
        "frontends": [{"name": "zswap", "label": "zswap-under-pressure",
                       "options": {"kernel": "6.6", "ram_mb": 2, "max_pool_percent": 10}},
                      {"name": "zswap", "label": "zswap-roomy",
                       "options": {"kernel": "6.6", "ram_mb": 512}}],
        "allocators": [{"name": n, "options": {"kernel": "6.6"}}
                       for n in ("zbud", "z3fold", "zsmalloc")],
        "workloads": ["fill", {"name": "pressure", "options": {"rounds": 3}}]}))
    return s


def _run(suite: Path, out: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    res = CliRunner().invoke(cli, ["run", str(suite), "--no-timing", "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return res.stdout, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def printed(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    return _run(suite, tmp_path_factory.mktemp("out") / "o")


def test_every_line_fits_120_columns(printed: tuple[str, dict]) -> None:
    out, _ = printed
    # in bytes too, as `awk '{print length}'` counts them in a C locale (µ, ±, —, ↳)
    assert max(len(line.encode()) for line in out.splitlines()) <= WIDTH
    assert "\x1b[" not in out  # plain text for pipes and CI logs


def test_a_legend_under_every_table(printed: tuple[str, dict]) -> None:
    out, _ = printed
    for explained in ("eff. ratio: original bytes of stored pages / pool bytes",
                      "alloc eff %: compressed bytes / pool bytes",
                      "rej poor: stores refused", "dup: stores to an offset",
                      "↳ stored / rejected / written back:"):
        assert explained in " ".join(out.split()), explained


def test_verdict_comes_first_and_names_a_winner(printed: tuple[str, dict]) -> None:
    out, res = printed
    assert out.index("Verdict") < out.index("Allocators side by side") < out.index("Fragmentation")
    best = max((c for c in res["cases"] if c["workload"]["label"] == "fill"),
               key=lambda c: c["metrics"]["effective_ratio"])["allocator"]["label"]
    line = next(ln for ln in out.splitlines() if "packing (zswap-under-pressure, fill)" in ln)
    assert f"fill): {best}" in line and "% tighter than" in line


def test_stored_pages_beside_pool_pages_when_they_differ(printed: tuple[str, dict]) -> None:
    out, res = printed

    def stored(fe: str) -> list[str]:
        by = {c["allocator"]["label"]: c["metrics"]["stored_pages"] for c in res["cases"]
              if c["workload"]["label"] == "pressure" and c["frontend"]["label"] == fe}
        return [str(by[a]) for a in ("zbud", "z3fold", "zsmalloc")]

    assert len(set(stored("zswap-under-pressure"))) > 1, "the suite must put zswap under pressure"
    assert len(set(stored("zswap-roomy"))) == 1
    lines = out.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.split()[:1] == ["pressure"])
    assert lines[at + 1].split()[1:] == ["stored", *stored("zswap-under-pressure")]
    # where every allocator stored the same pages, no such row
    roomy = comparison_table(res).split("zswap-roomy", 1)[1]
    assert "↳" not in roomy and "pressure" in roomy


def test_wide_prints_the_full_tables(suite: Path, tmp_path: Path) -> None:
    out, _ = _run(suite, tmp_path / "w", "--wide")
    assert max(len(line) for line in out.splitlines()) > WIDTH
    head = next(ln for ln in out.splitlines() if ln.startswith("allocator ") and "ext frag" in ln)
    assert "stored" in head and "compacted" in head and "front end" in head


def _case(alloc: str, wl: str, ratio: float, stored: int, migr: float | None = None
          ) -> dict[str, Any]:
    m = {"effective_ratio": ratio, "stored_pages": stored, "pool_pages": int(stored / ratio)}
    c = {"allocator": {"name": alloc, "label": alloc}, "frontend": {"name": "zswap",
                                                                  "label": "zswap"},
         "compressor": {"name": "lz4", "label": "lz4"}, "workload": {"label": wl},
         "dump": {"name": "d"}, "metrics": m}
    if migr is not None:
        m["migrate_success_pct"] = migr
        c["migration"] = {"rules": ""}
    return c


def test_verdict_on_a_constructed_results_mapping() -> None:
    res = {"cases": [_case("zbud", "fill", 1.9, 4000), _case("z3fold", "fill", 2.0, 4000),
                     _case("zsmalloc", "fill", 2.24, 4000),
                     # fewer pool pages, but far fewer pages stored: not the best packing
                     _case("zbud", "pressure", 1.5, 1000), _case("zsmalloc", "pressure", 2.0, 9000),
                     _case("zbud", "migrate", 1.9, 4000, 0.0),
                     _case("z3fold", "migrate", 2.0, 4000, 85.0),
                     _case("zsmalloc", "migrate", 2.2, 4000, 100.0)],
           "timing": [
               {"allocator": {"label": a}, "frontend": {"label": "zswap"},
                "compressor": {"label": "lz4"}, "dump": {"name": "d"},
                "store": {"mean_ns": mean, "values_ns": [mean - 10, mean, mean + 10]},
                "load": {"mean_ns": 500.0, "values_ns": [490.0, 500.0, 510.0]}}
               for a, mean in (("zbud", 2000.0), ("zsmalloc", 1000.0))]}
    found = {(f.what, f.scope): f for f in verdict(res)}
    fill = found[("packing", "zswap, fill")]
    assert (fill.winner, fill.runner_up, fill.margin_pct) == ("zsmalloc", "z3fold", 12.0)
    assert found[("packing", "zswap, pressure")].winner == "zsmalloc"
    mig = found[("migration", "zswap")]
    assert (mig.winner, mig.runner_up, mig.margin_pct) == ("zsmalloc", "z3fold", 15.0)
    store = next(f for f in found.values() if f.what == "model store")
    assert (store.winner, store.margin_pct, store.significant) == ("zsmalloc", 100.0, True)
    load = next(f for f in found.values() if f.what == "model load")
    assert load.significant is False and "not significant" in load.text()
    text = verdict_text(res)
    assert text and "zsmalloc packs 12.0 % tighter than z3fold" in text
    assert "Python models' own cost" in text


def test_fit_splits_and_keeps_key_columns() -> None:
    rows = [[f"a{i}", "same", *(f"{i * j:012d}" for j in range(12))] for i in range(3)]
    text = fit(["name", "const", *(f"col{j}" for j in range(12))], rows, 2)
    assert max(len(ln) for ln in text.splitlines()) <= WIDTH
    assert text.startswith("const: same") and text.count("name ") >= 2
    assert all(f"col{j}" in text for j in range(12))


def test_a_failed_case_with_a_long_reason_still_fits(printed: tuple[str, dict]) -> None:
    from zbench.report.tables import terminal_report

    res = json.loads(json.dumps(printed[1]))
    res["cases"][0]["failed"] = {"kind": "error", "reason": "ValueError: " + "x " * 150}
    text = terminal_report(res)
    assert "Failed cases" in text and max(len(ln) for ln in text.splitlines()) <= WIDTH
    assert max(len(ln) for ln in terminal_report(res, wide=True).splitlines()) > WIDTH
