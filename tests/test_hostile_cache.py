"""The case cache and the compressed-page cache trust nothing they did not make.

A case is keyed on the content of every file its options name (not the path), and
every cache entry carries an HMAC-SHA256 under the cache's own secret: an edited,
corrupted or transplanted entry is recomputed and replaced, never read back as
results (docs/scale.md, zbench/run/casecache.py, zbench/input/compcache.py).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, Field

from zbench.cli.app import _add_dump_commands, cli
from zbench.input import compcache
from zbench.run import casecache

SUITE = """\
name: hc
seed: 3
dumps: [{dump}]
compressors: [lz4]
frontends: [{{name: zswap, options: {{kernel: "6.6"}}}}]
allocators: [{{name: zsmalloc, options: {{kernel: "6.6"}}}}]
workloads: [{workloads}]
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZBENCH_CACHE", str(cache))
    return cache


def invoke(args: list[str]) -> Result:
    _add_dump_commands()
    return CliRunner().invoke(cli, args)


def run(suite: Path, out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    res = invoke(["run", str(suite), "--no-timing", "--json", "--out", str(out), *extra])
    assert res.exit_code == 0, (res.stdout, res.stderr, res.exception)
    return json.loads(res.stdout), res.stderr


def metrics(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["metrics"] for c in results["cases"]]


def write_trace(path: Path, pages: list[int], invalidate: int = 0) -> None:
    lines = [{"op": "store", "offset": i, "page": p} for i, p in enumerate(pages)]
    lines += [{"op": "invalidate", "offset": i} for i in range(invalidate)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


@pytest.fixture
def fill_suite(tmp_path: Path, raw_dump: Path) -> Path:
    p = tmp_path / "fill.yaml"
    p.write_text(SUITE.format(dump=raw_dump, workloads="fill"), encoding="utf-8")
    return p


def case_files() -> list[Path]:
    return sorted(casecache.cases_dir().glob("*.json"))


# -- the key: file content, not path --------------------------------------------------

def test_editing_a_replay_trace_recomputes_with_the_new_numbers(tmp_path: Path,
                                                                raw_dump: Path) -> None:
    trace = tmp_path / "t.jsonl"
    write_trace(trace, list(range(40)))
    suite = tmp_path / "r.yaml"
    suite.write_text(SUITE.format(dump=raw_dump,
                                  workloads=f"{{name: replay, options: {{trace: '{trace}'}}}}"),
                     encoding="utf-8")
    first, _ = run(suite, tmp_path / "a")
    again, err = run(suite, tmp_path / "b")
    assert "(cached)" in err and metrics(again) == metrics(first)
    write_trace(trace, list(range(200)), invalidate=10)  # same path, other content
    edited, err = run(suite, tmp_path / "c")
    assert "(cached)" not in err
    assert edited["cases"][0]["metrics"]["stored_pages"] != first["cases"][0]["metrics"][
        "stored_pages"]
    fresh, _ = run(suite, tmp_path / "d", "--no-cache")
    assert metrics(edited) == metrics(fresh)


class _Inner(BaseModel):
    files: list[Path] = []
    by_name: dict[str, Path] = {}


class _Opts(BaseModel):
    trace: Path | None = None
    dictionary: str = Field("", json_schema_extra={"format": "path"})
    label: str = ""
    inner: _Inner = _Inner()


def test_input_files_finds_paths_in_nested_options(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / n for n in "abcd")
    for p, text in ((a, "1"), (b, "2"), (c, "3"), (d, "4")):
        p.write_text(text)
    opts = _Opts(trace=a, dictionary=str(b), label=str(c),
                 inner=_Inner(files=[c], by_name={"x": d}))
    got = casecache.input_files(opts)
    assert set(got) == {"options.trace", "options.dictionary", "options.inner.files[0]",
                        "options.inner.by_name.x"}  # a plain str field is no path
    assert all("sha256:" in v for v in got.values())
    before = dict(got)
    b.write_text("changed")
    after = casecache.input_files(opts)
    assert after["options.dictionary"] != before["options.dictionary"]
    assert {k: v for k, v in after.items() if k != "options.dictionary"} == {
        k: v for k, v in before.items() if k != "options.dictionary"}


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "unreadable"])
def test_input_files_marks_what_is_not_a_readable_file(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "thing"
    if kind == "directory":
        p.mkdir()
    elif kind == "fifo":
        os.mkfifo(p)  # must not block
    elif kind == "unreadable":
        p.write_text("secret")
        p.chmod(0)
        if os.access(p, os.R_OK):  # root reads anything
            pytest.skip("running as root")
    got = casecache.input_files(_Opts(trace=p))["options.trace"]
    assert "sha256:" not in got and str(p) in got


def test_source_digest_covers_namespace_packages_and_single_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = tmp_path / "zbhc_nspkg"
    ns.mkdir()
    (ns / "model.py").write_text("X = 1\n")
    (tmp_path / "zbhc_single.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    casecache._source_digest.cache_clear()
    first = casecache._source_digest("zbhc_nspkg.model:Thing")
    single = casecache._source_digest("zbhc_single")
    assert first and single
    (ns / "model.py").write_text("X = 2\n")
    (tmp_path / "zbhc_single.py").write_text("Y = 2\n")
    casecache._source_digest.cache_clear()
    assert casecache._source_digest("zbhc_nspkg.model:Thing") != first
    assert casecache._source_digest("zbhc_single") != single
    casecache._source_digest.cache_clear()


# -- case entries: digests --------------------------------------------------------------

def _edit_outcome(path: Path, fn: Any) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("tamper", ["pool_pages", "bitflip", "no_digest", "digest_of_other"])
def test_a_tampered_case_entry_is_recomputed_not_trusted(fill_suite: Path, tmp_path: Path,
                                                         tamper: str) -> None:
    first, _ = run(fill_suite, tmp_path / "a")
    (victim,) = case_files()
    true_pages = first["cases"][0]["metrics"]["pool_pages"]
    if tamper == "pool_pages":
        _edit_outcome(victim, lambda d: d["outcome"]["metrics"].update(pool_pages=1))
    elif tamper == "bitflip":
        raw = bytearray(victim.read_bytes())
        at = raw.index(b'"pool_pages": ') + len(b'"pool_pages": ')
        while raw[at + 1] in b"0123456789":
            at += 1
        raw[at] ^= 0x01  # the last digit becomes another digit: still valid JSON
        victim.write_bytes(bytes(raw))
    elif tamper == "no_digest":
        _edit_outcome(victim, lambda d: (d.pop("digest", None),
                                         d["outcome"]["metrics"].update(pool_pages=1)))
    else:  # a digest copied from an entry made for other numbers
        _edit_outcome(victim, lambda d: d["outcome"]["metrics"].update(pool_pages=1))
        data = json.loads(victim.read_text())
        data["digest"] = "00" * 32
        victim.write_text(json.dumps(data))
    again, err = run(fill_suite, tmp_path / "b")
    assert "(cached)" not in err
    assert again["cases"][0]["metrics"]["pool_pages"] == true_pages
    assert metrics(again) == metrics(first)
    # the entry was replaced by a good one: the next run reads it
    third, err = run(fill_suite, tmp_path / "c")
    assert "(cached)" in err and metrics(third) == metrics(first)


def test_an_entry_moved_to_another_key_is_not_trusted(tmp_path: Path, raw_dump: Path) -> None:
    suite = tmp_path / "two.yaml"
    suite.write_text(SUITE.format(dump=raw_dump,
                                  workloads="fill, {name: churn, options: {steps: 300}}"),
                     encoding="utf-8")
    first, _ = run(suite, tmp_path / "a")
    a, b = case_files()
    key_b = json.loads(b.read_text())["key"]
    data = json.loads(a.read_text())
    data["key"] = key_b  # the other case's numbers, under this case's key
    b.write_text(json.dumps(data))
    again, err = run(suite, tmp_path / "b")
    assert err.count("(cached)") == 1
    assert metrics(again) == metrics(first)


def test_cache_files_and_secret_are_owner_only(fill_suite: Path, tmp_path: Path,
                                               _own_cache: Path) -> None:
    run(fill_suite, tmp_path / "a")
    secret = _own_cache / compcache.SECRET
    files = [secret, *case_files(), *(_own_cache / "compressed").glob("*.bin")]
    assert len(files) >= 3
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, (f, oct(f.stat().st_mode))
    assert len(bytes.fromhex(secret.read_text().strip())) == 32


def test_a_replaced_secret_invalidates_every_entry(fill_suite: Path, tmp_path: Path,
                                                   _own_cache: Path) -> None:
    first, _ = run(fill_suite, tmp_path / "a")
    (victim,) = case_files()
    _edit_outcome(victim, lambda d: d["outcome"]["metrics"].update(pool_pages=1))
    # an attacker who can write the cache but not read the secret cannot re-sign it; one
    # who replaces the secret with a readable one gets it replaced again
    secret = _own_cache / compcache.SECRET
    secret.write_text("ab" * 32 + "\n")
    secret.chmod(0o644)
    again, err = run(fill_suite, tmp_path / "b")
    assert "(cached)" not in err and metrics(again) == metrics(first)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_text().strip() != "ab" * 32


# -- compressed pages -------------------------------------------------------------------

def _sizes_table(raw_dump: Path) -> bytes:
    from zbench.api.registry import get_registry
    from zbench.input.dump import load_dump

    dump = load_dump(raw_dump)
    cls = get_registry().get("compressor", "lz4")
    comp = cls(cls.Options())
    comp.bind(dump)
    blobs = compcache.compress_dump(dump, comp, use_cache=False)
    return array("I", map(len, blobs)).tobytes()


def _bin() -> Path:
    (path,) = (compcache.cache_dir() / "compressed").glob("*.bin")
    return path


def test_corrupted_sizes_in_the_compressed_cache_give_the_clean_metrics(
        fill_suite: Path, tmp_path: Path, raw_dump: Path) -> None:
    clean, _ = run(fill_suite, tmp_path / "a", "--no-cache")
    run(fill_suite, tmp_path / "b")  # fills both caches
    table = _sizes_table(raw_dump)
    path = _bin()
    raw = bytearray(path.read_bytes())
    at = raw.index(table)
    sizes = array("I")
    sizes.frombytes(table)
    big = max(range(len(sizes)), key=lambda i: sizes[i])
    small = min(range(len(sizes)), key=lambda i: sizes[i])
    sizes[big] -= 1000  # the total stays the same: the file still parses
    sizes[small] += 1000
    raw[at : at + len(table)] = sizes.tobytes()
    path.write_bytes(bytes(raw))
    for p in case_files():  # the case cache would hide the compressed pages
        p.unlink()
    again, err = run(fill_suite, tmp_path / "c")
    assert "(cached)" not in err
    assert metrics(again) == metrics(clean)
    assert path.read_bytes().find(table) >= 0  # rewritten with the true sizes


@pytest.mark.parametrize("where", ["blob", "middle", "tail"])
def test_a_flipped_byte_in_the_compressed_cache_is_recompressed(
        fill_suite: Path, tmp_path: Path, raw_dump: Path, where: str) -> None:
    run(fill_suite, tmp_path / "a")
    path = _bin()
    good = path.read_bytes()
    table = _sizes_table(raw_dump)
    raw = bytearray(good)
    at = {"blob": raw.index(table) + len(table) + 100, "middle": len(raw) // 2,
          "tail": len(raw) - 1}[where]
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))
    for p in case_files():
        p.unlink()
    run(fill_suite, tmp_path / "b")
    assert path.read_bytes() == good  # detected, recompressed and rewritten


def test_compress_dump_never_returns_tampered_blobs(raw_dump: Path) -> None:
    from zbench.api.registry import get_registry
    from zbench.input.dump import load_dump

    dump = load_dump(raw_dump)
    cls = get_registry().get("compressor", "lz4")
    comp = cls(cls.Options())
    comp.bind(dump)
    truth = compcache.compress_dump(dump, comp, use_cache=False)
    assert compcache.compress_dump(dump, comp) == truth  # written
    path = _bin()
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert compcache.compress_dump(dump, comp) == truth


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("Linux only")
