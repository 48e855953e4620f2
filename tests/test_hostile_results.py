"""``zbench compare``, ``report`` and ``baseline`` on malformed, hostile and odd results files.

Every results file is checked against the results schema (zbench/run/schema.py) when it
is read back: a malformed one exits 2 with one line per problem, each naming the
file and the JSON path, and never a traceback; a valid one gives a comparison whose
verdict counts missing, non-numeric and failed results in NEW as regressions
(docs/ci.md).
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import make_pages
from hostile import assert_no_leftovers, assert_one_line, error_lines, snapshot, zbench
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zbench.cli.app import _add_dump_commands, cli
from zbench.report.compare import compare_results

SUITE = {"name": "hr", "seed": 2, "dumps": [], "compressors": ["lz4"],
         "frontends": [{"name": "zswap", "options": {"kernel": "6.6"}}],
         "allocators": [{"name": "zsmalloc", "options": {"kernel": "6.6"}}],
         "workloads": ["fill", {"name": "churn", "options": {"steps": 150}}]}


def invoke(args: list[str | Path]) -> Result:
    _add_dump_commands()
    return CliRunner().invoke(cli, [str(a) for a in args])


def _timing(rec_id: str) -> dict[str, Any]:
    op = {"mean_ns": 10_000.0, "std_ns": 300.0, "values_ns": [9900.0, 10100.0, 10000.0],
          "p50_ns": 9000, "p99_ns": 40_000, "compressor_share_pct": 40.0,
          "histogram": {"edges_ns": [1000, 2000, 4000], "counts": [3, 1]}}
    part = {"name": "zsmalloc", "label": "zsmalloc", "options": {}}
    return {"id": rec_id, "allocator": part, "frontend": {**part, "name": "zswap",
                                                         "label": "zswap"},
            "compressor": {**part, "name": "lz4", "label": "lz4"},
            "dump": {"name": "d", "sha256": "0" * 64, "pages": 64},
            "store": op, "load": dict(op)}


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real run's results (plus a timing record), as zbench writes them."""
    d = tmp_path_factory.mktemp("hr")
    dump = d / "d.pages"
    dump.write_bytes(make_pages(96))
    suite = d / "s.yaml"
    suite.write_text(json.dumps({**SUITE, "dumps": [str(dump)]}))
    res = invoke(["run", suite, "--no-timing", "--out", d / "out"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((d / "out" / "results.json").read_text())
    data["timing"] = [_timing("zsmalloc/zswap/lz4/d")]
    return data


@pytest.fixture
def base(valid: dict[str, Any], tmp_path: Path) -> Path:
    p = tmp_path / "base" / "base.json"
    p.parent.mkdir()
    p.write_text(json.dumps(valid))
    return p


def _write(tmp_path: Path, content: bytes | str | dict[str, Any] | list[Any]) -> Path:
    p = tmp_path / "in" / "new.json"
    p.parent.mkdir(exist_ok=True)
    if isinstance(content, dict | list):
        content = json.dumps(content)
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


def assert_problems(res: Result, name: str, *fragments: str) -> list[str]:
    """Exit 2, every stderr line a problem naming ``name``, no traceback."""
    lines = error_lines(res.stderr)
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr, res.exception)
    assert isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.stdout + res.stderr
    assert lines and lines[0].startswith("zbench: error: ")
    assert all(name in ln for ln in lines), lines
    for frag in fragments:
        assert any(frag in ln for ln in lines), (frag, lines)
    return lines


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def fn(d: dict[str, Any]) -> dict[str, Any]:
        target: Any = d
        for k in path[:-1]:
            target = target[k]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return d
    return fn


_DELETE = object()

# (id, mutation of the valid mapping or raw content, fragments of the error)
MALFORMED: list[tuple[str, Any, tuple[str, ...]]] = [
    ("truncated", lambda raw: raw[: len(raw) // 2], ("not JSON",)),
    ("not-json", lambda raw: b"hello, world", ("not JSON",)),
    ("empty", lambda raw: b"", ("not JSON",)),
    ("not-utf8", lambda raw: b"\xff\xfe" + raw, ("not UTF-8",)),
    ("nan-token", lambda raw: raw.replace(b'"pool_pages": ', b'"pool_pages": NaN, "x": ', 1),
     ("NaN",)),
    ("infinity-token", lambda raw: raw.replace(b'"pool_pages": ', b'"pool_pages": -Infinity'
                                               b', "x": ', 1), ("Infinity",)),
    ("deep-nesting", lambda raw: b"[" * 200_000 + b"]" * 200_000, ("new.json",)),
    ("huge-int", lambda raw: raw.replace(b'"pool_pages": ', b'"pool_pages": ' + b"9" * 5000
                                         + b', "x": ', 1), ("new.json",)),
    ("top-level-list", lambda raw: b"[]", ("expected a JSON object",)),
    ("top-level-string", lambda raw: b'"zbench.results"', ("expected a JSON object",)),
    ("suite-list", _set(("suite",), []), ("suite:",)),
    ("case-a-string", _set(("cases", 0), "x"), ("cases[0]:",)),
    ("metric-nan-string", _set(("cases", 1, "metrics", "pool_pages"), "NaN"),
     ("cases[1].metrics.pool_pages: not a finite number ('NaN')",)),
    ("metric-bool", _set(("cases", 0, "metrics", "pool_pages"), True),
     ("cases[0].metrics.pool_pages: not a finite number (True)",)),
    ("metric-null", _set(("cases", 0, "metrics", "effective_ratio"), None),
     ("cases[0].metrics.effective_ratio: not a finite number (None)",)),
    ("metric-list", _set(("cases", 0, "metrics", "pool_pages"), [1]),
     ("cases[0].metrics.pool_pages",)),
    ("metrics-and-skipped", _set(("cases", 0, "skipped"), "why"),
     ("cases[0]: a case has exactly one of metrics, skipped, failed",)),
    ("no-outcome", _set(("cases", 0, "metrics"), _DELETE),
     ("cases[0]: a case has exactly one of metrics, skipped, failed (has none)",)),
    ("failed-malformed", lambda d: (d["cases"][0].pop("metrics"),
                                    d["cases"][0].update(failed={"reason": 3}), d)[-1],
     ("cases[0].failed.reason", "cases[0].failed.kind: missing")),
    ("allocator-string", _set(("cases", 0, "allocator"), "zsmalloc"), ("cases[0].allocator",)),
    ("label-missing", _set(("cases", 0, "compressor", "label"), _DELETE),
     ("cases[0].compressor.label: missing",)),
    ("dump-pages-negative", _set(("cases", 0, "dump", "pages"), -1),
     ("cases[0].dump.pages: not a non-negative integer (-1)",)),
    ("phase-no-pool-pages", _set(("cases", 1, "phases", 0, "pool_pages"), _DELETE),
     ("cases[1].phases[0].pool_pages: missing",)),
    ("environment-missing", _set(("environment",), _DELETE), ("environment: missing",)),
    ("environment-python-int", _set(("environment", "python"), 3),
     ("environment.python",)),
    ("timing-not-records", _set(("timing",), [1, 2]), ("timing[0]", "timing[1]")),
    ("timing-values-string", _set(("timing", 0, "store", "values_ns", 1), "10"),
     ("timing[0].store.values_ns[1]: not a finite number ('10')",)),
    ("timing-no-load", _set(("timing", 0, "load"), _DELETE),
     ("timing[0]: a timed record needs store and load",)),
    ("distribution-negative", _set(("distributions", 0, "counts", 0), -5),
     ("distributions[0].counts[0]",)),
    ("metric-key-odd", _set(("cases", 0, "metrics", "a b"), "x"),
     ('cases[0].metrics["a b"]: not a finite number',)),
]


def _content(valid: dict[str, Any], mutate: Any) -> bytes:
    raw = json.dumps(valid, indent=2).encode()
    try:
        out = mutate(raw)
    except (TypeError, AttributeError):
        return json.dumps(mutate(copy.deepcopy(valid))).encode()
    if isinstance(out, bytes):
        return out
    return json.dumps(out).encode()


def _cmd(which: str, base: Path, bad: Path, tmp_path: Path) -> list[str | Path]:
    return {"compare-new": ["compare", base, bad], "compare-base": ["compare", bad, base],
            "report": ["report", bad, "--html", "-o", tmp_path / "out" / "r.html"],
            "baseline": ["baseline", bad, "-o", tmp_path / "out" / "b.json"]}[which]


@pytest.mark.parametrize("which", ["compare-new", "compare-base", "report", "baseline"])
@pytest.mark.parametrize("name, mutate, fragments", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_results_exit_2_naming_file_and_path(
        valid: dict[str, Any], base: Path, tmp_path: Path, which: str, name: str, mutate: Any,
        fragments: tuple[str, ...]) -> None:
    bad = _write(tmp_path, _content(valid, mutate))
    before = snapshot(tmp_path)
    res = invoke(_cmd(which, base, bad, tmp_path))
    lines = assert_problems(res, "new.json", *fragments)
    assert len(lines) <= 21
    assert_no_leftovers(tmp_path, before)


def test_every_problem_is_a_line_and_the_list_is_capped(valid: dict[str, Any], base: Path,
                                                        tmp_path: Path) -> None:
    data = copy.deepcopy(valid)
    data["cases"][0]["metrics"]["pool_pages"] = "x"
    data["cases"][1]["id"] = 5
    bad = _write(tmp_path, data)
    lines = assert_problems(invoke(["compare", base, bad]), "new.json")
    assert len(lines) == 2
    assert "cases[0].metrics.pool_pages" in lines[0] and "cases[1].id" in lines[1]
    data["cases"][0]["metrics"] = {f"m{i}": "bad" for i in range(50)}
    lines = assert_problems(invoke(["compare", base, _write(tmp_path, data)]), "new.json")
    assert len(lines) == 21 and lines[-1].endswith("and 31 more problems")  # 51 in all


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_paths_that_are_not_results_files(base: Path, tmp_path: Path, kind: str) -> None:
    p = tmp_path / "thing"
    if kind == "fifo":
        os.mkfifo(p)  # a blocking open would hang: the timeout fails the test then
    elif kind == "directory-without-results":
        p.mkdir()
    elif kind == "device":
        p = Path("/dev/zero")
    before = snapshot(tmp_path)
    for args in (["compare", base, p], ["report", p], ["baseline", p]):
        res = zbench(args, timeout=60)
        assert_one_line(res, 2, str(p))
    assert_no_leftovers(tmp_path, before)


# -- compare's verdicts on valid files ---------------------------------------------------

def test_a_metric_missing_in_new_is_a_regression(valid: dict[str, Any], base: Path,
                                                 tmp_path: Path) -> None:
    res = invoke(["compare", base, base])  # the schema passes what zbench writes
    assert res.exit_code == 0 and res.stdout.startswith("OK"), res.stdout + res.stderr
    data = copy.deepcopy(valid)
    del data["cases"][0]["metrics"]["pool_pages"]
    del data["cases"][1]["metrics"]["stored_pages"]  # no direction: fails all the same
    res = invoke(["compare", base, _write(tmp_path, data)])
    assert res.exit_code == 1, res.stdout + res.stderr
    fails = [ln for ln in res.stdout.splitlines() if "FAIL" in ln]
    assert any("pool_pages" in ln and "missing in NEW" in ln for ln in fails), res.stdout
    assert any("stored_pages" in ln and "missing in NEW" in ln for ln in fails), res.stdout
    assert res.stdout.startswith("REGRESSION: 2 regressions")


def test_a_failed_case_in_new_is_a_regression(valid: dict[str, Any], base: Path,
                                              tmp_path: Path) -> None:
    data = copy.deepcopy(valid)
    case = data["cases"][0]
    del case["metrics"]
    case["failed"] = {"reason": "load of offset 3 returned different bytes", "kind": "verify"}
    res = invoke(["compare", base, _write(tmp_path, data)])
    assert res.exit_code == 1, res.stdout + res.stderr
    line = next(ln for ln in res.stdout.splitlines() if case["id"] in ln and "FAIL" in ln)
    assert "failed" in line and "verify" in line
    # a failed case is no baseline either
    before = snapshot(tmp_path)
    res = invoke(["baseline", tmp_path / "in" / "new.json", "-o", tmp_path / "b.json"])
    assert_problems(res, "new.json", "cases[0].failed")
    assert_no_leftovers(tmp_path, before)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "NaN", "12", None, True, [1]])
def test_compare_results_never_passes_a_non_number_in_new(bad: Any) -> None:
    base = {"cases": [{"id": "c", "metrics": {"pool_pages": 10, "stored_pages": 5}}]}
    for metric in ("pool_pages", "stored_pages"):
        new = {"cases": [{"id": "c", "metrics": {"pool_pages": 10, "stored_pages": 5,
                                                  metric: bad}}]}
        cmp = compare_results(base, new)
        assert [(r.metric, r.verdict) for r in cmp.regressions] == [
            (metric, "not a finite number")], (bad, metric)


@pytest.mark.parametrize("spec", ["pool_pages:nan", "pool_pages:NaN%", "pool_pages:inf",
                                  "pool_pages:+inf", "pool_pages:1e999", "pool_pages:infinity%"])
def test_bad_fail_on_thresholds_exit_2(base: Path, spec: str) -> None:
    res = invoke(["compare", base, base, "--fail-on", spec])
    lines = error_lines(res.stderr)
    assert res.exit_code == 2 and len(lines) == 1 and "--fail-on" in lines[0], res.stderr


# -- properties ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids,
                                                              max_size=3),
    max_leaves=8)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        target: Any = data
        for k in path[:-1]:
            target = target[k]
        if isinstance(target, dict) and draw(st.booleans()):
            del target[path[-1]]
        else:
            target[path[-1]] = draw(json_values)
    return data


def _sane(res: Result, name: str) -> None:
    assert "Traceback" not in res.stdout + res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    if res.exit_code == 2:
        lines = error_lines(res.stderr)
        assert lines and all(name in ln for ln in lines), lines
    else:
        assert res.exit_code in (0, 1), (res.exit_code, res.stderr)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_property_compare_and_baseline_on_mutated_results(
        valid: dict[str, Any], base: Path, tmp_path: Path, data: st.DataObject) -> None:
    new = _write(tmp_path, data.draw(mutated(valid)))
    res = invoke(["compare", base, new])
    _sane(res, "new.json")
    if res.exit_code in (0, 1):
        assert res.stdout.startswith(("OK", "REGRESSION")), res.stdout
    _sane(invoke(["compare", new, base]), "new.json")
    out = tmp_path / "out" / "b.json"
    res = invoke(["baseline", new, "-o", out])
    _sane(res, "new.json")
    assert out.exists() == (res.exit_code == 0)
    out.unlink(missing_ok=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode)
       | st.integers(2000, 100_000).map(lambda n: b'{"a": ' + b"[" * n))
def test_property_arbitrary_bytes_never_traceback(base: Path, tmp_path: Path,
                                                  raw: bytes) -> None:
    new = _write(tmp_path, raw)
    _sane(invoke(["compare", base, new]), "new.json")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.slow
def test_property_report_on_mutated_results(valid: dict[str, Any], tmp_path: Path,
                                            data: st.DataObject) -> None:
    new = _write(tmp_path, data.draw(mutated(valid)))
    out = tmp_path / "out" / "r.html"
    res = invoke(["report", new, "--html", "-o", out])
    _sane(res, "new.json")
    assert out.exists() == (res.exit_code == 0)
    out.unlink(missing_ok=True)
