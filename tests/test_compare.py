"""``zbench compare`` / ``zbench baseline``: exit codes, thresholds, significance, baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_pages

from zbench.api.metrics import BY_NAME
from zbench.api.significance import welch_p
from zbench.cli.app import _add_dump_commands, cli
from zbench.report.compare import Threshold, compare_results, parse_fail_on, render_markdown

SUITE = """\
name: cmp
seed: 2
verify: true
dumps: [{dump}]
compressors: [lz4]
allocators: [{{name: zsmalloc, options: {{kernel: "6.18", chain_size: 4}}}}]
workloads: [fill, {{name: churn, options: {{steps: 200}}}}]
"""


def invoke(args: list[str]) -> tuple[int, str, str]:
    _add_dump_commands()
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three runs of one suite: twice as it is, once with chain_size 8 (more pool pages on
    this dump: its random pages land in the huge class, and chain 8 wastes more)."""
    d = tmp_path_factory.mktemp("cmp")
    dump = d / "small.pages"
    dump.write_bytes(make_pages(256))
    suite = d / "s.yaml"
    suite.write_text(SUITE.format(dump=dump))
    out = {}
    for name, extra in (("a", []), ("b", []), ("worse", ["--set", "zsmalloc.chain_size=8"])):
        code, _, err = invoke(["run", str(suite), "--out", str(d / name), *extra])
        assert code == 0, err
        out[name] = d / name / "results.json"
    return out


def _metrics(path: Path) -> list[dict[str, Any]]:
    return [c["metrics"] for c in json.loads(path.read_text())["cases"]]


def test_rerun_of_the_same_code_exits_0(runs: dict[str, Path]) -> None:
    assert _metrics(runs["a"]) == _metrics(runs["b"])
    for extra in ([], ["--strict"], ["--markdown"]):
        code, out, err = invoke(["compare", str(runs["a"]), str(runs["b"]), *extra])
        assert code == 0, out + err
        assert "0 regressions" in out


def test_option_change_that_makes_pool_pages_worse_exits_1(runs: dict[str, Path]) -> None:
    base, new = _metrics(runs["a"]), _metrics(runs["worse"])
    assert all(n["pool_pages"] > b["pool_pages"] for b, n in zip(base, new, strict=True))
    code, out, err = invoke(["compare", str(runs["a"]), str(runs["worse"])])
    assert code == 1, out + err
    fails = [ln for ln in out.splitlines() if "FAIL" in ln]
    assert any("pool_pages" in ln and "worse" in ln for ln in fails), out
    # run directories work as well as results.json paths
    code, _, _ = invoke(["compare", str(runs["a"].parent), str(runs["worse"].parent)])
    assert code == 1


def test_markdown_is_a_pr_comment(runs: dict[str, Path]) -> None:
    code, out, _ = invoke(["compare", str(runs["a"]), str(runs["worse"]), "--markdown"])
    assert code == 1
    assert out.startswith("### zbench compare")
    assert ":x:" in out and "#### Regressions" in out
    table = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert table[1].startswith("|---") and any("pool_pages" in ln for ln in table)
    assert "<details>" in out  # the other differences are folded away


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"schema": "something-else", "version": 1, "cases": []}),
    json.dumps({"schema": "zbench.results", "version": 99, "cases": []}),
    json.dumps({"schema": "zbench.results", "version": 1, "cases": {}}),
    json.dumps({"schema": "zbench.results", "version": 1, "cases": [{"id": "x"}]}),
    json.dumps({"schema": "zbench.results", "version": 1, "cases": [], "timing": [{}]}),
])
def test_malformed_file_exits_2(runs: dict[str, Path], tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for args in (["compare", str(runs["a"]), str(bad)], ["compare", str(bad), str(runs["a"])]):
        code, out, err = invoke(args)
        assert code == 2, (code, out, err)
        assert "bad.json" in err and "Traceback" not in out + err


@pytest.mark.parametrize("spec", ["pool_pages", "nosuch:1", "pool_pages:x", "pool_pages:-1"])
def test_bad_fail_on_exits_2(runs: dict[str, Path], spec: str) -> None:
    code, _, err = invoke(["compare", str(runs["a"]), str(runs["b"]), "--fail-on", spec])
    assert code == 2 and "--fail-on" in err


def test_missing_file_exits_2(runs: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = invoke(["compare", str(runs["a"]), str(tmp_path / "nope.json")])
    assert code == 2 and "no such results file" in err


def test_threshold_lets_a_declared_change_through(runs: dict[str, Path]) -> None:
    base, new = _metrics(runs["a"]), _metrics(runs["worse"])
    rel = max(100 * (n["pool_pages"] - b["pool_pages"]) / b["pool_pages"]
              for b, n in zip(base, new, strict=True))
    code, out, _ = invoke(["compare", str(runs["a"]), str(runs["worse"]),
                           "--fail-on", f"pool_pages:{rel + 1:.0f}%"])
    assert not [ln for ln in out.splitlines() if "pool_pages " in ln and "FAIL" in ln], out
    assert any("pool_pages " in ln and "within threshold" in ln for ln in out.splitlines())


def test_two_quick_suite_runs_are_identical_and_match_the_committed_baseline(
        tmp_path: Path) -> None:
    """The CI check (.ci/run): a fresh quick run equals baselines/quick.json exactly."""
    quick = ROOT / "suites" / "quick.yaml"
    for name in ("q1", "q2"):
        code, _, err = invoke(["run", str(quick), "--no-timing", "--out", str(tmp_path / name)])
        assert code == 0, err
    q1, q2 = tmp_path / "q1" / "results.json", tmp_path / "q2" / "results.json"
    assert _metrics(q1) == _metrics(q2)
    code, out, _ = invoke(["compare", "--strict", str(q1), str(q2)])
    assert code == 0, out
    code, out, _ = invoke(["compare", "--strict", str(ROOT / "baselines" / "quick.json"), str(q1)])
    assert code == 0, ("the quick suite no longer matches baselines/quick.json; if intended, "
                       "run scripts/update-baselines\n" + out)
    # a baseline made from a run compares equal to that run, and holds no timing/machine data
    code, _, _ = invoke(["baseline", str(q1), "-o", str(tmp_path / "b.json")])
    assert code == 0
    b = json.loads((tmp_path / "b.json").read_text())
    assert set(b["environment"]) == {"zbench_version"} and "timing" not in b
    assert invoke(["compare", "--strict", str(tmp_path / "b.json"), str(q2)])[0] == 0


# -- the rules, on synthetic results ------------------------------------------------------

def _res(cases: dict[str, dict[str, Any]], timing: list[dict[str, Any]] | None = None,
         env: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schema": "zbench.results", "version": 1, "environment": env or {},
            "cases": [{"id": k, "metrics": m} for k, m in cases.items()],
            "timing": timing or []}


def _timing(values: list[float], p50: float | None = None) -> dict[str, Any]:
    mean = sum(values) / len(values)
    op = {"mean_ns": mean, "values_ns": values, "p50_ns": p50 or mean, "p99_ns": 2 * mean}
    return {"id": "z/zswap/lz4/d", "store": op, "load": op}


def test_deterministic_rules() -> None:
    base = _res({"c": {"pool_pages": 100, "effective_ratio": 2.0, "stored_pages": 10}})
    same = compare_results(base, base)
    assert not same.rows and not same.regressions
    better = _res({"c": {"pool_pages": 90, "effective_ratio": 2.2, "stored_pages": 11}})
    cmp = compare_results(base, better)
    assert {r.metric: r.verdict for r in cmp.rows} == {
        "pool_pages": "improved", "effective_ratio": "improved", "stored_pages": "changed"}
    assert not cmp.regressions
    strict = compare_results(base, better, strict=True)  # any undeclared change fails
    assert {r.metric for r in strict.regressions} == {"pool_pages", "effective_ratio",
                                                     "stored_pages"}
    worse = _res({"c": {"pool_pages": 103, "effective_ratio": 2.0, "stored_pages": 10}})
    assert [r.metric for r in compare_results(base, worse).regressions] == ["pool_pages"]
    for thr, fails in (("5%", False), ("2%", True), ("3", False), ("2", True)):
        cmp = compare_results(base, worse, {"pool_pages": Threshold.parse(thr, "t")})
        assert bool(cmp.regressions) is fails, thr
    # a metric with no direction fails only when --fail-on names it
    moved = _res({"c": {"pool_pages": 100, "effective_ratio": 2.0, "stored_pages": 13}})
    assert not compare_results(base, moved).regressions
    assert compare_results(base, moved, {"stored_pages": Threshold(2, False)}).regressions


def test_cases_that_disappear_fail_and_new_ones_fail_only_when_strict() -> None:
    base = _res({"a": {"pool_pages": 1}, "b": {"pool_pages": 1}})
    gone = compare_results(base, _res({"a": {"pool_pages": 1}}))
    assert [(r.id, r.verdict) for r in gone.regressions] == [("b", "missing")]
    grown = _res({"a": {"pool_pages": 1}, "b": {"pool_pages": 1}, "c": {"pool_pages": 1}})
    assert not compare_results(base, grown).regressions
    assert compare_results(base, grown, strict=True).regressions


def test_timings_fail_only_when_significant_and_past_the_threshold() -> None:
    base = _res({}, [_timing([100.0, 101.0, 99.0, 100.5, 99.5, 100.0])])
    noisy = _res({}, [_timing([80.0, 150.0, 95.0, 140.0, 85.0, 160.0])])  # +17 %, noise
    slow = _res({}, [_timing([120.0, 121.0, 119.0, 120.5, 119.5, 120.0])])  # +20 %
    slight = _res({}, [_timing([103.0, 104.0, 102.0, 103.5, 102.5, 103.0])])  # +3 %
    assert welch_p(base["timing"][0]["store"]["values_ns"],
                   noisy["timing"][0]["store"]["values_ns"]) > 0.01
    assert not compare_results(base, noisy).regressions
    cmp = compare_results(base, slow)
    assert {r.metric for r in cmp.regressions} >= {"store_mean_ns", "load_mean_ns"}
    assert all(r.p is not None and r.p < 0.01 for r in cmp.regressions)
    assert not compare_results(base, slight).regressions  # significant, under 10 %
    tight = {"store_mean_ns": Threshold(2, True)}
    assert [r.metric for r in compare_results(base, slight, tight).regressions] == [
        "store_mean_ns"]
    assert compare_results(base, slow).timings == 1
    # a percentile that moved against the (significant) pyperf mean does not count
    odd = _res({}, [_timing([120.0, 121.0, 119.0, 120.5, 119.5, 120.0], p50=50.0)])
    verdicts = {r.metric: r.verdict for r in compare_results(base, odd, show_all=True).rows}
    assert verdicts["store_mean_ns"] == "worse" and verdicts["store_p50_ns"] == "not significant"


def test_different_machines_warn() -> None:
    a = _res({"c": {"pool_pages": 1}}, env={"hostname": "a", "cpu_model": "X", "python": "3"})
    b = _res({"c": {"pool_pages": 1}}, env={"hostname": "b", "cpu_model": "Y", "python": "3"})
    cmp = compare_results(a, b)
    assert not cmp.regressions
    assert len(cmp.warnings) == 1 and "different machines" in cmp.warnings[0]
    assert "cpu_model" in cmp.warnings[0] and "python" not in cmp.warnings[0]
    assert ":warning:" in render_markdown(cmp)
    assert not compare_results(a, a).warnings


def test_a_timing_case_timed_on_other_code_warns() -> None:
    """A case timed on the native engines in one run and on the Python model in the
    other (engines built or not, ZBENCH_NATIVE=0): the timings measure different code."""
    values = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0]
    python = _res({}, [_timing(values)])  # no path: a record from before paths
    c = _timing(values)
    c["path"] = "C engine zbench_zsmalloc._native, zram loop in C, bytes and lz4 in C"
    engines = _res({}, [c])
    cmp = compare_results(python, engines)
    assert len(cmp.warnings) == 1 and "different code" in cmp.warnings[0]
    assert "C engine zbench_zsmalloc._native" in cmp.warnings[0]
    p = _timing(values)
    p["path"] = "the Python model, operation by operation"
    assert not compare_results(python, _res({}, [p])).warnings
    assert not compare_results(engines, engines).warnings


def test_fail_on_accepts_every_timing_metric() -> None:
    timing = {n for n, d in BY_NAME.items() if d.kind == "timing"}
    assert {"store_p50_ns", "load_p99_ns", "store_mean_ns"} <= timing
    parsed = parse_fail_on([f"{n}:5%" for n in timing], set(BY_NAME))
    assert all(t == Threshold(5, True) for t in parsed.values())


def test_plugin_metrics_keep_their_direction_and_unknown_ones_compare_exactly() -> None:
    from zbench.api.registry import Registry, get_registry, reset_registry

    base = _res({"c": {"pool_pages": 100, "pool_total_size": 4096, "widgets": 3}})
    new = _res({"c": {"pool_pages": 100, "pool_total_size": 8192, "widgets": 4}})
    cmp = compare_results(base, new)  # zswap installed: pool_total_size is "lower"
    assert {r.metric: r.verdict for r in cmp.rows} == {"pool_total_size": "worse",
                                                       "widgets": "changed"}
    assert [r.metric for r in cmp.regressions] == ["pool_total_size"]
    assert [r.metric for r in cmp.rows] == ["pool_total_size", "widgets"]  # unknown last
    old = get_registry()
    reset_registry(Registry())  # no plugin: pool_total_size has no definition here
    try:
        cmp = compare_results(base, new)
        assert {r.verdict for r in cmp.rows} == {"changed"} and not cmp.regressions
        strict = compare_results(base, new, strict=True)
        assert {r.metric for r in strict.regressions} == {"pool_total_size", "widgets"}
        assert compare_results(base, new, {"widgets": Threshold(0, False)}).regressions
    finally:
        reset_registry(old)
