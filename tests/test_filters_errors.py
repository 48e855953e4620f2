"""Filters that accept names and labels, errors that blame the flag that was wrong,
timing changes that ``compare`` cannot hide, and pins of the compression libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner
from conftest import make_pages
from pydantic import Field
from zbench_zswap.frontend import Zswap

from zbench import hookimpl
from zbench.api.errors import UserError
from zbench.api.options import PluginOptions, parse_options
from zbench.api.registry import Registry, get_registry
from zbench.cli.app import cli
from zbench.report.compare import Threshold, compare_results, summary
from zbench.run.requirements import plugin_pins
from zbench.run.runner import Narrowing, adhoc_frontend, narrow
from zbench.run.suite import parse_suite

LABELLED = """\
name: labelled
dumps: [{dump}]
compressors: [lz4]
frontends: [{{name: zswap, options: {{kernel: "6.6"}}}}]
allocators:
  - {{name: zbud, options: {{kernel: "6.6"}}}}
  - {{name: zbud, label: zbud-2013, options: {{kernel: "3.11", migration: kozlowski-2013}}}}
  - {{name: zsmalloc, options: {{kernel: "6.6"}}}}
workloads: [fill]
"""

ZRAM_ONLY = """\
name: zramonly
dumps: [{dump}]
compressors: [lz4]
allocators: [{{name: zsmalloc, options: {{kernel: "6.18"}}}}]
workloads: [fill, {{name: churn, options: {{steps: 100}}}}]
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder holding a small dump and the two suites, nothing else."""
    (tmp_path / "d.pages").write_bytes(make_pages(16))
    (tmp_path / "labelled.yaml").write_text(LABELLED.format(dump="d.pages"))
    (tmp_path / "zram.yaml").write_text(ZRAM_ONLY.format(dump="d.pages"))
    return tmp_path


def zbench(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zbench", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def bad_input(args: list[str], cwd: Path, *fragments: str) -> str:
    """Run, expect exit 2 with one stderr line holding every fragment and nothing written."""
    before = sorted(p.name for p in cwd.iterdir())
    res = zbench([*args, "--out", "out"], cwd)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    assert sorted(p.name for p in cwd.iterdir()) == before  # no out/, no reports/, no temp
    return lines[0]


# -- filters ------------------------------------------------------------------------------

def test_a_label_filters_like_a_name(work: Path) -> None:
    res = zbench(["run", "labelled.yaml", "--allocator", "zbud-2013", "--out", "o", "--json"],
                 work)
    assert res.returncode == 0, res.stderr
    cases = json.loads(res.stdout)["cases"]
    assert [c["allocator"]["label"] for c in cases] == ["zbud-2013"]
    assert cases[0]["allocator"]["options"]["migration"] == "kozlowski-2013"
    # a name keeps every entry with that name, whatever its label
    reg = get_registry()
    suite = parse_suite(_yaml(work / "labelled.yaml"), "labelled.yaml")
    s = narrow(suite, "labelled.yaml", Narrowing(names={"allocator": ["zbud"]}), reg)
    assert [a.display for a in s.allocators] == ["zbud", "zbud-2013"]


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


def test_an_unknown_filter_names_the_flag_and_the_labels(work: Path) -> None:
    bad_input(["run", "labelled.yaml", "--allocator", "zbud-2014"], work,
              "--allocator zbud-2014", "unknown allocator 'zbud-2014'", "zbud-2013")


def test_a_narrowing_that_leaves_only_skipped_cases_exits_2_and_says_why(work: Path) -> None:
    line = bad_input(["run", "zram.yaml", "--allocator", "zbud"], work,
                     "zram.yaml", "skipped", "zram drives zsmalloc", "add --frontend zswap")
    assert line.count("zbud on zram") == 1  # each reason once, not once per workload
    bad_input(["run", "--dump", "d.pages", "--allocator", "zbud", "--frontend", "zram"],
              work, "command line: cases:", "skipped", "zbud on zram", "--frontend zswap")


def test_adhoc_allocator_zram_cannot_drive_runs_behind_zswap(work: Path) -> None:
    allocator = "zbud"
    res = zbench(["run", "--dump", "d.pages", "--allocator", allocator, "--out", "o", "--json"],
                 work)
    assert res.returncode == 0, res.stderr
    cases = json.loads(res.stdout)["cases"]
    assert [(c["allocator"]["name"], c["frontend"]["name"]) for c in cases] == [
        (allocator, "zswap")]
    assert not any(c.get("skipped") for c in cases)
    assert "zswap front end" in res.stderr and "zram drives zsmalloc" in res.stderr


class _OtherZswap(Zswap):
    name = "zswap-other"


class _TwoFrontEnds:
    @hookimpl
    def register_frontends(self, register):  # noqa: ANN001
        register(_OtherZswap)


def test_adhoc_choice_ambiguous_or_default() -> None:
    reg = get_registry()
    assert adhoc_frontend(reg, ["zsmalloc"], {}) == ("zram", "")
    fe, note = adhoc_frontend(reg, ["zbud", "zsmalloc"], {})
    assert fe == "zswap" and "zbud" in note
    two = Registry()
    two.load_entry_points()
    two.register_plugin(_TwoFrontEnds(), "two")
    with pytest.raises(UserError) as exc:
        adhoc_frontend(two, ["zbud"], {})
    assert "add --frontend zswap or --frontend zswap-other" in str(exc.value)
    with pytest.raises(UserError, match="--allocator nope: unknown allocator"):
        adhoc_frontend(reg, ["nope"], {})


# -- errors that point at the flag ----------------------------------------------------------

@pytest.mark.parametrize("suite", [["zram.yaml"], ["--dump", "d.pages"]])
def test_a_set_typo_names_flag_plugin_key_valid_keys_and_the_nearest(
        work: Path, suite: list[str]) -> None:
    line = bad_input(["run", *suite, "--set", "zsmalloc.chain_sise=4"], work,
                     "--set zsmalloc.chain_sise=4:", "zsmalloc", "unknown option 'chain_sise'",
                     "(options: chain_size, classes, kernel, page_size)",
                     "did you mean 'chain_size'?")
    assert "zram.yaml" not in line and "Extra inputs" not in line


def test_a_bad_set_value_is_blamed_on_the_flag(work: Path) -> None:
    line = bad_input(["run", "zram.yaml", "--set", "zsmalloc.chain_size=lots"], work,
                     "--set zsmalloc.chain_size=lots:", "expected an integer, not 'lots'")
    assert "zram.yaml" not in line


def test_a_missing_dump_names_the_flag_not_the_suite(work: Path) -> None:
    line = bad_input(["run", "zram.yaml", "--dump", "nope.pages"], work,
                     f"--dump {work / 'nope.pages'}: no such file")
    assert "zram.yaml" not in line and "dumps[0]" not in line


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class _Opts(PluginOptions):
    count: int = Field(4, ge=1, lt=100)
    ratio: float = Field(0.5, gt=0, le=1)
    mode: Literal["fast", "slow"] = "fast"
    colour: Colour = Colour.RED
    flag: bool = False


@pytest.mark.parametrize(("values", "expected"), [
    ({"cuont": 3}, "w.cuont: unknown option 'cuont'; did you mean 'count'? "
                   "(options: colour, count, flag, mode, ratio)"),
    ({"count": "many"}, "w.count: expected an integer, not 'many'"),
    ({"count": "0"}, "w.count: must be at least 1 (got '0')"),
    ({"count": 100}, "w.count: must be less than 100 (got 100)"),
    ({"ratio": "x"}, "w.ratio: expected a number, not 'x'"),
    ({"ratio": 0}, "w.ratio: must be greater than 0 (got 0)"),
    ({"ratio": 2}, "w.ratio: must be at most 1 (got 2)"),
    ({"mode": "quick"}, "w.mode: must be one of 'fast' or 'slow' (got 'quick')"),
    ({"colour": "green"}, "w.colour: must be one of 'red' or 'blue' (got 'green')"),
    ({"flag": "perhaps"}, "w.flag: expected true or false, not 'perhaps'"),
])
def test_pydantic_errors_in_the_users_terms(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(UserError) as exc:
        parse_options(_Opts, values, "w")
    assert str(exc.value) == expected
    assert "Input should" not in str(exc.value)


# -- compare: significant timing changes are reported ---------------------------------------

def _res(timing: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": "zbench.results", "version": 1, "environment": {}, "cases": [],
            "timing": timing}


def _timing(values: list[float]) -> dict[str, Any]:
    mean = sum(values) / len(values)
    op = {"mean_ns": mean, "values_ns": values, "p50_ns": mean, "p99_ns": 2 * mean}
    return {"id": "z/zswap/lz4/d", "store": op, "load": op}


BASE = _res([_timing([100.0, 101.0, 99.0, 100.5, 99.5, 100.0])])


def test_a_significant_timing_change_below_the_threshold_is_a_difference() -> None:
    slight = _res([_timing([103.0, 104.0, 102.0, 103.5, 102.5, 103.0])])  # +3 %, p < 0.01
    cmp = compare_results(BASE, slight)
    assert not cmp.regressions
    mean = next(r for r in cmp.rows if r.metric == "store_mean_ns")
    assert mean.verdict == "slower, within threshold" and mean.p is not None and mean.p < 0.01
    text = summary(cmp)
    assert text.startswith("OK: 0 regressions, 6 other differences;"), text
    assert "timings: 6 significant changes (6 slower, 0 faster)" in text
    tight = compare_results(BASE, slight, {"store_mean_ns": Threshold(2, True)})
    assert [r.metric for r in tight.regressions] == ["store_mean_ns"]
    assert summary(tight).startswith("REGRESSION: 1 regression, 5 other differences;")


def test_a_significant_speed_up_is_counted_as_faster() -> None:
    fast = _res([_timing([80.0, 81.0, 79.0, 80.5, 79.5, 80.0])])  # -20 %
    cmp = compare_results(BASE, fast)
    assert {r.verdict for r in cmp.rows} == {"improved"} and not cmp.regressions
    assert "timings: 6 significant changes (0 slower, 6 faster)" in summary(cmp)


def test_a_large_change_the_t_test_cannot_confirm_is_listed_not_hidden() -> None:
    noisy = _res([_timing([100.0, 190.0, 102.0, 185.0, 101.0, 180.0])])  # +43 %, noise
    cmp = compare_results(BASE, noisy)
    mean = next(r for r in cmp.rows if r.metric == "store_mean_ns")
    assert mean.verdict == "not significant" and mean.p is not None and mean.p >= 0.01
    assert not cmp.regressions
    assert "0 significant changes" in summary(cmp)
    assert "past the threshold but not significant (p >= 0.01)" in summary(cmp)


# -- pins --------------------------------------------------------------------------------

def test_requirements_pin_the_compression_libraries() -> None:
    res = CliRunner().invoke(cli, ["plugins", "--requirements"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert f"lz4=={version('lz4')}" in lines
    assert f"zstandard=={version('zstandard')}" in lines
    assert lines == sorted(lines, key=lambda pin: pin.split("==")[0].lower())
    # a library without a distribution (the standard library's zlib, the kernel's own) is
    # not pinned; one already pinned as a plugin distribution is not pinned twice
    pins = plugin_pins([{"distribution": "lz4", "version": version("lz4"), "status": "ok"}],
                       ["lz4", "zlib", "kernel"])
    assert pins == [f"lz4=={version('lz4')}"]


def test_ad_hoc_z3fold_runs_behind_zswap_not_zram(tmp_path: Path) -> None:
    """zram's kernel code calls zsmalloc's zs_* API only: z3fold (which has a headless
    size, like a huge class) must not run behind it."""
    from zbench import PageFrames, get_plugin_class
    from zbench.api.registry import get_registry

    reg = get_registry()
    z3 = reg.get("allocator", "z3fold")
    zram = reg.get("frontend", "zram")
    why = zram.supports(z3(z3.Options(), PageFrames()))
    assert why and "zsmalloc" in why
    zs = get_plugin_class("allocator", "zsmalloc")
    assert zram.supports(zs(zs.Options(), PageFrames())) is None
