"""The figures of ``zbench report`` (matplotlib, Agg backend, PNG bytes).

Each function takes a results mapping and returns a :class:`Plot`, or ``None``
when the run holds nothing to draw (no phases, no size classes, no timing).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class Plot:
    name: str  # file stem
    title: str
    caption: str
    png: bytes
    #: the figure the PNG was drawn from (to inspect its artists), not part of the output
    figure: Figure | None = field(default=None, repr=False, compare=False)


#: tab20 with the ten strong colours first, then their light partners: series ``i`` and
#: ``i + 10`` share a hue, so they also differ in marker (10 is not a multiple of 7)
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_DASHES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    linestyle: str


def style(i: int) -> Style:
    """The look of series ``i``: 20 colours, each pair (colour, marker) distinct for the
    first 140 series, and a new dash pattern every 20."""
    return Style(_PALETTE[i % len(_PALETTE)], _MARKERS[i % len(_MARKERS)],
                 _DASHES[(i // len(_PALETTE)) % len(_DASHES)])


def _legend_columns(n: int) -> int:
    return max(1, math.ceil(n / 18))


def _legend_right(ax: Axes, fontsize: float = 7) -> None:
    """The axes' legend beside it on the right, outside the data (the constrained layout
    makes room for it)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, fontsize=fontsize, ncols=_legend_columns(len(handles)))


def _figure(n: int, cols: int = 2, size: tuple[float, float] = (6.0, 3.6)) -> tuple[Figure, list]:
    from matplotlib.figure import Figure

    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


def _plot(name: str, title: str, caption: str, fig: Figure) -> Plot:
    return Plot(name, title, caption, _png(fig), fig)


def _series_label(c: dict[str, Any], *, workload: bool = False) -> str:
    parts = [c["allocator"]["label"], c["compressor"]["label"]]
    if c["frontend"]["name"] != c["allocator"]["name"]:
        parts.insert(1, c["frontend"]["label"])
    if workload:
        parts.append(c["workload"]["label"])
    return " / ".join(parts)


def _grouped(results: dict[str, Any], having: str, by: str) -> dict[str, list[dict[str, Any]]]:
    """The cases that ran and hold ``having``, by the label of their ``by`` part, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for c in _ran(results):
        if c.get(having):
            out.setdefault(c[by]["label"], []).append(c)
    return out


def _ran(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in results.get("cases", []) if not c.get("skipped") and c.get("metrics")]


def pool_pages_plot(results: dict[str, Any]) -> Plot | None:
    """Pool pages at the end of each workload phase, one panel per workload."""
    by_wl = _grouped(results, "phases", "workload")
    if not by_wl:
        return None
    fig, axes = _figure(len(by_wl))
    index: dict[str, int] = {}  # one look per series in every panel
    for cases in by_wl.values():
        for c in cases:
            index.setdefault(_series_label(c), len(index))
    for ax, (wl, cases) in zip(axes, by_wl.items(), strict=True):
        for c in cases:
            xs = [0] + [p["operations"] for p in c["phases"]]
            ys = [0] + [p["pool_pages"] for p in c["phases"]]
            st = style(index[_series_label(c)])
            ax.plot(xs, ys, marker=st.marker, markersize=3.5, color=st.color, ls=st.linestyle,
                    lw=1.2, label=_series_label(c))
        last = cases[0]["phases"]
        for i, p in enumerate(last):  # staggered: phases may end at the same operation
            ax.annotate(p["label"], (p["operations"], 0), textcoords="offset points",
                        xytext=(0, 2 + 9 * (i % 2)), fontsize=7, ha="center", color="0.4")
        ax.set_title(f"workload {wl}")
        ax.set_xlabel("operations")
        ax.set_ylabel("pool pages")
        ax.grid(alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=7,
               ncols=_legend_columns(len(handles)))
    return _plot("pool_pages", "Pool pages over the workload",
                 "Page frames the allocator holds at the end of each phase (0 at the start).",
                 fig)


def _boundaries(results: dict[str, Any]) -> dict[str, tuple[list[int], int | None]]:
    """Allocator label -> (class sizes, huge class size) from the first case that has them."""
    out: dict[str, tuple[list[int], int | None]] = {}
    for c in _ran(results):
        label = c["allocator"]["label"]
        if c.get("classes") and label not in out:
            huge = c["metrics"].get("huge_class_size")
            out[label] = ([r["size"] for r in c["classes"]], huge if isinstance(huge, int)
                          else None)
    return out


#: What a ``distributions`` entry needs for its plot (results.json as ``zbench run`` writes).
_DIST_KEYS = {"dump", "compressor", "pages", "bucket_bytes", "counts"}


def size_histogram_plot(results: dict[str, Any]) -> Plot | None:
    """The dump's compressed page sizes, with the size-class boundaries over them."""
    dists = [d for d in results.get("distributions") or []
             if isinstance(d, dict) and _DIST_KEYS <= d.keys()]  # the schema checks fewer
    if not dists:
        return None
    bounds = _boundaries(results)
    fig, axes = _figure(len(dists), cols=1, size=(11.0, 3.4))
    for ax, d in zip(axes, dists, strict=True):
        b = d["bucket_bytes"]
        edges = [i * b for i in range(len(d["counts"]))]
        ax.bar(edges, d["counts"], width=b, align="edge", color="tab:blue", alpha=0.75,
               label=f"pages ({d['pages']})")
        for k, (label, (sizes, huge)) in enumerate(bounds.items()):
            color = style(k + 1).color  # style(0)'s blue is the bars'
            for i, s in enumerate(sizes):
                ax.axvline(s, color=color, lw=0.4, alpha=0.5,
                           label=f"{label} class boundaries" if i == 0 else None)
            if huge:
                ax.axvline(huge, color=color, lw=1.5, ls="--",
                           label=f"{label} huge_class_size {huge}")
        ax.set_title(f"{d['dump']}: compressed sizes with {d['compressor']}")
        last = d.get("page_size", 4096)  # a dump read as 16 K pages: its own last bucket
        ax.set_xlabel(f"compressed size, bytes ({b}-byte buckets; last: >= {last})")
        ax.set_ylabel("pages")
        ax.set_xlim(0, len(d["counts"]) * b)
        _legend_right(ax)
    return _plot("size_histogram", "Compressed-size histogram and size classes",
                 "Each size class holds objects up to its size: pages just above a boundary "
                 "waste the most of their slot.", fig)


def class_utilisation_plot(results: dict[str, Any]) -> Plot | None:
    """Objects in use / objects allocated per size class, at the end of each case."""
    by_alloc = _grouped(results, "classes", "allocator")
    if not by_alloc:
        return None
    fig, axes = _figure(len(by_alloc), cols=1, size=(11.0, 3.6))
    for ax, (label, cases) in zip(axes, by_alloc.items(), strict=True):
        for i, c in enumerate(cases):
            used = [r for r in c["classes"] if r["obj_allocated"]]
            st = style(i)
            ax.plot([r["size"] for r in used],
                    [100.0 * r["obj_used"] / r["obj_allocated"] for r in used],
                    marker=st.marker, markersize=3.5, ls="none", color=st.color,
                    label=_series_label(c, workload=True))
        ax.set_title(f"{label}: per-class utilisation at the end of the workload")
        ax.set_xlabel("class size, bytes")
        ax.set_ylabel("obj_used / obj_allocated, %")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        _legend_right(ax)
    return _plot("class_utilisation", "Per-class utilisation",
                 "Classes below 100 % hold free slots in allocated zspages (external "
                 "fragmentation that compaction can give back).", fig)


def latency_plot(results: dict[str, Any]) -> Plot | None:
    """Per-operation latency histograms of store and load, one line per timing case."""
    recs = [r for r in results.get("timing") or []
            if not r.get("skipped") and not r.get("error")]
    if not recs:
        return None
    fig, axes = _figure(2, cols=1, size=(11.0, 3.6))
    for ax, op in zip(axes, ("store", "load"), strict=True):
        for i, r in enumerate(recs):
            h = r[op].get("histogram") or {}
            edges, counts = h.get("edges_ns") or [], h.get("counts") or []
            total = sum(counts)
            if not total:
                continue
            ys = [100.0 * n / total for n in counts]
            st = style(i)
            ax.stairs(ys, [e / 1000 for e in edges], color=st.color, linestyle=st.linestyle,
                      lw=1.3, label=f"{r['allocator']['label']} / {r['compressor']['label']} "
                            f"(p50 {r[op]['p50_ns'] / 1000:.1f})")
        ax.set_xscale("log")
        ax.set_title(f"{op}: per-operation latency")
        ax.set_xlabel("µs per operation (log scale)")
        ax.set_ylabel("% of operations")
        ax.grid(alpha=0.3)
        _legend_right(ax)
    return _plot("latency", "Latency distributions",
                 "Each store and load timed on its own (the percentile passes of the timing "
                 "cases); p50 in µs in the legend.", fig)


PLOTS: tuple[Callable[[dict[str, Any]], Plot | None], ...] = (
    pool_pages_plot, size_histogram_plot, class_utilisation_plot, latency_plot)


def make_plots(results: dict[str, Any]) -> list[Plot]:
    """Every plot the results have data for, in report order."""
    import matplotlib

    matplotlib.use("Agg")
    return [p for fn in PLOTS if (p := fn(results)) is not None]
