"""One case: a dump through a compressor, a front end and an allocator under a workload.

This is the data path: dump → corpus (+ injected same-filled pages) →
compressor (cached) → front end → allocator on simulated page frames →
metrics.  With ``verify`` every load, and every live page after the
workload, after each compaction and after each migratability experiment
(``OpKind.MIGRATE``: migration, evacuation, reclaim), is checked byte for byte.

Every page is ``dump.page_size`` bytes, the case's page size (the runner hands in the dump
read as the case's pages, :meth:`zbench.input.dump.Dump.paged`): the frames, the injected
same-filled pages, the stand-ins of sized stores, what the verifier compares and the ratios
are all of that size.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zbench.api.allocator import Allocator, Finished
from zbench.api.compressor import Compressor
from zbench.api.errors import VerifyError
from zbench.api.frames import PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.metrics import derive, read_costs
from zbench.api.sized import COMPACT, STORE, STORE_CLEAN
from zbench.api.workload import Op, OpKind, Workload, WorkloadOptions
from zbench.input.compcache import CompressedPages
from zbench.input.corpus import Corpus
from zbench.input.dump import Dump
from zbench.run.batch import batchable, build_batch
from zbench.run.distributions import class_rows
from zbench.run.spec import Case
from zbench.sim.experiments import MigrationLab
from zbench.sim.invariants import check_metrics, check_numbers, check_pool
from zbench.sim.sized import SizedCompressor, SizedPages, SizesOnlyCompressor, zeros
from zbench.sim.sizeframes import SizeFrames


class _Page:
    """The page of a store from the corpus, read through the case's corpus and compressed
    pages when the front end asks.  A case has one, re-pointed (``index``, ``clean``) at
    each store's corpus page: a store allocates nothing of the driver's, and every front
    end reads ``data``, ``compressed`` and ``clean`` while its ``store`` runs."""

    __slots__ = ("_data", "_comp", "_size", "index", "clean")

    def __init__(self, corpus: Corpus, comp: CompressedPages) -> None:
        self._data = corpus.data  # bound once: one call a read, not two lookups
        self._comp = comp
        self._size = comp.size
        self.index = 0
        self.clean = False

    @property
    def data(self) -> bytes:
        return self._data(self.index)

    @property
    def compressed(self) -> bytes:
        return self._comp.get(self.index)


class _SizeOnlyPage(_Page):
    """A page on the sizes-only path: its compressed form is a zero-filled stand-in of
    the cached compressed size (``CompressedPages.size``), no blob is touched."""

    __slots__ = ()

    @property
    def compressed(self) -> bytes:
        return zeros(self._size(self.index))


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
    engine: str = ""  # the native engine of a sizes-only batch (zbench.api.sized), or ""


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
    page_size = dump.page_size
    sized = SizedPages(case.seed, page_size)
    if case.workload.cls.sized_stores:
        compressor = SizedCompressor(compressor, sized)
    sizes_only = wopts.payload == "sizes" and not case.verify
    if sizes_only:
        compressor = SizesOnlyCompressor(compressor, sized)
    frames = SizeFrames(page_size) if sizes_only else PageFrames(page_size)
    allocator: Allocator = case.allocator.cls(case.allocator.options, frames)
    frontend: FrontEnd = case.frontend.cls(case.frontend.options, allocator, compressor)
    frontend.bind(dump)
    workload: Workload = case.workload.cls(wopts, case.seed)

    # a million-object pool makes the cyclic GC's young collections the hot spot: collect
    # less often while the case runs (the models make few cycles)
    thresholds = gc.get_threshold()
    gc.set_threshold(200_000, 10, 10)
    rig = _Rig(corpus, comp, compressor, frames, allocator, frontend, workload, dump.n_pages,
               sized, _SizeOnlyPage if sizes_only else _Page, sizes_only)
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
    sizes_only: bool = False


class _Verifier:
    """The byte-for-byte checks of a case run with ``verify``: what each live offset must
    load as (a corpus page, or ``~key`` of a sized stand-in), every load compared with
    it, and every live offset read back (``peek``) after a compaction, a migratability
    experiment and the workload; the cost counters of those read-backs are kept apart so
    they can be taken out of the workload's.  Without ``verify`` nothing is kept and
    only a failing load is passed on as it is."""

    def __init__(self, case_id: str, enabled: bool, rig: _Rig) -> None:
        self.case_id, self.enabled = case_id, enabled
        self.corpus, self.sized = rig.corpus, rig.sized
        self.frontend, self.allocator = rig.frontend, rig.allocator
        self.expected: dict[int, int] = {}  # offset -> corpus page (>= 0) or ~stand-in key
        self.verified = 0
        self.reads: dict[str, int] = {}  # cost counters of check_all's reads

    def expect(self, offset: int, source: int) -> None:
        """``offset`` now holds ``source`` (kept only with verify, to check loads)."""
        if self.enabled:
            self.expected[offset] = source

    def forget(self, offset: int) -> None:
        self.expected.pop(offset, None)

    def load(self, offset: int, peek: bool = False) -> bytes | None:
        """The front end's load (or peek) of ``offset``; with verify a load that raises
        (a damaged object fails to decompress) is a VerifyError."""
        try:
            return self.frontend.peek(offset) if peek else self.frontend.load(offset)
        except Exception as exc:
            if not self.enabled:
                raise
            raise VerifyError(f"case {self.case_id}: load of offset {offset} failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    def check_load(self, offset: int, got: bytes | None) -> None:
        """A workload's load of ``offset`` returned ``got``: checked when it is known."""
        if self.enabled and offset in self.expected:
            self.check(offset, got)

    def check(self, offset: int, got: bytes | None) -> None:
        src = self.expected[offset]
        want = self.corpus.data(src) if src >= 0 else self.sized.data(~src)
        if got != want:
            raise VerifyError(
                f"case {self.case_id}: load of offset {offset} (corpus page {src}) "
                f"returned {'nothing' if got is None else 'different bytes'}"
            )
        self.verified += 1

    def check_all(self) -> None:
        """With verify: the front end holds exactly the expected offsets, each loading
        as it must."""
        if not self.enabled:
            return
        live = set(self.frontend.offsets())
        if live != set(self.expected):
            raise VerifyError(f"case {self.case_id}: front end holds {len(live)} offsets, "
                              f"expected {len(self.expected)}")
        before = read_costs(self.allocator.stats())
        for off in sorted(live):
            self.check(off, self.load(off, peek=True))
        for k, v in read_costs(self.allocator.stats()).items():
            self.reads[k] = self.reads.get(k, 0) + v - before.get(k, 0)


class _Driver:
    """The workload's operations applied to the front end, one handler per
    :class:`OpKind`; a handler returns whether the op counts in ``operations``."""

    def __init__(self, case: Case, rig: _Rig) -> None:
        self.case, self.rig = case, rig
        self.verifier = _Verifier(case.id, case.verify, rig)
        self.frontend = rig.frontend
        self.page = rig.page_cls(rig.corpus, rig.comp)  # every corpus store's page
        self.ops = self.compacted = self.stores = 0
        self.engine = ""  # the native engine the workload ran on as one batch (run_batch)
        self.phases: list[dict[str, Any]] = []
        self.lab: MigrationLab | None = None  # created by the first MIGRATE op
        self.handlers: dict[OpKind, Callable[[Op], bool]] = {
            OpKind.STORE: self.store, OpKind.LOAD: self.load,
            OpKind.INVALIDATE: self.invalidate, OpKind.COMPACT: self.compact,
            OpKind.MIGRATE: self.migrate, OpKind.PHASE: self.phase,
        }

    def run(self, progress: Progress | None) -> None:
        """Every operation of the workload, then the end of the workload.  The loop is the
        case's hot path (a million stores): stores, loads and invalidations are told
        apart by identity, not by hashing the enum, and the count is a local, written
        back before any handler that reads it (a phase records it)."""
        store, load, invalidate = self.store, self.load, self.invalidate
        handlers = self.handlers
        STORE, LOAD, INVALIDATE = OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE
        ops = self.ops
        for op in self.rig.workload.operations(self.rig.corpus.n_pages):
            kind = op.kind
            if kind is STORE:
                store(op)
            elif kind is LOAD:
                load(op)
            elif kind is INVALIDATE:
                invalidate(op)
            else:
                handler = handlers.get(kind)
                if handler is not None:
                    self.ops = ops
                    if not handler(op):
                        continue
            ops += 1
            if not ops & 4095 and progress is not None:  # every 4096 operations
                progress(ops)
        self.ops = ops
        self.rig.frontend.workload_ended()  # what it does then is verified too
        self.verifier.check_all()

    def store(self, op: Op) -> bool:
        self.stores += 1
        if op.size > 0:
            sized = self.rig.sized
            key, blob = sized.make(op.size)
            self.frontend.store(op.offset, _SizedPage(sized.data(key), blob))
            self.verifier.expect(op.offset, ~key)
        else:
            page = self.page
            page.index = op.page
            page.clean = op.label == "clean"
            self.frontend.store(op.offset, page)
            self.verifier.expect(op.offset, op.page)  # what a load must return
        if self.lab is not None:
            self.lab.on_store(op.offset)
        return True

    def load(self, op: Op) -> bool:
        self.verifier.check_load(op.offset, self.verifier.load(op.offset))
        if self.lab is not None:
            self.lab.on_load(op.offset)
        return True

    def invalidate(self, op: Op) -> bool:
        self.frontend.invalidate(op.offset)
        self.verifier.forget(op.offset)
        return True

    def compact(self, op: Op) -> bool:
        self.compacted += self.rig.frontend.compact()
        self.verifier.check_all()
        return False

    def migrate(self, op: Op) -> bool:
        rig = self.rig
        if self.lab is None:
            self.lab = MigrationLab(rig.frames, rig.allocator, rig.frontend, self.case.seed)
        self.lab.run(op)
        self.verifier.check_all()
        return False

    def phase(self, op: Op) -> bool:
        self.rig.frontend.phase(op.label)
        self.record_phase(op.label, self.ops)
        return False

    def record_phase(self, label: str, ops: int) -> None:
        """The figures at the end of phase ``label`` (the front end has been told)."""
        self.phases.append({"label": label, "operations": ops,
                            "pool_pages": self.rig.allocator.pool_pages(),
                            **self.rig.frontend.metrics()})

    def run_batch(self, progress: Progress | None) -> bool:
        """The whole workload as one batch (zbench.run.batch), when the workload and the
        front end can; False, with nothing run, when not.  A case that keeps bytes
        hands over the pages too, and with verify the front end checks every load."""
        rig = self.rig
        if not batchable(type(rig.workload)):
            return False
        engine = rig.frontend.sizes_engine()
        if engine is None:
            return False
        batch = build_batch(rig.workload, rig.corpus, rig.comp, payload=not rig.sizes_only,
                            verify=self.case.verify)
        try:
            rig.frontend.run_sizes(batch, self.record_phase, progress)
        except VerifyError as exc:
            raise VerifyError(f"case {self.case.id}: {exc}") from None
        if batch.payload is not None:
            self.verifier.verified = batch.payload.verified
        kinds = batch.kinds
        self.stores = kinds.count(STORE) + kinds.count(STORE_CLEAN)
        self.ops = len(batch) - len(batch.labels) - kinds.count(COMPACT)
        self.compacted = batch.compacted
        self.engine = engine
        rig.frontend.workload_ended()
        return True


def _drive(case: Case, rig: _Rig, progress: Progress | None, t0: float) -> CaseRun:
    driver = _Driver(case, rig)
    if not driver.run_batch(progress):
        driver.run(progress)
    real = rig.frontend.finish() or {}
    for phase, extra in zip(driver.phases, real.get("phases", []), strict=False):
        phase.update(extra)
    m = _metrics(driver, rig, real)
    allocator, frontend, compressor, corpus = (rig.allocator, rig.frontend, rig.compressor,
                                               rig.corpus)
    return CaseRun(
        metrics=m,
        phases=driver.phases,
        kernel={"allocator": allocator.kernel, "frontend": frontend.kernel},
        simplifications={"allocator": allocator.simplifications,
                         "frontend": frontend.simplifications},
        compressor_library=f"{compressor.library} {compressor.library_version()}",
        classes=class_rows(allocator),
        corpus={"pages": corpus.n_pages, "dump_pages": rig.dump_pages,
                "injected_zero": corpus.zero_pages, "injected_same": corpus.same_pages},
        elapsed_s=round(time.perf_counter() - t0, 3),
        migration=driver.lab.record() if driver.lab is not None else {},
        engine=driver.engine,
    )


def _metrics(driver: _Driver, rig: _Rig, real: Finished) -> dict[str, int | float]:
    """The case's metrics: the allocator's counters less the verifier's reads, the run's
    own counts, the front end's and real code's figures (which win), derived ratios and
    the migratability figures; every invariant checked."""
    allocator, frames, frontend = rig.allocator, rig.frames, rig.frontend
    check_pool(allocator.pool_pages(), frames)
    m: dict[str, Any] = {}
    stats = allocator.stats()
    check_numbers(stats)
    m.update(stats)
    for k, v in driver.verifier.reads.items():  # the workload's costs, not the checker's
        m[k] -= v
    m.update({
        "pool_pages": allocator.pool_pages(),
        "slot_bytes": allocator.slot_bytes(),
        "pages_compacted": driver.compacted,
        "frames_allocated": frames.allocs,
        "frames_freed": frames.frees,
        "operations": driver.ops,
        "verified_loads": driver.verifier.verified,
    })
    m.update(frontend.metrics())  # a front end that measures the pool (the kernel) wins
    m.update(real.get("metrics", {}))  # so does real code run on the recorded operations
    if m["slot_bytes"] is None:
        del m["slot_bytes"]
    m.update(derive(m, frames.page_size))
    if driver.lab is not None:
        m.update(driver.lab.metrics(m))
    check_metrics(m, driver.stores)
    return m
