"""Where the deterministic cases of a run execute: in process (library callers), on
local worker processes under a per-case deadline (``zbench run [-j N]``,
:mod:`zbench.run.watchdog`) or on dask.distributed (``--executor dask [--scheduler ADDR]``).
A case that raises is an outcome of its own (``{"failed": {"kind", "reason"}}``),
never an exception that stops the run; failed cases are never cached.

Workers receive case *descriptions*, never objects: the JSON of the case's
:class:`~zbench.run.spec.CaseSpec` (plugin names, option mappings and providers, the
dump's path and sha256, the seed and ``verify``).  Each worker
loads the plugin registry from entry points itself and reads (and checks) the
dump itself, so nothing large or unpicklable crosses the wire.  Every outcome
goes through JSON, whichever executor produced it (or the case cache,
:mod:`zbench.run.casecache`), so results are identical and in case order.
Timing cases never come here: they run afterwards, on the local host, one at
a time (:mod:`zbench.run.timer`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zbench.api.compressor import Compressor
from zbench.api.errors import CaseSkipped, UserError, VerifyError
from zbench.api.registry import Registry, describe_exc
from zbench.input.compcache import CompressedPages, cache_key, compress_dump
from zbench.input.corpus import Corpus
from zbench.input.dump import Dump, load_dump
from zbench.run import casecache
from zbench.run.case import run_case
from zbench.run.memory import frozen_heap, release_case_memory
from zbench.run.spec import Case, CaseSpec, rebuild_case
from zbench.run.watchdog import DEFAULT_TIMEOUT, WorkerPool, failed

EXECUTORS = ("local", "dask")

Outcome = dict[str, Any]  # {"skipped": reason} or the fields of a CaseRun, JSON-normalised
Memo = dict[tuple[str, str], list[bytes]]


@dataclass(frozen=True)
class Execution:
    """How to run the deterministic cases."""

    jobs: int | None = None  # None: 1 locally, one per CPU on a local dask cluster
    executor: str = "local"
    scheduler: str | None = None  # dask scheduler address; None: a LocalCluster
    cache: bool = False  # read and write the case cache
    isolate: bool = False  # local cases in worker processes, even with one job
    timeout: float | None = None  # per case, in worker processes (None: the default)
    contain: bool = False  # in process: a failing case is an outcome, not an exception

    def check(self) -> None:
        if self.jobs is not None and self.jobs < 1:
            raise UserError(f"-j/--jobs: must be at least 1 (got {self.jobs})")
        if self.executor not in EXECUTORS:
            raise UserError(f"--executor: unknown executor {self.executor!r} "
                            f"(known: {', '.join(EXECUTORS)})")
        if self.scheduler and self.executor != "dask":
            raise UserError("--scheduler: only with --executor dask")

    @property
    def in_process(self) -> bool:
        return self.executor == "local" and (self.jobs or 1) == 1 and not self.isolate


# -- describing and rebuilding a case ----------------------------------------------------
def describe(case: Case, dump_sha256: str) -> dict[str, Any]:
    """What a worker needs to rebuild ``case``: its :class:`CaseSpec` as JSON."""
    return case.spec(dump_sha256).to_json()


def rebuild(desc: dict[str, Any], registry: Registry) -> Case:
    """The case a :func:`describe` description names, resolved in ``registry``."""
    return rebuild_case(registry, CaseSpec.from_json(desc))


# -- running one case ----------------------------------------------------------------------
def outcome(case: Case, dump: Dump, memo: Memo, contain: bool = True) -> Outcome:
    """Run ``case`` on ``dump`` read as the case's pages (:meth:`Dump.paged`); its CaseRun
    (or skip reason) as a JSON-normalised mapping."""
    dump = dump.paged(case.page_size)

    def compressed(corpus: Corpus, compressor: Compressor) -> CompressedPages:
        def blobs() -> list[bytes]:
            key = (dump.sha256, cache_key(dump.sha256, compressor, dump.page_size))
            if key not in memo:
                memo[key] = compress_dump(dump, compressor)
            return memo[key]

        return CompressedPages(corpus, compressor, blobs)

    try:
        run = run_case(case, dump, compressed)
    except CaseSkipped as exc:
        return {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing case fails alone
        if not contain:
            raise
        return failure(exc)
    finally:
        release_case_memory()  # the next case in this process starts on a clean heap
    normalised: Outcome = json.loads(json.dumps(dataclasses.asdict(run)))
    return normalised


def failure(exc: BaseException) -> Outcome:
    """The outcome of a case that raised: kind and a one-line reason."""
    from zbench.sim.invariants import InvariantError

    kind = ("verify" if isinstance(exc, VerifyError)
            else "invariant" if isinstance(exc, InvariantError) else "error")
    if kind == "error":
        reason = describe_exc(exc)
    else:  # the message says what failed; the type adds nothing
        reason = (str(exc).strip().splitlines() or [""])[0]
    return failed(kind, reason[:500])


def compute_safely(desc: dict[str, Any]) -> Outcome:
    """:func:`compute`, any exception an outcome of kind ``error`` (never raised)."""
    try:
        return compute(desc)
    except Exception as exc:  # noqa: BLE001
        return failure(exc)


_WORKER_DUMPS: dict[tuple[str, str], Dump] = {}
_WORKER_MEMO: Memo = {}


def compute(desc: dict[str, Any]) -> Outcome:
    """One case in a worker process: registry from entry points, dump read here."""
    from zbench.api.registry import get_registry

    spec = CaseSpec.from_json(desc)
    case = rebuild_case(get_registry(), spec)
    dkey = (spec.dump.path, spec.dump.sha256)
    dump = _WORKER_DUMPS.get(dkey)
    if dump is None:
        dump = load_dump(spec.dump.path)
        if dump.sha256 != spec.dump.sha256:
            raise UserError(f"{spec.dump.path}: sha256 {dump.sha256} on this worker, "
                            f"expected {spec.dump.sha256}")
        _WORKER_DUMPS.clear()
        _WORKER_DUMPS[dkey] = dump
    if len(_WORKER_MEMO) > 8:
        _WORKER_MEMO.clear()
    return outcome(case, dump, _WORKER_MEMO)


# -- executors ----------------------------------------------------------------------------
@contextmanager
def _pool(ex: Execution) -> Iterator[Executor]:
    try:
        import logging

        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UserError("--executor dask: dask.distributed is not installed "
                        "(pip install 'zbench[dask]')") from None
    cluster = None
    if ex.scheduler:
        try:
            client = Client(ex.scheduler, timeout="20s")
        except OSError as exc:
            raise UserError(f"--scheduler {ex.scheduler}: cannot connect: {exc}") from None
    else:
        cluster = LocalCluster(n_workers=ex.jobs or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client.get_executor(pure=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


Done = Callable[[Case, Outcome, bool], None]  # case, outcome, came from the cache


def run_cases(cases: list[Case], dumps: dict[Path, Dump], ex: Execution, memo: Memo,
              done: Done, started: Callable[[Case], None] | None = None) -> list[Outcome]:
    """The outcome of every case, in case order; ``done`` is called as each finishes
    (skipped ones included), ``started`` before an in-process case runs."""
    out: dict[int, Outcome] = {}
    keys: dict[int, str] = {}
    todo: list[Case] = []
    for case in cases:
        if case.skip_reason:
            out[case.index] = {"skipped": case.skip_reason}
            done(case, out[case.index], False)
            continue
        if ex.cache:
            keys[case.index] = casecache.case_key(case, dumps[case.dump_path].sha256)
            hit = casecache.load(keys[case.index])
            if hit is not None:
                out[case.index] = hit
                done(case, hit, True)
                continue
        todo.append(case)

    def finish(case: Case, res: Outcome) -> None:
        out[case.index] = res
        if ex.cache and "skipped" not in res and "failed" not in res:
            casecache.store(keys[case.index], case.id, res)
        done(case, res, False)

    if ex.in_process:
        with frozen_heap():  # each case's release scans what the case left, not the rest
            for case in todo:
                if started is not None:
                    started(case)
                finish(case, outcome(case, dumps[case.dump_path], memo, ex.contain))
    elif todo and ex.executor == "local":
        by_index = {c.index: c for c in todo}
        workers = WorkerPool(ex.jobs or 1, ex.timeout or DEFAULT_TIMEOUT)
        workers.run(((c.index, describe(c, dumps[c.dump_path].sha256)) for c in todo),
                 lambda i, res: finish(by_index[i], res))
    elif todo:
        with _pool(ex) as pool:
            futures: dict[Future[Outcome], Case] = {
                pool.submit(compute_safely, describe(c, dumps[c.dump_path].sha256)): c
                for c in todo}
            for fut in as_completed(futures):
                finish(futures[fut], fut.result())
    return [out[c.index] for c in cases]
