"""One case: a dump through a compressor, a front end and an allocator under a workload.

This is the data path: dump → corpus (+ injected same-filled pages) →
compressor (cached) → front end → allocator on simulated page frames →
metrics.  With ``verify`` every load, and every live page after the
workload, after each compaction and after each migratability experiment
(``OpKind.MIGRATE``: migration, evacuation, reclaim), is checked byte for byte.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zbench.api.allocator import Allocator
from zbench.api.compressor import Compressor
from zbench.api.errors import VerifyError
from zbench.api.frames import PAGE_SIZE, PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.metrics import derive, read_costs
from zbench.api.workload import OpKind, Workload, WorkloadOptions
from zbench.input.compcache import CompressedPages
from zbench.input.corpus import Corpus
from zbench.input.dump import Dump
from zbench.run.distributions import class_rows
from zbench.run.spec import Case
from zbench.sim.experiments import MigrationLab
from zbench.sim.invariants import check_metrics, check_numbers, check_pool
from zbench.sim.sized import SizedCompressor, SizedPages, SizesOnlyCompressor, zeros
from zbench.sim.sizeframes import SizeFrames


class _Page:
    __slots__ = ("_corpus", "_comp", "_i", "clean")

    def __init__(self, corpus: Corpus, comp: CompressedPages, i: int, clean: bool) -> None:
        self._corpus, self._comp, self._i = corpus, comp, i
        self.clean = clean

    @property
    def data(self) -> bytes:
        return self._corpus.data(self._i)

    @property
    def compressed(self) -> bytes:
        return self._comp.get(self._i)


class _SizeOnlyPage(_Page):
    """A page on the sizes-only path: its compressed form is a zero-filled stand-in of
    the cached compressed size (``CompressedPages.size``), no blob is touched."""

    __slots__ = ()

    @property
    def compressed(self) -> bytes:
        return zeros(self._comp.size(self._i))


class _SizedPage:
    __slots__ = ("data", "compressed", "clean")

    def __init__(self, data: bytes, compressed: bytes) -> None:
        self.data, self.compressed, self.clean = data, compressed, False


@dataclass
class CaseRun:
    metrics: dict[str, int | float]
    phases: list[dict[str, Any]] = field(default_factory=list)
    kernel: dict[str, str] = field(default_factory=dict)
    simplifications: dict[str, str] = field(default_factory=dict)
    compressor_library: str = ""
    corpus: dict[str, int] = field(default_factory=dict)
    classes: list[dict[str, Any]] = field(default_factory=list)  # per-class rows, for plots
    elapsed_s: float = 0.0
    migration: dict[str, Any] = field(default_factory=dict)  # zbench.sim.experiments record


Progress = Callable[[int], None]


def run_case(
    case: Case, dump: Dump, compressed: Callable[[Corpus, Compressor], CompressedPages],
    progress: Progress | None = None,
) -> CaseRun:
    t0 = time.perf_counter()
    wopts: WorkloadOptions = case.workload.options  # type: ignore[assignment]
    corpus = Corpus(dump, wopts.zero_filled_pct, wopts.same_filled_pct, case.seed,
                    wopts.scale_pages)
    compressor: Compressor = case.compressor.cls(case.compressor.options)
    compressor.bind(dump)
    comp = compressed(corpus, compressor)
    sized = SizedPages(case.seed)
    if case.workload.cls.sized_stores:
        compressor = SizedCompressor(compressor, sized)
    sizes_only = wopts.payload == "sizes" and not case.verify
    if sizes_only:
        compressor = SizesOnlyCompressor(compressor, sized)
    frames = SizeFrames(PAGE_SIZE) if sizes_only else PageFrames(PAGE_SIZE)
    allocator: Allocator = case.allocator.cls(case.allocator.options, frames)
    frontend: FrontEnd = case.frontend.cls(case.frontend.options, allocator, compressor)
    workload: Workload = case.workload.cls(case.workload.options, case.seed)

    # a million-object pool makes the cyclic GC's young collections the hot spot: collect
    # less often while the case runs (the models make few cycles)
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 10, 10)
    rig = _Rig(corpus, comp, compressor, frames, allocator, frontend, workload, dump.n_pages,
               sized, _SizeOnlyPage if sizes_only else _Page)
    try:
        return _drive(case, rig, progress, t0)
    finally:
        gc.set_threshold(*thresholds)
        frontend.close()


@dataclass
class _Rig:
    """Everything one case runs on."""

    corpus: Corpus
    comp: CompressedPages
    compressor: Compressor
    frames: PageFrames
    allocator: Allocator
    frontend: FrontEnd
    workload: Workload
    dump_pages: int
    sized: SizedPages
    page_cls: type[_Page] = _Page  # _SizeOnlyPage on the sizes-only path


def _drive(case: Case, rig: _Rig, progress: Progress | None, t0: float) -> CaseRun:
    corpus, comp, compressor, frames = rig.corpus, rig.comp, rig.compressor, rig.frames
    allocator, frontend, workload = rig.allocator, rig.frontend, rig.workload
    sized, page_cls = rig.sized, rig.page_cls
    expected: dict[int, int] = {}  # offset -> corpus page (>= 0) or ~stand-in key, for verify
    ops = verified = compacted = stores = 0
    phases: list[dict[str, Any]] = []
    lab: MigrationLab | None = None  # created by the first MIGRATE op

    def check(offset: int, got: bytes | None) -> None:
        nonlocal verified
        src = expected[offset]
        want = corpus.data(src) if src >= 0 else sized.data(~src)
        if got != want:
            raise VerifyError(
                f"case {case.id}: load of offset {offset} (corpus page {expected[offset]}) "
                f"returned {'nothing' if got is None else 'different bytes'}"
            )
        verified += 1

    def load(offset: int, peek: bool = False) -> bytes | None:
        try:
            return frontend.peek(offset) if peek else frontend.load(offset)
        except Exception as exc:  # a damaged object fails to decompress
            if not case.verify:
                raise
            raise VerifyError(f"case {case.id}: load of offset {offset} failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    verify_reads: dict[str, int] = {}  # cost counters of check_all's reads, taken out below

    def check_all() -> None:
        live = set(frontend.offsets())
        if live != set(expected):
            raise VerifyError(f"case {case.id}: front end holds {len(live)} offsets, "
                              f"expected {len(expected)}")
        before = read_costs(allocator.stats())
        for off in sorted(live):
            check(off, load(off, peek=True))
        for k, v in read_costs(allocator.stats()).items():
            verify_reads[k] = verify_reads.get(k, 0) + v - before.get(k, 0)

    for op in workload.operations(corpus.n_pages):
        kind = op.kind
        if kind is OpKind.STORE:
            stores += 1
            if op.size > 0:
                key, blob = sized.make(op.size)
                frontend.store(op.offset, _SizedPage(sized.data(key), blob))
                if case.verify:
                    expected[op.offset] = ~key
            else:
                frontend.store(op.offset, page_cls(corpus, comp, op.page, op.label == "clean"))
                if case.verify:  # what a load must return: kept only to check it
                    expected[op.offset] = op.page
            if lab is not None:
                lab.on_store(op.offset)
        elif kind is OpKind.LOAD:
            got = load(op.offset)
            if case.verify and op.offset in expected:
                check(op.offset, got)
            if lab is not None:
                lab.on_load(op.offset)
        elif kind is OpKind.INVALIDATE:
            frontend.invalidate(op.offset)
            expected.pop(op.offset, None)
        elif kind is OpKind.COMPACT:
            compacted += frontend.compact()
            if case.verify:
                check_all()
            continue
        elif kind is OpKind.MIGRATE:
            if lab is None:
                lab = MigrationLab(frames, allocator, frontend, case.seed)
            lab.run(op)
            if case.verify:
                check_all()
            continue
        elif kind is OpKind.PHASE:
            frontend.phase(op.label)
            phases.append({"label": op.label, "operations": ops,
                           "pool_pages": allocator.pool_pages(), **frontend.metrics()})
            continue
        ops += 1
        if progress is not None and ops % 4096 == 0:
            progress(ops)
    if case.verify:
        check_all()
    real = frontend.finish() or {}
    for phase, extra in zip(phases, real.get("phases", []), strict=False):
        phase.update(extra)

    check_pool(allocator.pool_pages(), frames)
    m: dict[str, int | float] = {}
    stats = allocator.stats()
    check_numbers(stats)
    m.update(stats)
    for k, v in verify_reads.items():  # the workload's costs, not the checker's
        m[k] -= v
    m.update({
        "pool_pages": allocator.pool_pages(),
        "slot_bytes": allocator.slot_bytes(),
        "pages_compacted": compacted,
        "frames_allocated": frames.allocs,
        "frames_freed": frames.frees,
        "operations": ops,
        "verified_loads": verified,
    })
    m.update(frontend.metrics())  # a front end that measures the pool (the kernel) wins
    m.update(real.get("metrics", {}))  # so does real code run on the recorded operations
    if m["slot_bytes"] is None:
        del m["slot_bytes"]
    m.update(derive(m, PAGE_SIZE))
    if lab is not None:
        m.update(lab.metrics(m))
    check_metrics(m, stores)
    return CaseRun(
        metrics=m,
        phases=phases,
        kernel={"allocator": allocator.kernel, "frontend": frontend.kernel},
        simplifications={"allocator": allocator.simplifications,
                         "frontend": frontend.simplifications},
        compressor_library=f"{compressor.library} {compressor.library_version()}",
        classes=class_rows(allocator),
        corpus={"pages": corpus.n_pages, "dump_pages": rig.dump_pages,
                "injected_zero": corpus.zero_pages, "injected_same": corpus.same_pages},
        elapsed_s=round(time.perf_counter() - t0, 3),
        migration=lab.record() if lab is not None else {},
    )
