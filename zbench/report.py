"""``zbench report RESULTS [--html]``: the tables and plots of a run.

Markdown (default): ``report.md`` plus ``plots/*.png`` in the output directory
(default: beside RESULTS).  ``--html``: one self-contained ``report.html``, the
plots inlined as base64 PNG, no external resources.  matplotlib is imported only
here (:mod:`zbench.plots`), never by ``zbench run``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import click

from zbench.errors import UserError
from zbench.results import write_atomic

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0 2em; }
figcaption { font-size: 13px; color: #555; }
img { max-width: 100%; }
.meta { color: #555; font-size: 13px; }
"""


def _results_path(path: Path) -> Path:
    return path / "results.json" if path.is_dir() else path


def _tables(results: dict[str, Any], fmt: str) -> list[tuple[str, str, str]]:
    """(title, table, note) for every table the results have."""
    from zbench.latency import LATENCY_NOTE, LATENCY_TITLE, latency_table
    from zbench.tables import (
        FAILED_NOTE,
        comparison_table,
        failed_table,
        fragmentation_table,
        models_table,
        zswap_table,
    )

    out = []
    ft = failed_table(results, fmt)
    if ft:
        out.append(("Failed cases", ft, FAILED_NOTE))
    ct = comparison_table(results, fmt)
    if ct:
        out.append(("Allocators side by side", ct, "Pool pages (effective ratio)."))
    out.append(("Fragmentation", fragmentation_table(results, fmt),
                "Sizes in KiB; eff. ratio = original bytes / pool bytes."))
    lt = latency_table(results, fmt)
    if lt:
        out.append((LATENCY_TITLE, lt, LATENCY_NOTE))
    from zbench.reporter import sections

    out += sections(results, fmt)
    zt = zswap_table(results, fmt)
    if zt:
        out.append(("zswap counters", zt, ""))
    out.append(("Models", models_table(results, fmt), ""))
    return out


def _meta(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    git = env.get("git") or {}
    bits = [f"zbench {env.get('zbench_version', '?')}"]
    for key, label in (("python", "Python"), ("kernel", "kernel"), ("cpu_model", ""),
                       ("date", "")):
        if env.get(key):
            bits.append(f"{label} {env[key]}".strip())
    if git.get("commit"):
        bits.append(f"commit {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}")
    return ", ".join(bits)


def render_html(results: dict[str, Any]) -> str:
    """One self-contained HTML page: tables, then the plots inlined as base64 PNG."""
    from zbench.plots import make_plots

    name = html.escape(str((results.get("suite") or {}).get("name", "")))
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>zbench report: {name}</title><style>{_CSS}</style></head><body>",
             f"<h1>zbench report: {name}</h1>",
             f"<p class=\"meta\">{html.escape(_meta(results))}</p>"]
    for title, table, note in _tables(results, "html"):
        parts.append(f"<h2>{html.escape(title)}</h2>{table}")
        if note:
            lines = "<br>".join(html.escape(line) for line in note.splitlines())
            parts.append(f"<p class=\"meta\">{lines}</p>")
    plots = make_plots(results)
    if plots:
        parts.append("<h2>Plots</h2>")
    for p in plots:
        data = base64.b64encode(p.png).decode("ascii")
        parts.append(f"<figure id=\"{p.name}\"><h3>{html.escape(p.title)}</h3>"
                     f"<img alt=\"{html.escape(p.title)}\" src=\"data:image/png;base64,{data}\">"
                     f"<figcaption>{html.escape(p.caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_markdown(results: dict[str, Any], out_dir: Path) -> tuple[Path, list[Path]]:
    """``report.md`` (the run's report plus the plots) and ``plots/*.png`` in ``out_dir``."""
    from zbench.plots import make_plots
    from zbench.tables import report_markdown

    pngs = []
    lines = [report_markdown(results).rstrip("\n"), "", "## Plots", ""]
    for p in make_plots(results):
        path = out_dir / "plots" / f"{p.name}.png"
        write_atomic(path, p.png)
        pngs.append(path)
        lines += [f"### {p.title}", "", f"![{p.title}](plots/{p.name}.png)", "", p.caption, ""]
    md = out_dir / "report.md"
    write_atomic(md, "\n".join(lines))
    return md, pngs


@click.command("report")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--html", "as_html", is_flag=True,
              help="Write one self-contained report.html (plots inlined).")
@click.option("-o", "--out", type=click.Path(path_type=Path),
              help="Output file with --html, else output directory [default: beside RESULTS].")
def report_cmd(results: Path, as_html: bool, out: Path | None) -> None:
    """Render the tables and plots of a run (RESULTS: results.json or its directory):
    pool pages over the workload, compressed sizes with the class boundaries, per-class
    utilisation, latency distributions."""
    from zbench.compare import read

    path = _results_path(results)
    data = read(path)
    if data.get("baseline"):
        raise UserError(f"{path}: a baseline holds no run to report (report the run it was "
                        "made from)")
    if as_html:
        target = out or path.parent / "report.html"
        write_atomic(target, render_html(data))
        click.echo(f"wrote {target}")
        return
    md, pngs = write_markdown(data, out or path.parent)
    click.echo(f"wrote {md} and {len(pngs)} plot{'s' * (len(pngs) != 1)} in {md.parent / 'plots'}")
