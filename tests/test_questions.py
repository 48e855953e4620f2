"""A suite's ``questions:`` (zbench/run/questions.py), answered in the report's "Answers"
section (zbench/report/answers.py) with the exact numbers of the results' metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zbench.cli.app import cli
from zbench.report.answers import figure_cell
from zbench.report.render import render_html
from zbench.run.questions import Question, pairs

DUMP = Path(__file__).resolve().parents[1] / "dumps" / "default.zbdump"
ASK = "What does zstd save over lz4 on a small fill?"
BASE_SUITE = f"""\
name: q
dumps: [{DUMP}]
compressors: [lz4, zstd]
allocators: [{{name: zsmalloc, options: {{kernel: "6.12"}}}}]
workloads: [{{name: fill, options: {{scale_pages: 200}}}}]
"""
QUESTIONS = f"""\
questions:
  - ask: "{ASK}"
    base: {{compressor: lz4}}
    test: {{compressor: zstd}}
    figures: [pool_pages, compressed_bytes]
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def _run(suite: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["run", str(suite), "--no-timing", "--out", str(out), *extra])
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], Path]:
    d = tmp_path_factory.mktemp("questions")
    code, out, err = _run(_write(d, BASE_SUITE + QUESTIONS), d / "out")
    assert code == 0, err
    return out, json.loads((d / "out" / "results.json").read_text()), d / "out"


def _metrics(results: dict[str, Any], compressor: str) -> dict[str, Any]:
    (case,) = [c for c in results["cases"] if c["compressor"]["label"] == compressor]
    return dict(case["metrics"])


def _expected(b: int, t: int) -> str:
    delta = t - b
    sign = "+" if delta > 0 else ("\u2212" if delta < 0 else "")
    pct = f"{abs(100 * delta / b):.1f}"
    return f"{b} → {t}  {sign}{abs(delta)} ({sign}{pct} %)"


def test_questions_are_recorded(ran: tuple[str, dict[str, Any], Path]) -> None:
    _, results, _ = ran
    (q,) = results["suite"]["questions"]
    assert q == {"ask": ASK, "base": {"compressor": "lz4"}, "test": {"compressor": "zstd"},
                 "figures": ["pool_pages", "compressed_bytes"]}


def test_answers_hold_the_exact_numbers(ran: tuple[str, dict[str, Any], Path]) -> None:
    out, results, out_dir = ran
    lz4, zstd = _metrics(results, "lz4"), _metrics(results, "zstd")
    assert lz4["compressed_bytes"] != zstd["compressed_bytes"]  # else the test proves little
    md = (out_dir / "report.md").read_text()
    section = md.split("## Answers", 1)[1].split("\n## ", 1)[0]
    assert f"### {ASK}" in section
    row = next(ln for ln in section.splitlines() if ln.startswith("| zsmalloc"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["zsmalloc", "zram", "fill", "default"]
    assert cells[4] == _expected(lz4["pool_pages"], zstd["pool_pages"])
    assert cells[5] == _expected(lz4["compressed_bytes"], zstd["compressed_bytes"])
    assert "pool_pages (pages, lower is better)" in section
    assert "Answers" in out and ASK in out
    assert _expected(lz4["pool_pages"], zstd["pool_pages"]) in out
    page = render_html(results)
    assert f"<h3>{ASK}</h3>" in page
    assert _expected(lz4["compressed_bytes"], zstd["compressed_bytes"]) in page


def test_terminal_answers_fit_the_width(ran: tuple[str, dict[str, Any], Path]) -> None:
    out, _, _ = ran
    section = out.split("\nAnswers\n", 1)[1].split("(change %).", 1)[0]
    assert "→" in section
    assert max(len(line.encode()) for line in section.splitlines()) <= 120


def test_a_suite_without_questions_records_no_key(tmp_path: Path) -> None:
    code, out, err = _run(_write(tmp_path, BASE_SUITE), tmp_path / "out")
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "questions" not in results["suite"]
    assert "## Answers" not in (tmp_path / "out" / "report.md").read_text()
    assert "\nAnswers\n" not in out


def test_narrowed_away_pairs_say_so(tmp_path: Path) -> None:
    code, out, err = _run(_write(tmp_path, BASE_SUITE + QUESTIONS), tmp_path / "out",
                          "--compressor", "lz4")
    assert code == 0, err
    assert "(no pair of cases ran)" in out


def _case(comp: str, dump: str, page_size: int = 4096, **metrics: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "allocator": {"label": "zsmalloc"}, "frontend": {"label": "zram"},
        "compressor": {"label": comp}, "workload": {"label": "fill"},
        "dump": {"name": dump if page_size == 4096 else f"{dump}@{page_size // 1024}K"},
        "metrics": metrics}
    if page_size != 4096:
        rec["dump"]["page_size"] = page_size
    return rec


def test_pairs_keep_the_free_dimensions_equal() -> None:
    cases = [_case("lz4", "a"), _case("zstd", "a"), _case("lz4", "a", 16384),
             _case("zstd", "a", 16384), _case("lz4", "b"), {**_case("zstd", "b"),
                                                            "skipped": "not modelled"}]
    q = Question(ask="x", base={"compressor": "lz4"}, test={"compressor": "zstd"})
    assert [(b["dump"]["name"], t["dump"]["name"]) for b, t in pairs(q, cases)] == [
        ("a", "a"), ("a@16K", "a@16K")]
    by_size = Question(ask="x", base={"page_size": 4096}, test={"page_size": 16384},
                       figures=["pool_pages"])
    got = [(b["compressor"]["label"], t["dump"]["name"]) for b, t in pairs(by_size, cases)]
    assert got == [("lz4", "a@16K"), ("zstd", "a@16K")]
    narrowed = Question(ask="x", base={"compressor": "lz4", "dump": "b"},
                        test={"compressor": "zstd"})
    assert pairs(narrowed, cases) == []  # b's zstd case was skipped


def test_figure_cells() -> None:
    b, t = _case("lz4", "a", pool_pages=1467), _case("zstd", "a", pool_pages=1402)
    assert figure_cell(b, t, "pool_pages") == "1467 → 1402  \u221265 (\u22124.4 %)"
    assert figure_cell(t, b, "pool_pages") == "1402 → 1467  +65 (+4.6 %)"
    assert figure_cell(_case("lz4", "a", x=0), _case("zstd", "a", x=3), "x") == "0 → 3  +3 (—)"
    assert figure_cell(b, {**t, "metrics": {}}, "pool_pages") == "—"


BAD = [
    ("  - {ask: x, base: {compressor: lz4}, test: {compressor: zstd}, weight: 1}",
     "questions[0].weight"),
    ("  - {ask: x, base: {codec: lz4}, test: {compressor: zstd}}",
     "questions[0].base", "'codec': not a dimension"),
    ("  - {ask: x, base: {compressor: lz4}, test: {compressor: brotli}}",
     "questions[0].test.compressor", "'brotli' is no compressor of this suite"),
    ("  - {ask: x, base: {dump: other}, test: {dump: default}}",
     "questions[0].base.dump", "'other'"),
    ("  - {ask: '  ', base: {compressor: lz4}, test: {compressor: zstd}}",
     "questions[0].ask", "empty"),
    ("  - {ask: '', base: {compressor: lz4}, test: {compressor: zstd}}", "questions[0].ask"),
    ("  - {ask: x, base: {compressor: lz4}, test: {compressor: lz4}}",
     "questions[0]", "select the same cases"),
    ("  - {ask: x, base: {page_size: 5000}, test: {page_size: 16384}}",
     "questions[0].base", "page_size"),
    ("  - {ask: x, base: {compressor: lz4}}", "questions[0].test"),
    ("  - {ask: x, base: {compressor: lz4}, test: {compressor: zstd}, figures: []}",
     "questions[0].figures"),
]


@pytest.mark.parametrize(("question", "fragments"), [(b[0], b[1:]) for b in BAD])
def test_bad_questions(tmp_path: Path, question: str, fragments: tuple[str, ...]) -> None:
    s = _write(tmp_path, BASE_SUITE + "questions:\n" + question + "\n")
    code, out, err = _run(s, tmp_path / "out")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    for frag in (str(s), *fragments):
        assert frag in lines[0], (frag, lines[0])
    assert not (tmp_path / "out").exists()
