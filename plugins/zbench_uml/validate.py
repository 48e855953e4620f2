"""``zbench kernel validate``: every model beside the real code of a UML kernel.

For each backend (zbud, z3fold, zsmalloc) and workload (fill, fill-discard with
compaction, churn, zipf, pressure), one ``kernel-uml`` case behind the zswap
model of the kernel's version, and zsmalloc behind the zram model too: the
shadow model answers the front end, the kernel runs the recorded allocator
operations (see :mod:`.allocator`).  Each phase's pool pages, model and
kernel, side by side with the error.  Then zswap itself in the guest on fill and
pressure against the zswap model, counter by counter (:mod:`.zswapguest`), and zram
itself (levels, a dictionary, recompression, writeback, idle, mem_limit) against the zram
model, figure by figure, every one exact (:mod:`.zramvalidate`).
``fill`` and ``fill-discard`` must be exact; the other workloads within
``--max-error`` percent.  Exit 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from zbench import default_dump_path, run_suite

from . import build

WORKLOADS: dict[str, dict[str, Any]] = {
    "fill": {"name": "fill"},
    "fill-discard": {"name": "fill-discard", "options": {"discard_pct": 50}},
    "churn": {"name": "churn", "options": {"zero_filled_pct": 10, "steady_pct": 60}},
    "zipf": {"name": "zipf", "options": {"resident_pct": 50, "write_pct": 30}},
    "pressure": {"name": "pressure", "options": {"rounds": 4}},
}
EXACT = ("fill", "fill-discard")
BACKENDS = ("zbud", "z3fold", "zsmalloc")


def _frontends(kernel: str, backend: str) -> list[dict[str, Any]]:
    fes: list[dict[str, Any]] = [{"name": "zswap", "label": f"zswap-{kernel}",
                                  "options": {"kernel": kernel, "ram_mb": 64,
                                              "max_pool_percent": 20}}]
    if backend == "zsmalloc":
        fes.append({"name": "zram", "label": f"zram-{kernel}", "options": {"kernel": kernel}})
    return fes


def validate_rows(kernel: str, dump: Path, compressor: str, workloads: list[str],
                  backends: list[str], seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for backend in backends:
        for fe in _frontends(kernel, backend):
            suite = {
                "name": f"validate-uml-{kernel}-{backend}", "seed": seed, "verify": True,
                "dumps": [str(dump)], "compressors": [compressor], "frontends": [fe],
                "allocators": [{"name": "kernel-uml", "label": f"{backend}-{kernel}",
                                "options": {"kernel": kernel, "backend": backend}}],
                "workloads": [WORKLOADS[w] for w in workloads],
            }
            click.echo(f"validate: {backend} behind {fe['label']} ...", err=True)
            res = run_suite(suite, f"zbench kernel validate ({backend}, {fe['label']})",
                            quiet=True)
            for case, wl in zip(res["cases"], workloads, strict=True):
                if "skipped" in case:
                    rows.append({"backend": backend, "frontend": fe["label"], "workload": wl,
                                 "phase": "-", "skipped": case["skipped"]})
                    continue
                for ph in case["phases"]:
                    model, real = ph["model_pool_pages"], ph["pool_pages"]
                    rows.append({
                        "backend": backend, "frontend": fe["label"], "workload": wl,
                        "phase": ph["label"], "model": model, "kernel": real,
                        "error_pct": 0.0 if model == real else
                        round(100.0 * (model - real) / max(real, 1), 3),
                    })
                m = case["metrics"]
                rows[-1]["warnings"] = m.get("kernel_warnings", 0)
                rows[-1]["evict_mismatches"] = m.get("kernel_evict_mismatches", 0)
    return rows


ZSWAP_WORKLOADS = ({"name": "fill"}, {"name": "pressure", "options": {"rounds": 4}})
#: the guest: 256 MiB, zswap allowed 8 % of it, so pressure passes the limit on all three
ZSWAP_GUEST = {"mem_mb": 256, "max_pool_percent": 8, "accept_threshold_percent": 90}


def zswap_rows(kernel: str, dump: Path, compressor: str, backends: list[str],
               seed: int) -> list[dict[str, Any]]:
    """zswap itself in the guest against the zswap model, per backend (zswapguest)."""
    from .allocator import MODEL_OPTIONS
    from .zswapguest import compare

    k = build.find(kernel)
    assert k is not None
    rows: list[dict[str, Any]] = []
    for backend in backends:
        for wl in ZSWAP_WORKLOADS:
            click.echo(f"validate: the real zswap with {backend}, {wl['name']} ...", err=True)
            rows += compare(k, dump, backend, wl, compressor=compressor, seed=seed,
                            model_options=MODEL_OPTIONS[kernel][backend], **ZSWAP_GUEST)
    return rows


#: differences between a model and the real code that docs/kernel.md explains with the
#: kernel code behind them: (kernel, backend, what) -> the reason; reported, not failed,
#: unless --strict
KNOWN: dict[tuple[str, str, str], str] = {
    ("6.12", "z3fold", "zswap pressure"): "under writeback the shrink worker frees z3fold "
    "objects whose page compaction is queued work, and checks the pool while it is "
    "pending; the model compacts inside each free (docs/kernel.md, zswap itself)",
}


#: a difference: (backend, what: "FRONTEND WORKLOAD" or "zswap WORKLOAD") and its line
Failure = tuple[tuple[str, str], str]


def zswap_failures(rows: list[dict[str, Any]], max_error: float) -> list[Failure]:
    return [((r["backend"], f"zswap {r['workload']}"),
             f"zswap {r['backend']}/{r['workload']}/{r['phase']}/{r['counter']}: model "
             f"{r['model']} vs kernel {r['kernel']}") for r in rows
            if abs(r["error_pct"]) > (0.0 if r["workload"] in EXACT else max_error)]


def _echo_zram(rows: list[dict[str, Any]]) -> None:
    """The zram comparison: the figures after each scenario (phase ``end``) and every
    figure of any phase that differs (``--json`` has them all)."""
    off = [r for r in rows if r["error_pct"]]
    click.echo("\nThe zram model against the real zram (mm_stat, io_stat, bd_stat, "
               "block_state flags), fed the guest kernel's own object sizes: "
               f"{len(rows)} figures over every phase, {len(off)} differ\n")
    rc = ["scenario", "phase", "figure", "model", "kernel", "error_pct"]
    shown = [r for r in rows if r["phase"] == "end" or r["error_pct"]]
    click.echo(tabulate([[r[c] for c in rc] for r in shown], headers=[*rc[:5], "error %"]))


def _zram_rows(kernel: str, dump: Path, seed: int) -> list[dict[str, Any]]:
    from .zramvalidate import zram_rows

    k = build.find(kernel)
    assert k is not None
    return zram_rows(k, dump, seed, echo=lambda msg: click.echo(msg, err=True))


def zram_failures(rows: list[dict[str, Any]]) -> list[Failure]:
    """Every zram figure must be equal: the model is fed the kernel's own sizes."""
    return [(("zsmalloc", f"zram {r['scenario']}"),
             f"zram {r['scenario']}/{r['phase']}/{r['figure']}: model {r['model']} vs "
             f"kernel {r['kernel']}") for r in rows if r["error_pct"]]


def failures(rows: list[dict[str, Any]], max_error: float) -> list[Failure]:
    bad: list[Failure] = []
    for r in rows:
        key = (r["backend"], f"{r['frontend']} {r['workload']}")
        path = f"{r['backend']}/{r['frontend']}/{r['workload']}"
        if "skipped" in r:
            bad.append((key, f"{path}: {r['skipped']}"))
            continue
        limit = 0.0 if r["workload"] in EXACT else max_error
        if abs(r["error_pct"]) > limit:
            bad.append((key, f"{path}/{r['phase']}: model {r['model']} vs kernel "
                             f"{r['kernel']} pages ({r['error_pct']:+.3f} %)"))
    return bad


def split_known(kernel: str, bad: list[Failure]) -> tuple[list[str], list[str]]:
    """(unexplained, known) differences: known where KNOWN names the kernel, the backend
    and the front end (or "zswap") with the workload."""
    known, rest = [], []
    for (backend, what), line in bad:
        reason = KNOWN.get((kernel, backend, what))
        if reason:
            known.append(f"{line} [{reason}]")
        else:
            rest.append(line)
    return rest, known


@click.command("validate")
@click.option("--kernel", type=click.Choice(build.VERSIONS), default="6.12", show_default=True)
@click.option("--dump", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Page dump (default: the shipped dump).")
@click.option("--compressor", default="lz4", show_default=True)
@click.option("--workload", "workloads", multiple=True, type=click.Choice(list(WORKLOADS)),
              help="Only these workloads (repeatable; default: all).")
@click.option("--backend", "backends", multiple=True, type=click.Choice(BACKENDS),
              help="Only these allocators (repeatable; default: all three).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--max-error", type=click.FloatRange(0, 100), default=0.5, show_default=True,
              help="Largest pool-pages error, percent, for churn, zipf and pressure "
                   "(fill and fill-discard must be exact).")
@click.option("--zswap/--no-zswap", "with_zswap", default=True, show_default=True,
              help="Also run zswap itself in the guest (swap on a ubd device) on fill and "
                   "pressure, against the zswap model.")
@click.option("--zram/--no-zram", "with_zram", default=True, show_default=True,
              help="Also run zram itself in the guest (algorithm levels, a dictionary, "
                   "recompression, writeback, idle, mem_limit) against the zram model.")
@click.option("--strict", is_flag=True,
              help="Fail on the differences docs/kernel.md explains too.")
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON.")
def validate_cmd(kernel: str, dump: Path | None, compressor: str, workloads: tuple[str, ...],
                 backends: tuple[str, ...], seed: int, max_error: float, with_zswap: bool,
                 with_zram: bool, strict: bool, as_json: bool) -> None:
    """The zbud, z3fold and zsmalloc models beside the real code of a UML kernel, phase by
    phase, on the same operations (docs/kernel.md).  Exit 1 when a figure is off."""
    if build.find(kernel) is None:
        raise click.UsageError(f"no {kernel} UML kernel is built: zbench kernel build "
                               f"--version {kernel}")
    path = dump or default_dump_path()
    rows = validate_rows(kernel, path, compressor, list(workloads or WORKLOADS),
                         list(backends or BACKENDS), seed)
    zrows = zswap_rows(kernel, path, compressor, list(backends or BACKENDS), seed) \
        if with_zswap else []
    ramrows = _zram_rows(kernel, path, seed) if with_zram else []
    if as_json:
        json.dump({"allocators": rows, "zswap": zrows, "zram": ramrows}, sys.stdout, indent=1)
        click.echo()
    else:
        cols = ["backend", "frontend", "workload", "phase", "model", "kernel", "error_pct"]
        click.echo("Allocator models against the real allocators (pool pages, per phase)\n")
        click.echo(tabulate([[r.get(c, "") for c in cols] for r in rows if "skipped" not in r],
                            headers=[*cols[:4], "model pages", "kernel pages", "error %"]))
        for r in rows:
            if "skipped" in r:
                click.echo(f"{r['backend']} / {r['frontend']} / {r['workload']}: not compared: "
                           f"{r['skipped']}")
        if zrows:
            click.echo("\nThe zswap model against the real zswap (debugfs counters; pool "
                       "pages = pool_total_size / 4096)\n")
            zc = ["backend", "workload", "phase", "counter", "model", "kernel", "error_pct"]
            click.echo(tabulate([[r[c] for c in zc] for r in zrows],
                                headers=[*zc[:6], "error %"]))
        if ramrows:
            _echo_zram(ramrows)
    bad, known = split_known(kernel, failures(rows, max_error)
                             + zswap_failures(zrows, max_error) + zram_failures(ramrows))
    if strict:
        bad, known = bad + known, []
    for b in known:
        click.echo(f"known: {b}", err=True)
    for b in bad:
        click.echo(f"off: {b}", err=True)
    if bad:
        sys.exit(1)
