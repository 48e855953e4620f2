"""Click commands for page dumps: ``dump info``, ``dump convert`` and ``capture``.

They are defined here and registered by :mod:`zbench.cli.app` (``dump_group`` and
``capture_cmd``, both listed in :data:`COMMANDS`).  Errors are raised as
:class:`~zbench.api.errors.UserError` / :class:`~zbench.api.errors.DumpError`; the CLI
prints them as one line and exits 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from zbench.api import safeio
from zbench.api.errors import DumpError, UserError
from zbench.api.frames import PAGE_SIZE
from zbench.input.capture import (
    CaptureResult,
    capture,
    capture_running,
    check_number,
    check_options,
)
from zbench.input.capturectl import interruptible
from zbench.input.dump import (
    Dump,
    build_meta,
    convert,
    load_dump,
    write_dump,
    write_raw,
)


def _stderr(msg: str) -> None:
    click.echo(f"zbench capture: {msg}", err=True)


def info_dict(d: Dump) -> dict[str, Any]:
    """What ``dump info --json`` prints."""
    meta = d.meta
    captured = meta.get("captured")
    out: dict[str, Any] = {
        "file": str(d.path),
        "format": d.format,
        "n_pages": d.n_pages,
        "bytes": d.n_pages * d.page_size,
        "file_bytes": d.path.stat().st_size,
        "sha256": d.sha256,
        "kernel": meta.get("kernel", "unknown"),
        "thp": meta.get("thp", "unknown"),
        "tools": meta.get("tools", {}),
        "breakdown": d.breakdown(),
    }
    if d.page_size != PAGE_SIZE:  # a capture on a 16 K / 64 K kernel
        out["page_size"] = d.page_size
    if isinstance(captured, dict):
        keep = ("command", "method", "date", "trigger", "target", "counters", "zero_pfn_detection")
        out["capture"] = {k: captured[k] for k in keep if k in captured}
    for key in ("description", "sampling", "sources", "converted_from"):
        if key in meta:
            out[key] = meta[key]
    return out


def _print_info(info: dict[str, Any]) -> None:
    mib = info["bytes"] / (1 << 20)
    click.echo(f"file:    {info['file']} ({info['file_bytes']} bytes on disk)")
    click.echo(f"format:  {info['format']}")
    click.echo(f"pages:   {info['n_pages']} x {info.get('page_size', PAGE_SIZE)} B = "
               f"{mib:.1f} MiB")
    click.echo(f"sha256:  {info['sha256']}")
    click.echo(f"kernel:  {info['kernel']} (THP {info['thp']})")
    if "description" in info:
        click.echo(f"about:   {info['description']}")
    cap = info.get("capture")
    if cap:
        cmd = cap.get("command")
        if isinstance(cmd, list):
            cmd = " ".join(cmd)
        click.echo(f"capture: {cap.get('date', '?')}, trigger {cap.get('trigger', '?')}: {cmd}")
        if "counters" in cap:
            counters = ", ".join(f"{k} {v}" for k, v in cap["counters"].items())
            click.echo(f"         {counters}")
    sources = info.get("sources")
    if isinstance(sources, dict):
        for name, src in sources.items():
            cmd = " ".join(src.get("command", [])) if isinstance(src, dict) else src
            click.echo(f"source {name}: {cmd}")
    breakdown: dict[str, dict[str, int]] = info["breakdown"]
    regions = sorted({r for per in breakdown.values() for r in per})
    click.echo("")
    click.echo(f"{'source':<12}" + "".join(f"{r:>10}" for r in regions) + f"{'total':>10}")
    for source, per in sorted(breakdown.items(), key=lambda kv: -sum(kv[1].values())):
        row = "".join(f"{per.get(r, 0):>10}" for r in regions)
        click.echo(f"{source:<12}{row}{sum(per.values()):>10}")
    totals = "".join(f"{sum(p.get(r, 0) for p in breakdown.values()):>10}" for r in regions)
    click.echo(f"{'total':<12}{totals}{info['n_pages']:>10}")


@click.group("dump")
def dump_group() -> None:
    """Inspect and convert page dumps."""


@dump_group.command("info")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info_cmd(file: Path, as_json: bool) -> None:
    """Show a dump's format, pages, sha256, capture info and region/source breakdown."""
    info = info_dict(load_dump(file))
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        _print_info(info)


@dump_group.command("convert")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Choice(["raw", "zbench"]), required=True)
def convert_cmd(src: Path, dst: Path, to: str) -> None:
    """Convert SRC (raw or zbench) to DST in the format given by --to."""
    d = convert(src, dst, to)
    click.echo(f"{dst}: {d.n_pages} pages, {to}", err=True)


@click.command("capture", context_settings={"ignore_unknown_options": True})
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Dump file to write (mode 0600).",
)
@click.option("--ready-marker", default=None, help="Capture when CMD prints this on stdout.")
@click.option(
    "--timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Capture after this many seconds if nothing else triggered.",
)
@click.option(
    "--rss-threshold",
    "rss_threshold",
    type=int,
    default=None,
    help="Capture when a process of the tree reaches this RssAnon (kB).",
)
@click.option(
    "--settle",
    type=float,
    default=0.2,
    show_default=True,
    help="Seconds to wait after the trigger before stopping the tree.",
)
@click.option(
    "--target",
    type=click.Choice(["largest", "all"]),
    default="largest",
    show_default=True,
    help="Dump the tree's largest-RssAnon process, or all of them.",
)
@click.option(
    "--include-file-cow",
    is_flag=True,
    help="Also dump copy-on-written pages of private file mappings.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["zbench", "raw"]), default="zbench", show_default=True
)
@click.option(
    "--allow-running",
    is_flag=True,
    help="Allow --pid: capture a running process of ours (stopped, then resumed).",
)
@click.option("--pid", type=int, default=None, help="Running process to capture.")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED)
def capture_cmd(
    out: Path,
    ready_marker: str | None,
    timeout: float,
    rss_threshold: int | None,
    settle: float,
    target: str,
    include_file_cow: bool,
    fmt: str,
    allow_running: bool,
    pid: int | None,
    cmd: tuple[str, ...],
) -> None:
    """Start CMD with a clean environment and dump its private anonymous memory.

    Usage: zbench capture --out FILE [options] -- CMD [ARGS]...
    """
    check_options(timeout, settle, rss_threshold)  # before anything starts
    check_number("--pid", pid, 0, 1 << 22)
    if pid is not None and cmd:
        raise UserError("capture: give either --pid or a command, not both")
    if pid is not None and not allow_running:
        raise UserError("capture: --pid needs --allow-running (it captures a running process)")
    if pid is None and not cmd:
        raise UserError("capture: no command given (zbench capture --out FILE -- CMD ...)")
    meta_path = out.with_name(out.name + ".json")
    for dest in (out, meta_path) if fmt == "raw" else (out,):
        safeio.check_destination(dest)  # a device, FIFO or directory: refused, untouched
    with interruptible():  # SIGTERM/SIGINT/SIGHUP: clean up, exit 128 + signal
        if pid is not None:
            result: CaptureResult = capture_running(
                pid, allow_running=True, target=target, include_file_cow=include_file_cow,
                progress=_stderr,
            )
        else:
            result = capture(
                list(cmd), ready_marker=ready_marker, timeout=timeout,
                rss_threshold_kb=rss_threshold, settle=settle, target=target,
                include_file_cow=include_file_cow, progress=_stderr,
            )
        if fmt == "raw":
            write_raw(out, result.pages)
            try:
                write_raw_meta(meta_path, result)
            except BaseException:
                out.unlink(missing_ok=True)  # a raw dump without its metadata: not kept
                raise
        else:
            write_dump(out, result.pages, result.meta,
                       page_size=result.meta.get("page_size", PAGE_SIZE))
    _stderr(f"wrote {out} ({result.n_pages} pages, {fmt}, mode 0600)")


def write_raw_meta(path: Path, result: CaptureResult) -> None:
    """Metadata next to a raw dump (``FILE.json``), mode 0600, atomically."""
    meta = build_meta(result.pages, result.meta, result.meta.get("page_size", PAGE_SIZE))
    meta["format"] = "raw"
    safeio.write_atomic(path, json.dumps(meta, indent=1, sort_keys=True) + "\n", safeio.PRIVATE,
                        DumpError)


COMMANDS = [dump_group, capture_cmd]

if __name__ == "__main__":  # pragma: no cover - manual use before cli.py wires us in
    cli = click.Group(commands={c.name or "": c for c in COMMANDS})
    try:
        cli.main(standalone_mode=False)
    except UserError as e:
        click.echo(f"zbench: error: {e}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
