"""``zsmalloc-test``: S. Senozhatsky's ``zsmalloc_test`` kernel module as a workload.

Source: the patch ``0001-zsmalloc-add-zsmalloc_test-module.patch`` ("zsmalloc: add
zsmalloc_test module", dated 2025-12-30, adding ``mm/zsmalloc_test.c``) in
https://github.com/sergey-senozhatsky/simulate-zsmalloc.  Two revisions of the
patch were read; they share the workload and differ in the size step:

* revision a (blob ``ead40ffaf502``, at commit e49f6777): ``MIN_SIZE 32``,
  ``STEP_SIZE 1``, ``OBJS_PER_CLASS 182``: one run;
* revision b (blob ``0a140317da22``, at commit 560ecb88): the same run repeated
  with step = ``MIN_STEP_SIZE`` 1, + ``STEP_DELTA`` 8, ... up to
  ``MAX_STEP_SIZE`` 127 (16 runs: 1, 9, ..., 121), each in a new pool, and the
  objects filled with a per-object byte pattern that the read pass checks.

What one run of the module does (both revisions):

1. ``zs_create_pool()``;
2. for ``sz = MIN_SIZE; sz < zs_huge_class_size(pool); sz += step``: 182 times
   ``zs_malloc(pool, sz, ...)``, the handles appended to one list in order;
3. ``zs_obj_write()`` of every object in list order (timed); it prints the
   number of objects, ``zs_get_total_pages()`` ("pool pages used"), the total
   allocated size (the sum of ``sz``), the utilisation ``total size / (pool
   pages * PAGE_SIZE)`` and the write time;
4. ``zs_obj_read_begin(pool, handle, sz, local_copy)`` / ``zs_obj_read_end()``
   of every object in list order (timed); an object for which zsmalloc returns
   the bounce buffer (``local_copy + ZS_HANDLE_SIZE``) spans two pages and is
   counted, with its size added to the memcpy total; it prints the number of
   objects read, the spanning objects, the memcpy bytes and the read time;
5. ``zs_free()`` of every object in list order, ``zs_destroy_pool()``.

The workload, per run: a sized STORE (``Op(STORE, offset, size=sz)``: a stand-in
object of exactly ``sz`` bytes) per object at fresh offsets, sizes ascending and
``objects_per_size`` of each; a PHASE ``write (step N)``, where the module prints
the pool pages; a LOAD of every offset in store order and a PHASE ``read (step
N)``; an INVALIDATE of every offset in store order and a PHASE ``free (step
N)``.  The pool is then empty (zsmalloc frees a zspage when its last object
goes), which stands for the module's new pool per run.  The spanning objects
show in the allocator's ``page_crossing_copies`` (one for the write and one for
the read of each spanning object; zbench's model tests the object's own length
plus the 8-byte handle against the page end, as the module's four-argument
``zs_obj_read_begin()`` does); times are not modelled (``timing`` measures
latency separately).

Assumptions and differences:

* The module calls zsmalloc directly; in zbench stores go through a front end.
  Behind zram a sized store of ``sz`` bytes reaches ``zs_malloc(sz)`` unchanged
  as long as ``sz < huge_class_size`` (zram stores larger ones uncompressed as
  ``PAGE_SIZE``: one page each, as the huge class would); behind zswap 6.2-6.4
  its 8-byte header would be added.
* A workload does not see the allocator, so the module's bound
  ``zs_huge_class_size(pool)`` is the option ``max_size`` (the last size at
  most, inclusive).  Its default, 3624, is ``zs_huge_class_size() - 1`` of the
  zsmalloc model for 4 KiB pages and chain size 8 under the 6.3+ rules
  (huge_class_size 3625: ``zbench inspect zsmalloc --set chain_size=8``); set it
  from ``zbench inspect`` for another chain size.
* The module allocates every object before writing any; zbench's store is
  ``zs_malloc`` + write at once.  Writes allocate nothing, so the pool pages
  after the writes are the same.
* Revision b's byte patterns and checks are replaced by ``--verify``, which
  checks every load against the stored stand-in.
* Defaults follow revision a (one run, step 1), which is also the first run of
  revision b; ``max_step: 127`` gives revision b's sweep.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, model_validator

from zbench import PAGE_SIZE, Op, OpKind, Workload, WorkloadOptions

MIN_SIZE = 32  # MIN_SIZE
OBJS_PER_CLASS = 182  # OBJS_PER_CLASS
STEP_DELTA = 8  # STEP_DELTA (revision b)
#: zs_huge_class_size() - 1 of the zsmalloc model, 4 KiB pages, chain size 8, 6.3+ rules
DEFAULT_MAX_SIZE = 3624


class ZsmallocTestOptions(WorkloadOptions):
    objects_per_size: int = Field(OBJS_PER_CLASS, ge=1,
                                  description="objects allocated of each size (OBJS_PER_CLASS)")
    min_size: int = Field(MIN_SIZE, ge=1, le=PAGE_SIZE,
                          description="first object size in bytes (MIN_SIZE)")
    max_size: int = Field(DEFAULT_MAX_SIZE, ge=1, le=PAGE_SIZE,
                          description="last object size at most, inclusive: the module runs "
                                      "while size < zs_huge_class_size(); default 3624 = "
                                      "huge_class_size - 1 for chain size 8")
    step: int = Field(1, ge=1, description="size step of the (first) run (STEP_SIZE / "
                                           "MIN_STEP_SIZE)")
    max_step: int | None = Field(None, ge=1,
                                 description="repeat with step + step_delta, ... while <= "
                                             "max_step, each run on an emptied pool "
                                             "(MAX_STEP_SIZE, 127 in the sweeping revision); "
                                             "none: one run")
    step_delta: int = Field(STEP_DELTA, ge=1,
                            description="step increment between runs (STEP_DELTA)")

    @model_validator(mode="after")
    def _ranges(self) -> ZsmallocTestOptions:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size {self.min_size} is above max_size {self.max_size}")
        if self.max_step is not None and self.max_step < self.step:
            raise ValueError(f"max_step {self.max_step} is below step {self.step}")
        return self


class ZsmallocTest(Workload):
    name = "zsmalloc-test"
    description = ("Senozhatsky's zsmalloc_test module: objects_per_size objects of each "
                   "size min_size..max_size by step; write, read, free")
    Options = ZsmallocTestOptions
    sized_stores = True

    def steps(self) -> list[int]:
        """The step of each run, in order."""
        o: ZsmallocTestOptions = self.options  # type: ignore[assignment]
        last = o.step if o.max_step is None else o.max_step
        return list(range(o.step, last + 1, o.step_delta))

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: ZsmallocTestOptions = self.options  # type: ignore[assignment]
        offset = 0
        for step in self.steps():
            first = offset
            for size in range(o.min_size, o.max_size + 1, step):
                for _ in range(o.objects_per_size):
                    yield Op(OpKind.STORE, offset, size=size)
                    offset += 1
            yield Op(OpKind.PHASE, label=f"write (step {step})")
            for off in range(first, offset):
                yield Op(OpKind.LOAD, off)
            yield Op(OpKind.PHASE, label=f"read (step {step})")
            for off in range(first, offset):
                yield Op(OpKind.INVALIDATE, off)
            yield Op(OpKind.PHASE, label=f"free (step {step})")
