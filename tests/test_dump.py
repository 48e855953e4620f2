"""zbench.input.dump: formats, round trips, atomic 0600 writes, one-line errors; dumpcli."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from zbench.api.errors import DumpError, UserError
from zbench.api.frames import PAGE_SIZE
from zbench.cli.dumpcli import dump_group
from zbench.input import dump as dumpmod
from zbench.input.dump import MAGIC, Dump, convert, load_dump, write_dump, write_raw

DEFAULT_DUMP = Path(__file__).resolve().parent.parent / "dumps" / "default.zbdump"


def make_pages(n: int, seed: int = 0) -> bytes:
    out = bytearray()
    for i in range(n):
        head = f"page {i} seed {seed} ".encode()
        out += (head * (PAGE_SIZE // len(head) + 1))[:PAGE_SIZE]
    return bytes(out)


RUNS = [["heap", "python", 0, 2], ["anon", "cc1", 2, 3], ["stack", "sort", 5, 1]]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".tmp-" in p.name]


def build(meta: dict, payload: bytes) -> bytes:
    raw = json.dumps(meta).encode()
    return MAGIC + len(raw).to_bytes(8, "little") + raw + payload


def good_meta(pages: bytes) -> dict:
    return {
        "version": 1,
        "page_size": PAGE_SIZE,
        "n_pages": len(pages) // PAGE_SIZE,
        "sha256": hashlib.sha256(pages).hexdigest(),
    }


# -- round trips ---------------------------------------------------------------------------


def test_raw_round_trip(tmp_path: Path) -> None:
    pages = make_pages(3)
    path = tmp_path / "x.raw"
    write_raw(path, pages)
    assert path.read_bytes() == pages
    assert mode(path) == 0o600
    d = load_dump(path)
    assert isinstance(d, Dump)
    assert (d.format, d.n_pages, d.path) == ("raw", 3, path)
    assert d.sha256 == hashlib.sha256(pages).hexdigest()
    assert d.meta["format"] == "raw" and d.meta["n_pages"] == 3
    assert d.data == pages
    assert d.page(1) == pages[PAGE_SIZE : 2 * PAGE_SIZE]
    assert d.page(-1) == pages[-PAGE_SIZE:]
    assert d.region_class(0) == d.source(2) == "unknown"
    with pytest.raises(IndexError):
        d.page(3)


def test_zbench_round_trip(tmp_path: Path) -> None:
    pages = make_pages(6)
    path = tmp_path / "x.zbdump"
    write_dump(path, pages, {"page_runs": RUNS, "captured": {"command": ["demo"]}})
    assert path.read_bytes().startswith(MAGIC)
    assert mode(path) == 0o600
    d = load_dump(path)
    assert (d.format, d.n_pages, d.data) == ("zbench", 6, pages)
    assert d.sha256 == hashlib.sha256(pages).hexdigest() == d.meta["sha256"]
    for key in ("version", "page_size", "n_pages", "kernel", "thp", "tools", "captured"):
        assert key in d.meta
    assert [d.region_class(i) for i in range(6)] == ["heap"] * 2 + ["anon"] * 3 + ["stack"]
    assert [d.source(i) for i in range(6)] == ["python"] * 2 + ["cc1"] * 3 + ["sort"]
    assert d.breakdown() == {"python": {"heap": 2}, "cc1": {"anon": 3}, "sort": {"stack": 1}}
    assert path.stat().st_size < len(pages) // 4  # really compressed


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["anon", "heap"]), st.integers(1, 3)), min_size=1,
                max_size=4), st.integers(0, 2**32))  # fmt: skip
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory,
                             spans: list[tuple[str, int]], seed: int) -> None:  # fmt: skip
    runs, start = [], 0
    for region, n in spans:
        runs.append([region, f"src{start}", start, n])
        start += n
    pages = make_pages(start, seed)
    path = tmp_path_factory.mktemp("p") / "d.zbdump"
    write_dump(path, pages, {"page_runs": runs})
    d = load_dump(path)
    assert d.data == pages and d.n_pages == start
    for region, source, first, n in runs:
        assert d.region_class(first + n - 1) == region and d.source(first) == source


def test_convert_round_trip(tmp_path: Path) -> None:
    pages = make_pages(4)
    write_raw(tmp_path / "a.raw", pages)
    convert(tmp_path / "a.raw", tmp_path / "b.zbdump", "zbench")
    convert(tmp_path / "b.zbdump", tmp_path / "c.raw", "raw")
    b, c = load_dump(tmp_path / "b.zbdump"), load_dump(tmp_path / "c.raw")
    assert b.format == "zbench" and c.format == "raw"
    assert b.sha256 == c.sha256 == hashlib.sha256(pages).hexdigest()
    assert b.meta["converted_from"]["format"] == "raw"
    assert mode(tmp_path / "b.zbdump") == mode(tmp_path / "c.raw") == 0o600


# -- atomic 0600 writes --------------------------------------------------------------------


def test_mode_0600_despite_umask_and_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "x.zbdump"
    path.write_bytes(b"old")
    path.chmod(0o644)
    old = os.umask(0)
    try:
        write_dump(path, make_pages(1), {})
        write_raw(tmp_path / "y.raw", make_pages(1))
    finally:
        os.umask(old)
    assert mode(path) == 0o600 and mode(tmp_path / "y.raw") == 0o600


def test_atomic_write_failed_rename_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.zbdump"
    path.write_bytes(b"previous contents")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dumpmod.os, "replace", broken_replace)
    with pytest.raises(DumpError, match="No space left"):
        write_dump(path, make_pages(2), {})
    assert path.read_bytes() == b"previous contents"
    assert leftovers(tmp_path) == []


def test_atomic_write_failed_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = []

    def flaky_write(fd: int, data: object) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        return real_write(fd, memoryview(data)[:100])  # type: ignore[arg-type]  # short write

    monkeypatch.setattr(dumpmod.os, "write", flaky_write)
    for writer in (write_raw, lambda p, pages: write_dump(p, pages, {})):
        calls.clear()
        with pytest.raises(DumpError):
            writer(tmp_path / "x.bin", make_pages(2))
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_bad_pages_and_runs(tmp_path: Path) -> None:
    for pages in (b"", b"x" * 100):
        with pytest.raises(DumpError):
            write_raw(tmp_path / "r", pages)
        with pytest.raises(DumpError):
            write_dump(tmp_path / "z", pages, {})
    with pytest.raises(DumpError, match="cover"):
        write_dump(tmp_path / "z", make_pages(3), {"page_runs": [["anon", "x", 0, 2]]})
    assert list(tmp_path.iterdir()) == []


# -- every bad input: one-line DumpError naming the file -------------------------------------


def assert_dump_error(path: Path, *needles: str) -> DumpError:
    with pytest.raises(DumpError) as info:
        load_dump(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert isinstance(info.value, UserError)
    for needle in needles:
        assert needle in msg, msg
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    assert_dump_error(tmp_path / "nope.zbdump", "no such file")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    assert_dump_error(tmp_path / "e", "empty")


def test_truncated_raw(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"\1" * 10000)
    assert_dump_error(tmp_path / "t", "size 10000 is not a multiple of 4096 (truncated dump?)")


def test_directory(tmp_path: Path) -> None:
    assert_dump_error(tmp_path, "directory")


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.raw"
    write_raw(path, make_pages(1))

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dumpmod.os, "open", denied)
    assert_dump_error(path, "permission denied")


def corrupt_cases(pages: bytes) -> dict[str, tuple[bytes, str]]:
    meta = good_meta(pages)
    payload = zstandard.ZstdCompressor().compress(pages)
    good = build(meta, payload)
    bad_payload = bytearray(payload)
    for i in range(len(bad_payload) // 2, len(bad_payload) // 2 + 16):
        bad_payload[i] ^= 0xFF
    return {
        "bad magic version": (b"ZBENCHDUMP 9\n" + good[len(MAGIC) :], "bad zbench header"),
        "header cut": (MAGIC + b"\x01\x02", "truncated"),
        "length past end": (MAGIC + (10**6).to_bytes(8, "little") + b"{}", "metadata length"),
        "json": (MAGIC + (5).to_bytes(8, "little") + b"{oops" + payload, "not valid JSON"),
        "json not object": (build([1, 2], payload), "not a JSON object"),  # type: ignore[arg-type]
        "no sha": (build({**meta, "sha256": None}, payload), "lacks sha256"),
        "version": (build({**meta, "version": 7}, payload), "version 7"),
        "payload missing": (build(meta, b""), "payload is missing"),
        "payload corrupt": (build(meta, bytes(bad_payload)), ""),
        "payload garbage": (build(meta, b"\x00" * 64), "decompress"),
        "payload cut": (good[: len(good) - len(payload) // 2], ""),
        "sha mismatch": (build({**meta, "sha256": "0" * 64}, payload), "sha256 mismatch"),
        "page count": (build({**meta, "n_pages": 5}, payload), "wrong page count"),
        "runs": (build({**meta, "page_runs": [["anon", "x", 0, 1]]}, payload), "page_runs"),
    }


@pytest.mark.parametrize("case", list(corrupt_cases(make_pages(3))))
def test_corrupt_zbench(tmp_path: Path, case: str) -> None:
    blob, needle = corrupt_cases(make_pages(3))[case]
    path = tmp_path / f"{case.replace(' ', '_')}.zbdump"
    path.write_bytes(blob)
    assert_dump_error(path, needle)


def test_good_build_helper_loads(tmp_path: Path) -> None:
    pages = make_pages(3)
    (tmp_path / "ok").write_bytes(build(good_meta(pages), zstandard.compress(pages)))
    assert load_dump(tmp_path / "ok").data == pages  # so the corrupt cases test what they say


# -- CLI -------------------------------------------------------------------------------------


def test_cli_info_and_convert(tmp_path: Path) -> None:
    pages = make_pages(6)
    write_dump(tmp_path / "d.zbdump", pages, {"page_runs": RUNS})
    runner = CliRunner()
    res = runner.invoke(dump_group, ["info", str(tmp_path / "d.zbdump")])
    assert res.exit_code == 0, res.output
    assert "zbench" in res.output and hashlib.sha256(pages).hexdigest() in res.output
    assert "cc1" in res.output and "heap" in res.output
    res = runner.invoke(dump_group, ["info", "--json", str(tmp_path / "d.zbdump")])
    info = json.loads(res.output)
    assert info["n_pages"] == 6 and info["breakdown"]["cc1"] == {"anon": 3}
    res = runner.invoke(dump_group, ["convert", str(tmp_path / "d.zbdump"),
                                     str(tmp_path / "d.raw"), "--to", "raw"])  # fmt: skip
    assert res.exit_code == 0 and (tmp_path / "d.raw").read_bytes() == pages
    res = runner.invoke(dump_group, ["info", str(tmp_path / "missing")])
    assert isinstance(res.exception, DumpError)


# -- the shipped default dump ------------------------------------------------------------------


@pytest.mark.skipif(not DEFAULT_DUMP.exists(), reason="dumps/default.zbdump not generated")
def test_default_dump_shape() -> None:
    d = load_dump(DEFAULT_DUMP)
    assert d.format == "zbench" and d.n_pages >= 4096
    assert DEFAULT_DUMP.stat().st_size <= 8 << 20
    assert len(d.breakdown()) >= 4
    assert "unknown" not in d.breakdown()
    for _region, _source, start, count in d.page_runs:
        assert start % 16 == 0 and count % 16 == 0  # sampled in runs of 16 pages
    assert d.meta["sampling"]["run_pages"] == 16
    zero = sum(d.page(i) == bytes(PAGE_SIZE) for i in range(d.n_pages))
    assert zero < d.n_pages // 20
