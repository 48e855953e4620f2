"""Soak test: millions of random operations on every allocator model, every load verified.

    python benchmarks/soak.py [--ops N] [--models LABEL ...] [--seed S] [--json FILE]
                              [--compact-every N] [--migrate-every N]

Each model (an allocator behind the front end it runs under, with lz4 or zstd) runs
one ordinary zbench case (``zbench.run_suite``, ``verify: true``) on the shipped dump
``dumps/default.zbdump`` under the ``soak`` workload defined here and registered
in-process: a seeded random mix of stores of real compressed pages (new offsets and
overwrites), loads (some followed by a clean re-store, as swap-cache reclaim does),
invalidations, periodic compaction and, in turn, the migratability experiments of
:mod:`zbench.sim.experiments` (``evacuate``, ``migrate``, ``load``: migration with objects
mapped, ``reclaim`` through the front end's LRU), among the workload's own movable
pages (``interleave``).  zswap runs with a small simulated RAM, so its pool limit is
hit and pages are written back (the allocator's LRU reclaim up to 6.4, zswap's own
LRU after).  With ``verify`` the case runner checks every load and, after each
compaction and each experiment, every live page byte for byte.

Per model it reports operations, stores, loads verified, compactions, pages migrated,
reclaim experiments and pages written back, mismatches, wall time and ops/s.  A
mismatch (``zbench.VerifyError``) or a crash of a model is reported with the model,
the seed and the operation number; the script then exits 1.  Bad arguments exit 2
with one line on stderr.  Progress goes to stderr; ``--json`` writes the figures
atomically.
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from pydantic import Field

import zbench
from zbench import PAGEBLOCK_NR_PAGES, Op, OpKind, Workload, WorkloadOptions, hookimpl

ROOT = Path(__file__).resolve().parent.parent
DUMP = ROOT / "dumps" / "default.zbdump"
EXPERIMENTS = ("evacuate", "migrate", "load", "reclaim")


# -- the workload -----------------------------------------------------------------------
class SoakOptions(WorkloadOptions):
    ops: int = Field(100_000, ge=1, description="data operations (stores, loads, invalidations)")
    offsets: int | None = Field(None, ge=1, description="swap offsets used (default: 2 x corpus)")
    store_pct: float = Field(45.0, ge=0, le=100, description="operations that store, %")
    load_pct: float = Field(35.0, ge=0, le=100,
                            description="operations that load (the rest invalidate), %")
    clean_pct: float = Field(20.0, ge=0, le=100,
                             description="loads followed by a clean re-store of the page, %")
    compact_every: int = Field(10_000, ge=0, description="data operations between compactions")
    migrate_every: int = Field(25_000, ge=0,
                               description="data operations between migratability experiments")
    mapped_permille: int = Field(100, ge=0, le=1000,
                                 description="objects mapped in the 'load' experiment, per mille")
    reclaim_permille: int = Field(100, ge=0, le=1000,
                                  description="pool pages reclaimed by 'reclaim', per mille")
    interleave: bool = Field(True, description="pool pages among the workload's own pages")


@dataclass
class Monitor:
    """What the running soak workload has emitted so far (read after a failure)."""

    label: str
    total: int
    progress: Callable[[Monitor], None] | None = None
    seq: int = 0  # every op yielded, experiments included
    ops: int = 0  # data ops: stores, loads, invalidations
    stores: int = 0
    overwrites: int = 0
    clean_stores: int = 0
    loads: int = 0
    invalidates: int = 0
    compactions: int = 0
    experiments: Counter[str] = field(default_factory=Counter)
    last: str = ""
    t0: float = field(default_factory=time.perf_counter)
    shown: float = field(default_factory=time.perf_counter)


class Soak(Workload):
    name = "soak"
    description = "seeded random stores, overwrites, loads, invalidations, compaction, migration"
    Options = SoakOptions
    #: set by :func:`run_model` before the case runs; the workload reports into it
    monitor: ClassVar[Monitor | None] = None

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: SoakOptions = self.options  # type: ignore[assignment]
        mon = Soak.monitor or Monitor("soak", o.ops)
        rng = random.Random(f"soak:{self.seed}")
        space = o.offsets or 2 * n_pages
        live: list[int] = []
        where: dict[int, int] = {}  # offset -> index in live
        page_at: dict[int, int] = {}  # offset -> corpus page stored there

        def emit(op: Op) -> Op:
            mon.seq += 1
            mon.last = op.kind.value + (f" {op.label}" if op.label else "")
            return op

        def drop(offset: int) -> None:
            i = where.pop(offset)
            tail = live.pop()
            if tail != offset:
                live[i] = tail
                where[tail] = i
            del page_at[offset]

        if o.interleave:
            yield emit(Op(OpKind.MIGRATE, page=space, size=PAGEBLOCK_NR_PAGES,
                          label="interleave"))
        exp = 0
        for n in range(1, o.ops + 1):
            r = rng.random() * 100
            if r < o.store_pct or not live:
                offset, page = rng.randrange(space), rng.randrange(n_pages)
                if offset in where:
                    mon.overwrites += 1
                else:
                    where[offset] = len(live)
                    live.append(offset)
                page_at[offset] = page
                mon.stores += 1
                yield emit(Op(OpKind.STORE, offset, page))
            elif r < o.store_pct + o.load_pct:
                offset = live[rng.randrange(len(live))]
                mon.loads += 1
                yield emit(Op(OpKind.LOAD, offset))
                if rng.random() * 100 < o.clean_pct:  # reclaimed again, unchanged
                    mon.clean_stores += 1
                    yield emit(Op(OpKind.STORE, offset, page_at[offset], label="clean"))
            else:
                offset = live[rng.randrange(len(live))]
                drop(offset)
                mon.invalidates += 1
                yield emit(Op(OpKind.INVALIDATE, offset))
            mon.ops = n
            if o.compact_every and n % o.compact_every == 0:
                mon.compactions += 1
                yield emit(Op(OpKind.COMPACT))
            if o.migrate_every and n % o.migrate_every == 0:
                label = EXPERIMENTS[exp % len(EXPERIMENTS)]
                exp += 1
                mon.experiments[label] += 1
                size = {"load": o.mapped_permille, "reclaim": o.reclaim_permille}.get(label, 0)
                yield emit(Op(OpKind.MIGRATE, label=label, size=size))
            if mon.progress is not None and n & 1023 == 0:
                mon.progress(mon)


class _Plugin:
    """The in-process plugin that provides the ``soak`` workload."""

    @hookimpl
    def register_workloads(self, register: Callable[[type], None]) -> None:
        register(Soak)


def ensure_registered() -> None:
    """Register the ``soak`` workload in the process-wide registry (once per registry)."""
    from zbench.api.registry import get_registry

    reg = get_registry()
    if Soak.name not in reg.names("workload"):
        reg.register_plugin(_Plugin(), "soak", dist="benchmarks/soak.py")


# -- the models ---------------------------------------------------------------------------
Ref = dict[str, Any]


@dataclass(frozen=True)
class Model:
    """An allocator behind a front end with a compressor: one soak case."""

    label: str
    allocator: Ref
    frontend: Ref
    compressor: Ref


def _zswap(kernel: str) -> Ref:
    # 24 MiB of simulated RAM: a 20 % pool limit of 1228 pages, reached by the soak's
    # working set, so the pool-limit writeback runs throughout
    return {"name": "zswap", "options": {"kernel": kernel, "ram_mb": 24}}


LZ4: Ref = {"name": "lz4"}
ZSTD: Ref = {"name": "zstd", "options": {"level": 3}}
ASPACE_FE: Ref = {"name": "zswap-aspace"}

MODELS: dict[str, Model] = {m.label: m for m in (
    Model("zsmalloc-6.18/zram", {"name": "zsmalloc", "options": {"kernel": "6.18"}},
          {"name": "zram", "options": {"kernel": "6.18"}}, LZ4),
    Model("zsmalloc-5.10/zram", {"name": "zsmalloc", "options": {"kernel": "5.10"}},
          {"name": "zram", "options": {"kernel": "5.10"}}, LZ4),
    Model("zsmalloc-6.6/zswap", {"name": "zsmalloc", "options": {"kernel": "6.6"}},
          _zswap("6.6"), ZSTD),
    Model("zbud-6.1/zswap", {"name": "zbud", "options": {"kernel": "6.1"}}, _zswap("6.1"), LZ4),
    Model("zbud-2013/zswap-3.11",
          {"name": "zbud", "options": {"kernel": "3.11", "migration": "kozlowski-2013"}},
          _zswap("3.11"), LZ4),
    Model("z3fold-6.1/zswap", {"name": "z3fold", "options": {"kernel": "6.1"}},
          _zswap("6.1"), ZSTD),
    Model("z3fold-6.14/zswap", {"name": "z3fold", "options": {"kernel": "6.14"}},
          _zswap("6.14"), LZ4),
    Model("aspace-one/zswap-aspace", {"name": "aspace", "options": {"variant": "one-per-page"}},
          ASPACE_FE, LZ4),
    Model("aspace-tag/zswap-aspace", {"name": "aspace", "options": {"variant": "buddy-tag"}},
          ASPACE_FE, ZSTD),
    Model("aspace-2idx/zswap-aspace", {"name": "aspace", "options": {"variant": "two-index"}},
          ASPACE_FE, LZ4),
)}


# -- running ------------------------------------------------------------------------------
@dataclass
class ModelResult:
    label: str
    seed: int
    ops: int = 0
    stores: int = 0
    overwrites: int = 0
    clean_stores: int = 0
    loads: int = 0
    loads_verified: int = 0  # the case's verified_loads (0 when it did not finish)
    invalidates: int = 0
    compactions: int = 0
    pages_compacted: int = 0
    experiments: dict[str, int] = field(default_factory=dict)
    migrations_tried: int = 0
    migrations: int = 0
    reclaim_written_back: int = 0
    mismatches: int = 0
    error: str = ""  # the VerifyError or crash, with the operation number
    kernel: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    ops_per_s: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.error)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _progress(mon: Monitor) -> None:
    now = time.perf_counter()
    if now - mon.shown < 10 and mon.ops < mon.total:
        return
    mon.shown = now
    rate = mon.ops / max(now - mon.t0, 1e-9)
    _say(f"soak: {mon.label}: {mon.ops}/{mon.total} ops ({100 * mon.ops / mon.total:.0f} %), "
         f"{rate:,.0f} ops/s, {mon.compactions} compactions, "
         f"{sum(mon.experiments.values())} experiments")


def run_model(model: Model, ops: int, seed: int, workload: dict[str, Any] | None = None,
              progress: bool = True) -> ModelResult:
    """Run ``ops`` soak operations on ``model`` with every load verified."""
    ensure_registered()
    res = ModelResult(model.label, seed)
    mon = Monitor(model.label, ops, _progress if progress else None)
    Soak.monitor = mon
    suite = {
        "name": "soak-" + re.sub(r"[^A-Za-z0-9._+-]", "_", model.label),
        "seed": seed, "verify": True, "dumps": [str(DUMP)],
        "compressors": [model.compressor], "frontends": [model.frontend],
        "allocators": [model.allocator],
        "workloads": [{"name": "soak", "options": {
            "ops": ops, "zero_filled_pct": 5, "same_filled_pct": 2, **(workload or {})}}],
    }
    t0 = time.perf_counter()
    try:
        results = zbench.run_suite(suite, f"soak {model.label}", quiet=True)
    except zbench.VerifyError as exc:
        res.mismatches = 1
        res.error = (f"mismatch at op {mon.seq} (data op {mon.ops}, last: {mon.last}), "
                     f"seed {seed}: {exc}")
    except zbench.UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - a crash of a model is a finding, not our end
        where = traceback.extract_tb(exc.__traceback__)[-1]
        res.error = (f"crash at op {mon.seq} (data op {mon.ops}, last: {mon.last}), seed "
                     f"{seed}: {type(exc).__name__}: {exc} ({where.filename}:{where.lineno})")
    else:
        case = results["cases"][0]
        failed = case.get("failed")
        if failed:  # a runner that records a failing case instead of raising
            kind = failed.get("kind", "error")
            res.mismatches = int(kind == "verify")
            what = "mismatch" if kind == "verify" else f"failure ({kind})"
            res.error = (f"{what} at op {mon.seq} (data op {mon.ops}, last: {mon.last}), "
                         f"seed {seed}: {failed.get('reason', '')}")
        elif "skipped" in case:
            res.error = f"skipped: {case['skipped']}"
        else:
            _take_metrics(res, case)
    finally:
        Soak.monitor = None
    res.wall_s = round(time.perf_counter() - t0, 2)
    for k in ("stores", "overwrites", "clean_stores", "loads", "invalidates", "compactions"):
        setattr(res, k, getattr(mon, k))
    res.ops = mon.ops
    res.experiments = dict(sorted(mon.experiments.items()))
    res.ops_per_s = round(res.ops / res.wall_s) if res.wall_s else 0.0
    return res


def _take_metrics(res: ModelResult, case: dict[str, Any]) -> None:
    m = case["metrics"]
    res.loads_verified = int(m["verified_loads"])
    res.pages_compacted = int(m.get("pages_compacted", 0))
    res.migrations_tried = int(m.get("migrate_attempts", 0) + m.get("load_attempts", 0))
    res.migrations = int(m.get("migrate_succeeded", 0) + m.get("load_succeeded", 0))
    res.reclaim_written_back = int(m.get("written_back_pages", 0))
    res.kernel = {"allocator": case["allocator"]["kernel"],
                  "frontend": case["frontend"]["kernel"]}


# -- the command line ---------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (the project's convention)
        self.exit(2, f"soak: error: {message}\n")


def _positive(text: str) -> int:
    try:
        n = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = _Parser(prog="soak.py", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="models: " + ", ".join(MODELS))
    p.add_argument("--ops", type=_positive, default=100_000,
                   help="data operations per model (default 100000)")
    p.add_argument("--models", nargs="+", metavar="LABEL", default=None,
                   help="models to run (default: all); a label or its allocator prefix")
    p.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    p.add_argument("--compact-every", type=_positive, default=10_000, metavar="N",
                   help="data operations between compactions (default 10000)")
    p.add_argument("--migrate-every", type=_positive, default=25_000, metavar="N",
                   help="data operations between migratability experiments, taken in turn: "
                        f"{', '.join(EXPERIMENTS)} (default 25000)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the figures here")
    args = p.parse_args(argv)
    args.selected = select(args.models, p)
    if args.json is not None and args.json.is_dir():
        p.error(f"--json: {args.json}: is a directory")
    return args


def select(names: Sequence[str] | None, p: argparse.ArgumentParser) -> list[Model]:
    if not names:
        return list(MODELS.values())
    out: list[Model] = []
    for name in names:
        hits = [m for lbl, m in MODELS.items()
                if lbl == name or lbl.split("/")[0] == name or lbl.startswith(name + "-")]
        if not hits:
            p.error(f"--models: unknown model {name!r} (known: {', '.join(MODELS)})")
        out += [m for m in hits if m not in out]
    return out


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def _line(r: ModelResult) -> str:
    exp = ", ".join(f"{k} {v}" for k, v in r.experiments.items())
    verified = "?" if r.failed else r.loads_verified  # from the finished case's metrics
    return (f"{r.label}: {r.ops} ops, {r.stores} stores ({r.overwrites} overwrites, "
            f"{r.clean_stores} clean), {verified} loads verified, {r.compactions} "
            f"compactions ({r.pages_compacted} pages), experiments [{exp}], "
            f"{r.migrations}/{r.migrations_tried} pages migrated, "
            f"{r.reclaim_written_back} written back, {r.mismatches} mismatches, "
            f"{r.wall_s} s, {r.ops_per_s:,.0f} ops/s")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results: list[ModelResult] = []
    try:
        for model in args.selected:
            _say(f"soak: {model.label}: {args.ops} ops, seed {args.seed} ...")
            r = run_model(model, args.ops, args.seed, {"compact_every": args.compact_every,
                                                       "migrate_every": args.migrate_every})
            results.append(r)
            _say(f"soak: {_line(r)}" + (f"\nsoak: {r.label}: {r.error}" if r.error else ""))
    except zbench.UserError as exc:
        _say(f"soak: error: {exc}")
        return 2
    failed = [r for r in results if r.failed]
    doc = {
        "command": "python benchmarks/soak.py " + " ".join(sys.argv[1:] if argv is None
                                                            else argv),
        "started": started, "machine": machine(), "seed": args.seed,
        "ops_per_model": args.ops, "total_ops": sum(r.ops for r in results),
        "mismatches": sum(r.mismatches for r in results), "failed": [r.label for r in failed],
        "models": [asdict(r) for r in results],
    }
    if args.json is not None:
        from zbench.api.safeio import PUBLIC, write_atomic
        from zbench.run.results import dumps_json

        write_atomic(args.json, dumps_json(doc), PUBLIC)
    total = sum(r.ops for r in results)
    _say(f"soak: {len(results)} models, {total} ops, {doc['mismatches']} mismatches"
         + (f"; FAILED: {', '.join(r.label for r in failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
