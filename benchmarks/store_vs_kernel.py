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
figures are the model's own cost (what a sweep pays), not a claim about the kernel.
When the native engines are built, each pass also times the model as zbench runs a case
of bytes on them (the figures the targets are read against): the same stores and loads as
one batch (``FrontEnd.run_sizes``) on zram's write and read paths in C over the zsmalloc C
engine, its frames holding the real bytes, each page compressed live and each load
decompressed through the lz4 compressor's C face (python-lz4's own liblz4); one untimed
batch first checks every load and every page at the end byte for byte.  Each pass also
times the compressor plugin alone on the same pages (``compress`` of every page, then
``decompress`` of every result: the calls the Python model's store and load make) and,
with ``--native``, ``native_floor.c`` (liblz4; a measurement, not a model zbench runs).
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


def _engine_device() -> tuple[Any, str]:
    """zram 6.18 over zsmalloc 6.18 (chain 8) with lz4, on frames that keep bytes, and
    the native engine it runs a batch on (SystemExit when none: not built)."""
    zram = zbench.get_plugin_class("frontend", "zram")
    zs = zbench.get_plugin_class("allocator", "zsmalloc")
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    pool = zs(zs.Options(kernel="6.18", chain_size=8), zbench.PageFrames())
    fe = zram(zram.Options(kernel="6.18"), pool, lz4(lz4.Options()))
    name = fe.sizes_engine()
    if name is None:
        raise SystemExit("store_vs_kernel: no native engine for a batch of payload "
                         f"({zs.engine_status()}); run with --python-only")
    return fe, name


def _engine_batch(pages: list[bytes], verify: bool) -> Any:
    """Every page stored (live lz4 in C, as zram_write_page compresses), a phase, every
    page loaded (decompressed in C), a phase."""
    from array import array

    sized = zbench.sized
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    comp = lz4(lz4.Options())
    n = len(pages)
    fill = [sized.NOT_FILLED if (w := zbench.same_filled_word(p)) is None
            else sized.ZERO_FILLED if w == 0 else sized.WORD_FILLED for p in pages]
    return sized.SizedBatch(
        kinds=array("b", [sized.STORE] * n + [sized.PHASE] + [sized.LOAD] * n + [sized.PHASE]),
        offsets=array("q", [*range(n), 0, *range(n), 0]),
        sizes=array("i", [len(comp.compress(p)) for p in pages] + [0] * (n + 2)),
        fill=array("b", fill + [0] * (n + 2)),
        labels={n: "stored", 2 * n + 1: "loaded"},
        payload=sized.PayloadPages(pages=b"".join(pages),
                                   sources=array("q", [*range(n)] + [0] * (n + 2)),
                                   verify=verify))


def engine_check(pages: list[bytes]) -> str:
    """One untimed batch with verify: every load, and every page at the end, must equal
    the page stored (a mismatch raises).  The engine's name."""
    fe, name = _engine_device()
    batch = _engine_batch(pages, verify=True)
    fe.run_sizes(batch, lambda label, ops: None, None)
    if batch.payload.verified != 2 * len(pages):  # every load, then the final read-back
        raise SystemExit(f"the engine verified {batch.payload.verified} loads, not "
                         f"{2 * len(pages)}")
    return name


def engine_pass(pages: list[bytes]) -> tuple[float, float]:
    """Seconds for the model's store and load of every page as zbench runs a case of
    bytes when its engines are built: one batch on zram's C loop over the zsmalloc C
    engine, lz4 through the compressor's C face; fresh pool.  Timed from the call to
    the first phase (stores) and from there to the second (loads)."""
    fe, _name = _engine_device()
    batch = _engine_batch(pages, verify=False)
    marks: list[float] = []
    gc.disable()
    try:
        t0 = time.perf_counter()
        fe.run_sizes(batch, lambda label, ops: marks.append(time.perf_counter()), None)
    finally:
        gc.enable()
        fe.close()
    return marks[0] - t0, marks[1] - marks[0]


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
    ap.add_argument("--python-only", action="store_true",
                    help="no batch on the native engines (the Python model only)")
    ap.add_argument("--native", action="store_true",
                    help="also time native_floor.c (gcc and liblz4.so.1 needed)")
    args = ap.parse_args(argv)
    dump = zbench.load_dump(args.dump or zbench.default_dump_path())
    pages = [dump.page(i) for i in range(dump.n_pages)]
    engine = "" if args.python_only else engine_check(pages)
    keys = ("kstore", "kload", "mstore", "mload", "cstore", "cload") + (
        () if args.python_only else ("estore", "eload")) + (
        ("nstore", "nload") if args.native else ())
    runs: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        native = _native_input(Path(tmp), pages) if args.native else None
        for _ in range(args.passes):
            secs: tuple[float, ...] = (*kernel_pass(pages), *model_pass(pages),
                                       *compressor_pass(pages))
            if engine:
                secs += engine_pass(pages)
            if native is not None:
                secs += native_pass(*native)
            for key, s in zip(keys, secs, strict=True):
                runs[key].append(s / len(pages) * 1e6)
    med = {k: statistics.median(v) for k, v in runs.items()}

    def ratio(key: str) -> float:
        return round(med[key] / med["kstore" if key.endswith("store") else "kload"], 2)

    model = "e" if engine else "m"  # the model as a case of bytes runs: engines if built
    out: dict[str, Any] = {
        "pages": len(pages), "dump_sha256": dump.sha256, "passes": args.passes,
        "kernel": os.uname().release, "engine": engine or None,
        "us_per_page": {k: round(v, 2) for k, v in med.items()},
        "store_ratio": ratio(f"{model}store"), "load_ratio": ratio(f"{model}load"),
        "python_store_ratio": ratio("mstore"), "python_load_ratio": ratio("mload"),
        "compressor_store_ratio": ratio("cstore"), "compressor_load_ratio": ratio("cload"),
        "runs_us": runs}
    if args.native:
        out["native_store_ratio"] = ratio("nstore")
        out["native_load_ratio"] = ratio("nload")
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()
        return 0
    print(f"{len(pages)} pages, {args.passes} alternating passes, medians per page")
    print("(the model's figures are its own cost on this machine, not the kernel's):")
    rows = [("kernel zram (O_DIRECT, 1 MiB I/O)", "k")]
    if engine:
        rows.append(("model, one batch on its native engines", "e"))
    rows += [("model, Python, page by page", "m"), ("python-lz4 alone", "c")]
    if args.native:
        rows.append(("native_floor.c (a floor, not a model)", "n"))
    for label, k in rows:
        tail = "" if k == "k" else (f"  (x{ratio(k + 'store')} / x{ratio(k + 'load')} "
                                    "the kernel's)")
        print(f"  {label}: store {med[k + 'store']:.2f} us, load {med[k + 'load']:.2f} us"
              + tail)
    if engine:
        print(f"  (engines: {engine})")
    print(f"  targets: store <= x1.5, load <= x1.2; the model: x{out['store_ratio']} / "
          f"x{out['load_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
