"""Hostile input files: dumps, suites, traces and output locations.

Every case asserts exit code 2, one line on stderr naming the file and the field,
no traceback, and nothing left behind (no output folder, no temporary file).  Cases
that could hang (a FIFO) or touch a device run zbench in a child process with a
timeout (tests/hostile.py); the rest use click's CliRunner in process.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_pages
from hostile import assert_no_leftovers, assert_one_line, snapshot, zbench
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_input import GOOD
from test_bad_input import assert_one_line_error as assert_in_process_error
from test_bad_input import invoke as in_process

from zbench.api import safeio
from zbench.api.errors import UserError
from zbench.sim.sized import SizedPages

REPLAY = GOOD.replace("workloads: [fill]",
                      "workloads: [{{name: replay, options: {{trace: {trace}}}}}]")
TIMEOUT = 60


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding ``t.raw`` (8 pages), the current directory."""
    (tmp_path / "t.raw").write_bytes(make_pages(8))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fifo(where: Path, name: str = "fifo") -> Path:
    p = where / name
    os.mkfifo(p)
    return p


@contextlib.contextmanager
def unix_socket(where: Path) -> Iterator[Path]:
    p = where / "sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(p))
        yield p
    finally:
        s.close()


def hostile(target: str, where: Path) -> Path:
    """A hostile path of the kind ``target`` inside ``where`` (or a device)."""
    if target == "fifo":
        return fifo(where)
    if target == "zero":
        return Path("/dev/zero")
    if target == "dir":
        (where / "adir").mkdir()
        return where / "adir"
    if target == "enotdir":
        return where / "t.raw" / "x"
    if target == "loop":
        os.symlink("loop", where / "loop")
        return where / "loop"
    if target == "link-to-fifo":
        os.symlink(fifo(where, "f2"), where / "lnk")
        return where / "lnk"
    if target == "missing":
        return where / "missing"
    raise AssertionError(target)


READ_KINDS = {"fifo": "not a regular file (a FIFO)", "zero": "not a regular file (a character",
              "dir": "not a regular file (a directory)", "enotdir": "", "loop": "",
              "link-to-fifo": "not a regular file (a FIFO)", "missing": "no such"}


# ---- dumps -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(READ_KINDS))
def test_dump_info_refuses_what_is_not_a_dump_file(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    before = snapshot(work)
    res = zbench(["dump", "info", path], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(path), READ_KINDS[kind])
    assert_no_leftovers(work, before)


def test_dump_info_refuses_a_socket(work: Path) -> None:
    with unix_socket(work) as sock:
        res = zbench(["dump", "info", sock], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(sock), "not a regular file (a socket)")


@pytest.mark.parametrize("kind", ["fifo", "zero", "dir", "link-to-fifo"])
def test_run_dump_flag_refuses_non_regular(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    before = snapshot(work)
    res = zbench(["run", "--dump", path, "--no-timing"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(path.resolve()), READ_KINDS[kind])  # --dump is resolved
    assert_no_leftovers(work, before)
    assert not (work / "reports").exists()


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_suite_dump_entry_refuses_non_regular(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    (work / "s.yaml").write_text(GOOD.format(dump=path))
    before = snapshot(work)
    res = zbench(["run", "s.yaml"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(path), READ_KINDS[kind])
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("kind", ["fifo", "zero", "dir"])
def test_dump_convert_refuses_non_regular_source(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    before = snapshot(work)
    res = zbench(["dump", "convert", path, work / "out.zbdump", "--to", "zbench"], cwd=work,
                 timeout=TIMEOUT)
    assert_one_line(res, 2, str(path), READ_KINDS[kind])
    assert_no_leftovers(work, before)


@pytest.mark.parametrize("kind", ["fifo", "dir", "link-to-fifo", "enotdir"])
@pytest.mark.parametrize("to", ["raw", "zbench"])
def test_dump_convert_refuses_a_destination_that_is_not_a_file(work: Path, kind: str,
                                                                to: str) -> None:
    dst = hostile(kind, work)
    before = snapshot(work)
    kinds = {p: os.lstat(p).st_mode for p in before}
    res = zbench(["dump", "convert", "t.raw", dst, "--to", to], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(dst), "cannot write")
    assert_no_leftovers(work, before)
    assert {p: os.lstat(p).st_mode for p in before} == kinds  # the FIFO is still a FIFO


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null", "/dev/zero"])
def test_dump_convert_never_replaces_a_device_devnode(work: Path, device: str) -> None:
    st_before = os.stat(device)
    res = zbench(["dump", "convert", "t.raw", device, "--to", "raw"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, device, "not a regular file (a character device)")
    st_after = os.stat(device)
    assert stat.S_ISCHR(st_after.st_mode)
    assert st_after.st_rdev == st_before.st_rdev
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(f".{Path(device).name}.")]


# ---- suite files -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "zero", "dir", "link-to-fifo", "loop"])
def test_suite_file_that_is_not_a_regular_file(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    before = snapshot(work)
    res = zbench(["run", path], cwd=work, timeout=TIMEOUT)
    # a directory is refused by the command's argument type already
    assert_one_line(res, 2, str(path), "directory" if kind == "dir" else READ_KINDS[kind])
    assert_no_leftovers(work, before)


def test_suite_file_that_is_a_socket(work: Path) -> None:
    with unix_socket(work) as sock:
        res = zbench(["run", sock], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(sock), "socket")


def test_suite_file_too_large(work: Path) -> None:
    big = work / "big.yaml"
    big.write_text(GOOD.format(dump="t.raw") + ("#" * 1023 + "\n") * (5 * 1024))
    assert_in_process_error(["run", str(big)], str(big), "larger than")
    assert not (work / "reports").exists()


def test_suite_not_utf8_names_the_line(work: Path) -> None:
    p = work / "s.yaml"
    p.write_bytes(GOOD.format(dump="t.raw").encode() + b"description: caf\xe9\n")
    assert_in_process_error(["run", str(p)], str(p), "line 6", "UTF-8")


def suite_error(work: Path, text: str, *fragments: str) -> str:
    p = work / "s.yaml"
    p.write_text(text)
    before = snapshot(work)
    line = assert_in_process_error(["run", str(p)], str(p), *fragments)
    assert_no_leftovers(work, before)
    return line


G = GOOD.format(dump="t.raw")


@pytest.mark.parametrize(("text", "fragments"), [
    ("seed: 1\n" + G + "seed: 2\n", ("line 7", "duplicate key 'seed'")),
    (G.replace("chain_size: 8", "chain_size: 8, chain_size: 4"),
     ("line 4", "duplicate key 'chain_size'")),
    (G.replace("{name: zsmalloc,", "{name: zsmalloc, name: zbud,"), ("duplicate key 'name'",)),
    (G + "timing:\n  pages: 8\n  pages: 16\n", ("line 8", "duplicate key 'pages'")),
], ids=["top-level", "plugin-option", "plugin-name", "block-mapping"])
def test_duplicate_keys(work: Path, text: str, fragments: tuple[str, ...]) -> None:
    suite_error(work, text, *fragments)


@pytest.mark.parametrize("text", [
    "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    G.replace("chain_size: 8", "chain_size: " + "[" * 100 + "]" * 100),
], ids=["sequences", "mappings", "inside-options"])
def test_deeply_nested_yaml(work: Path, text: str) -> None:
    suite_error(work, text, "nested")


def test_alias_bomb(work: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    suite_error(work, "\n".join(lines) + "\n" + G, "more than")


@pytest.mark.parametrize(("text", "fragments"), [
    (G + "seed: true\n", ("seed", "expected an integer, not true")),
    (G + "seed: 1.5\n", ("seed", "expected an integer")),
    (G + "seed: 2.0\n", ("seed", "expected an integer")),
    (G + "seed: '3'\n", ("seed", "integer")),
    (G + "verify: 1\n", ("verify", "expected true or false")),
    (G + "verify: 0.0\n", ("verify", "expected true or false")),
    (G + "timing: {pages: true}\n", ("timing", "pages", "expected an integer")),
    (G + "timing: {pages: 16.0}\n", ("timing", "pages", "expected an integer")),
    (G.replace("chain_size: 8", "chain_size: true"),
     ("allocators[0].options.chain_size", "expected an integer, not true")),
    (G.replace("chain_size: 8", "chain_size: 8.0"),
     ("allocators[0].options.chain_size", "expected an integer")),
    (G.replace("workloads: [fill]", "workloads: [{name: migrate, options: {compact: 1}}]"),
     ("workloads[0].options.compact", "expected true or false")),
    (G.replace("workloads: [fill]", "workloads: [{name: churn, options: {steady_pct: true}}]"),
     ("workloads[0].options.steady_pct", "expected a number")),
], ids=["seed-true", "seed-float", "seed-float-integral", "seed-string", "verify-int",
        "verify-float", "timing-bool", "timing-float", "option-bool", "option-float",
        "flag-int", "number-bool"])
def test_loose_numbers_and_flags(work: Path, text: str, fragments: tuple[str, ...]) -> None:
    suite_error(work, text, *fragments)


@pytest.mark.parametrize("version", ['"99.99"', '"5.20"', '"8.0"', '"1.2"', '"3.20"', "6"])
def test_kernel_versions_must_be_real_linux_releases(work: Path, version: str) -> None:
    suite_error(work, G.replace("chain_size: 8", f"kernel: {version}"),
                "allocators[0].options.kernel", "kernel version")


def test_frontend_kernel_version(work: Path) -> None:
    suite_error(work, G + 'frontends: [{name: zswap, options: {kernel: "99.99"}}]\n',
                "frontends[0].options.kernel", "not a Linux kernel version")


@pytest.mark.parametrize("version", ["2.6", "3.19", "4.20", "5.19", "6.12", "7.0"])
def test_real_kernel_versions_accepted(version: str) -> None:
    from zbench.api.kernel import KernelVersion

    assert str(KernelVersion(version)) == version


@pytest.mark.parametrize(("text", "fragments"), [
    (G.replace("allocators: [{name: zsmalloc, options: {chain_size: 8}}]",
               "allocators: [zsmalloc, zsmalloc]"), ("allocators[1].name", "'zsmalloc'")),
    (G.replace("allocators: [{name: zsmalloc, options: {chain_size: 8}}]",
               "allocators: [{name: zsmalloc, label: a}, {name: zbud, label: a}]"),
     ("allocators[1].label", "'a'")),
    (G.replace("allocators: [{name: zsmalloc, options: {chain_size: 8}}]",
               "allocators: [zbud, {name: zsmalloc, label: zbud}]"),
     ("allocators[1].label", "'zbud'")),
    (G.replace("compressors: [lz4]", "compressors: [zstd, {name: zstd, options: {level: 9}}]"),
     ("compressors[1].name", "'zstd'")),
    (G.replace("workloads: [fill]", "workloads: [fill, {name: churn, label: fill}]"),
     ("workloads[1].label", "'fill'")),
], ids=["same-name", "same-label", "label-is-other-name", "compressors", "workloads"])
def test_labels_unique_per_list(work: Path, text: str, fragments: tuple[str, ...]) -> None:
    suite_error(work, text, *fragments)


@pytest.mark.parametrize("name", ['"../.."', '"/tmp/x"', '"a/b"', '"a\\0b"', '".hidden"',
                                  '""', '"x y"', '"caf\\u00e9"', '".."', '"a\\nb"'])
def test_suite_name_must_be_a_plain_folder_name(work: Path, name: str) -> None:
    suite_error(work, G.replace("name: t", f"name: {name}"), "name:", "suite name")


# ---- traces ------------------------------------------------------------------------


def trace_error(work: Path, trace: bytes, *fragments: str) -> str:
    t = work / "tr.jsonl"
    t.write_bytes(trace)
    p = work / "s.yaml"
    p.write_text(REPLAY.format(dump="t.raw", trace="tr.jsonl"))
    before = snapshot(work)
    line = assert_in_process_error(["run", str(p), "--no-cache"], "tr.jsonl", *fragments)
    assert_no_leftovers(work, before)
    return line


VALID_JSON = b'{"op": "store", "offset": 1, "page": 2}\n{"op": "load", "offset": 1}\n'
VALID_CSV = b"op,offset,page,size\nstore,1,2,\nstore,2,,700\n"


@pytest.mark.parametrize(("line", "fragments"), [
    (b'{"op": "store", "offset": 1.7, "page": 2}', ("offset", "not an integer: 1.7")),
    (b'{"op": "store", "offset": true, "page": 2}', ("offset", "not an integer: true")),
    (b'{"op": "store", "offset": "3", "page": 2}', ("offset", 'not an integer: "3"')),
    (b'{"op": "store", "offset": 1e400, "page": 2}', ("offset", "not an integer: 1e400")),
    (b'{"op": "store", "offset": NaN, "page": 2}', ("offset", "not an integer")),
    (b'{"op": "store", "offset": 4, "page": Infinity}', ("page", "not an integer")),
    (b'{"op": "store", "offset": 4, "size": 100.0}', ("size", "not an integer")),
    (b'{"op": "store", "offset": 18446744073709551616, "size": 10}', ("offset", "too large")),
    (b'{"op": "store", "offset": -1, "page": 2}', ("offset", ">= 0")),
    (b'{"op": "phase", "label": 3}', ("label", "not a string")),
    (b'{"op": ["store"], "offset": 1, "page": 2}', ("op", "unknown op")),
    (b'{"op": "store", "offset": 1, "page": ' + b"9" * 5000 + b"}", ("not JSON",)),
    (b"[" * 100000 + b"]" * 100000, ("not JSON",)),
], ids=["float", "bool", "string", "overflow", "nan", "infinity", "integral-float",
        "huge", "negative", "label", "op-list", "too-many-digits", "deep"])
def test_json_trace_values_must_be_integers(work: Path, line: bytes,
                                            fragments: tuple[str, ...]) -> None:
    trace_error(work, VALID_JSON + line + b"\n", "tr.jsonl:3", *fragments)


@pytest.mark.parametrize(("row", "fragments"), [
    (b"store,-1,2,", ("offset", "decimal")),
    (b"store,1_0,2,", ("offset", "decimal")),
    (b"store,1.0,2,", ("offset", "decimal")),
    (b"store,+5,2,", ("offset", "decimal")),
    (b"store,1,\xd9\xa3,", ("page", "decimal")),  # an Arabic-Indic digit: int() takes it
    (b"store,1,0x10,", ("page", "decimal")),
    (b"store,1,,1e3", ("size", "decimal")),
    (b"store,1\x00,2,", ("offset",)),
    (b"store,1,2,\xff", ("line 4", "UTF-8")),
    (b'store,1,2,"' + b"x" * 200000 + b'"', ("not CSV",)),
], ids=["negative", "underscore", "float", "plus", "unicode-digit", "hex", "exponent", "nul",
        "not-utf8", "huge-field"])
def test_csv_trace_fields_must_be_decimal_digits(work: Path, row: bytes,
                                                 fragments: tuple[str, ...]) -> None:
    trace_error(work, VALID_CSV + row + b"\n", *fragments)


@pytest.mark.parametrize("kind", ["fifo", "zero", "dir"])
def test_trace_file_that_is_not_a_regular_file(work: Path, kind: str) -> None:
    path = hostile(kind, work)
    (work / "s.yaml").write_text(REPLAY.format(dump="t.raw", trace=path))
    before = snapshot(work)
    res = zbench(["run", "s.yaml", "--no-cache"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, str(path), READ_KINDS[kind])
    assert_no_leftovers(work, before)


def test_bad_trace_found_before_any_case_runs(work: Path) -> None:
    """Two dumps: the bad trace line (at the end) must stop the run before the first case
    and leave no output folder, not a folder that looks like an interrupted run."""
    (work / "u.raw").write_bytes(make_pages(8, seed=3))
    good_lines = b"".join(b'{"op": "store", "offset": %d, "size": 300}\n' % i for i in range(50))
    (work / "tr.jsonl").write_bytes(good_lines + b'{"op": "load", "offset": 1.5}\n')
    p = work / "s.yaml"
    p.write_text(REPLAY.format(dump="t.raw", trace="tr.jsonl").replace(
        "dumps: [t.raw]", "dumps: [t.raw, u.raw]"))
    before = snapshot(work)
    line = assert_in_process_error(["run", str(p), "--no-cache"], "tr.jsonl:51", "offset")
    assert "[1/" not in line
    assert_no_leftovers(work, before)


def test_replay_options_parse_the_trace_once(work: Path) -> None:
    from zbench_workloads.replay import Replay, ReplayOptions

    (work / "tr.jsonl").write_bytes(VALID_JSON)
    opts = ReplayOptions(trace=Path("tr.jsonl"))
    (work / "tr.jsonl").write_bytes(b"garbage\n")  # not read again
    ops = list(Replay(opts, 0).operations(8))
    assert [op.offset for op in ops[:2]] == [1, 1]


# ---- sized stand-ins -----------------------------------------------------------------


def test_sized_stand_ins_count_per_size() -> None:
    sized = SizedPages(1)
    for _ in range(256):
        sized.make(1000)
    key, blob = sized.make(1)  # raised ValueError: the counter was shared across sizes
    assert len(blob) == 1
    assert sized.data(sized.lookup(blob)) == sized.data(key)


@pytest.mark.parametrize("page", [8, 9, 10**6])
def test_trace_page_beyond_the_corpus_is_found_before_any_case(work: Path, page: int) -> None:
    (work / "tr.jsonl").write_text(json.dumps({"op": "store", "offset": 0, "page": 0}) + "\n"
                                   + json.dumps({"op": "store", "offset": 1, "page": page}) + "\n")
    p = work / "s.yaml"
    p.write_text(REPLAY.format(dump="t.raw", trace="tr.jsonl"))
    before = snapshot(work)
    line = assert_in_process_error(["run", str(p), "--no-cache", "--out", str(work / "out")],
                                   "workloads[0]", "store #2", f"page {page}", "(8 pages)")
    assert line.startswith(f"zbench: error: {p}")
    assert_no_leftovers(work, before)


def test_sized_stand_ins_of_one_byte_beyond_256_still_decode() -> None:
    sized = SizedPages(2)
    made = [sized.make(1) for _ in range(600)]
    for key, blob in made:
        assert len(blob) == 1
        assert sized.data(sized.lookup(blob)) == sized.data(key)
    sizes = [sized.make(s) for s in (2, 8, 9, 4096)]
    assert len({b for _, b in sizes}) == 4


def test_size_trace_with_many_sizes_then_size_one_runs(work: Path) -> None:
    lines = [json.dumps({"op": "store", "offset": i, "size": 900}) for i in range(256)]
    lines.append(json.dumps({"op": "store", "offset": 999, "size": 1}))
    (work / "tr.jsonl").write_text("\n".join(lines) + "\n")
    p = work / "s.yaml"
    p.write_text(REPLAY.format(dump="t.raw", trace="tr.jsonl") + "verify: true\n")
    code, out, err = in_process(["run", str(p), "--no-cache", "--out", str(work / "out")])
    assert code == 0, err
    assert (work / "out" / "results.json").exists()


# ---- writing: --out, strict JSON, atomic writes -------------------------------------------

def test_run_out_under_a_regular_file(work: Path) -> None:
    (work / "s.yaml").write_text(G)
    before = snapshot(work)
    res = zbench(["run", "s.yaml", "--out", work / "t.raw" / "out"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, "t.raw/out", "Not a directory")
    assert_no_leftovers(work, before)


def test_run_out_under_dev_null_devnode(work: Path) -> None:
    (work / "s.yaml").write_text(G)
    before = snapshot(work)
    res = zbench(["run", "s.yaml", "--out", "/dev/null/out"], cwd=work, timeout=TIMEOUT)
    assert_one_line(res, 2, "/dev/null/out")
    assert_no_leftovers(work, before)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "64k", ro: bool = False) -> Iterator[Path]:
    where.mkdir()
    opts = f"size={size}" + (",ro" if ro else "")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "zbench-test", str(where)],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {res.stderr}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True, timeout=30)
        where.rmdir()


def test_run_out_on_a_read_only_filesystem(work: Path) -> None:
    (work / "s.yaml").write_text(G)
    with tmpfs(work / "ro", ro=True) as ro:
        res = zbench(["run", "s.yaml", "--out", ro / "out"], cwd=work, timeout=TIMEOUT)
        assert_one_line(res, 2, str(ro / "out"), "Read-only file system")
        assert list(ro.iterdir()) == []


def test_run_out_on_a_full_filesystem(work: Path) -> None:
    (work / "s.yaml").write_text(G)
    with tmpfs(work / "full", size="16k") as full:
        (full / "filler").write_bytes(b"\0" * 12 * 1024)
        with contextlib.suppress(OSError):
            (full / "filler2").write_bytes(b"\0" * 64 * 1024)
        res = zbench(["run", "s.yaml", "--out", full / "out"], cwd=work, timeout=TIMEOUT)
        assert_one_line(res, 2, str(full / "out"), "No space left on device")
        left = sorted(p.name for p in (full / "out").rglob("*")) if (full / "out").exists() else []
        assert not [n for n in left if n.endswith(".tmp")], left


@pytest.mark.parametrize("where", ["under-a-file", "read-only"])
def test_write_atomic_to_an_unwritable_place(tmp_path: Path, where: str) -> None:
    from zbench.api.safeio import write_atomic

    (tmp_path / "f").write_text("x")
    if where == "under-a-file":
        with pytest.raises(UserError, match=r"f/out/results.json: cannot write: Not a directory"):
            write_atomic(tmp_path / "f" / "out" / "results.json", "{}")
        return
    with tmpfs(tmp_path / "ro", ro=True) as ro:
        with pytest.raises(UserError, match=r"ro/out: cannot create the folder: Read-only"):
            write_atomic(ro / "out" / "results.json", "{}")
        with pytest.raises(UserError, match=r"ro/r.json: cannot create a file in .*Read-only"):
            write_atomic(ro / "r.json", "{}")


def test_dump_convert_onto_a_full_filesystem(work: Path) -> None:
    with tmpfs(work / "full", size="16k") as full:
        res = zbench(["dump", "convert", "t.raw", full / "d.raw", "--to", "raw"], cwd=work,
                     timeout=TIMEOUT)
        assert_one_line(res, 2, str(full / "d.raw"), "No space left on device")
        assert list(full.iterdir()) == []


def test_write_atomic_removes_its_temp_file_when_the_disk_fills(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safeio.os, "write", full)
    with pytest.raises(UserError, match=r"x\.json: cannot write: No space left on device"):
        safeio.write_atomic(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_results_write_atomic_keeps_working(tmp_path: Path) -> None:
    from zbench.api.safeio import write_atomic

    write_atomic(tmp_path / "a" / "b.txt", "hello\n")
    assert (tmp_path / "a" / "b.txt").read_text() == "hello\n"
    os.mkfifo(tmp_path / "f")
    with pytest.raises(UserError, match="not a regular file"):
        write_atomic(tmp_path / "f", "x")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_results_json_refuses_non_finite_numbers(tmp_path: Path, value: float) -> None:
    from zbench.report.render import write_run
    from zbench.run.results import dumps_json

    results = {"cases": [{}, {}, {}, {"metrics": {"pool_pages": value}}]}
    with pytest.raises(UserError) as exc:
        dumps_json(results)
    assert str(exc.value) == (f"results.json: cases[3].metrics.pool_pages: not a finite "
                              f"number ({value})")
    with pytest.raises(UserError, match=r"cases\[3\]\.metrics\.pool_pages"):
        write_run(results, tmp_path / "out")
    assert not (tmp_path / "out" / "results.json").exists()


def test_read_limits(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"a" * 101)
    assert safeio.read_bytes(p, 101) == b"a" * 101
    with pytest.raises(UserError, match="larger than 100 bytes"):
        safeio.read_bytes(p, 100)


# ---- generated hostile input ---------------------------------------------------------------

JUNK = st.one_of(st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                 st.text(max_size=12), st.none(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
FIELDS = ["name", "seed", "verify", "description", "dumps", "compressors", "allocators",
          "workloads", "frontends", "timing", "exclude", "reports", "requires"]
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def assert_clean(code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    if code != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, (code, err)
        assert len(lines) == 1, err
        assert lines[0].startswith("zbench: error: ")


@SETTINGS
@given(field=st.sampled_from(FIELDS), value=JUNK,
       option=st.sampled_from(["chain_size", "kernel", "nope", None]))
@pytest.mark.slow
def test_generated_wrong_typed_suites(work: Path, field: str, value: object,
                                      option: str | None) -> None:
    import yaml

    data = yaml.safe_load(G)
    if option is None:
        data[field] = value
    else:
        data["allocators"][0]["options"][option] = value
    p = work / "gen.yaml"
    try:
        p.write_text(json.dumps(data))  # JSON is YAML (a NaN is written as NaN: junk too)
    except ValueError:
        return
    code, out, err = in_process(["run", str(p), "--no-cache", "--no-timing",
                                 "--out", str(work / "gen-out")])
    assert_clean(code, out, err)


@SETTINGS
@given(junk=st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#%@` \n\tab01.")),
                    max_size=80))
def test_generated_yaml_junk(work: Path, junk: str) -> None:
    p = work / "junk.yaml"
    p.write_text(G + junk)
    code, out, err = in_process(["run", str(p), "--no-cache", "--no-timing",
                                 "--out", str(work / "junk-out")])
    assert_clean(code, out, err)


TRACE_LINE = st.one_of(
    st.builds(lambda op, key, v: json.dumps({"op": op, key: v, "offset": 1}),
              st.sampled_from(["store", "load", "invalidate", "compact", "phase", "x"]),
              st.sampled_from(["page", "size", "offset", "label"]), JUNK),
    st.text(max_size=40),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
)


@SETTINGS
@given(lines=st.lists(TRACE_LINE, min_size=1, max_size=5), csv_header=st.booleans())
def test_generated_bad_traces(work: Path, lines: list[str], csv_header: bool) -> None:
    shutil.rmtree(work / "g-out", ignore_errors=True)  # one folder for every example
    head = "op,offset,page,size\n" if csv_header else ""
    (work / "g.trace").write_bytes((head + "\n".join(lines) + "\n").encode("utf-8", "replace"))
    p = work / "g.yaml"
    p.write_text(REPLAY.format(dump="t.raw", trace="g.trace"))
    code, out, err = in_process(["run", str(p), "--no-cache", "--out", str(work / "g-out")])
    assert code in (0, 2), (code, err)  # a page beyond the corpus too: found before any case
    assert "Traceback" not in out + err
    if code == 2:
        assert_clean(code, out, err)
        assert not (work / "g-out").exists()
