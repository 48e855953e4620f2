"""Compression dictionaries on the zstd and lz4 compressors (zram's ``algorithm_params``
dict=, Linux 6.12: drivers/block/zram/backend_zstd.c, backend_lz4.c) and
``zbench dict train``: round trips, the held-out half of the shipped dump, the cache keys,
bad input (exit 2, one line) and the defaults left as they were."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lz4.block
import pytest
import zstandard
from zbench_compressors import Lz4, Lz4Options, Zstd, ZstdOptions
from zbench_compressors.cli import held_out_pages, training_pages

from zbench import default_dump_path, load_dump
from zbench.input.compcache import cache_key
from zbench.run.casecache import input_files

ZSTD_DICT_MAGIC = 0xEC30A437


@pytest.fixture(scope="module")
def pages() -> list[bytes]:
    d = load_dump(default_dump_path())
    return [d.page(i) for i in range(d.n_pages)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, pages: list[bytes]) -> Path:
    """A 16 KiB zstd dictionary trained, as ``zbench dict train --half even`` does, on the
    even-indexed pages of the shipped dump."""
    path = tmp_path_factory.mktemp("dict") / "even.zdict"
    samples = [pages[i] for i in training_pages(len(pages), "even")]
    path.write_bytes(zstandard.train_dictionary(16384, samples).as_bytes())
    return path


def _round_trip(comp: Any, pages: Sequence[bytes]) -> None:
    for i, p in enumerate(pages):
        assert comp.decompress(comp.compress(p), len(p)) == p, f"page {i}"


def test_zstd_round_trips_with_a_trained_and_a_raw_dictionary(
        pages: list[bytes], trained: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw.dict"
    raw.write_bytes(b"".join(pages[:4]))  # raw content: no magic, the bytes themselves
    some = pages[1::16]
    for path in (trained, raw):
        comp = Zstd(ZstdOptions(dictionary=path))
        _round_trip(comp, some)
    # the trained dictionary is used: its ID is in each frame, which needs it to decompress
    frame = Zstd(ZstdOptions(dictionary=trained)).compress(pages[1])
    assert zstandard.get_frame_parameters(frame).dict_id == zstandard.ZstdCompressionDict(
        trained.read_bytes()).dict_id() != 0
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(frame, max_output_size=4096)


def test_lz4_round_trips_with_a_dictionary_and_needs_it_back(
        pages: list[bytes], trained: Path) -> None:
    comp = Lz4(Lz4Options(dictionary=trained))
    _round_trip(comp, pages[1::16])
    page = next(p for p in pages[1::2] if len(comp.compress(p)) < len(Lz4(Lz4Options())
                                                                      .compress(p)))
    data = comp.compress(page)  # matches into the dictionary: useless without it
    try:
        back = lz4.block.decompress(data, uncompressed_size=len(page))
    except lz4.block.LZ4BlockError:
        back = b""
    assert back != page


def _total(comp: Any, pages: Sequence[bytes]) -> int:
    return sum(len(comp.compress(p)) for p in pages)


def test_a_trained_dictionary_on_the_held_out_half(pages: list[bytes], trained: Path) -> None:
    """The odd-indexed pages, which the dictionary never saw.  Measured with libzstd
    1.5.x: at level 8 the trained dictionary saves bytes; at the kernel's default level 3
    it costs them on this dump (its entropy tables do not fit the held-out pages), so only
    the level-8 direction is asserted and both are printed."""
    held = [pages[i] for i in held_out_pages(len(pages), "even")]
    sizes = {}
    for level in (3, 8):
        sizes[level] = (_total(Zstd(ZstdOptions(level=level)), held),
                        _total(Zstd(ZstdOptions(level=level, dictionary=trained)), held))
        print(f"zstd level {level}: {sizes[level][0]} bytes, with the trained dictionary "
              f"{sizes[level][1]} bytes ({len(held)} held-out pages)")
    lz4_sizes = (_total(Lz4(Lz4Options()), held),
                 _total(Lz4(Lz4Options(dictionary=trained)), held))
    print(f"lz4: {lz4_sizes[0]} bytes, with the dictionary {lz4_sizes[1]} bytes")
    assert sizes[8][1] < sizes[8][0]
    assert lz4_sizes[1] < lz4_sizes[0]


def test_the_cache_keys_follow_the_dictionary_content(tmp_path: Path, pages: list[bytes]
                                                      ) -> None:
    path = tmp_path / "d.dict"
    keys, files = [], []
    for content in (pages[0], pages[2]):
        path.write_bytes(content)
        for cls, opts in ((Zstd, ZstdOptions), (Lz4, Lz4Options)):
            o = opts(dictionary=path)
            keys.append(cache_key("0" * 64, cls(o)))  # the compressed pages' cache
            files.append(input_files(o))  # the cases' cache: the files the options name
    assert len(set(keys)) == 4
    assert files[0] != files[2] and files[1] != files[3]
    assert "options.dictionary" in files[0]
    # the path is not part of the compressed pages' key, the content is
    other = tmp_path / "copy.dict"
    other.write_bytes(pages[2])
    assert cache_key("0" * 64, Zstd(ZstdOptions(dictionary=other))) == keys[2]


def test_without_a_dictionary_nothing_changes(pages: list[bytes]) -> None:
    """The options' record, the parameters (so every cache key) and the bytes are those of
    the compressors before the option existed."""
    assert ZstdOptions().model_dump(mode="json") == {"level": 3}
    assert Lz4Options().model_dump(mode="json") == {"acceleration": 1}
    assert Zstd(ZstdOptions()).params() == {"level": 3}
    assert Lz4(Lz4Options()).params() == {"acceleration": 1}
    plain = zstandard.ZstdCompressor(level=3, write_checksum=False, write_content_size=True,
                                     write_dict_id=False)
    zstd, lz = Zstd(ZstdOptions()), Lz4(Lz4Options())
    for p in pages[::64]:
        assert zstd.compress(p) == plain.compress(p)
        assert lz.compress(p) == lz4.block.compress(p, mode="fast", acceleration=1,
                                                    store_size=False)


def _bad_inputs(tmp: Path) -> list[tuple[str, Path, str]]:
    (tmp / "empty").write_bytes(b"")
    (tmp / "big").write_bytes(b"x" * ((1 << 20) + 1))
    (tmp / "dir").mkdir()
    (tmp / "bad-zstd").write_bytes(struct.pack("<II", ZSTD_DICT_MAGIC, 1) + b"garbage" * 20)
    (tmp / "lz4-big").write_bytes(b"y" * (64 * 1024 + 1))
    (tmp / "lz4-small").write_bytes(b"1234567")
    return [("zstd", tmp / "missing", "no such dictionary file"),
            ("zstd", tmp / "empty", "is empty"),
            ("lz4", tmp / "big", "larger than 1 MiB"),
            ("zstd", tmp / "dir", "not a regular file (a directory)"),
            ("zstd", Path("/dev/zero"), "not a regular file (a character device)"),
            ("zstd", tmp / "bad-zstd", "zstd refuses it as a dictionary"),
            ("lz4", tmp / "lz4-big", "must be 8 to 65536 bytes"),
            ("lz4", tmp / "lz4-small", "must be 8 to 65536 bytes")]


def _one_line_error(res: Any) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_bad_dictionaries_exit_2_with_one_line(zbench_cli: Callable[..., Any], tmp_path: Path,
                                               zbench_pages: Callable[..., Path]) -> None:
    dump = zbench_pages(16)
    for name, path, why in _bad_inputs(tmp_path):
        res = zbench_cli("run", "--dump", str(dump), "--compressor", name, "--set",
                         f"{name}.dictionary={path}", "--no-timing", "--out",
                         str(tmp_path / "out"))
        line = _one_line_error(res)
        assert f"{name}.dictionary" in line and str(path) in line and why in line, line
        assert not (tmp_path / "out").exists()


def test_a_suite_names_the_option_of_a_bad_dictionary(zbench_cli: Callable[..., Any],
                                                      tmp_path: Path,
                                                      zbench_pages: Callable[..., Path]) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(f"name: s\ndumps: [{zbench_pages(16)}]\ncompressors: [lz4, {{name: zstd, "
                     f"options: {{dictionary: {tmp_path / 'none'}}}}}]\n"
                     "allocators: [zsmalloc]\nworkloads: [fill]\n")
    line = _one_line_error(zbench_cli("run", str(suite), "--no-timing"))
    assert "s.yaml: compressors[1].options.dictionary:" in line and "no such" in line, line


def test_dict_train_writes_a_loadable_dictionary(zbench_cli: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "first.zdict"
    res = zbench_cli("dict", "train", str(default_dump_path()), "--out", str(out),
                     "--size", "8192", "--half", "first")
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert len(data) == 8192 and struct.unpack("<I", data[:4])[0] == ZSTD_DICT_MAGIC
    n = load_dump(default_dump_path()).n_pages
    assert f"of {n} pages (first half" in res.stdout  # how many it sampled, of how many
    sampled = int(res.stdout.split(" from ")[1].split()[0])
    assert 0 < sampled <= n // 2
    comp = Zstd(ZstdOptions(dictionary=out))
    page = load_dump(default_dump_path()).page(n - 1)
    assert comp.decompress(comp.compress(page), len(page)) == page


def test_dict_train_bad_input_exits_2(zbench_cli: Callable[..., Any], tmp_path: Path) -> None:
    line = _one_line_error(zbench_cli("dict", "train", str(tmp_path / "none.zbdump"),
                                      "--out", str(tmp_path / "d")))
    assert "none.zbdump" in line
    (tmp_path / "dir").mkdir()
    line = _one_line_error(zbench_cli("dict", "train", str(default_dump_path()),
                                      "--out", str(tmp_path / "dir"), "--size", "1024"))
    assert "dir" in line
    assert not list((tmp_path / "dir").iterdir())
