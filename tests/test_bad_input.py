"""Every kind of bad input: exit code 2, one line naming the file and the field, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_pages

from zbench.cli.app import _add_dump_commands, cli

GOOD = """\
name: t
dumps: [{dump}]
compressors: [lz4]
allocators: [{{name: zsmalloc, options: {{chain_size: 8}}}}]
workloads: [fill]
"""


def invoke(args: list[str]) -> tuple[int, str, str]:
    _add_dump_commands()
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stdout, res.stderr


def assert_one_line_error(args: list[str], *fragments: str) -> str:
    code, out, err = invoke(args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err + out
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    p = tmp_path / "d.pages"
    p.write_bytes(make_pages(8))
    return p


def suite(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_good_suite_runs(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump))
    code, out, err = invoke(["run", str(s), "--out", str(tmp_path / "out")])
    assert code == 0, err
    assert (tmp_path / "out" / "results.json").exists()


def test_malformed_yaml(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, "name: t\ndumps: [a\ncompressors: {\n")
    assert_one_line_error(["run", str(s)], str(s), "YAML syntax error", "line")


def test_suite_not_a_mapping(tmp_path: Path) -> None:
    s = suite(tmp_path, "- just\n- a list\n")
    assert_one_line_error(["run", str(s)], str(s), "must be a mapping")


def test_missing_field(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, f"dumps: [{dump}]\ncompressors: [lz4]\nworkloads: [fill]\n")
    assert_one_line_error(["run", str(s)], str(s), "allocators", "Field required")


def test_unknown_top_level_key(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump) + "allocaters: []\n")
    assert_one_line_error(["run", str(s)], str(s), "allocaters", "Extra inputs")


def test_unknown_plugin(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump).replace("workloads: [fill]", "workloads: [nope]"))
    assert_one_line_error(["run", str(s)], str(s), "workloads[0].name",
                          "unknown workload 'nope'", "churn")


def test_ill_typed_option(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump).replace("chain_size: 8", "chain_size: lots"))
    assert_one_line_error(["run", str(s)], str(s), "allocators[0].options.chain_size")


def test_unknown_option(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump).replace(
        "compressors: [lz4]", "compressors: [{name: zstd, options: {levle: 3}}]"))
    assert_one_line_error(["run", str(s)], str(s), "compressors[0].options.levle",
                          "unknown option 'levle'", "did you mean 'level'")


def test_out_of_range_option(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump).replace(
        "workloads: [fill]", "workloads: [{name: churn, options: {steady_pct: 150}}]"))
    assert_one_line_error(["run", str(s)], str(s), "workloads[0].options.steady_pct")


def test_missing_dump(tmp_path: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=tmp_path / "nope.pages"))
    assert_one_line_error(["run", str(s)], str(s), "dumps[0]", "nope.pages", "no such file")


def test_truncated_dump(tmp_path: Path) -> None:
    bad = tmp_path / "cut.pages"
    bad.write_bytes(make_pages(3)[:10000])
    s = suite(tmp_path, GOOD.format(dump=bad))
    assert_one_line_error(["run", str(s)], "cut.pages", "multiple of 4096")


def test_unreadable_dump(tmp_path: Path) -> None:
    d = tmp_path / "adir.pages"
    d.mkdir()
    s = suite(tmp_path, GOOD.format(dump=d))
    assert_one_line_error(["run", str(s)], "adir.pages")


def test_missing_suite_file(tmp_path: Path) -> None:
    assert_one_line_error(["run", str(tmp_path / "none.yaml")], "none.yaml", "no such suite")


def test_unreadable_suite_file(tmp_path: Path) -> None:
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00bad")
    assert_one_line_error(["run", str(p)], "bin.yaml", "cannot read suite")


def test_bad_set_flag(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump))
    assert_one_line_error(["run", str(s), "--set", "chain_size=4"], "--set", "PLUGIN.KEY=VALUE")
    assert_one_line_error(["run", str(s), "--set", "zbud.x=1"], "--set", "zbud")
    assert_one_line_error(["run", str(s), "--set", "zsmalloc.chain_size=99"],
                          "--set zsmalloc.chain_size=99", "chain_size", "4..16")


def test_bad_dump_flag(tmp_path: Path) -> None:
    bad = tmp_path / "cut.pages"
    bad.write_bytes(b"x" * 5000)
    assert_one_line_error(["run", "--dump", str(bad)], "cut.pages", "multiple of 4096")


def test_dump_info_on_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "cut.pages"
    bad.write_bytes(b"x" * 5000)
    assert_one_line_error(["dump", "info", str(bad)], "cut.pages")


def test_results_are_not_half_written_on_failure(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump).replace("workloads: [fill]",
                                                        "workloads: [fill, nope]"))
    out = tmp_path / "out"
    assert_one_line_error(["run", str(s), "--out", str(out)], "workloads[1].name")
    assert not out.exists()


def test_unknown_reporter_and_bad_reporter_options(tmp_path: Path, dump: Path) -> None:
    s = suite(tmp_path, GOOD.format(dump=dump) + "reports: [nope]\n")
    assert_one_line_error(["run", str(s)], str(s), "reports[0].name", "nope")
    s = suite(tmp_path, GOOD.format(dump=dump)
              + "reports: [{name: kernel-latency, options: {boots: 0}}]\n")
    assert_one_line_error(["run", str(s)], str(s), "reports[0].options", "boots")
    assert not (tmp_path / "reports").exists()
