"""``reports: [kernel-latency]``: the real allocators' store/load latency beside a suite's tables.

For every allocator of the suite that the UML kernel has (zbud, z3fold,
zsmalloc, by plugin name) and every compressor the kernel has (lz4, zstd, lzo,
lzo-rle, by plugin name or ``algorithm``), the passes of :mod:`.latency` on the
suite's first dump.  The pyperf JSON of each goes to ``pyperf/kernel-*.json``
in the run's folder.  Without a built kernel the section says how to build one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from zbench import PluginOptions, Reporter, Timings, load_dump

from . import build, latency

KERNEL_COMPRESSORS = ("lz4", "zstd", "lzo", "lzo-rle")
BACKENDS = ("zbud", "z3fold", "zsmalloc")


class KernelLatencyOptions(PluginOptions):
    kernel: Literal["6.1", "6.12"] = "6.12"
    pages: int = Field(1024, ge=16, le=1 << 16, description="pages per pass")
    passes: int = Field(5, ge=1, le=100, description="passes per boot per combination")
    boots: int = Field(3, ge=1, le=50, description="boots (passes interleave within each)")


def _suite_parts(results: dict[str, Any]) -> tuple[list[str], list[str], Path | None]:
    backends: list[str] = []
    comps: list[str] = []
    dump: Path | None = None
    for c in results.get("cases", []):
        name = c["allocator"]["name"]
        if name == "kernel-uml":
            name = c["allocator"].get("options", {}).get("backend", "")
        if name in BACKENDS and name not in backends:
            backends.append(name)
        comp = c["compressor"].get("options", {}).get("algorithm") or c["compressor"]["name"]
        if comp in KERNEL_COMPRESSORS and comp not in comps:
            comps.append(comp)
        if dump is None:
            dump = Path(c["dump"]["path"])
    order = {b: i for i, b in enumerate(BACKENDS)}
    return sorted(backends, key=order.__getitem__), comps, dump


class KernelLatency(Reporter):
    name = "kernel-latency"
    description = "store/load latency of the real zbud, z3fold, zsmalloc in a UML kernel"
    title = "Latency of the real code (user-mode Linux)"
    Options = KernelLatencyOptions

    def collect(self, results: dict[str, Any], out_dir: Path, say: Any) -> dict[str, Any]:
        o: KernelLatencyOptions = self.options  # type: ignore[assignment]
        backends, comps, dump = _suite_parts(results)
        k = build.find(o.kernel)
        if k is None:
            return {"skipped": f"no {o.kernel} UML kernel is built: zbench kernel build "
                               f"--version {o.kernel}"}
        if not backends or not comps or dump is None:
            return {"skipped": "the suite has no allocator or compressor the kernel has"}
        series = latency.measure(k, load_dump(dump), backends, comps, pages=o.pages,
                                 passes=o.passes, boots=o.boots, progress=say)
        pdir = out_dir / "pyperf"
        pdir.mkdir(parents=True, exist_ok=True)
        for s in series:
            latency.write_pyperf(pdir / f"kernel-{s.backend}-{s.compressor}.json", k, s)
        return latency.record(k, series, o.pages)

    @classmethod
    def timings(cls, record: dict[str, Any]) -> list[Timings]:
        """The real store / load per pass of each backend, per compressor (allocator
        time, the compressor's taken out), for the verdict."""
        if "series" not in record:
            return []
        scope = f"allocator time of Linux {record.get('kernel', '')} in user-mode Linux"
        out = []
        for op in ("store", "load"):
            by_comp: dict[str, dict[str, list[float]]] = {}
            for s in record["series"].values():
                vals = s.get(f"{op}_alloc_pass_ns") or []
                if vals:
                    by_comp.setdefault(s["compressor"], {})[s["backend"]] = vals
            out += [Timings(f"real {op}", scope, comp, values)
                    for comp, values in by_comp.items()]
        return out

    @classmethod
    def render(cls, record: dict[str, Any], fmt: str) -> tuple[str, str]:
        if "skipped" in record:
            return f"skipped: {record['skipped']}", ""
        return latency.table(record, fmt)
