"""``zbench kernel validate``, zram itself: each device feature of the zram model beside the
real zram of the guest kernel, on the same pages in the same order.

A scenario is a device set-up (algorithms and their ``algorithm_params``, a backing
device, ``mem_limit``), a workload, and the post-processing knobs written at its phases
(``idle``, ``recompress``, ``writeback``).  The guest (:mod:`.zramguest`) runs it on its own
zram0; the model runs the zram front end of the same kernel over zsmalloc, fed the guest
kernel's own object sizes for every algorithm (the ``kernel`` compressor, for the primary
and for each secondary algorithm), with the same options in the model's words.  Each
phase's ``mm_stat``, ``io_stat``, ``bd_stat`` and ``block_state`` figures are set side by
side with the model's; every one must be equal.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from zbench import PAGE_SIZE, Dump, UserError, get_plugin_class, load_dump, run_suite

from . import zramguest as zg
from .build import BuiltKernel
from .zswapguest import model_trace

#: the guest's figure (phase record key, divisor) for each model metric compared
FIGURES: dict[str, tuple[str, int]] = {
    "stored_pages": ("orig_data_size", PAGE_SIZE),
    "compressed_bytes": ("compr_data_size", 1),
    "pool_pages": ("mem_used_total", PAGE_SIZE),
    "mem_used_max_pages": ("mem_used_max", PAGE_SIZE),
    "same_filled_pages": ("same_pages", 1),
    "huge_pages": ("huge_pages", 1),
    "huge_pages_since": ("huge_pages_since", 1),
    "pages_compacted": ("pages_compacted", 1),
    "recompressed_pages": ("recompressed", 1),
    "incompressible_pages": ("incompressible", 1),
    "idle_pages": ("idle", 1),
    "bd_count_pages": ("bd_count", 1),
    "bd_reads_pages": ("bd_reads", 1),
    "bd_writes_pages": ("bd_writes", 1),
    "failed_writes": ("failed_writes", 1),
    "mem_limit_pages": ("mem_limit", PAGE_SIZE),
}


@dataclass
class Scenario:
    name: str
    workload: dict[str, Any]
    device: zg.Device
    #: sysfs writes by phase label ("end": after the workload), for the guest
    actions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: the same in the zram model's options (algorithms are filled in from the device)
    model: dict[str, Any] = field(default_factory=dict)
    #: the first release with every feature the scenario uses
    since: str = "4.19"


def scenarios(dump: Dump, dictionary: Path | None) -> list[Scenario]:
    """The device features the zram model has, each on the shipped dump."""
    n = dump.n_pages
    lz4, zstd = zg.Algorithm("lz4"), zg.Algorithm("zstd")
    fill = {"name": "fill"}
    wb = n + 64
    out = [
        Scenario("lz4", fill, zg.Device(lz4, disksize_pages=n)),
        Scenario("zstd", fill, zg.Device(zstd, disksize_pages=n)),
        # writes over live slots: the new object is allocated before the old one is freed
        Scenario("lz4, zipf", {"name": "zipf", "options": {"resident_pct": 50,
                                                           "write_pct": 30}},
                 zg.Device(lz4, disksize_pages=n)),
        Scenario("lz4, churn + compact", {"name": "churn", "options": {"steady_pct": 60}},
                 zg.Device(lz4, disksize_pages=n)),
        Scenario("zstd level=8", fill, zg.Device(zg.Algorithm("zstd", level=8),
                                                 disksize_pages=n), since="6.12"),
        Scenario("lz4 + zstd recompress huge", {"name": "churn", "options": {
            "steady_pct": 60}}, zg.Device(lz4, [zstd], disksize_pages=n),
            {"end": [("recompress", "type=huge")]},
            {"recompress": {"type": "huge", "when": "end"}}, since="6.2"),
        Scenario("lz4 + zstd, deflate recompress threshold=3000", fill,
                 zg.Device(lz4, [zg.Algorithm("zstd", level=3), zg.Algorithm("deflate")],
                           disksize_pages=n),
                 {"fill": [("recompress", "type=huge threshold=3000")]},
                 {"recompress": {"type": "huge", "threshold": 3000, "when": "phase:fill"}},
                 since="6.12"),
        Scenario("writeback huge, then discard", {"name": "fill-discard", "options": {
            "discard_pct": 50}}, zg.Device(lz4, backing_pages=wb, disksize_pages=n),
            {"fill": [("writeback", "huge")]},
            {"backing_dev": {"pages": wb}, "writeback": {"type": "huge",
                                                         "when": "phase:fill"}}),
        Scenario("idle, writeback idle, then zipf", {"name": "zipf", "options": {
            "resident_pct": 50, "write_pct": 30}},
            zg.Device(lz4, backing_pages=wb, disksize_pages=n),
            {"warmup": [("idle", "all"), ("writeback", "idle")]},
            {"backing_dev": {"pages": wb}, "mark_idle": {"when": "phase:warmup"},
             "writeback": {"type": "idle", "when": "phase:warmup"}}),
        Scenario("mem_limit 4 MiB", fill,
                 zg.Device(lz4, disksize_pages=n, mem_limit=4 << 20), {},
                 {"mem_limit": 4 << 20}),
    ]
    if dictionary is not None:
        out.insert(2, Scenario("zstd level=3 + dictionary", fill, zg.Device(
            zg.Algorithm("zstd", level=3, dictionary=dictionary), disksize_pages=n),
            since="6.12"))
    return out


def train_dictionary(dump_path: Path, out: Path) -> Path:
    """A zstd dictionary from the first half of the dump (``zbench dict train``)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "zbench", "dict", "train", str(dump_path),
                        "--out", str(out), "--half", "first"], capture_output=True, text=True)
    if r.returncode != 0:
        raise UserError(f"zbench dict train: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return out


def zram_rows(kernel: BuiltKernel, dump_path: Path, seed: int,
              echo: Any = None) -> list[dict[str, Any]]:
    """Every scenario the kernel has the features for, model beside kernel."""
    from zbench import KernelVersion

    dump = load_dump(dump_path)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        dictionary = None
        if KernelVersion(kernel.version) >= "6.12":
            dictionary = train_dictionary(dump_path, Path(tmp) / "zstd.dict")
        for sc in scenarios(dump, dictionary):
            if KernelVersion(kernel.version) < sc.since:
                continue
            if echo is not None:
                echo(f"validate: the real zram, {sc.name} ...")
            rows += compare(kernel, dump_path, sc, seed=seed)
    return rows


def _kernel_compressor(kernel: BuiltKernel, dump: Dump, a: zg.Algorithm) -> dict[str, Any]:
    return {"name": "kernel", "options": {"algorithm": zg.sizes(kernel, dump, a),
                                          "release": zg.release(kernel)}}


def model_run(kernel: BuiltKernel, dump_path: Path, dump: Dump, sc: Scenario,
              ops: list[Any], seed: int) -> dict[str, dict[str, Any]]:
    """The zram model on the scenario: each phase's figures by label ("end": final)."""
    opts: dict[str, Any] = {"kernel": kernel.version, **sc.model}
    if sc.device.secondary:
        opts["recomp_algorithms"] = [
            {**_kernel_compressor(kernel, dump, a), "priority": prio}
            for prio, a in enumerate(sc.device.secondary, start=1)]
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.jsonl"
        model_trace(trace, dump, ops, None, compact=True)
        res = run_suite({
            "name": "zram-guest", "seed": seed, "verify": True, "dumps": [str(dump_path)],
            "compressors": [_kernel_compressor(kernel, dump, sc.device.primary)],
            "frontends": [{"name": "zram", "options": opts}],
            "allocators": [{"name": "zsmalloc", "options": {"kernel": kernel.version}}],
            "workloads": [{"name": "replay", "options": {"trace": str(trace)}}],
        }, f"zbench kernel validate (zram: {sc.name})", quiet=True)
    case = res["cases"][0]
    if "skipped" in case:
        raise UserError(f"zram model ({sc.name}): skipped: {case['skipped']}")
    out = {ph["label"]: ph for ph in case["phases"]}
    out["end"] = case["metrics"]
    return out


def compare(kernel: BuiltKernel, dump_path: Path, sc: Scenario, *, seed: int = 1
            ) -> list[dict[str, Any]]:
    """One row per phase and figure the model reports: model, kernel, error."""
    dump = load_dump(dump_path)
    cls = get_plugin_class("workload", sc.workload["name"])
    wl = cls(cls.Options.model_validate(sc.workload.get("options", {})), seed)
    ops = list(wl.operations(dump.n_pages))
    slots = max((op.offset for op in ops), default=0) + 1  # churn writes past the dump
    device = replace(sc.device, disksize_pages=max(sc.device.disksize_pages, slots))
    guest = zg.run(kernel, dump, zg.guest_lines(ops, sc.actions), device)
    failed = [f"{k}={rc}" for k, rc in guest["sysfs"] if rc and k != "compact"]
    model = model_run(kernel, dump_path, dump, sc, ops, seed)
    rows: list[dict[str, Any]] = []
    for ph in guest["phases"]:
        m = model.get(ph["label"])
        if m is None:
            continue
        for metric, (figure, unit) in FIGURES.items():
            if metric not in m or figure not in ph:
                continue
            real, mv = ph[figure] // unit, m[metric]
            rows.append({"scenario": sc.name, "phase": ph["label"], "figure": metric,
                         "model": mv, "kernel": real, "error_pct": 0.0 if mv == real else
                         round(100.0 * (mv - real) / max(real, 1), 3)})
    if failed or guest["warnings"]:
        rows.append({"scenario": sc.name, "phase": "-", "figure": "guest: sysfs errors, "
                     f"warnings ({' '.join(failed)})", "model": 0,
                     "kernel": len(failed) + guest["warnings"], "error_pct": 100.0})
    return rows
