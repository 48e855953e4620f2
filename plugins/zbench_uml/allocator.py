"""``kernel-uml``: the real zbud, z3fold or zsmalloc of Linux 6.1 / 6.12, in user-mode Linux.

A suite names it like any allocator (``{name: kernel-uml, options: {kernel:
"6.12", backend: z3fold}}``) under a model front end (zswap or zram rules).
The case runs twice in one go:

1. **the shadow**: the zbench model of the same backend and kernel answers the
   front end as the case runs (its ``pool_pages`` drives zswap's pool limit,
   its handles are the front end's handles), while every allocator call is
   recorded as an op stream: store (the exact object bytes the front end
   wrote), load, free, compact, shrink (6.1's ``zpool_shrink``, with the
   objects the model evicted), phase marks;
2. **the kernel**: after the workload, the stream runs in one boot of the UML
   kernel (``zbench kernel build``) through zbench's driver, which drives the
   real allocator, verifies every load against what was stored and times each
   operation.

The case's pool pages, per phase and at the end, are the kernel's; the
shadow's are kept as ``model_pool_pages`` beside them, so the same row says
where the model and the kernel part.  Front-end decisions (rejections,
writeback under the pool limit) are the model's: where the two pools differ,
the kernel still sees the model's choice of what to store.
"""

from __future__ import annotations

import statistics
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field

from zbench import (
    Allocator,
    CaseSkipped,
    Finished,
    Metrics,
    Mobility,
    PageFrames,
    PluginOptions,
    get_plugin_class,
)

from . import build
from .boot import DEFAULT_TIMEOUT_S, BootError, boot, new_stream
from .stream import SETTLE, TRACE, Op, StreamWriter

BACKENDS = ("zbud", "z3fold", "zsmalloc")

#: the shadow model's options for each kernel the UML build has
MODEL_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "6.1": {"zbud": {"kernel": "6.1"}, "z3fold": {"kernel": "6.1"},
            "zsmalloc": {"kernel": "6.1"}},
    # CONFIG_ZSMALLOC_CHAIN_SIZE=8, the build's (and the Kconfig default)
    "6.12": {"zbud": {"kernel": "6.12"}, "z3fold": {"kernel": "6.12"},
             "zsmalloc": {"kernel": "6.12", "chain_size": 8}},
}



class KernelUmlOptions(PluginOptions):
    kernel: Literal["6.1", "6.12"] = Field("6.12", description="the UML kernel's version "
                                           "(zbench kernel build --version V)")
    backend: Literal["zbud", "z3fold", "zsmalloc"] = Field(
        "zsmalloc", description="the kernel allocator: zbud and z3fold through zpool, "
        "zsmalloc through its own API (zs_malloc, zs_compact)")
    settle: bool = Field(True, description="after each free, let queued work run before "
                         "the next operation (z3fold compacts a page in a work item)")
    trace_pages: bool = Field(False, description="diagnosis: compare the model's and the "
                              "kernel's pool pages after every operation; the first "
                              "difference is reported (kernel_first_divergence)")
    mem_mb: int = Field(1024, ge=128, le=16384, description="the guest's memory: it holds "
                        "the pool and the driver's copy of every live object")
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=86400,
                             description="kill the UML kernel after this many seconds")


class KernelUml(Allocator):
    """The real allocator, driven by the operations a model case records."""

    name = "kernel-uml"
    description = "the real zbud / z3fold / zsmalloc of Linux 6.1 or 6.12 in user-mode Linux"
    Options = KernelUmlOptions
    #: timed through the kernel driver, not the pyperf model runner (docs/kernel.md)
    timeable = False

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)
        o: KernelUmlOptions = self.options
        self.built = build.find(o.kernel)
        if self.built is None:
            raise CaseSkipped(f"no {o.kernel} UML kernel is built: run "
                              f"'zbench kernel build --version {o.kernel}'")
        model_cls = get_plugin_class("allocator", o.backend)
        self.model: Allocator = model_cls(
            model_cls.Options.model_validate(MODEL_OPTIONS[o.kernel][o.backend]), frames)
        self._stream: tuple[Path, BinaryIO, StreamWriter] | None = None  # opened on first use
        self.slot_of: dict[int, int] = {}  # model handle -> driver slot
        self._free_slots: list[int] = []
        self._next_slot = 0
        self._evicted: list[int] | None = None  # slots freed inside a reclaim
        self._model_phase_pages: list[int] = []
        self._model_trace: list[int] = []  # pool pages after each recorded op (trace_pages)

    # -- identity ---------------------------------------------------------
    @property
    def kernel(self) -> str:
        assert self.built is not None
        return (f"{self.built.release} mm/{self.options.backend}.c (real code, user-mode "
                f"Linux; shadow model: {self.model.kernel})")

    @property
    def simplifications(self) -> str:
        return ("none in the allocator (the kernel's own code); front-end decisions are the "
                "model front end's, made on the shadow model's pool size")

    # -- recorded operations --------------------------------------------
    @property
    def w(self) -> StreamWriter:
        if self._stream is None:
            o: KernelUmlOptions = self.options
            flags = (SETTLE if o.settle else 0) | (TRACE if o.trace_pages else 0)
            self._stream = new_stream(o.backend, "", flags)
            # a case that ends early (skipped, failed) leaves no stream file behind
            weakref.finalize(self, _remove, self._stream[0])
        return self._stream[2]

    def _discard_stream(self) -> None:
        """Close and remove the op stream of a case that will not boot the kernel."""
        if self._stream is not None:
            path, f, _ = self._stream
            f.close()
            _remove(path)
            self._stream = None

    # -- what the real pool cannot do here --------------------------------
    def _no_migration(self, *_args: Any) -> Any:
        self._discard_stream()  # now, not when the allocator is collected
        raise CaseSkipped("kernel-uml runs no migration experiments: the real pool is not "
                          "in zbench's simulated page frames")

    isolate_page = relocate_page = map_object = page_objects = _no_migration

    def _traced(self) -> None:
        if self.options.trace_pages:
            self._model_trace.append(self.model.pool_pages())

    def _slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        self._next_slot += 1
        return self._next_slot - 1

    def malloc(self, size: int) -> int:
        return self.model.malloc(size)

    def malloc_keyed(self, size: int, key: int) -> int:
        return self.model.malloc_keyed(size, key)

    def write(self, handle: int, data: bytes) -> None:
        self.model.write(handle, data)
        slot = self.slot_of.get(handle)
        if slot is None:
            slot = self.slot_of[handle] = self._slot()
        else:  # rewritten in place: a new object in the kernel
            self.w.free(slot)
            self._traced()
        self.w.store(slot, data)
        self._traced()

    def read(self, handle: int) -> bytes:
        data = self.model.read(handle)
        if self._evicted is None:
            self.w.load(self.slot_of[handle])
            self._traced()
        return data

    def free(self, handle: int) -> None:
        self.model.free(handle)
        slot = self.slot_of.pop(handle, None)
        if slot is None:  # allocated, never written: the kernel never saw it
            return
        if self._evicted is not None:
            self._evicted.append(slot)  # the kernel's evict callback frees it
        else:
            self.w.free(slot)
            self._traced()
        self._free_slots.append(slot)

    def compact(self) -> int:
        self.w.compact()
        n = self.model.compact()
        self._traced()
        return n

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        self._evicted = []
        try:
            ok = self.model.reclaim_page(evict, retries)
        finally:
            evicted, self._evicted = self._evicted, None
        self.w.shrink(1, evicted)
        self._traced()
        return ok

    def phase(self, label: str) -> None:
        self._model_phase_pages.append(self.model.pool_pages())
        self.w.phase(label)
        self._traced()

    def stats(self) -> Metrics:
        return self.model.stats()

    def pool_pages(self) -> int:
        return self.model.pool_pages()

    def max_size(self) -> int:
        return self.model.max_size()

    def slot_bytes(self) -> int | None:
        return self.model.slot_bytes()

    def evictable(self) -> bool:
        return self.model.evictable()

    @property
    def zram_pool(self) -> bool:  # type: ignore[override]
        return self.model.zram_pool

    def huge_class_size(self) -> int | None:
        return self.model.huge_class_size()

    def set_gfp(self, mobility: Mobility) -> bool:
        return self.model.set_gfp(mobility)

    # -- the kernel ---------------------------------------------------------
    def finish(self) -> Finished:
        o: KernelUmlOptions = self.options
        assert self.built is not None
        self.w.end()
        assert self._stream is not None
        path, f, _ = self._stream
        f.close()
        model_pages = self.model.pool_pages()
        try:  # boot() takes the stream file and removes it
            run = boot(self.built.linux, [path], mem_mb=o.mem_mb, timeout_s=o.timeout_s)
        except BootError as exc:
            raise CaseSkipped(f"the {o.kernel} UML kernel failed: {exc}") from None
        res = run.results[0]
        if not res.ok:
            raise CaseSkipped(f"the {o.kernel} UML kernel failed: {res.status}: {res.error}")
        if res.summary.get("mismatches", 0):
            raise CaseSkipped(f"the {o.kernel} UML kernel returned different bytes on "
                              f"{res.summary['mismatches']} loads")
        phases: list[Metrics] = []
        for p, model in zip(res.phases, self._model_phase_pages, strict=True):
            phases.append({"pool_pages": int(p["pool_pages"]), "model_pool_pages": model,
                           "kernel_store_failures": int(p["store_fail"])})
        metrics: Metrics = {
            "model_pool_pages": model_pages,
            "pool_pages": res.phases[-1]["pool_pages"] if res.phases else 0,
            "kernel_loads_verified": res.summary.get("loads", 0),
            "kernel_store_failures": res.summary.get("store_fail", 0),
            "kernel_evict_mismatches": res.summary.get("evict_mismatch", 0),
            "kernel_warnings": len(run.warnings()),
            "kernel_boot_s": round(run.seconds, 3),
        }
        if o.trace_pages:
            metrics["kernel_first_divergence"] = first_divergence(
                self._model_trace, [pages for _, pages in res.page_trace()])
        for op, key in ((Op.STORE, "store"), (Op.LOAD, "load")):
            total, _ = res.timings(op)
            if total:
                metrics[f"kernel_{key}_ns_mean"] = round(statistics.fmean(total), 1)
                metrics[f"kernel_{key}_ns_p50"] = statistics.median(total)
        return {"metrics": metrics, "phases": phases}


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def first_divergence(model: list[int], kernel: list[int]) -> int:
    """The operation (counted from 1) after which the pool sizes first differ; 0 if none
    (a metric is a count, never negative)."""
    for i, (a, b) in enumerate(zip(model, kernel, strict=False)):
        if a != b:
            return i + 1
    return 0 if len(model) == len(kernel) else min(len(model), len(kernel)) + 1

