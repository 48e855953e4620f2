"""How fast the per-page store path is with native state: ``native_floor.c`` beside the
model, on the same operations, in one run.  A measurement, not a test, and not a model
zbench runs (docs: benchmarks/RESULTS.md).

    python benchmarks/native_floor.py [--pages 1000000] [--passes 7] [--json]

1. **Fill, sizes only.** zbench runs its zram 6.18 + zsmalloc 6.18 (chain 8) fill of
   ``--pages`` corpus pages (lz4 sizes) as ``benchmarks/run.py``'s ``fill_1m_sizes`` does;
   the same operations (each store's compressed size, or 0 for a same-filled page, by the
   model's own rules) go to the C program, which runs zram's write path over zsmalloc's
   placement (the model's class table handed over, not recomputed).  Its pool (pages,
   objects allocated and in use per class) must equal the model's, or the run fails.
2. **Store and load, bytes.** The shipped dump's pages stored (same-filled check, lz4
   through ``liblz4.so.1``, ``zs_malloc``, header and bytes copied into the frames) and
   loaded (copied out, decompressed, checked), ``--passes`` times, the medians printed;
   the model's own figures for this path are ``store_vs_kernel.py``'s.

Needs gcc and ``liblz4.so.1`` (Debian's liblz4-1, present wherever python-lz4's
dependencies are); the C is built into a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import zbench
from zbench.api.pagefill import same_filled_word
from zbench.input.compcache import compress_dump
from zbench.input.corpus import Corpus

HERE = Path(__file__).resolve().parent
KERNEL = "6.18"


def _table(page_size: int) -> tuple[list[int], bool]:
    """The class table words for C, from the model's zsmalloc pool and zram front end, and
    whether that zram keeps a page of any repeated word as a same-filled slot."""
    zs = zbench.get_plugin_class("allocator", "zsmalloc")
    zram = zbench.get_plugin_class("frontend", "zram")
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    pool = zs(zs.Options(kernel=KERNEL, chain_size=8), zbench.PageFrames())
    fe = zram(zram.Options(kernel=KERNEL), pool, lz4(lz4.Options()))
    distinct = list(pool.table.distinct)
    index = {id(c): i for i, c in enumerate(distinct)}
    words = [page_size, fe._huge_min, len(distinct)]
    for c in distinct:
        words += [c.size, c.pages_per_zspage, c.objs_per_zspage, int(c.huge)]
    words += [index[id(pool.class_of(max(s, 1)))] for s in range(page_size + 1)]
    return words, fe._same_any


def _write(path: Path, words: list[int], tail: bytes = b"") -> None:
    with open(path, "wb") as f:
        f.write(struct.pack(f"<{len(words)}i", *words))
        f.write(tail)


def build(tmp: Path) -> Path:
    if shutil.which("gcc") is None:
        raise SystemExit("native_floor: gcc not found")
    exe = tmp / "native_floor"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(HERE / "native_floor.c"),
                    "-ldl"], check=True)
    return exe


def model_fill(pages: int) -> dict[str, Any]:
    """zbench's own fill (as benchmarks/run.py's fill_1m_sizes): the case's record."""
    res = zbench.run_suite({
        "name": "native-floor", "seed": 1, "dumps": [str(zbench.default_dump_path())],
        "compressors": ["lz4"], "frontends": [{"name": "zram", "options": {"kernel": KERNEL}}],
        "allocators": [{"name": "zsmalloc", "options": {"kernel": KERNEL, "chain_size": 8}}],
        "workloads": [{"name": "fill", "options": {"scale_pages": pages, "payload": "sizes"}}],
    }, "native_floor", quiet=True)
    case: dict[str, Any] = res["cases"][0]
    return case


def fill_sizes(dump: Any, pages: int, seed: int, same_any: bool) -> list[int]:
    """Each store's object size as the model's zram sees it (0: a same-filled slot)."""
    wl_cls = zbench.get_plugin_class("workload", "fill")
    wopts = wl_cls.Options.model_validate({"scale_pages": pages, "payload": "sizes"})
    corpus = Corpus(dump, wopts.zero_filled_pct, wopts.same_filled_pct, seed, wopts.scale_pages)
    lz4 = zbench.get_plugin_class("compressor", "lz4")
    # the compressed pages the model's case reads (the same cache, the same compressor)
    by_src = [len(b) for b in compress_dump(dump, lz4(lz4.Options()))]
    out = []
    for op in wl_cls(wopts, seed).operations(corpus.n_pages):
        if op.kind is not zbench.OpKind.STORE:
            continue
        word = same_filled_word(corpus.data(op.page))
        if word is not None and (word == 0 or same_any):
            out.append(0)
        else:
            out.append(by_src[corpus.source(op.page)])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1_000_000)
    ap.add_argument("--passes", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    page_size = zbench.PAGE_SIZE
    table, same_any = _table(page_size)
    dump = zbench.load_dump(zbench.default_dump_path())
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        exe = build(tmp)
        model = model_fill(args.pages)
        sizes = fill_sizes(dump, args.pages, model.get("seed", 1), same_any)
        _write(tmp / "sizes.bin", table + [len(sizes)] + sizes)
        native = json.loads(subprocess.run([str(exe), "sizes", str(tmp / "sizes.bin")],
                                           check=True, capture_output=True).stdout)
        m_classes = sorted([c["size"], c["obj_allocated"], c["obj_used"]]
                           for c in model["classes"] if c["obj_allocated"])
        same = (native["pool_pages"] == model["metrics"]["pool_pages"]
                and sorted(native["classes"]) == m_classes)
        blob = b"".join(dump.page(i) for i in range(dump.n_pages))
        _write(tmp / "pages.bin", table + [dump.n_pages], blob)
        bytes_run = json.loads(subprocess.run(
            [str(exe), "bytes", str(tmp / "pages.bin"), str(args.passes)],
            check=True, capture_output=True).stdout)
    passes = bytes_run["passes"]
    n = bytes_run["pages"]
    out = {
        "fill": {"pages": args.pages, "model_case_s": model["elapsed_s"],
                 "native_s": native["seconds"], "pool_pages": native["pool_pages"],
                 "model_pool_pages": model["metrics"]["pool_pages"], "pool_equal": same},
        "bytes": {"pages": n, "passes": args.passes,
                  "store_us": round(statistics.median(p["store_s"] for p in passes) / n * 1e6, 2),
                  "load_us": round(statistics.median(p["load_s"] for p in passes) / n * 1e6, 2),
                  "mismatches": sum(p["mismatches"] for p in passes)},
    }
    if args.json:
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        f, b = out["fill"], out["bytes"]
        print(f"fill of {f['pages']} pages, sizes only (zram {KERNEL} + zsmalloc, chain 8):")
        print(f"  model case {f['model_case_s']:.2f} s, native {f['native_s']:.3f} s; pool "
              f"{f['pool_pages']} / model {f['model_pool_pages']} pages, classes "
              f"{'equal' if same else 'DIFFERENT'}")
        print(f"store / load of {b['pages']} pages with lz4, medians of {b['passes']} passes: "
              f"{b['store_us']:.2f} / {b['load_us']:.2f} us per page, "
              f"{b['mismatches']} mismatches")
    return 0 if same and not out["bytes"]["mismatches"] else 1


if __name__ == "__main__":
    sys.exit(main())
