"""Expand a suite into cases, validate everything up front, run the cases, collect results.

Each dump entry of a suite has a page size (its ``page_size``, else the dump's own): its
cases read the dump as pages of that size (:meth:`zbench.input.dump.Dump.paged`), on
frames of that size, and an allocator or front end that does not list the size in its
``page_sizes`` has those cases skipped with the reason (docs/page-size.md)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from zbench.api.allocator import Allocator
from zbench.api.capabilities import page_size_refusal
from zbench.api.errors import CaseSkipped, DumpError, UserError
from zbench.api.frames import PAGE_SIZE, PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.options import OptionValueError, parse_options
from zbench.api.registry import Registry
from zbench.api.workload import WorkloadOptions
from zbench.input.corpus import corpus_pages
from zbench.input.dump import Dump, load_dump
from zbench.run.batch import batchable
from zbench.run.distributions import size_distributions
from zbench.run.executors import Execution, run_cases
from zbench.run.results import environment, make_results
from zbench.run.spec import Case, CaseSpec, Part, Plan, resolve_part, resolve_uses
from zbench.run.suite import PluginRef, Suite

KIND_FIELDS = (("compressor", "compressors"), ("frontend", "frontends"),
               ("allocator", "allocators"), ("workload", "workloads"))


@dataclass
class Narrowing:
    """Command-line flags that narrow a suite (or define an ad-hoc run)."""

    dumps: list[str] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)  # kind -> names or labels
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # plugin name -> options
    verify: bool = False
    seed: int | None = None

    @property
    def filters(self) -> bool:
        """True when a --allocator/--frontend/--compressor/--workload flag is given."""
        return any(self.names.values())


def _is(ref: dict[str, Any], wanted: str) -> bool:
    return ref["name"] == wanted or ref.get("label") == wanted


def _keep(kind: str, fld: str, refs: list[dict[str, Any]], wanted: list[str], where: str,
          registry: Registry) -> list[dict[str, Any]]:
    """The suite's entries whose name or label is wanted, in suite order, then plugins
    wanted by name that the suite does not list."""
    kept = [r for r in refs if any(_is(r, w) for w in wanted)]
    for w in wanted:
        if any(_is(r, w) for r in kept):
            continue
        try:
            registry.get(kind, w)
        except UserError as exc:
            labels = sorted({r["label"] for r in refs if r.get("label")})
            also = f"; labels in {where}: {', '.join(labels)}" if labels else ""
            raise UserError(f"--{kind} {w}: {exc}{also}") from None
        kept.append({"name": w, "options": {}, "label": None})
    return kept


def _check_set(registry: Registry, kind: str, ref: dict[str, Any], plugin: str,
               opts: dict[str, Any]) -> None:
    """A --set value the plugin refuses is blamed on the flag, not on the suite file."""
    try:
        cls: Any = registry.get(kind, ref["name"])
        parse_options(cls.Options, {**ref["options"], **opts}, "")
    except OptionValueError as exc:
        key = exc.field.split(".")[0]
        if key in opts:
            raise UserError(f"--set {plugin}.{key}={opts[key]}: {kind} {ref['name']}: "
                            f"{exc.detail}") from None
    except UserError:
        pass  # an unknown plugin: reported with its suite field by expand()


def default_frontend(registry: Registry) -> str:
    """The front end that declares itself the default (``FrontEnd.default_frontend``):
    the one of a suite without ``frontends:`` and of an ad-hoc run; a UserError unless
    exactly one installed front end does."""
    found = [fe for fe in registry.names("frontend")
             if registry.get("frontend", fe).default_frontend]
    if len(found) != 1:
        which = f"{', '.join(found)} all do" if found else "none is installed"
        raise UserError(f"frontends: not given, and no single default front end "
                        f"({which}): name the front ends in the suite")
    return found[0]


def adhoc_default(registry: Registry, kind: Literal["allocator", "compressor", "workload"]
                  ) -> str:
    """The plugin of ``kind`` that declares itself an ad-hoc run's default
    (``adhoc_default``); a UserError unless exactly one installed plugin does."""
    found = [n for n in registry.names(kind)
             if getattr(registry.get(kind, n), "adhoc_default", False)]
    if len(found) != 1:
        which = f"{', '.join(found)} all do" if found else "none is installed"
        raise UserError(f"--{kind}: not given, and no single default {kind} ({which}): "
                        f"name one")
    return found[0]


def with_default_frontend(suite: Suite, registry: Registry) -> Suite:
    """The suite with ``frontends:`` filled in with the default front end when the suite
    does not give them (an explicit list, even an empty one, stays as it is)."""
    if "frontends" in suite.model_fields_set:
        return suite
    return suite.model_copy(update={"frontends": [PluginRef(name=default_frontend(registry))]})


def narrow(suite: Suite, where: str, n: Narrowing, registry: Registry) -> Suite:
    """The suite narrowed by the flags: a filter keeps the entries whose name or label it
    gives (a plugin the suite lacks is added by name), --dump replaces the dumps, --set
    overrides options (of every entry with that name, or the one with that label)."""
    data = with_default_frontend(suite, registry).model_dump()
    if n.dumps:
        for d in n.dumps:
            if not Path(d).exists():
                raise UserError(f"--dump {d}: no such file")
        data["dumps"] = list(n.dumps)
    for kind, fld in KIND_FIELDS:
        wanted = n.names.get(kind)
        if wanted:
            data[fld] = _keep(kind, fld, data[fld], wanted, where, registry)
    for plugin, opts in n.sets.items():
        refs = [(kind, r) for kind, fld in KIND_FIELDS for r in data[fld] if _is(r, plugin)]
        if not refs:
            key = next(iter(opts), "")
            names = sorted({r["label"] or r["name"] for _, fld in KIND_FIELDS
                            for r in data[fld]})
            raise UserError(f"--set {plugin}.{key}={opts.get(key, '')}: no plugin named "
                            f"{plugin!r} in this run (in this run: {', '.join(names)})")
        for kind, r in refs:
            _check_set(registry, kind, r, plugin, opts)
            r["options"] = {**r["options"], **opts}
    if n.verify:
        data["verify"] = True
    if n.seed is not None:
        data["seed"] = n.seed
    return Suite.model_validate(data)


def _owned_frontends(registry: Registry) -> set[str]:
    """Front ends that allocators bring along (the real kernel): never chosen by flag."""
    return {f for a in registry.names("allocator")
            if (f := getattr(registry.get("allocator", a), "frontend", None))}


def _probe(registry: Registry, name: str, opts: dict[str, Any] | None) -> Any:
    """An instance of allocator ``name`` to ask front ends about, or None."""
    cls = registry.get("allocator", name)
    if cls.frontend is not None:
        return None  # runs under its own front end
    try:
        return cls(parse_options(cls.Options, opts, ""), PageFrames())
    except Exception:  # noqa: BLE001 - bad options or a failing plugin: reported later
        return None


def _drivers(registry: Registry, probe: Any) -> list[str]:
    """The front ends (not an allocator's own) that can drive ``probe``."""
    owned = _owned_frontends(registry)
    return [fe for fe in registry.names("frontend")
            if fe not in owned and registry.get("frontend", fe).supports(probe) is None]


def adhoc_frontend(registry: Registry, allocators: list[str],
                   sets: dict[str, dict[str, Any]], default: str | None = None
                   ) -> tuple[str, str]:
    """The front end of an ad-hoc run given no --frontend, and a note for stderr ("" when
    it is ``default``, by default :func:`default_frontend`): ``default`` when it drives
    every allocator asked for, else the one front end that drives them all; a UserError
    naming the flag to add otherwise."""
    if default is None:
        default = default_frontend(registry)
    probes: dict[str, Any] = {}
    for name in allocators:
        try:
            probe = _probe(registry, name, sets.get(name))
        except UserError as exc:
            raise UserError(f"--allocator {name}: {exc}") from None
        if probe is not None:
            probes[name] = probe
    fe_cls = registry.get("frontend", default)
    refused = {a: why for a, p in probes.items() if (why := fe_cls.supports(p))}
    if not refused:
        return default, ""
    fits = [fe for fe in registry.names("frontend") if fe != default
            and fe not in _owned_frontends(registry)
            and all(registry.get("frontend", fe).supports(p) is None for p in probes.values())]
    why = "; ".join(f"{a}: {r}" for a, r in refused.items())
    if len(fits) == 1:
        return fits[0], (f"zbench: {why}: using the {fits[0]} front end "
                         f"(--frontend {fits[0]})")
    if fits:
        flags = " or ".join(f"--frontend {fe}" for fe in fits)
        raise UserError(f"--allocator {', '.join(refused)}: {why}: add {flags}")
    raise UserError(f"--allocator {', '.join(refused)}: {why}, and no front end drives "
                    f"{', '.join(probes)} together: run them separately")


def check_not_all_skipped(plan: Plan, where: str, registry: Registry) -> None:
    """A narrowed (or ad-hoc) run whose every case would be skipped is bad input: a
    UserError with the skip reasons and, where another front end would run the allocator,
    the flag to add."""
    if not plan.cases or not all(c.skip_reason for c in plan.cases):
        return
    reasons: dict[str, None] = {}
    flags: dict[str, None] = {}
    for c in plan.cases:
        reasons[f"{c.allocator.label} on {c.frontend.label}: {c.skip_reason}"] = None
        if c.allocator.cls.frontend is None:
            try:
                probe = c.allocator.cls(c.allocator.options, PageFrames())
            except Exception:  # noqa: BLE001 - not at hand here: no hint
                continue
            for fe in _drivers(registry, probe):
                if fe != c.frontend.name:
                    flags[f"--frontend {fe}"] = None
    hint = f"; add {' or '.join(flags)}" if flags else ""
    raise UserError(f"{where}: cases: every case left to run would be skipped: "
                    f"{'; '.join(reasons)}{hint}")


def _part(registry: Registry, kind: str, fld: str, i: int, ref: PluginRef,
          where: str, base: Path | None = None) -> Part[Any]:
    try:
        registry.get(kind, ref.name)
    except UserError as exc:
        raise UserError(f"{where}: {fld}[{i}].name: {exc}") from None
    return resolve_part(registry, kind, ref.name, ref.display, ref.options,
                        f"{where}: {fld}[{i}].options", base)


def expand(suite: Suite, base: Path, where: str, registry: Registry) -> Plan:
    """All cases of the suite, with every plugin, option and dump checked first (a suite
    without ``frontends:`` gets the default front end, :func:`with_default_frontend`)."""
    suite = with_default_frontend(suite, registry)
    parts = {kind: [_part(registry, kind, fld, i, ref, where, base)
                    for i, ref in enumerate(getattr(suite, fld))]
             for kind, fld in KIND_FIELDS}
    for i, ref in enumerate(suite.reports):  # checked now, collected after the cases
        _part(registry, "reporter", "reports", i, ref, where)
    dumps, entries = _load_dumps(suite, base, where)
    for p, page_size in entries:  # compressors and workloads checked on every dump first
        dump = dumps[p].paged(page_size)
        for comp in parts["compressor"]:
            comp.cls(comp.options).check(dump)
        for i, wl in enumerate(parts["workload"]):
            _check_workload(wl, dump, suite.seed, f"{where}: workloads[{i}] on {p.name}")
    own: dict[str, Part[Any]] = {}  # front ends that allocators bring along (the real kernel)
    for alloc in parts["allocator"]:
        name = alloc.cls.frontend
        if name is not None and name not in own:
            own[name] = resolve_part(registry, "frontend", name, name, {},
                                     f"{where}: {name}.options")
    cases: list[Case] = []
    for dump_path, page_size in entries:
        for comp in parts["compressor"]:
            for fe_index, fe in enumerate(parts["frontend"]):
                for alloc in parts["allocator"]:
                    if alloc.cls.frontend is not None:
                        if fe_index:
                            continue  # runs once, under its own front end
                        fe_used = own[alloc.cls.frontend]
                    else:
                        fe_used = fe
                    reason = _skip_reason(alloc, fe_used, page_size)
                    for wl in parts["workload"]:
                        if _excluded(suite, dump_path, comp, fe_used, alloc, wl):
                            continue
                        uses = resolve_uses(registry, [comp, fe_used, alloc, wl])
                        cases.append(Case(len(cases), dump_path, comp, fe_used, alloc, wl,
                                          suite.seed, suite.verify, reason, uses, page_size))
    return Plan(cases, dumps)


def _skip_reason(alloc: Part[Allocator], fe: Part[FrontEnd], page_size: int = PAGE_SIZE
                 ) -> str:
    """Why a case of ``alloc`` under ``fe`` on ``page_size``-byte pages is skipped ("": it
    runs): either does not model the page size (``page_sizes``), the allocator is not at
    hand or refuses its options on such frames (``CaseSkipped``), or the front end cannot
    drive it."""
    refusal = (page_size_refusal("allocator", alloc.cls, page_size)
               or page_size_refusal("front end", fe.cls, page_size))
    if refusal:
        return refusal
    try:
        probe = alloc.cls(alloc.options, PageFrames(page_size))
    except CaseSkipped as exc:  # e.g. real code that is not at hand
        return str(exc)
    except Exception:  # noqa: BLE001 - the case itself fails, alone
        return ""
    return fe.cls.supports(probe) or ""


def _load_dumps(suite: Suite, base: Path, where: str
                ) -> tuple[dict[Path, Dump], list[tuple[Path, int]]]:
    """The suite's dumps, each read (and checked) once, by path, and its entries: (path,
    page size) once each, in suite order; an entry's page size is its ``page_size``, else
    the dump's own, and the dump must be readable as such pages."""
    dumps: dict[Path, Dump] = {}
    entries: dict[tuple[Path, int], None] = {}
    for i, ref in enumerate(suite.dumps):
        d = ref.path
        p = Path(d) if Path(d).is_absolute() else base / d
        if not p.exists():
            raise UserError(f"{where}: dumps[{i}]: {d}: no such file")
        if p not in dumps:
            dumps[p] = load_dump(p)
        page_size = ref.page_size or dumps[p].page_size
        try:
            dumps[p].paged(page_size)
        except DumpError as exc:
            raise UserError(f"{where}: dumps[{i}].page_size: {exc}") from None
        entries[(p, page_size)] = None
    return dumps, list(entries)


def _check_workload(wl: Part[Any], dump: Dump, seed: int, where: str) -> None:
    o: WorkloadOptions = wl.options  # type: ignore[assignment]
    try:
        n = corpus_pages(dump.n_pages, o.zero_filled_pct, o.same_filled_pct, o.scale_pages)
        wl.cls(o, seed).check(n)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise UserError(f"{where}: options: {exc}") from None


def _excluded(suite: Suite, dump: Path, comp: Part[Any], fe: Part[Any], alloc: Part[Any],
              wl: Part[Any]) -> bool:
    """The suite's ``exclude:`` entries leave this combination out."""
    if not suite.exclude:
        return False
    parts = {"dumps": (dump.stem,), "compressors": (comp.label, comp.name),
             "frontends": (fe.label, fe.name), "allocators": (alloc.label, alloc.name),
             "workloads": (wl.label, wl.name)}
    return any(x.matches(parts) for x in suite.exclude)


Reporter = Callable[[str], None]
#: the order of the parts in a results.json case record
RECORD_PARTS = ("allocator", "frontend", "compressor", "workload")


def _record(case: Case, dump: Dump, res: dict[str, Any]) -> dict[str, Any]:
    """The results.json record of a case (made from its :class:`CaseSpec`) and its
    outcome (run, cached or skipped)."""
    spec: CaseSpec = case.spec(dump.sha256)
    rec: dict[str, Any] = {
        "id": case.id,
        **{k: spec.part(k).record() for k in RECORD_PARTS},
        "dump": _dump_record(spec, dump.paged(case.page_size), case.dump_name),
        "seed": spec.seed,
        "verify": spec.verify,
    }
    if "skipped" in res:
        rec["skipped"] = res["skipped"]
        return rec
    if "failed" in res:
        rec["failed"] = res["failed"]
        return rec
    rec["allocator"].update(kernel=res["kernel"]["allocator"],
                            simplifications=res["simplifications"]["allocator"])
    rec["frontend"].update(kernel=res["kernel"]["frontend"],
                           simplifications=res["simplifications"]["frontend"])
    rec["compressor"]["library"] = res["compressor_library"]
    rec["corpus"] = res["corpus"]
    rec["metrics"] = res["metrics"]
    if res["classes"]:
        rec["classes"] = res["classes"]
    rec["phases"] = res["phases"]
    if res["migration"]:
        rec["migration"] = res["migration"]
    if res.get("engine"):
        rec["engine"] = res["engine"]
    rec["elapsed_s"] = res["elapsed_s"]
    return rec


def _dump_record(spec: CaseSpec, dump: Dump, name: str) -> dict[str, Any]:
    """The case record's dump: its pages are the case's (``page_size``, said only when it
    is not 4096, with the source pages that filled no page, ``dropped_pages``); ``name``
    is the id's (``default@16K``), so the report's tables tell page sizes apart."""
    rec: dict[str, Any] = {"name": name, "path": spec.dump.path,
                           "sha256": spec.dump.sha256, "pages": dump.n_pages,
                           "format": dump.format}
    if dump.page_size != PAGE_SIZE:
        rec["page_size"] = dump.page_size
        rec["dropped_pages"] = dump.dropped_pages
    return rec


def _say_page_sizes(plan: Plan, say: Reporter) -> None:
    """One line per dump read as larger pages than its own: how many pages it makes and
    how many of its own pages (run tails) it leaves out."""
    seen: set[tuple[Path, int]] = set()
    for case in plan.cases:
        dump = plan.dumps[case.dump_path]
        if case.page_size == dump.page_size or (case.dump_path, case.page_size) in seen:
            continue
        seen.add((case.dump_path, case.page_size))
        view = dump.paged(case.page_size)
        say(f"{case.dump_name}: {case.dump_path.name} read as {case.page_size}-byte pages: "
            f"{view.n_pages} pages, {view.dropped_pages} {dump.page_size}-byte pages of "
            f"run tails dropped")


def _say_engines(plan: Plan, say: Reporter) -> None:
    """For the allocators of the cases that may run as one batch, one line each on their
    native engine (``Allocator.engine_status``): which one runs a batch, or why the
    Python model does."""
    seen: set[type] = set()
    for case in plan.cases:
        cls = case.allocator.cls
        if not batchable(case.workload.cls) or cls in seen:
            continue
        seen.add(cls)
        status = cls.engine_status()
        if status:
            say(f"{cls.name}: {status}")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_suite(suite: Suite, plan: Plan, registry: Registry,
              report: Reporter | None = None,
              execution: Execution | None = None) -> dict[str, Any]:
    """Run the plan's cases (where ``execution`` says; default: in process, no case
    cache) and collect the results, in case order."""
    say = report or _stderr
    ex = execution or Execution()
    suite = with_default_frontend(suite, registry)
    ex.check()
    cases = plan.cases
    blob_memo: dict[tuple[str, str], list[bytes]] = {}
    t_start = time.perf_counter()
    finished = 0

    def head(case: Case, n: int) -> str:
        return f"[{n}/{len(cases)}] {case.id}"

    def started(case: Case) -> None:
        say(f"{head(case, case.index + 1)} ...")

    def done(case: Case, res: dict[str, Any], cached: bool) -> None:
        nonlocal finished
        finished += 1
        n = case.index + 1 if ex.in_process else finished
        if "skipped" in res:
            say(f"{head(case, n)}: skipped ({res['skipped']})")
            return
        if "failed" in res:
            f = res["failed"]
            say(f"{head(case, n)}: FAILED ({f['kind']}): {f['reason']}")
            return
        m = res["metrics"]
        say(f"{head(case, n)}: pool {m['pool_pages']} pages, "
            f"ratio {m['effective_ratio']:.3f}"
            + (f", {m['verified_loads']} loads verified" if case.verify else "")
            + (" (cached)" if cached else f" ({res['elapsed_s']:.1f} s"
               + (", one batch in C" if res.get("engine") else "") + ")"))

    _say_page_sizes(plan, say)
    _say_engines(plan, say)
    outcomes = run_cases(cases, plan.dumps, ex, blob_memo, done, started)
    records = [_record(case, plan.dumps[case.dump_path], res)
               for case, res in zip(cases, outcomes, strict=True)]
    plugins = [p.as_dict() for p in registry.plugins]
    suite_rec = {**suite.model_dump(mode="json"),
                 "elapsed_s": round(time.perf_counter() - t_start, 3)}
    results = make_results(suite_rec, environment(plugins), records)
    results["distributions"] = size_distributions(plan, blob_memo)
    return results


def failed_cases(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The case records of ``results`` that failed (error, timeout, verify, invariant)."""
    return [c for c in results.get("cases", []) if c.get("failed")]


def run_suite_data(data: dict[str, Any], where: str = "suite", base: Path | None = None,
                   registry: Registry | None = None,
                   report: Reporter | None = None) -> dict[str, Any]:
    """Validate and run a suite given as a mapping; return the results mapping."""
    from zbench.api.registry import get_registry
    from zbench.run.suite import parse_suite

    reg = registry or get_registry()
    suite = parse_suite(data, where)
    return run_suite(suite, expand(suite, base or Path.cwd(), where, reg), reg, report)
