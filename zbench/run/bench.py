"""The pyperf program of a timing case: ``python -m zbench.run.bench --spec SPEC -o OUT.json``.

pyperf allows one ``Runner`` per process and re-runs its program for every
worker (``program_args=('-m', 'zbench.run.bench')``), so the Runner lives here, in a
module the ``zbench run`` command starts as a subprocess, never in the click
command itself.  ``--spec`` (a JSON file written by :mod:`zbench.run.timer`: the
timing case's :class:`~zbench.run.spec.CaseSpec` under ``case`` - dump, compressor,
front end, allocator, seed - with its ``id`` and ``timing`` settings) is forwarded to
every worker.

Two benchmarks per case, each a ``bench_time_func`` over ``pages`` dump pages
(``inner_loops``), so pyperf reports time per page:

* ``store``: a fresh pool per pass, then ``frontend.store`` of every page: the
  same-filled check, compression (done live, not from the cache), ``malloc``
  and the copy in;
* ``load``: a fresh pool filled outside the timed region, then
  ``frontend.load`` of every page in a seeded order: map, copy out (two pages
  for a straddling object), decompression.

The cyclic garbage collector is off inside the timed regions.  After the
benchmarks the manager process (not the workers) times the same paths one
operation at a time (``rounds`` passes) for the p50 / p90 / p99 and the
histogram, with the compressor's own calls clocked inside each operation, and
writes them to ``--hist-out``.

A case whose front end runs a batch of payload on native engines (a case of bytes runs
that way: zram over zsmalloc with lz4, engines built) is timed that way too
(:mod:`zbench.run.benchbatch`): the same stores and loads as one batch, the
per-operation clocks read in C.  The record's ``path`` says which ran.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zbench.api.compressor import Compressor, CompressorProxy
from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE, PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.registry import PluginRecord
from zbench.run.benchbatch import EngineTiming

#: the record's ``path`` of a case timed operation by operation
PYTHON_PATH = "the Python model, operation by operation"

#: histogram buckets per decade of nanoseconds (log-spaced edges)
BUCKETS_PER_DECADE = 16


class _LivePage:
    """A page whose ``compressed`` form is computed on every access (the store path's
    compression is part of what is timed)."""

    __slots__ = ("data", "_comp", "clean")

    def __init__(self, data: bytes, comp: Compressor) -> None:
        self.data, self._comp, self.clean = data, comp, False

    @property
    def compressed(self) -> bytes:
        return self._comp.compress(self.data)


class _Clocked(CompressorProxy):
    """The case's compressor with every call clocked (nanoseconds, cumulative)."""

    def __init__(self, inner: Compressor) -> None:
        super().__init__(inner)
        self.ns = 0
        self.mark = 0

    def compress(self, page: bytes) -> bytes:
        t = time.perf_counter_ns()
        out = self.inner.compress(page)
        self.ns += time.perf_counter_ns() - t
        return out

    def decompress(self, data: bytes, size: int) -> bytes:
        t = time.perf_counter_ns()
        out = self.inner.decompress(data, size)
        self.ns += time.perf_counter_ns() - t
        return out


@dataclass
class Rig:
    """Everything the timed functions run on, built once per process."""

    pages: list[bytes]
    load_order: list[int]
    compressor: Compressor
    new_frontend: Callable[[Compressor], FrontEnd]
    metadata: dict[str, str | int]
    info: dict[str, str]
    engine: EngineTiming | None = None  # the batch on native engines, when offered

    def items(self, comp: Compressor) -> list[tuple[int, _LivePage]]:
        return [(off, _LivePage(data, comp)) for off, data in enumerate(self.pages)]


def build_rig(spec: dict[str, Any]) -> Rig:
    """The pages, the compressor and a front-end factory named by ``spec``."""
    from zbench.api.registry import get_registry
    from zbench.api.version import __version__
    from zbench.input.dump import load_dump
    from zbench.run.spec import CaseSpec, rebuild_part

    registry = get_registry()
    case = CaseSpec.from_json(spec["case"])
    dump = load_dump(case.dump.path)
    if dump.sha256 != case.dump.sha256:
        raise UserError(f"{case.dump.path}: changed since the run started (sha256)")
    cpart, fpart, apart = (rebuild_part(registry, case.part(k), "timing spec")
                           for k in ("compressor", "frontend", "allocator"))
    copts, fopts, aopts = cpart.options, fpart.options, apart.options
    comp: Compressor = cpart.cls(copts)
    comp.bind(dump)

    def new_frontend(c: Compressor) -> FrontEnd:
        fe: FrontEnd = fpart.cls(fopts, apart.cls(aopts, PageFrames(PAGE_SIZE)), c)
        fe.bind(dump)
        return fe

    rng = random.Random(f"timing:{case.seed}")
    k = min(spec["timing"]["pages"], dump.n_pages)
    pages = [dump.page(i) for i in rng.sample(range(dump.n_pages), k)]
    order = list(range(k))
    rng.shuffle(order)
    probe = new_frontend(comp)
    try:
        info = {"allocator_kernel": probe.allocator.kernel, "frontend_kernel": probe.kernel,
                "compressor_library": f"{comp.library} {comp.library_version()}".strip()}
        name = probe.sizes_engine()
    finally:
        probe.close()
    engine = None
    if name:
        engine = EngineTiming(pages, order, comp, new_frontend, name)
        engine.check()  # every load and every page read back equal, before any timing
    info["path"] = name or PYTHON_PATH
    meta: dict[str, str | int] = {
        "zbench_version": __version__,
        "zbench_case": spec["id"],
        "allocator": apart.label,
        "allocator_plugin": _plugin(apart.plugin),
        "allocator_options": json.dumps(aopts.model_dump(mode="json"), sort_keys=True),
        "frontend": fpart.label,
        "frontend_plugin": _plugin(fpart.plugin),
        "compressor": cpart.label,
        "compressor_library": info["compressor_library"],
        "compressor_options": json.dumps(copts.model_dump(mode="json"), sort_keys=True),
        "dump": case.dump.name,
        "dump_sha256": dump.sha256,
        "kernel_rules": f"{info['allocator_kernel']}; {info['frontend_kernel']}",
        "timed_pages": k,
        "zbench_path": info["path"],
        "page_size": PAGE_SIZE,
        "zbench_seed": case.seed,
    }
    if spec.get("git_commit"):
        meta["git_commit"] = spec["git_commit"]
    meta = {key: v for key, v in meta.items() if v != ""}  # pyperf rejects empty strings
    return Rig(pages, order, comp, new_frontend, meta, info, engine)


def _plugin(rec: PluginRecord) -> str:
    return f"{rec.name} ({rec.dist} {rec.version})"


# -- the timed functions (pyperf bench_time_func: return total seconds) -----------------

def time_store(loops: int, rig: Rig) -> float:
    if rig.engine is not None:
        return _engine_loops(loops, rig.engine.time_store)
    items = rig.items(rig.compressor)
    total = 0.0
    clock = time.perf_counter
    for _ in range(loops):
        fe = rig.new_frontend(rig.compressor)
        store = fe.store
        gc.disable()
        try:
            t0 = clock()
            for off, page in items:
                store(off, page)
            total += clock() - t0
        finally:
            gc.enable()
            fe.close()
    return total


def time_load(loops: int, rig: Rig) -> float:
    if rig.engine is not None:
        return _engine_loops(loops, rig.engine.time_load)
    items = rig.items(rig.compressor)
    order = rig.load_order
    total = 0.0
    clock = time.perf_counter
    for _ in range(loops):
        fe = rig.new_frontend(rig.compressor)
        for off, page in items:
            fe.store(off, page)
        load = fe.load
        gc.disable()
        try:
            t0 = clock()
            for off in order:
                load(off)
            total += clock() - t0
        finally:
            gc.enable()
            fe.close()
    return total


def _engine_loops(loops: int, one: Callable[[], float]) -> float:
    total = 0.0
    gc.disable()
    try:
        for _ in range(loops):
            total += one()
    finally:
        gc.enable()
    return total


# -- per-operation histogram (manager process only) -----------------------------------

def percentile(sorted_ns: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ns:
        return 0
    rank = max(1, math.ceil(pct / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1]


def histogram(sorted_ns: list[int]) -> dict[str, list[float] | list[int]]:
    """Log-spaced buckets (``BUCKETS_PER_DECADE`` per decade) over the samples' range."""
    if not sorted_ns:
        return {"edges_ns": [], "counts": []}
    lo = math.floor(math.log10(max(sorted_ns[0], 1)) * BUCKETS_PER_DECADE)
    hi = math.ceil(math.log10(max(sorted_ns[-1], 1)) * BUCKETS_PER_DECADE) + 1
    edges = [round(10 ** (i / BUCKETS_PER_DECADE), 1) for i in range(lo, hi + 1)]
    counts = [bisect.bisect_left(sorted_ns, edges[i + 1]) - bisect.bisect_left(sorted_ns, edges[i])
              for i in range(len(edges) - 1)]
    return {"edges_ns": edges, "counts": counts}


def _summary(samples: list[int]) -> dict[str, Any]:
    s = sorted(samples)
    total = sum(s)
    return {
        "samples": len(s),
        "p50_ns": percentile(s, 50),
        "p90_ns": percentile(s, 90),
        "p99_ns": percentile(s, 99),
        "min_ns": s[0] if s else 0,
        "max_ns": s[-1] if s else 0,
        "hist_mean_ns": round(total / len(s), 1) if s else 0.0,
        "histogram": histogram(s),
    }


def _pass(rig: Rig, comp: Compressor, store_ns: list[int], load_ns: list[int]) -> None:
    """One pass: store every page, then load them, each operation clocked on its own."""
    items = rig.items(comp)
    ns = time.perf_counter_ns
    fe = rig.new_frontend(comp)
    gc.disable()
    try:
        store, load = fe.store, fe.load
        for off, page in items:
            t = ns()
            store(off, page)
            store_ns.append(ns() - t)
        if isinstance(comp, _Clocked):
            comp.mark = comp.ns  # compressor time of the stores ends here
        for off in rig.load_order:
            t = ns()
            load(off)
            load_ns.append(ns() - t)
    finally:
        gc.enable()
        fe.close()


def per_operation(rig: Rig, rounds: int) -> dict[str, Any]:
    """Time each store and load on its own, ``rounds`` passes, for the percentiles; then
    as many passes with the compressor's calls clocked inside each operation, for its
    share (kept apart so the inner clocks do not inflate the percentiles)."""
    store_ns: list[int] = []
    load_ns: list[int] = []
    if rig.engine is not None:  # clocked in C, the codec's share with them
        comp_store = comp_load = 0
        gc.disable()
        try:
            for _ in range(rounds):
                cs, cl = rig.engine.clocked_pass(store_ns, load_ns)
                comp_store, comp_load = comp_store + cs, comp_load + cl
        finally:
            gc.enable()
        return _record(rig, rounds, store_ns, load_ns, _share(comp_store, sum(store_ns)),
                       _share(comp_load, sum(load_ns)))
    for _ in range(rounds):
        _pass(rig, rig.compressor, store_ns, load_ns)
    clocked = _Clocked(rig.compressor)
    s_ns: list[int] = []
    l_ns: list[int] = []
    comp_store = comp_load = 0
    for _ in range(rounds):
        c0 = clocked.ns
        _pass(rig, clocked, s_ns, l_ns)
        comp_store += clocked.mark - c0
        comp_load += clocked.ns - clocked.mark
    return _record(rig, rounds, store_ns, load_ns, _share(comp_store, sum(s_ns)),
                   _share(comp_load, sum(l_ns)))


def _record(rig: Rig, rounds: int, store_ns: list[int], load_ns: list[int],
            store_share: float, load_share: float) -> dict[str, Any]:
    store = _summary(store_ns)
    load = _summary(load_ns)
    store["compressor_share_pct"] = store_share
    load["compressor_share_pct"] = load_share
    return {"store": store, "load": load, "info": rig.info, "pages": len(rig.pages),
            "rounds": rounds}


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


# -- main ----------------------------------------------------------------------------

def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """pyperf ``add_cmdline_args``: workers get the spec too."""
    cmd.extend(("--spec", args.spec))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--spec", required=True)
    pre.add_argument("--fast", action="store_true")
    pre.add_argument("--rigorous", action="store_true")
    known, _ = pre.parse_known_args(argv)
    try:
        spec = json.loads(Path(known.spec).read_text(encoding="utf-8"))
        rig = build_rig(spec)
    except UserError as exc:
        print(f"zbench.run.bench: error: {exc}", file=sys.stderr)
        sys.exit(2)
    t = spec["timing"]
    preset = known.fast or known.rigorous  # pyperf's own presets replace the suite's numbers

    import pyperf

    runner = pyperf.Runner(
        values=None if preset else t.get("values"),
        processes=None if preset else t.get("processes"),
        warmups=t["warmups"], loops=t["loops"], min_time=t["min_time"],
        program_args=("-m", "zbench.run.bench"), add_cmdline_args=_forward,
        metadata=dict(rig.metadata),
    )
    runner.argparser.add_argument("--spec", required=True, help="timing case (JSON)")
    runner.argparser.add_argument("--hist-out", help="write the per-operation histogram here")
    args = runner.parse_args(argv)
    n = len(rig.pages)
    runner.bench_time_func(f"{spec['id']} store", time_store, rig, inner_loops=n,
                           metadata={"zbench_op": "store"})
    runner.bench_time_func(f"{spec['id']} load", time_load, rig, inner_loops=n,
                           metadata={"zbench_op": "load"})
    if args.worker or not args.hist_out:
        return
    hist = per_operation(rig, t["rounds"])
    from zbench.api.safeio import write_atomic

    write_atomic(args.hist_out, json.dumps(hist), mode=0o644)


if __name__ == "__main__":
    main()
