"""``zbench kernel``: build, list and check the user-mode Linux kernels (docs/kernel.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tabulate import tabulate

from zbench import default_dump_path, load_dump, write_atomic

from . import build, latency
from .validate import BACKENDS, validate_cmd


@click.group("kernel")
def kernel_group() -> None:
    """Real kernels in user-mode Linux: build them, list them, validate the models."""


@kernel_group.command("build")
@click.option("--version", "version", type=click.Choice(build.VERSIONS), default="6.12",
              show_default=True, help="Debian's linux-source package to build from.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None,
              help="make -j (default: the number of CPUs).")
@click.option("--force", is_flag=True, help="Build again even where a cached build exists.")
def build_cmd(version: str, jobs: int | None, force: bool) -> None:
    """Build (or reuse) a UML kernel with zbud, z3fold, zsmalloc, zswap, zram and zbench's
    driver, cached under $ZBENCH_CACHE/uml/kernels.  Installs the source package and the
    build tools with apt-get when they are missing.  Nothing touches the running kernel."""
    have = None if force else build.find(version)
    if have is not None:
        click.echo(f"{have.release}: cached ({have.linux}, built in {have.build_seconds:.0f} s)")
        return
    k = build.build(version, jobs=jobs, force=force,
                    progress=lambda m: click.echo(m, err=True))
    click.echo(f"{k.release}: {k.linux} ({k.build_seconds:.0f} s)")


@kernel_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """The UML kernels built, with their source package and cache key."""
    rows = build.list_built()
    current = {v: build.find(v) for v in build.VERSIONS}
    recs = [{"version": k.version, "release": k.release, "package": k.package, "key": k.key,
             "build_seconds": k.build_seconds, "path": str(k.linux),
             "current": current.get(k.version) == k} for k in rows]
    if as_json:
        json.dump(recs, sys.stdout, indent=1)
        click.echo()
        return
    if not recs:
        click.echo("no UML kernel built yet: zbench kernel build --version 6.12")
        return
    click.echo(tabulate([[r["version"], r["release"], r["package"], r["key"],
                          f"{r['build_seconds']:.0f} s", "yes" if r["current"] else "stale"]
                         for r in recs],
                        headers=["version", "release", "source package", "key", "build",
                                 "current"]))
    click.echo(f"\nin {build.kernels_dir()}/VERSION-KEY/linux; stale builds (an older "
               "source package, driver or option list): zbench kernel clean")


@kernel_group.command("latency")
@click.option("--kernel", type=click.Choice(build.VERSIONS), default="6.12", show_default=True)
@click.option("--dump", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Page dump (default: the shipped dump).")
@click.option("--backend", "backends", multiple=True, type=click.Choice(BACKENDS),
              help="Repeatable; default: zbud, z3fold, zsmalloc.")
@click.option("--compressor", "compressors", multiple=True,
              type=click.Choice(["lz4", "zstd", "lzo", "lzo-rle"]),
              help="The kernel's crypto compressor (repeatable; default: lz4, zstd).")
@click.option("--pages", type=click.IntRange(16, 1 << 16), default=1024, show_default=True,
              help="Pages per pass (sampled from the dump).")
@click.option("--passes", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Passes per boot for each backend x compressor.")
@click.option("--boots", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for latency.json and one pyperf JSON per backend x compressor.")
@click.option("--json", "as_json", is_flag=True, help="The record as JSON on stdout.")
def latency_cmd(kernel: str, dump: Path | None, backends: tuple[str, ...],
                compressors: tuple[str, ...], pages: int, passes: int, boots: int,
                out: Path | None, as_json: bool) -> None:
    """Store and load latency of the real zbud, z3fold and zsmalloc in a UML kernel: mean,
    p50, p99 and the compressor's share per page, with 95 % intervals over passes and
    which differences are significant (docs/kernel.md)."""
    k = build.find(kernel)
    if k is None:
        raise click.UsageError(f"no {kernel} UML kernel is built: zbench kernel build "
                               f"--version {kernel}")
    d = load_dump(dump or default_dump_path())
    series = latency.measure(k, d, list(backends or BACKENDS), list(compressors or
                             ("lz4", "zstd")), pages=pages, passes=passes, boots=boots,
                             progress=lambda m: click.echo(m, err=True))
    rec = latency.record(k, series, pages)
    if out is not None:
        write_atomic(out / "latency.json", json.dumps(rec, indent=1) + "\n", mode=0o644)
        for s in series:
            latency.write_pyperf(out / f"{s.backend}-{s.compressor}.json", k, s)
    if as_json:
        json.dump(rec, sys.stdout, indent=1)
        click.echo()
        return
    text, note = latency.table(rec)
    click.echo(f"{text}\n{note}")


@kernel_group.command("clean")
@click.option("--all", "everything", is_flag=True,
              help="Remove the current builds too, not only stale ones.")
def clean_cmd(everything: bool) -> None:
    """Remove stale builds: those of an older source package, driver or option list."""
    import shutil

    current = {build.find(v) for v in build.VERSIONS}
    removed = 0
    for k in build.list_built():
        if everything or k not in current:
            shutil.rmtree(k.path)
            removed += 1
            click.echo(f"removed {k.version} {k.key} ({k.path})")
    click.echo(f"{removed} build(s) removed")


kernel_group.add_command(validate_cmd)
