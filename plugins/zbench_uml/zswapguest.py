"""zswap itself in a UML guest: a swap device, zswap on it, and the dump's pages swapped
out and in, in a workload's order — the reference for the zswap front-end model.

The guest (``run``) gets a sparse host file as its ``ubd`` block device (hostfs
cannot hold swap), ``mkswap`` + ``swapon`` on it, zswap configured through
``/sys/module/zswap/parameters`` (``zpool``, ``compressor``, ``max_pool_percent``,
``accept_threshold_percent``; the memcg shrinker off, as the model has none; swap
readahead off, ``vm.page-cluster`` 0, since the model loads one page a fault) and
``guest/zbswap.c`` (a static helper built on the host) driving the pages: a store
is a page written into an anonymous mapping and ``madvise(MADV_PAGEOUT)``; a load
reads it back (verified); an invalidate is ``MADV_DONTNEED``.  At each phase the
helper writes every counter of ``/sys/kernel/debug/zswap``.

``compare`` runs the model on the same operations: the zswap front end with the
guest kernel's rules and its exact ``totalram_pages`` (read from the guest), the
allocator model of the same backend, fed the kernel's own compressed sizes
(``sizes``: every page compressed by the guest kernel's crypto compressor through
zbench's driver), and sets the counters side by side.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

from zbench import PAGE_SIZE, Dump, KernelVersion, Op, OpKind, UserError, same_filled_word

from .boot import BootError, guest_root, run_guest, static_helper
from .build import BuiltKernel, kernels_dir
from .stream import parse_phase

HELPER_SRC = Path(__file__).parent / "guest" / "zbswap.c"
REC = struct.Struct("<B3xIII")
#: the debugfs counters compared with the model's, by the model's metric name
COUNTERS = ("stored_pages", "pool_limit_hit", "written_back_pages", "reject_compress_poor",
            "reject_compress_fail", "reject_alloc_fail", "reject_reclaim_fail")
HELPER_OPS = {OpKind.STORE: 1, OpKind.LOAD: 3, OpKind.INVALIDATE: 4, OpKind.PHASE: 6}


def helper() -> Path:
    """The static helper binary (built once, keyed by its source's hash)."""
    return static_helper(HELPER_SRC)


def _ops_file(path: Path, ops: list[Op], nslots: int) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<I", nslots))
        for op in ops:
            code = HELPER_OPS.get(op.kind)
            if code is None:
                continue  # COMPACT: zswap has none; MIGRATE: not in this guest
            label = op.label.encode()[:200] if op.kind is OpKind.PHASE else b""
            f.write(REC.pack(code, op.offset, op.page, len(label)) + label)
        f.write(REC.pack(8, 0, 0, 0))


def run(kernel: BuiltKernel, dump: Dump, ops: list[Op], *, backend: str, compressor: str,
        max_pool_percent: int, accept_threshold_percent: int, mem_mb: int,
        timeout_s: float = 600.0) -> dict[str, Any]:
    """Run ``ops`` (over the dump's pages) through the real zswap; the counters per phase."""
    nslots = max((op.offset for op in ops), default=0) + 1
    binary = helper()
    with guest_root() as root:
        with open(root / "pages", "wb") as f:
            for i in range(dump.n_pages):
                f.write(dump.page(i))
        _ops_file(root / "ops", ops, nslots)
        shutil.copy2(binary, root / "zbswap")
        swap = root / "swap.img"
        with open(swap, "wb") as f:
            # at most half of it ever used, so vm_swap_full() never holds: a swap-in
            # keeps its slot (do_swap_page, should_try_to_free_swap) and an invalidated
            # slot's page is freed from the swap cache (free_swap_and_cache) as the
            # model's non-exclusive loads assume; sparse, so the size costs nothing
            f.truncate((2 * nslots + 2048) * PAGE_SIZE)
        p = "/sys/module/zswap/parameters"
        lines = [
            "/bin/busybox mount -t sysfs sysfs /sys",
            "/bin/busybox mount -t debugfs debugfs /sys/kernel/debug",
            "/bin/busybox mkswap /dev/ubda > /dev/null", "/bin/busybox swapon /dev/ubda",
            f"echo {backend} > {p}/zpool", f"echo {compressor} > {p}/compressor",
            f"echo {max_pool_percent} > {p}/max_pool_percent",
            f"echo {accept_threshold_percent} > {p}/accept_threshold_percent",
            f"[ -e {p}/shrinker_enabled ] && echo N > {p}/shrinker_enabled",
            f"echo Y > {p}/enabled",
            # no swap readahead: a fault reads its own page only, as the model's load
            "echo 0 > /proc/sys/vm/page-cluster",
            "/bin/busybox grep MemTotal /proc/meminfo > /meminfo",
            f"/bin/busybox cat {p}/zpool {p}/compressor > /params",
            "/zbswap /pages /ops /out",
        ]
        console, seconds = run_guest(kernel.linux, root, lines, mem_mb=mem_mb,
                                     extra_args=(f"ubd0={swap}",), timeout_s=timeout_s)
        out = (root / "out").read_text() if (root / "out").is_file() else ""
        meminfo = (root / "meminfo").read_text() if (root / "meminfo").is_file() else ""
        params = (root / "params").read_text().split() if (root / "params").is_file() else []
    if "status ok" not in out:
        tail = " | ".join(console.strip().splitlines()[-3:])[-300:]
        raise BootError(f"zswap guest ({backend}): {out.strip().splitlines()[-1:] or tail}")
    if params[:2] != [backend, compressor]:
        raise BootError(f"zswap guest: asked for {backend}/{compressor}, zswap runs "
                        f"{'/'.join(params) or 'nothing'}")
    phases = []
    for line in out.splitlines():
        if line.startswith("phase "):
            phases.append(parse_phase(line.split()[1:]))
    total_kb = int(meminfo.split()[1]) if meminfo else 0
    return {"totalram_pages": total_kb * 1024 // PAGE_SIZE, "phases": phases,
            "seconds": round(seconds, 2), "warnings": sum(
                "WARNING:" in ln for ln in console.splitlines())}


def kernel_sizes(kernel: BuiltKernel, dump: Dump, compressor: str) -> list[int]:
    """Every page's size compressed by the guest kernel's crypto ``compressor``
    (``PAGE_SIZE + 1`` where it does not fit in a page: zswap's compression, limited
    to ``PAGE_SIZE`` of output, fails there); cached per kernel, dump and compressor."""
    from .boot import boot, new_stream

    cache = kernels_dir() / "sizes" / f"{kernel.key}-{dump.sha256[:16]}-{compressor}.json"
    if cache.is_file():
        return list(json.loads(cache.read_text()))
    path, f, w = new_stream("zsmalloc", compressor)
    with f:
        for i in range(dump.n_pages):
            w.store_page(i, dump.page(i))
            w.phase(str(i))
        w.end()
    res = boot(kernel.linux, [path]).results[0]
    if not res.ok or len(res.phases) != dump.n_pages:
        raise BootError(f"kernel sizes: {res.status} {res.error}")
    sizes, bytes_before, fails_before = [], 0, 0
    for ph in res.phases:
        fails, now = int(ph["store_fail"]), int(ph["object_bytes"])
        sizes.append(PAGE_SIZE + 1 if fails > fails_before else now - bytes_before)
        bytes_before, fails_before = now, fails
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(sizes))
    return sizes


def model_trace(path: Path, dump: Dump, ops: list[Op], sizes: list[int] | None, *,
                any_same_filled: bool = False, compact: bool = False) -> None:
    """The operations as a ``replay`` trace for the model: stores by the kernel's size
    (zero pages by page: zswap never compresses them; with ``any_same_filled``, every
    page of one repeated word by page: 4.16-6.9 zswap keeps those uncompressed too,
    zswap_is_page_same_filled, so the model has to see the page to recognise it); with
    ``sizes`` None every store by its page (a compressor that knows the kernel's size of
    each page, the zram guest's).  Compactions only with ``compact`` (the zswap guest
    has none)."""
    zero = bytes(PAGE_SIZE)
    with open(path, "w") as f:
        for op in ops:
            if op.kind is OpKind.STORE:
                data = dump.page(op.page)
                if sizes is None or data == zero or (
                        any_same_filled and same_filled_word(data) is not None):
                    rec: dict[str, Any] = {"op": "store", "offset": op.offset, "page": op.page}
                else:
                    rec = {"op": "store", "offset": op.offset, "size": sizes[op.page]}
            elif op.kind is OpKind.PHASE:
                rec = {"op": "phase", "label": op.label}
            elif op.kind in (OpKind.LOAD, OpKind.INVALIDATE):
                rec = {"op": op.kind.value, "offset": op.offset}
            elif op.kind is OpKind.COMPACT and compact:
                rec = {"op": "compact"}
            else:
                continue
            f.write(json.dumps(rec) + "\n")


def compare(kernel: BuiltKernel, dump_path: Path, backend: str, workload: dict[str, Any], *,
            compressor: str = "lz4", max_pool_percent: int = 10,
            accept_threshold_percent: int = 90, mem_mb: int = 256, seed: int = 1,
            model_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The real zswap and the model on the same workload: one row per phase and counter."""
    import tempfile

    from zbench import get_plugin_class, load_dump, run_suite

    dump = load_dump(dump_path)
    cls = get_plugin_class("workload", workload["name"])
    wl = cls(cls.Options.model_validate(workload.get("options", {})), seed)
    ops = list(wl.operations(dump.n_pages))
    guest = run(kernel, dump, ops, backend=backend, compressor=compressor,
                max_pool_percent=max_pool_percent,
                accept_threshold_percent=accept_threshold_percent, mem_mb=mem_mb)
    sizes = kernel_sizes(kernel, dump, compressor)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.jsonl"
        kv = KernelVersion(kernel.version)
        # 4.16-6.9 zswap keeps every same-filled page uncompressed (zero pages only
        # from 6.10); before 6.2 freed slots reach zswap in the swap slots cache's
        # batches (6.1's free_swap_slot; the guest has one CPU)
        model_trace(trace, dump, ops, sizes, any_same_filled="4.16" <= kv < "6.10")
        res = run_suite({
            "name": "zswap-guest", "seed": seed, "verify": True, "dumps": [str(dump_path)],
            "compressors": ["lz4"],
            "frontends": [{"name": "zswap", "options": {
                "kernel": kernel.version, "ram_pages": guest["totalram_pages"],
                "max_pool_percent": max_pool_percent,
                "accept_threshold_percent": accept_threshold_percent,
                # one CPU: 6.1's swap slots cache hands zswap its invalidations in batches
                "swap_slots_cache": kv < "6.2"}}],
            "allocators": [{"name": backend, "options": model_options or {}}],
            "workloads": [{"name": "replay", "options": {"trace": str(trace)}}],
        }, "zbench kernel validate (zswap)", quiet=True)
    case = res["cases"][0]
    if "skipped" in case:
        raise UserError(f"zswap model ({backend}): skipped: {case['skipped']}")
    model = {ph["label"]: ph for ph in case["phases"]}
    rows = []
    for ph in guest["phases"]:
        m = model.get(ph["label"])
        if m is None:
            continue
        real = {**{c: ph.get(c, 0) for c in COUNTERS},
                "pool_pages": ph.get("pool_total_size", 0) // PAGE_SIZE}
        for counter, value in real.items():
            mv = m.get(counter, 0)
            rows.append({"backend": backend, "workload": workload["name"],
                         "phase": ph["label"], "counter": counter, "model": mv,
                         "kernel": value, "error_pct": 0.0 if mv == value else
                         round(100.0 * (mv - value) / max(value, 1), 3)})
        if ph.get("mismatches") or ph.get("not_swapped"):
            rows.append({"backend": backend, "workload": workload["name"],
                         "phase": ph["label"], "counter": "guest: mismatches / not swapped",
                         "model": 0, "kernel": ph.get("mismatches", 0) + ph.get(
                             "not_swapped", 0), "error_pct": 100.0})
    return rows
