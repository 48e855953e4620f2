"""The HTML report holds every section of report.md, renders in a real browser, and its
plots tell every series apart with the legends beside the data, not over it."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import make_pages

from zbench import run_suite
from zbench.report.tables import report_markdown
from zbench.run.bench import histogram

WIDTH, HEIGHT = 1280, 4000


class _Headings(HTMLParser):
    """The text of every <h2>, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._in = True
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.h2[-1] += data


def h2_titles(text: str) -> list[str]:
    parser = _Headings()
    parser.feed(text)
    return [t.strip() for t in parser.h2]


def md_titles(results: dict[str, Any]) -> list[str]:
    return [line[3:].strip() for line in report_markdown(results).splitlines()
            if line.startswith("## ")]


def _timing(i: int, label: str) -> dict[str, Any]:
    """A timing record as run_timing writes it (without running pyperf)."""
    samples = sorted([9000 + 37 * k + 250 * i for k in range(200)] + [40_000, 90_000])
    op = {"mean_ns": 10_000.0 + i, "std_ns": 300.0, "values_ns": [9900.0, 10100.0],
          "p50_ns": 12_700, "p90_ns": 15_600, "p99_ns": 40_000, "max_ns": 90_000,
          "samples": len(samples), "compressor_share_pct": 40.0,
          "histogram": histogram(samples)}
    part = {"name": label, "label": label, "options": {}}
    return {"id": f"{label}/zswap/lz4/d", "allocator": part,
            "frontend": {**part, "name": "zswap", "label": "zswap"},
            "compressor": {**part, "name": "lz4", "label": "lz4"},
            "dump": {"name": "d", "sha256": "0" * 64, "pages": 64},
            "store": op, "load": op}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three allocators behind zswap, fill and migrate (so the migratability table
    exists), plus timing records (so the latency table and plot exist)."""
    dump = tmp_path_factory.mktemp("html") / "pages.raw"
    dump.write_bytes(make_pages(384, seed=5))
    res = run_suite({
        "name": "html", "seed": 3, "verify": True, "dumps": [str(dump)],
        "compressors": ["lz4"],
        "frontends": [{"name": "zswap", "label": "zswap-6.6", "options": {"kernel": "6.6"}}],
        "allocators": [{"name": n, "options": {"kernel": "6.6"}}
                       for n in ("zsmalloc", "zbud", "z3fold")],
        "workloads": ["fill", {"name": "migrate", "options": {"churn_pct": 10}}]}, quiet=True)
    res["timing"] = [_timing(i, n) for i, n in enumerate(("zsmalloc", "zbud", "z3fold"))]
    return res


@pytest.fixture(scope="module")
def many(results: dict[str, Any]) -> dict[str, Any]:
    """16 series: the zsmalloc cases under 16 labels, and 16 timing records."""
    res = copy.deepcopy(results)
    base = [c for c in res["cases"] if c["allocator"]["name"] == "zsmalloc"]
    res["cases"] = []
    for i in range(16):
        for c in copy.deepcopy(base):
            c["allocator"]["label"] = f"zsmalloc-v{i}"
            for p in c["phases"]:
                p["pool_pages"] += 3 * i
            res["cases"].append(c)
    res["timing"] = [_timing(i, f"zsmalloc-v{i}") for i in range(16)]
    return res


@pytest.fixture(scope="module")
def plots(many: dict[str, Any]) -> dict[str, Any]:
    from zbench.report.plots import make_plots

    return {p.name: p for p in make_plots(many)}


def test_html_has_every_section_of_report_md(results: dict[str, Any]) -> None:
    from zbench.report.render import render_html

    titles = md_titles(results)
    for must in ("Fragmentation", "zswap counters", "Migratability", "Models",
                 "Compressors and dumps", "Metrics"):
        assert must in titles
    assert any(t.startswith("Latency") for t in titles)
    assert h2_titles(render_html(results)) == titles + ["Plots"]


def test_html_sections_carry_the_markdown_content(results: dict[str, Any]) -> None:
    from zbench.report.render import render_html

    text = render_html(results)
    migr = text[text.index('<section id="migratability">'):]
    migr = migr[:migr.index("</section>")]
    assert migr.count("<tr>") == 1 + 3  # header + one row per allocator that migrated
    assert "Migration rules followed:" in migr and "<li>" in migr
    assert "<code>migr %</code>" in migr  # the column legend, names marked as code
    mets = text[text.index('<section id="metrics">'):]
    assert "<td>stored_pages" in mets and "<td>pool_pages" in mets
    assert "<li><code>lz4</code>: " in text  # compressors and dumps
    assert '<td class="num">' in text  # numbers right-aligned


def test_a_failed_reporter_section_is_text_not_markup(results: dict[str, Any]) -> None:
    from zbench.report.render import render_html

    res = {**results, "reports": {"x": {"title": "Extra", "reporter": "counting",
                                        "error": "<b>boom</b> & more"}}}
    text = render_html(res)
    assert "<p>failed: &lt;b&gt;boom&lt;/b&gt; &amp; more</p>" in text and "<b>" not in text
    titles = h2_titles(text)
    assert titles == md_titles(res) + ["Plots"] and "Extra" in titles


def test_markdown_sections_have_the_same_titles(results: dict[str, Any]) -> None:
    from zbench.report.render import report_sections

    assert [t for t, _, _ in report_sections(results, "github")] == md_titles(results)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (Debian: apt-get install -y chromium)")


def _browse(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args],
        capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(results: dict[str, Any],
                                                 tmp_path: Path) -> None:
    import json

    browser = _chromium()
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(results))
    page = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "zbench", "report", str(run), "--html",
                           "-o", str(page)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    shot = tmp_path / "shot.png"
    proc = _browse(browser, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert proc.returncode == 0 and shot.is_file(), proc.stderr
    from PIL import Image

    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size == (WIDTH, HEIGHT)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 24) or []
    assert len(colours) > 200  # tables, code spans and plots, not a blank page
    white = max(colours)[0]
    assert white < 0.97 * WIDTH * HEIGHT  # something is drawn beyond the background

    proc = _browse(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr
    dom = proc.stdout
    assert dom.count("<img ") == 4 and "</html>" in dom
    assert h2_titles(dom) == md_titles(results) + ["Plots"]


def _series_looks(ax: Any) -> list[tuple[str, str]]:
    """(colour, marker) of every data series drawn in ``ax`` (lines and step patches)."""
    from matplotlib.colors import to_hex

    out = [(to_hex(ln.get_color()), str(ln.get_marker())) for ln in ax.get_lines()
           if not str(ln.get_label()).startswith("_")]
    out += [(to_hex(p.get_edgecolor()), "") for p in ax.patches
            if type(p).__name__ == "StepPatch"]
    return out


@pytest.mark.slow
def test_fourteen_and_more_series_all_look_different(plots: dict[str, Any]) -> None:
    for plot in (plots["pool_pages"], plots["latency"]):
        assert plot.figure is not None
        for ax in plot.figure.axes:
            looks = _series_looks(ax)
            assert len(looks) == 16
            assert len(set(looks)) == 16, plot.name
            assert len({c for c, _ in looks}) >= 14, plot.name


def test_one_series_has_one_look_in_every_panel(many: dict[str, Any]) -> None:
    from zbench.report.plots import make_plots, pool_pages_plot

    res = copy.deepcopy(many)
    # zsmalloc-v0 only under migrate: the fill panel has one series fewer
    res["cases"] = [c for c in res["cases"] if (c["allocator"]["label"], c["workload"]["label"])
                    != ("zsmalloc-v0", "fill")]
    make_plots({})  # selects the Agg backend
    plot = pool_pages_plot(res)
    assert plot is not None and plot.figure is not None
    panels = {ax.get_title(): ax for ax in plot.figure.axes}
    fill, migrate = panels["workload fill"], panels["workload migrate"]

    def looks(ax: Any) -> dict[str, tuple[str, str]]:
        return dict(zip([ln.get_label() for ln in ax.get_lines()], _series_looks(ax),
                        strict=True))

    in_fill, in_migrate = looks(fill), looks(migrate)
    assert len(in_fill) == 15 and len(in_migrate) == 16
    assert all(in_migrate[label] == look for label, look in in_fill.items())


@pytest.mark.slow
def test_legends_sit_beside_the_axes_not_over_them(plots: dict[str, Any]) -> None:
    assert set(plots) == {"pool_pages", "size_histogram", "class_utilisation", "latency"}
    for plot in plots.values():
        fig = plot.figure
        assert fig is not None
        fig.draw_without_rendering()
        axes = [ax for ax in fig.axes if ax.get_visible()]
        legends = list(fig.legends) + [ax.get_legend() for ax in axes if ax.get_legend()]
        assert legends, plot.name
        frame = fig.bbox
        for leg in legends:
            box = leg.get_window_extent()
            for ax in axes:
                assert not box.overlaps(ax.get_window_extent()), plot.name
            # inside the figure: nothing cut off at the edge
            assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, plot.name
