"""``zbench validate``: the same dump through the running kernel's zram and through the models.

1. The kernel: a zram device of our own, every page of the dump written with
   O_DIRECT (per-page compressed size, same-filled and huge flags recorded),
   a seeded share discarded, then compacted; ``mm_stat`` after each phase.
2. The kernel's per-page sizes are saved in zbench's cache (``kernelsizes.cache_path``),
   and beside the dump (``.ksizes.json``) only with ``--save-sizes``.
3. The models: zram front end + zsmalloc, with the running kernel's rules
   (release, chain size), fed the kernel's own sizes (``kernel`` compressor)
   and, where Python has the same algorithm, Python's sizes — the same
   fill / discard / compact sequence.
4. Side by side, with the error of each; exit 1 when the pool-size error of
   the kernel-size model passes ``--max-error``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from zbench import (
    PAGE_SIZE,
    KernelVersion,
    OpKind,
    UserError,
    default_dump_path,
    load_dump,
    run_suite,
)

from .device import ZramDevice
from .discard import FillDiscard
from .host import kernel_rules, zram_available
from .kernelsizes import save_sizes

PHASES = ("fill", "discard", "compact")
COMPARED = ("pool_pages", "stored_pages", "same_filled_pages", "huge_pages", "compressed_bytes")
PYTHON_CODECS = {"lz4": "lz4"}  # kernel algorithm -> zbench compressor with the same format


def kernel_run(dump: Any, algorithm: str, workload: FillDiscard) -> dict[str, Any]:
    """Drive a device of our own through the workload; mm_stat per phase, records per page."""
    phases: dict[str, dict[str, int]] = {}
    records: dict[int, Any] = {}
    with ZramDevice(algorithm, dump.n_pages * PAGE_SIZE) as dev:
        for op in workload.operations(dump.n_pages):
            if op.kind is OpKind.STORE:
                records[op.offset] = dev.write_page(op.offset, dump.page(op.page))
            elif op.kind is OpKind.INVALIDATE:
                dev.discard([op.offset])
            elif op.kind is OpKind.COMPACT:
                dev.compact()
            elif op.kind is OpKind.PHASE:
                s = dev.mm_stat()
                phases[op.label] = {
                    "pool_pages": s["mem_used_total"] // PAGE_SIZE,
                    "stored_pages": s["orig_data_size"] // PAGE_SIZE,
                    "same_filled_pages": s["same_pages"],
                    "huge_pages": s["huge_pages"],
                    "compressed_bytes": s["compr_data_size"],
                    "pages_compacted": s["pages_compacted"],
                }
        # the kernel returns what it was given (a sample, to keep it quick)
        live = sorted(set(range(dump.n_pages)) - set(workload.discarded(dump.n_pages)))
        for i in random.Random(0).sample(live, min(64, len(live))):
            if dev.read_page(i) != dump.page(i):
                raise UserError(f"kernel zram returned different bytes for page {i}")
    return {"phases": phases, "records": records}


def model_runs(dump_path: Path, algorithm: str, release: str, chain: int, seed: int,
               discard_pct: float) -> dict[str, dict[str, dict[str, Any]]]:
    """Phase metrics of the zram+zsmalloc models, per compressor label."""
    kv = str(KernelVersion(release))
    compressors: list[dict[str, Any]] = [
        {"name": "kernel", "label": "kernel sizes",
         "options": {"algorithm": algorithm, "release": release}}]
    if algorithm in PYTHON_CODECS:
        compressors.append({"name": PYTHON_CODECS[algorithm],
                            "label": f"python-{PYTHON_CODECS[algorithm]}"})
    results = run_suite({
        "name": "validate", "seed": seed, "verify": True, "dumps": [str(dump_path)],
        "compressors": compressors,
        "frontends": [{"name": "zram", "options": {"kernel": kv}}],
        "allocators": [{"name": "zsmalloc", "options": {"kernel": kv, "chain_size": chain}}],
        "workloads": [{"name": "fill-discard", "options": {"discard_pct": discard_pct}}],
    }, "validate", quiet=True)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for case in results["cases"]:
        out[case["compressor"]["label"]] = {p["label"]: p for p in case["phases"]}
    return out


def _err(model: float, kernel: float) -> float | None:
    if kernel == 0:
        return 0.0 if model == 0 else None
    return round(100.0 * (model - kernel) / kernel, 3)


def compare(kernel: dict[str, dict[str, int]],
            models: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for phase in PHASES:
        for metric in COMPARED:
            row: dict[str, Any] = {"phase": phase, "metric": metric,
                                   "kernel": kernel[phase][metric]}
            for label, phases in models.items():
                value = phases[phase][metric]
                row[label] = value
                row[f"{label} error %"] = _err(value, kernel[phase][metric])
            rows.append(row)
    return rows


def size_gap(dump: Any, records: dict[int, Any], algorithm: str) -> dict[str, Any] | None:
    """How python's codec's sizes differ from the kernel's, page by page."""
    if algorithm != "lz4":
        return None
    import lz4.block

    diffs = []
    for i, rec in records.items():
        if rec.same or rec.huge:
            continue
        py = len(lz4.block.compress(dump.page(i), store_size=False))
        diffs.append(py - rec.compr_size)
    n = len(diffs)
    return {
        "pages_compared": n,
        "pages_differing": sum(1 for d in diffs if d),
        "mean_diff_bytes": round(sum(diffs) / n, 2) if n else 0.0,
        "mean_abs_diff_bytes": round(sum(abs(d) for d in diffs) / n, 2) if n else 0.0,
        "python_larger": sum(1 for d in diffs if d > 0),
        "python_smaller": sum(1 for d in diffs if d < 0),
    }


def validate(dump_path: Path, algorithm: str, discard_pct: float, seed: int,
             save: bool) -> dict[str, Any]:
    reason = zram_available(algorithm)
    if reason is not None:
        return {"skipped": reason}
    dump = load_dump(dump_path)
    rules = kernel_rules()
    release, chain = rules["kernel_release"], rules["chain_size"]
    workload = FillDiscard(FillDiscard.Options(discard_pct=discard_pct), seed)
    k = kernel_run(dump, algorithm, workload)
    records = k["records"]
    sizes = [records[i].compr_size if not records[i].same else 0 for i in range(dump.n_pages)]
    written = save_sizes(
        dump_path, dump.sha256, release, algorithm, sizes,
        same=[i for i in range(dump.n_pages) if records[i].same],
        huge=[i for i in range(dump.n_pages) if records[i].huge],
        extra={"chain_size": chain}, beside=save)
    models = model_runs(dump_path, algorithm, release, chain, seed, discard_pct)
    return {
        "dump": {"path": str(dump_path), "sha256": dump.sha256, "pages": dump.n_pages},
        "kernel_rules": rules, "algorithm": algorithm, "discard_pct": discard_pct,
        "seed": seed, "kernel": k["phases"], "comparison": compare(k["phases"], models),
        "size_gap": size_gap(dump, records, algorithm),
        "sizes_cached": str(written[0]),
        "sizes_saved": str(written[1]) if save else None,
    }


@click.command("validate")
@click.option("--dump", "dump_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Dump to run [default: the shipped dump].")
@click.option("--compressor", "algorithm", default="lz4", show_default=True,
              help="Kernel zram algorithm (lz4, lzo-rle, lzo, ... as the kernel offers).")
@click.option("--discard-pct", type=click.FloatRange(0, 100), default=50.0, show_default=True,
              help="Share of pages discarded (BLKDISCARD) before compaction.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--max-error", type=float, default=0.5, show_default=True,
              help="Largest pool-size error (%) of the kernel-size model that passes.")
@click.option("--save-sizes/--no-save-sizes", default=False, show_default=True,
              help="Also write the kernel's per-page sizes beside the dump "
                   "(<dump>.ksizes.json); they always go to zbench's cache.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--backend", type=click.Choice(["zram", "uml"]), default="zram",
              show_default=True,
              help="zram: the running kernel's zram; uml: every model against the real code "
                   "of a user-mode Linux kernel (the same as 'zbench kernel validate').")
@click.option("--kernel", default="6.12", show_default=True,
              help="With --backend uml: the UML kernel's version.")
@click.pass_context
def validate_cmd(ctx: click.Context, dump_path: Path | None, algorithm: str,
                 discard_pct: float, seed: int, max_error: float, save_sizes: bool,
                 as_json: bool, backend: str, kernel: str) -> None:
    """Run a dump through the running kernel's zram and through the zram+zsmalloc models
    (with the kernel's rules) and show pool pages after fill, discard and compaction side
    by side. Needs root and zram; elsewhere it says why and exits 0. Exit 1 when the
    kernel-size model's pool-size error passes --max-error.  --backend uml hands over to
    'zbench kernel validate'."""
    if backend == "uml":
        root = ctx.find_root()
        group = root.command.get_command(root, "kernel")  # type: ignore[attr-defined]
        cmd = group.get_command(root, "validate") if isinstance(group, click.Group) else None
        if cmd is None:
            raise UserError("--backend uml: needs the uml plugin (zbench kernel validate), "
                            "which is not loaded")
        ctx.invoke(cmd, kernel=kernel, dump=dump_path, compressor=algorithm, seed=seed,
                   max_error=max_error, as_json=as_json)
        return
    path = dump_path or default_dump_path()
    if not path.exists():
        raise UserError(f"--dump: {path}: no such file")
    result = validate(path, algorithm, discard_pct, seed, save_sizes)
    if "skipped" in result:
        if as_json:
            click.echo(json.dumps(result))
        click.echo(f"zbench validate: skipped: {result['skipped']}", err=True)
        return
    worst = max(abs(r["kernel sizes error %"] or 0.0) for r in result["comparison"]
                if r["metric"] == "pool_pages")
    result["max_pool_error_pct"] = worst
    result["passed"] = worst <= max_error
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        r = result["kernel_rules"]
        click.echo(f"kernel {r['kernel_release']}, zsmalloc chain {r['chain_size']} "
                   f"({r['chain_size_source']}), algorithm {algorithm}, dump {path.name} "
                   f"({result['dump']['pages']} pages), discard {discard_pct:g} %\n")
        click.echo(tabulate(result["comparison"], headers="keys", disable_numparse=True))
        gap = result["size_gap"]
        if gap:
            click.echo(f"\npython-lz4 vs kernel lz4 sizes: {gap['pages_differing']} of "
                       f"{gap['pages_compared']} compressed pages differ; python is larger on "
                       f"{gap['python_larger']}, smaller on {gap['python_smaller']}; mean "
                       f"difference {gap['mean_diff_bytes']:+} B "
                       f"(mean |difference| {gap['mean_abs_diff_bytes']} B)")
        click.echo(f"kernel sizes cached in {result['sizes_cached']}")
        if result["sizes_saved"]:
            click.echo(f"kernel sizes saved to {result['sizes_saved']}")
        click.echo(f"\nlargest pool_pages error (kernel-size model): {worst:.3f} % "
                   f"({'PASS' if result['passed'] else 'FAIL'} at --max-error {max_error} %)")
    if not result["passed"]:
        raise SystemExit(1)
