"""zram recompression (Linux 6.2+): secondary algorithms and the ``recompress`` pass.

Rules (drivers/block/zram/zram_drv.c, from "zram: introduce recompress sysfs knob",
6.2, through the post-processing rework of 6.12; Documentation/admin-guide/blockdev/
zram.rst "Recompression"):

* ``recomp_algorithm`` (``algo=zstd priority=1``) sets up to three secondary
  algorithms, priorities 1..3 (``ZRAM_SECONDARY_COMP`` .. ``ZRAM_MAX_COMPS - 1``);
  since 6.12 each takes ``algorithm_params`` (level, dictionary): here, the compressor
  plugin's own options;
* ``recompress`` (``type=huge|idle|huge_idle threshold=N priority=P``) scans the slots
  (``scan_slots_for_recompress``): a slot is a candidate when it holds an object, is
  ``ZRAM_HUGE`` for ``type=huge``/``huge_idle`` and ``ZRAM_IDLE`` for ``type=idle``/
  ``huge_idle`` (set by ``echo all > idle``, :mod:`.writeback`), is neither same-filled
  nor written back (``ZRAM_WB``) nor ``ZRAM_INCOMPRESSIBLE``, and was not already
  recompressed at the highest priority the pass may use; 6.12 ("zram: clear IDLE flag
  after recompression") clears ``ZRAM_IDLE`` on every slot it reads;
* ``recompress_slot`` skips an object smaller than ``threshold``, decompresses it (a
  huge slot is a raw copy) and tries the secondary algorithms in priority order, from
  above the slot's own priority; a result is kept only when
  ``zs_lookup_class_index(new) < zs_lookup_class_index(old)`` (and below
  ``threshold`` when one is given): a new object in the same size class saves nothing.
  The kept object replaces the old one (``zs_malloc`` the new, ``zram_free_page`` the
  old: ``huge_pages`` and ``compr_data_size`` follow) and the slot records the
  priority, whose algorithm decompresses it from then on;
* when no algorithm up to the last configured one made progress, the slot is marked
  ``ZRAM_INCOMPRESSIBLE`` and no later pass tries it again;
* 6.12+ ("zram: rework recompress target selection strategy") process the candidates
  by ``zram_pp_ctl`` buckets of 64 bytes of object size, largest first, each bucket in
  reverse scan order (``place_pp_slot``'s ``list_add``, ``select_pp_slot``); before,
  in slot order.

``zs_lookup_class_index`` looks the size up without the handle ``zs_malloc`` adds; the
allocator's ``size_classes()`` (ascending, one row per distinct class) give the same
answer: the smallest class at least as large as the size.

Not modelled: ``max_pages``,
the ``algo=`` selector of ``recompress`` (``priority=`` does the same here),
allocation failure of the new object.  The pass runs when the workload has ended
(``when: end``, from ``FrontEnd.workload_ended``, before the final verification) or
each time it ends a named phase (``when: phase:LABEL``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, model_validator

from zbench import (
    PAGE_SIZES,
    Allocator,
    Compressor,
    KernelVersion,
    PluginOptions,
    UserError,
    get_plugin_class,
)

from .writeback import pp_order

#: ZRAM_MAX_COMPS: the primary (priority 0) and up to three secondary algorithms
ZRAM_MAX_COMPS = 4
ZRAM_SECONDARY_COMP = 1
#: the release that brought ``recomp_algorithm`` and ``recompress``
RECOMPRESS_SINCE = KernelVersion("6.2")
#: "zram: rework recompress target selection strategy": size buckets, largest first
PP_BUCKETS_SINCE = KernelVersion("6.13")
#: ``algorithm_params`` (level, dictionary per algorithm): before, zcomp set none
ALGORITHM_PARAMS_SINCE = KernelVersion("6.12")


def _one_line(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                     for e in exc.errors())


class RecompAlgorithm(PluginOptions):
    """One ``recomp_algorithm`` line: ``algo=NAME priority=N`` and its
    ``algorithm_params`` (the compressor plugin's options, validated by that plugin)."""

    name: str = Field(description="compressor plugin (lz4, zstd, deflate, ...)")
    options: Any = Field(default_factory=dict, description="the compressor's options")
    priority: int = Field(ge=ZRAM_SECONDARY_COMP, le=ZRAM_MAX_COMPS - 1,
                          description="1..3, tried in ascending order")

    @model_validator(mode="before")
    @classmethod
    def _compressor_options(cls, data: Any, info: ValidationInfo) -> Any:
        """The compressor is looked up and its options validated here, so an unknown
        algorithm or a bad option stops the run before any case (one line)."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        try:
            comp_cls: type[Compressor] = get_plugin_class("compressor", data["name"])
        except UserError:
            raise ValueError(f"unknown compressor {data['name']!r}") from None
        raw = data.get("options") or {}
        if isinstance(raw, PluginOptions):
            raw = raw.model_dump()
        try:
            opts = comp_cls.Options.model_validate(raw, context=info.context)
        except ValidationError as exc:
            raise ValueError(f"{data['name']} options: {_one_line(exc)}") from None
        return {**data, "options": opts}

    def has_params(self) -> bool:
        """Options other than the compressor's defaults: ``algorithm_params`` (6.12+)."""
        comp_cls: type[Compressor] = get_plugin_class("compressor", self.name)
        try:
            defaults = comp_cls.Options().model_dump()
        except ValidationError:  # an option without a default: set, so a parameter
            return True
        return bool(self.options.model_dump() != defaults)

    def build(self) -> Compressor:
        comp: Compressor = get_plugin_class("compressor", self.name)(self.options)
        return comp


class RecompressOptions(PluginOptions):
    """One write to ``recompress``, made when the workload has ended (``when: end``) or
    each time it ends the phase named (``when: phase:LABEL``)."""

    type: Literal["huge", "idle", "huge_idle"] = Field(
        "huge", description="slots to recompress (idle: those mark_idle marked)")
    threshold: int | None = Field(None, ge=1, lt=max(PAGE_SIZES), description=(
        "recompress objects of at least this many bytes, keep results below it"))
    priority: int | None = Field(None, ge=ZRAM_SECONDARY_COMP, le=ZRAM_MAX_COMPS - 1,
                                 description="only this secondary algorithm")
    when: str = Field("end", pattern=r"^(end|phase:.+)$", description=(
        "end: once, after the workload; phase:LABEL: each time the workload ends the "
        "phase LABEL (later operations, and --verify, then see the recompressed pool)"))

    def at_phase(self, label: str) -> bool:
        return self.when == f"phase:{label}"


def check_recompression(kernel: KernelVersion, algorithms: list[RecompAlgorithm],
                        recompress: RecompressOptions | None) -> None:
    """The checks ``recomp_algorithm_store`` and ``recompress_store`` make (and that the
    priorities leave no gap, see below), as one-line ValueErrors: the options model turns
    them into an OptionsError."""
    if not algorithms and recompress is None:
        return
    if kernel < RECOMPRESS_SINCE:
        raise ValueError(f"zram recompression appeared in {RECOMPRESS_SINCE} "
                         f"(kernel {kernel})")
    for a in algorithms:
        if kernel < ALGORITHM_PARAMS_SINCE and a.has_params():
            raise ValueError(f"recomp_algorithms priority {a.priority} ({a.name}): options "
                             f"are algorithm_params, {ALGORITHM_PARAMS_SINCE}+ (kernel {kernel})")
    prios = sorted(a.priority for a in algorithms)
    if len(set(prios)) != len(prios):
        raise ValueError(f"recomp_algorithms: two algorithms with one priority ({prios})")
    if prios != list(range(ZRAM_SECONDARY_COMP, len(prios) + 1)):
        # the kernel bounds the scan by num_active_comps: a gap hides the highest one
        raise ValueError(f"recomp_algorithms: priorities must be 1..{len(prios)} "
                         f"without a gap ({prios})")
    if recompress is None:
        return
    if not algorithms:
        raise ValueError("recompress needs recomp_algorithms (no secondary algorithm)")
    if recompress.priority is not None and recompress.priority > len(prios):
        raise ValueError(f"recompress priority={recompress.priority}: no such "
                         f"recomp_algorithm (priorities {prios})")


def check_threshold(options: RecompressOptions | None, huge_class_size: int | None) -> None:
    """``recompress_store``: ``threshold >= huge_class_size`` is -EINVAL (one line)."""
    if options is None or options.threshold is None or huge_class_size is None:
        return
    if options.threshold >= huge_class_size:
        raise UserError(f"zram recompress threshold={options.threshold}: must be below "
                        f"huge_class_size ({huge_class_size}; recompress_store: -EINVAL)")


class ClassLookup:
    """``zs_lookup_class_index`` over the allocator's distinct size classes."""

    def __init__(self, allocator: Allocator) -> None:
        rows = allocator.size_classes() or []
        self.sizes = sorted(r["size"] for r in rows)
        if not self.sizes:
            raise ValueError(f"allocator {allocator.name} has no size classes to recompress in")

    def index(self, size: int) -> int:
        """Index of the class holding ``size`` bytes (the largest one past the end)."""
        return min(bisect_left(self.sizes, size), len(self.sizes) - 1)


class Recompressor:
    """The secondary algorithms of one zram device and its ``recompress`` pass."""

    def __init__(self, kernel: KernelVersion, algorithms: Iterable[RecompAlgorithm],
                 options: RecompressOptions | None) -> None:
        self.kernel = kernel
        self.options = options
        #: zram->comps[]: index = priority, [0] is the primary (the case's compressor)
        self.comps: list[Compressor | None] = [None] * ZRAM_MAX_COMPS
        for a in algorithms:
            self.comps[a.priority] = a.build()
        self.num_active_comps = 1 + sum(c is not None for c in self.comps[1:])
        self.attempts = 0  # slots recompress_slot ran on (num_recomp_pages' decrements)

    def bind(self, dump: Any) -> None:
        """Each secondary algorithm's ``Compressor.bind``, as the run binds the primary."""
        for comp in self.comps[1:]:
            if comp is not None:
                comp.bind(dump)

    def decompressor(self, prio: int) -> Compressor:
        comp = self.comps[prio]
        if comp is None:
            raise ValueError(f"slot recompressed with priority {prio}, no such algorithm")
        return comp

    def bounds(self) -> tuple[int, int]:
        """``prio`` and ``prio_max`` of ``recompress_store``."""
        opts = self.options
        if opts is not None and opts.priority is not None:
            return opts.priority, opts.priority + 1
        return ZRAM_SECONDARY_COMP, self.num_active_comps

    def candidates(self, table: dict[int, Any], prio_max: int) -> list[int]:
        """``scan_slots_for_recompress`` for the configured type, in processing order."""
        kind = self.options.type if self.options is not None else "huge"
        picked = [off for off in sorted(table)
                  if self._candidate(table[off], prio_max, kind)]
        return picked if self.kernel < PP_BUCKETS_SINCE else pp_order(table, picked)

    @staticmethod
    def _candidate(slot: Any, prio_max: int, kind: str = "huge") -> bool:
        if slot.same is not None or bool(getattr(slot, "wb", 0)) or slot.incompressible:
            return False
        if kind in ("huge", "huge_idle") and not slot.huge:
            return False
        if kind in ("idle", "huge_idle") and not getattr(slot, "idle", False):
            return False
        return bool(slot.prio + 1 < prio_max)

    def new_object(self, page: bytes, old_size: int, slot_prio: int, prio: int,
                   prio_max: int, lookup: ClassLookup) -> tuple[int, bytes | None, bool]:
        """The secondary-algorithm loop of ``zram_recompress``: ``(prio, compressed,
        False)`` of the first algorithm whose object lands in a smaller class than
        ``old_size``'s and under the threshold; else ``(prio reached, None,
        incompressible)``.  The slot becomes ``ZRAM_INCOMPRESSIBLE`` only when every
        active secondary algorithm was tried and the *last* one did not reach a smaller
        class: one that did but stayed at or above the threshold ("successful
        recompression but above threshold") leaves the slot as it was."""
        threshold = (self.options.threshold if self.options else None) or 0
        class_old = lookup.index(old_size)
        class_new = class_old
        tried = 0
        prio = max(prio, slot_prio + 1)
        while prio < prio_max:
            comp = self.comps[prio]
            if comp is not None:
                tried += 1
                new = comp.compress(page)
                class_new = lookup.index(len(new))
                if class_new < class_old and not (threshold and len(new) >= threshold):
                    return prio, new, False
            prio += 1
        incompressible = bool(tried) and class_new >= class_old \
            and tried == self.num_active_comps - 1
        return prio, None, incompressible
