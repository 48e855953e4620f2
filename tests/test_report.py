"""``zbench report``: the plots, a self-contained HTML file, Markdown with PNGs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_pages

from zbench.cli.app import _add_dump_commands, cli
from zbench.run.bench import histogram

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = ("pool_pages", "size_histogram", "class_utilisation", "latency")


def invoke(args: list[str]) -> tuple[int, str, str]:
    _add_dump_commands()
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stdout, res.stderr


def _fake_timing(rec_id: str, label: str) -> dict[str, Any]:
    """A timing record as run_timing writes it (without running pyperf)."""
    samples = sorted([9000 + 37 * i for i in range(200)] + [40_000, 90_000])
    op = {"mean_ns": 10_000.0, "std_ns": 300.0, "values_ns": [9900.0, 10100.0],
          "p50_ns": 12_700, "p90_ns": 15_600, "p99_ns": 40_000, "max_ns": 90_000,
          "samples": len(samples), "compressor_share_pct": 40.0,
          "histogram": histogram(samples)}
    part = {"name": label, "label": label, "options": {}}
    return {"id": rec_id, "allocator": part, "frontend": {**part, "name": "zswap",
                                                         "label": "zswap"},
            "compressor": {**part, "name": "lz4", "label": "lz4"},
            "dump": {"name": "d", "sha256": "0" * 64, "pages": 64},
            "store": op, "load": op}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    dump = d / "d.pages"
    dump.write_bytes(make_pages(96))
    suite = d / "s.yaml"
    suite.write_text(json.dumps({
        "name": "rep", "seed": 1, "dumps": [str(dump)], "compressors": ["lz4"],
        "frontends": [{"name": "zswap", "options": {"kernel": "6.6"}}],
        "allocators": [{"name": "zsmalloc", "options": {"kernel": "6.6"}},
                       {"name": "zbud", "options": {"kernel": "6.6"}}],
        "workloads": ["fill", {"name": "churn", "options": {"steps": 60}}]}))
    code, _, err = invoke(["run", str(suite), "--out", str(d / "out")])
    assert code == 0, err
    res_path = d / "out" / "results.json"
    res = json.loads(res_path.read_text())
    res["timing"] = [_fake_timing("zsmalloc/zswap/lz4/d", "zsmalloc"),
                     _fake_timing("zbud/zswap/lz4/d", "zbud")]
    res_path.write_text(json.dumps(res))
    return d / "out"


def test_results_carry_what_the_plots_need(run_dir: Path) -> None:
    res = json.loads((run_dir / "results.json").read_text())
    (dist,) = res["distributions"]
    assert dist["compressor"] == "lz4" and sum(dist["counts"]) == dist["pages"] == 96
    zs = [c for c in res["cases"] if c["allocator"]["name"] == "zsmalloc"]
    assert all(c["classes"] and {"size", "obj_allocated", "obj_used"} <= set(c["classes"][0])
               for c in zs)
    assert sum(r["obj_used"] for r in zs[0]["classes"]) == zs[0]["metrics"]["obj_used"]
    assert not any("classes" in c for c in res["cases"] if c["allocator"]["name"] == "zbud")


def test_html_is_one_file_with_the_plots_inlined(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, stdout, err = invoke(["report", str(run_dir), "--html", "-o", str(out)])
    assert code == 0, err
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
    imgs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert len(imgs) == len(PLOTS)
    for data in imgs:
        png = base64.b64decode(data, validate=True)
        assert png.startswith(PNG) and len(png) > 5000
    for name in PLOTS:
        assert f'<figure id="{name}">' in text
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "<table>" in text and "Fragmentation" in text and "Latency" in text


def test_markdown_report_writes_pngs(run_dir: Path, tmp_path: Path) -> None:
    code, stdout, err = invoke(["report", str(run_dir / "results.json"), "-o", str(tmp_path)])
    assert code == 0, err
    md = (tmp_path / "report.md").read_text()
    for name in PLOTS:
        png = tmp_path / "plots" / f"{name}.png"
        assert png.read_bytes().startswith(PNG)
        assert f"](plots/{name}.png)" in md
    assert "## Fragmentation" in md and "## Latency" in md


def test_report_without_timing_has_no_latency_plot(run_dir: Path) -> None:
    from zbench.report.plots import latency_plot

    res = json.loads((run_dir / "results.json").read_text())
    assert latency_plot(res) is not None
    del res["timing"]
    assert latency_plot(res) is None


def test_report_on_a_bad_file_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("[]")
    code, _, err = invoke(["report", str(p), "--html"])
    assert code == 2 and "x.json" in err


def test_report_to_a_file_and_modes(tmp_path: Path) -> None:
    """`report -o FILE.md` writes that file (not a folder named FILE.md); results and
    reports are 0644, dumps, which hold process memory, 0600."""
    import os
    import stat

    raw = tmp_path / "d.raw"
    raw.write_bytes(make_pages(16))
    code, _, err = invoke(["dump", "convert", str(raw), str(tmp_path / "d.zbdump"),
                           "--to", "zbench"])
    assert code == 0, err
    code, _, err = invoke(["run", "--dump", str(tmp_path / "d.zbdump"), "--no-cache",
                           "--out", str(tmp_path / "run")])
    assert code == 0, err
    code, out, err = invoke(["report", str(tmp_path / "run"), "-o", str(tmp_path / "my.md")])
    assert code == 0, err
    mine = tmp_path / "my.md"
    assert mine.is_file() and "## Fragmentation" in mine.read_text()
    assert list((tmp_path / "plots").glob("*.png"))

    def mode(p: Path) -> int:
        return stat.S_IMODE(os.stat(p).st_mode)

    for p in (tmp_path / "run" / "results.json", tmp_path / "run" / "report.md", mine):
        assert mode(p) == 0o644, (p, oct(mode(p)))
    assert mode(tmp_path / "d.zbdump") == 0o600
