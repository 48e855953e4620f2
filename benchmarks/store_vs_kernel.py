"""The model's store and load path beside the running kernel's zram, on the same pages, in
one run: measured, not asserted (root and zram needed).

    sudo python benchmarks/store_vs_kernel.py [--dump DUMP] [--passes 7] [--json]

Kernel: a zram device of our own (``hot_add``; lz4; removed afterwards, even on Ctrl-C:
``zbench_zramkernel.device.ZramDevice``), the pages written with ``O_DIRECT`` in 1 MiB
writes (256 pages a bio batch: ``zram_write_page`` per page, lz4 in the kernel) and read
back the same way, per pass a fresh device (``reset`` between passes).  Model: zbench's
zram 6.18 front end over the zsmalloc model (chain 8) with python-lz4, ``store`` of every
page (same-filled check, lz4 compression, ``zs_malloc``, the copy into the frame) and
``load`` of every page (copy out, decompression), a fresh pool per pass, the garbage
collector off while timed.  Passes alternate kernel / model so load on this shared
machine hits both alike; the medians per page and their ratio are printed.  The model's
figures are the Python model's own cost (what a sweep pays), not a claim about the kernel.
Each pass also times the compressor plugin alone on the same pages (``compress`` of every
page, then ``decompress`` of every result: the calls the model's store and load make),
the floor of any model that calls it once a page, and, with ``--native``, the same store
and load in C with the state native (``native_floor.c``, liblz4; a measurement of what a
native core could reach, not a model zbench runs).
"""

from __future__ import annotations

import argparse
import gc
import json
import mmap
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zbench

BATCH = 256  # pages per O_DIRECT write or read: 1 MiB


class _Page:
    """A page offered to the front end, compressed live (as the store path does)."""

    __slots__ = ("data", "_comp", "clean")

    def __init__(self, data: bytes, comp: zbench.Compressor) -> None:
        self.data, self._comp, self.clean = data, comp, False

    @property
    def compressed(self) -> bytes:
        return self._comp.compress(self.data)


def kernel_pass(pages: list[bytes]) -> tuple[float, float]:
    """Seconds to write and to read every page through a fresh zram device."""
    from zbench_zramkernel.device import ZramDevice

    n = len(pages)
    with ZramDevice("lz4", n * zbench.PAGE_SIZE) as dev:
        fd = os.open(dev.path, os.O_RDWR | os.O_DIRECT)
        buf = mmap.mmap(-1, BATCH * zbench.PAGE_SIZE)  # page-aligned, as O_DIRECT wants
        try:
            chunks = [b"".join(pages[i:i + BATCH]) for i in range(0, n, BATCH)]
            t_write = 0.0
            for i, chunk in enumerate(chunks):
                buf[:len(chunk)] = chunk
                view = memoryview(buf)[:len(chunk)]
                t0 = time.perf_counter()
                os.pwrite(fd, view, i * BATCH * zbench.PAGE_SIZE)
                t_write += time.perf_counter() - t0
                view.release()
            t_read = 0.0
            for i, chunk in enumerate(chunks):
                view = memoryview(buf)[:len(chunk)]
                t0 = time.perf_counter()
                os.preadv(fd, [view], i * BATCH * zbench.PAGE_SIZE)
                t_read += time.perf_counter() - t0
                if view != chunk:
                    raise SystemExit("the kernel's zram returned other bytes than written")
                view.release()
        finally:
            buf.close()
            os.close(fd)
    return t_write, t_read


def model_pass(pages: list[bytes]) -> tuple[float, float]:
    """Seconds for the model's ``store`` and ``load`` of every page, fresh pool."""
    zram = zbench.get_plugin_class("frontend", "zram")
    zs = zbench.get_plugin_class("allocator", "zsmalloc")
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    comp = lz4(lz4.Options())
    pool = zs(zs.Options(kernel="6.18", chain_size=8), zbench.PageFrames())
    fe = zram(zram.Options(kernel="6.18"), pool, comp)
    items = [(i, _Page(p, comp)) for i, p in enumerate(pages)]
    gc.disable()
    try:
        store, load = fe.store, fe.load
        t0 = time.perf_counter()
        for off, page in items:
            store(off, page)
        t_store = time.perf_counter() - t0
        t0 = time.perf_counter()
        for off in range(len(pages)):
            load(off)
        t_load = time.perf_counter() - t0
    finally:
        gc.enable()
        fe.close()
    for off in range(0, len(pages), 97):  # what came back is what went in
        if fe.load(off) != pages[off]:
            raise SystemExit(f"the model returned other bytes at offset {off}")
    return t_store, t_load


def compressor_pass(pages: list[bytes]) -> tuple[float, float]:
    """Seconds for the lz4 compressor plugin alone: compress every page, then decompress
    every result (what the model's store and load call, without the model)."""
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    comp = lz4(lz4.Options())
    compress, decompress = comp.compress, comp.decompress
    size = zbench.PAGE_SIZE
    gc.disable()
    try:
        t0 = time.perf_counter()
        blobs = [compress(p) for p in pages]
        t_comp = time.perf_counter() - t0
        t0 = time.perf_counter()
        for b in blobs:
            decompress(b, size)
        t_decomp = time.perf_counter() - t0
    finally:
        gc.enable()
    return t_comp, t_decomp


def _native_input(tmp: Path, pages: list[bytes]) -> tuple[Path, Path]:
    """native_floor.c built, and its input: the model's class table and the pages."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import native_floor

    table, _same_any = native_floor._table(zbench.PAGE_SIZE)
    native_floor._write(tmp / "pages.bin", table + [len(pages)], b"".join(pages))
    return native_floor.build(tmp), tmp / "pages.bin"


def native_pass(exe: Path, pages_file: Path) -> tuple[float, float]:
    """Seconds for ``native_floor.c``'s store and load of every page (one pass)."""
    import subprocess

    res = json.loads(subprocess.run([str(exe), "bytes", str(pages_file), "1"], check=True,
                                    capture_output=True).stdout)
    one = res["passes"][0]
    if one["mismatches"]:
        raise SystemExit("native_floor returned other bytes than stored")
    return float(one["store_s"]), float(one["load_s"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dump", type=Path, default=None, help="default: the shipped dump")
    ap.add_argument("--passes", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--native", action="store_true",
                    help="also time native_floor.c (gcc and liblz4.so.1 needed)")
    args = ap.parse_args(argv)
    dump = zbench.load_dump(args.dump or zbench.default_dump_path())
    pages = [dump.page(i) for i in range(dump.n_pages)]
    keys = ("kstore", "kload", "mstore", "mload", "cstore", "cload") + (
        ("nstore", "nload") if args.native else ())
    runs: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        native = _native_input(Path(tmp), pages) if args.native else None
        for _ in range(args.passes):
            secs: tuple[float, ...] = (*kernel_pass(pages), *model_pass(pages),
                                       *compressor_pass(pages))
            if native is not None:
                secs += native_pass(*native)
            for key, s in zip(keys, secs, strict=True):
                runs[key].append(s / len(pages) * 1e6)
    med = {k: statistics.median(v) for k, v in runs.items()}
    out: dict[str, Any] = {
        "pages": len(pages), "dump_sha256": dump.sha256, "passes": args.passes,
        "kernel": os.uname().release, "us_per_page": {k: round(v, 2) for k, v in med.items()},
        "store_ratio": round(med["mstore"] / med["kstore"], 2),
        "load_ratio": round(med["mload"] / med["kload"], 2),
        "compressor_store_ratio": round(med["cstore"] / med["kstore"], 2),
        "compressor_load_ratio": round(med["cload"] / med["kload"], 2), "runs_us": runs}
    if args.native:
        out["native_store_ratio"] = round(med["nstore"] / med["kstore"], 2)
        out["native_load_ratio"] = round(med["nload"] / med["kload"], 2)
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        print(f"{len(pages)} pages, {args.passes} alternating passes, medians per page:")
        print(f"  store: kernel zram {med['kstore']:.2f} us, model {med['mstore']:.2f} us "
              f"(x{out['store_ratio']})")
        print(f"  load:  kernel zram {med['kload']:.2f} us, model {med['mload']:.2f} us "
              f"(x{out['load_ratio']})")
        print(f"  python-lz4 alone: compress {med['cstore']:.2f} us "
              f"(x{out['compressor_store_ratio']} the kernel's store), decompress "
              f"{med['cload']:.2f} us (x{out['compressor_load_ratio']} its load)")
        if args.native:
            print(f"  native_floor.c: store {med['nstore']:.2f} us "
                  f"(x{out['native_store_ratio']}), load {med['nload']:.2f} us "
                  f"(x{out['native_load_ratio']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
