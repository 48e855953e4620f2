"""The ``zbench`` command line: thin wrappers over the library."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from tabulate import tabulate

from zbench.api.errors import UserError, VerifyError
from zbench.api.registry import get_registry
from zbench.input.dump import default_dump_path

REPO_DEFAULT_DUMP = default_dump_path()


class ZbenchGroup(click.Group):
    """Turns zbench's own errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad flag or value: one line, not click's three
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"zbench: error: {where}: {exc.format_message()}", err=True)
            ctx.exit(exc.exit_code)
        except UserError as exc:
            click.echo(f"zbench: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except VerifyError as exc:
            click.echo(f"zbench: VERIFY FAILED: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=ZbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zbench")
def cli() -> None:
    """Compare Linux compressed-memory allocators (zsmalloc, zbud, z3fold, zswap)
    on real page dumps, compressed with real lz4/zstd, through models of the
    kernel's allocators.

    Start with `zbench run default` (or a suite file: `zbench run suites/default.yaml`);
    `zbench suites` lists the shipped suites, `zbench plugins` what is installed,
    `zbench metrics` what each number means.
    """


F = TypeVar("F", bound=Callable[..., Any])


def _keep_only(kind: str, more: str = "", what: str = "") -> Callable[[F], F]:
    """``--KIND NAME`` (repeatable) into ``KINDs``: keep only that plugin (name or label)."""
    return click.option(f"--{kind}", f"{kind}s", multiple=True, metavar="NAME",
                        help=f"Keep only this {what or kind} (repeatable){more}.")


@cli.command()
@click.argument("suite", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dump", "dumps", multiple=True, metavar="PATH",
              help="Dump to use (raw pages or zbench format); repeatable. Replaces the suite's.")
@_keep_only("allocator", "; without a suite, run it")
@_keep_only("frontend", what="front end")
@_keep_only("compressor")
@_keep_only("workload")
@click.option("--set", "sets", multiple=True, metavar="PLUGIN.KEY=VALUE",
              help="Set a plugin option, e.g. --set zsmalloc.chain_size=4 (repeatable).")
@click.option("--seed", type=int, default=None, help="Override the suite's seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for results.json and report.md "
                   "[default: reports/<suite>-<date>-<time>].")
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON to stdout.")
@click.option("--verify", is_flag=True,
              help="Check every load, and every live page at the end and after compaction, "
                   "byte for byte.")
@click.option("--timing/--no-timing", default=None,
              help="Measure store/load latency under pyperf [default: if the suite has a "
                   "timing: section].")
@click.option("--fast", "preset", flag_value="fast", default=None,
              help="pyperf's --fast preset for the timing cases (implies --timing).")
@click.option("--rigorous", "preset", flag_value="rigorous",
              help="pyperf's --rigorous preset for the timing cases (implies --timing).")
@click.option("-j", "--jobs", type=int, default=None, metavar="N",
              help="Run the deterministic cases on N worker processes [default: 1; with "
                   "--executor dask and no --scheduler: one per CPU].")
@click.option("--executor", default="local", metavar="local|dask",
              help="Where the deterministic cases run: a local process pool or "
                   "dask.distributed (pip install 'zbench[dask]') [default: local].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (tcp://host:8786); default: a LocalCluster.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run (--out DIR, or the newest unfinished "
                   "reports/<suite>-*), reusing its finished cases.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Neither read nor write the case cache (cases/ under $ZBENCH_CACHE).")
@click.option("--wide", is_flag=True,
              help="Print every table in full, however wide (default: within 120 columns).")
@click.option("--case-timeout", "case_timeout", type=float, default=None, metavar="SECONDS",
              help="Kill a case that runs longer and record it as failed [default: "
                   "$ZBENCH_CASE_TIMEOUT, else 3600].")
def run(suite: Path | None, dumps: tuple[str, ...], allocators: tuple[str, ...],
        frontends: tuple[str, ...], compressors: tuple[str, ...], workloads: tuple[str, ...],
        sets: tuple[str, ...], seed: int | None, out_dir: Path | None, as_json: bool,
        verify: bool, timing: bool | None = None, preset: str | None = None,
        jobs: int | None = None, executor: str = "local", scheduler: str | None = None,
        resume: bool = False, no_cache: bool = False,
        case_timeout: float | None = None, wide: bool = False) -> None:
    """Run SUITE (a YAML file, or the name of a shipped suite: `zbench suites`), narrowed
    by the flags (names or labels); without SUITE, an ad-hoc run (default: the shipped
    dump, lz4, zram, zsmalloc, fill; allocators zram cannot drive get zswap).  With a
    `timing:` section (or --timing) it also measures store/load latency under pyperf
    (docs/timing.md).
    Finished cases are cached; -j / --executor run them in parallel (docs/scale.md)."""
    registry = get_registry()
    execution = _execution(registry, jobs, executor, scheduler, no_cache, case_timeout)
    if resume and no_cache:
        raise UserError("--resume: needs the case cache (drop --no-cache)")
    set_map = _plugin_sets(sets)
    if suite is not None:
        from zbench.run.suite import load_suite

        s, base = load_suite(suite)
        where = str(suite)
    else:
        s = _adhoc_suite(registry, dumps, allocators, frontends, compressors, workloads,
                         set_map)
        base, where = Path.cwd(), "command line"
    from zbench.run.runner import Narrowing

    n = Narrowing(dumps=[str(Path(d).resolve()) for d in dumps],
                  names={"allocator": list(allocators), "frontend": list(frontends),
                         "compressor": list(compressors), "workload": list(workloads)},
                  sets=set_map, verify=verify, seed=seed)
    plan, s = _plan(s, base, where, registry, n, suite is None, timing, preset)
    results, out_dir = _run_in(s, plan, registry, execution, out_dir, resume, preset)
    _print_run(results, out_dir / "results.json", out_dir / "report.md", as_json, wide)


def _execution(registry: Any, jobs: int | None, executor: str, scheduler: str | None,
               no_cache: bool, case_timeout: float | None) -> Any:
    """Where and how the deterministic cases run, checked before anything else."""
    from zbench.run.executors import Execution
    from zbench.run.watchdog import case_timeout as timeout_of

    # plugins registered in this process only (tests) cannot be rebuilt by a worker
    local = any(p.dist == "(local)" for p in registry.plugins)
    execution = Execution(jobs, executor, scheduler, cache=not no_cache, isolate=not local,
                          contain=True, timeout=timeout_of(case_timeout))
    execution.check()
    return execution


def _plugin_sets(sets: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set PLUGIN.KEY=VALUE`` flags as ``{plugin: {key: value}}``."""
    from zbench.api.options import parse_assignments

    set_map: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(sets).items():
        plugin, dot, opt = key.partition(".")
        if not dot or not opt:
            raise UserError(f"--set {key}={value}: expected PLUGIN.KEY=VALUE")
        set_map.setdefault(plugin, {})[opt] = value
    return set_map


def _adhoc_suite(registry: Any, dumps: tuple[str, ...], allocators: tuple[str, ...],
                 frontends: tuple[str, ...], compressors: tuple[str, ...],
                 workloads: tuple[str, ...], set_map: dict[str, dict[str, Any]]) -> Any:
    """The suite of a run without SUITE: the shipped dump and, where the flags name none,
    the compressor, allocator and workload that declare themselves the default
    (``adhoc_default``), behind the front end the run layer picks for the allocators (a
    note on stderr when it is not its default)."""
    from zbench.run.runner import adhoc_default, adhoc_frontend
    from zbench.run.suite import parse_suite

    if not dumps and not REPO_DEFAULT_DUMP.exists():
        raise UserError("--dump: no dump given and no shipped default dump found")
    alloc_names = list(allocators) or [adhoc_default(registry, "allocator")]
    fe_names = list(frontends)
    if not fe_names:
        fe, note = adhoc_frontend(registry, alloc_names, set_map)
        fe_names = [fe]
        if note:
            click.echo(note, err=True)
    return parse_suite({
        "name": "adhoc",
        "dumps": [str(REPO_DEFAULT_DUMP)],
        "compressors": list(compressors) or [adhoc_default(registry, "compressor")],
        "frontends": fe_names,
        "allocators": alloc_names,
        "workloads": list(workloads) or [adhoc_default(registry, "workload")],
    }, "command line")


def _plan(s: Any, base: Path, where: str, registry: Any, n: Any, adhoc: bool,
          timing: bool | None, preset: str | None) -> tuple[Any, Any]:
    """The suite narrowed by the flags ``n``, with or without timing, expanded into its
    cases (and the suite as narrowed); a UserError when no case is left to run."""
    from zbench.run.runner import check_not_all_skipped, expand, narrow

    s = narrow(s, where, n, registry)
    if timing is False:
        s = s.model_copy(update={"timing": None})
    elif (timing or preset) and s.timing is None:
        from zbench.run.timing import TimingSpec

        s = s.model_copy(update={"timing": TimingSpec()})
    plan = expand(s, base, where, registry)
    if adhoc or n.filters:
        check_not_all_skipped(plan, where, registry)
    if not plan.cases:
        field = "exclude" if s.exclude else "cases"
        raise UserError(f"{where}: {field}: no case left to run (every combination is "
                        "excluded or narrowed away)")
    return plan, s


def _run_in(s: Any, plan: Any, registry: Any, execution: Any, out_dir: Path | None,
            resume: bool, preset: str | None) -> tuple[dict[str, Any], Path]:
    """Run the plan in its output folder (new, or resumed), under the folder lock and
    with signals stopping it cleanly; the results and the folder."""
    from zbench.run.resume import OutLock, begin_run
    from zbench.run.watchdog import stop_on_signals

    lock = OutLock(Path("."))
    with stop_on_signals() as stopped:
        try:
            out_dir = begin_run(s.name, plan, out_dir, resume,
                                lambda: datetime.now().strftime("%Y%m%d-%H%M%S"), lock)
            stopped.out_dir = out_dir
            results = _run_and_write(s, plan, registry, execution, out_dir, preset)
        finally:
            lock.release()
    return results, out_dir


def _run_and_write(s: Any, plan: Any, registry: Any, execution: Any, out_dir: Path,
                   preset: str | None) -> dict[str, Any]:
    """Run the plan, its timing cases and reporters; write results.json and report.md."""
    from zbench.report.render import write_run
    from zbench.run.resume import finish_run
    from zbench.run.runner import run_suite

    results = run_suite(s, plan, registry, execution=execution)
    if s.timing is not None:
        from zbench.run.timer import failed_timing_ids, run_timing

        results["timing"] = run_timing(s, plan, out_dir, preset or "suite",
                                       timeout=execution.timeout,
                                       failed=failed_timing_ids(results))
    if s.reports:
        from zbench.run.reports import run_reports

        results["reports"] = run_reports(s.reports, results, out_dir,
                                         lambda m: click.echo(m, err=True))
    write_run(results, out_dir)
    finish_run(out_dir)
    return results


def _fail_summary(results: dict[str, Any]) -> bool:
    """One stderr line per failed case and timing case; True when anything failed."""
    from zbench.run.runner import failed_cases

    bad = failed_cases(results)
    for c in bad:
        f = c["failed"]
        label = "VERIFY FAILED" if f["kind"] == "verify" else f"case failed ({f['kind']})"
        click.echo(f"zbench: {label}: {_case_id(c)}: {f['reason']}", err=True)
    timing_failed = [t["id"] for t in results.get("timing", []) if t.get("error")]
    if timing_failed:
        click.echo(f"zbench: timing failed for {', '.join(timing_failed)}", err=True)
    return bool(bad or timing_failed)


def _case_id(c: dict[str, Any]) -> str:
    return "/".join((c["allocator"]["label"], c["frontend"]["label"], c["compressor"]["label"],
                     c["workload"]["label"], c["dump"]["name"]))


def _print_run(results: dict[str, Any], res_path: Path, rep_path: Path, as_json: bool,
               wide: bool = False) -> None:
    from zbench.report.tables import terminal_report

    if as_json:
        click.echo(json.dumps(results, indent=2))
        click.echo(f"wrote {res_path} and {rep_path}", err=True)
        if _fail_summary(results):
            sys.exit(1)
        return
    click.echo(terminal_report(results, wide))
    click.echo(f"\nwrote {res_path} and {rep_path}")
    if _fail_summary(results):
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--requirements", is_flag=True,
              help="Print pip pins (name==version) of the distributions providing the loaded "
                   "plugins and of the compression libraries (lz4, zstandard, ...).")
def plugins(as_json: bool, requirements: bool = False) -> None:
    """List every plugin: name, what it provides, distribution, version, status."""
    registry = get_registry()
    recs = [p.as_dict() for p in registry.plugins]
    engines = registry.engines()
    for p in recs:
        p["engines"] = engines.get(p["name"], [])
    if requirements:
        from zbench.run.requirements import compressor_libraries, plugin_pins

        for pin in plugin_pins(recs, compressor_libraries(registry)):
            click.echo(pin)
        return
    if as_json:
        click.echo(json.dumps(recs, indent=2))
        return
    rows = []
    for p in recs:
        provides = ", ".join(f"{x['kind']}:{x['name']}" for x in p["provides"]) or "—"
        rows.append([p["name"], provides, p["distribution"], p["version"],
                     p["status"] + (f" ({p['error']})" if p["error"] else "")])
    click.echo(tabulate(rows, headers=["plugin", "provides", "distribution", "version",
                                       "status"]))
    lines = [f"  {e['kind']}:{e['name']}: {e['status']}" for p in recs for e in p["engines"]]
    if lines:
        click.echo("\nnative engines (docs/scale.md; ZBENCH_NATIVE=0 turns them off):")
        click.echo("\n".join(lines))



@cli.command()
@click.argument("name")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Allocator option, e.g. --set chain_size=4 --set kernel=6.1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def inspect(name: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Show an allocator's geometry for given options (e.g. zsmalloc's size classes)."""
    from zbench.api.options import parse_assignments, parse_options

    cls = get_registry().get("allocator", name)
    opts = parse_options(cls.Options, parse_assignments(sets), "--set")
    summary = cls.describe_summary(opts)
    rows = cls.describe(opts)
    if as_json:
        click.echo(json.dumps({"allocator": name, "options": opts.model_dump(mode="json"),
                               "summary": summary, "classes": rows}, indent=2))
        return
    for k, v in summary.items():
        click.echo(f"{k}: {v}")
    if rows:
        click.echo()
        click.echo(tabulate(rows, headers="keys"))


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the Markdown reference table.")
def metrics(markdown: bool) -> None:
    """Describe every metric zbench reports (name, unit, meaning): the core's and those of
    the installed plugins."""
    from zbench.api.metrics import markdown_table

    defs = get_registry().metrics()
    if markdown:
        click.echo(markdown_table(defs), nl=False)
        return
    click.echo(tabulate([[m.name, m.unit, m.better or "", m.kind, m.meaning] for m in defs],
                        headers=["metric", "unit", "better", "kind", "meaning"]))


#: Commands that live in their own modules: command name -> "module:attribute".
#: Each module keeps its command thin and its logic importable.
CORE_COMMANDS: dict[str, str] = {
    "dump": "zbench.cli.dumpcli:dump_group", "capture": "zbench.cli.dumpcli:capture_cmd",
    "new-plugin": "zbench.cli.scaffold:new_plugin_cmd",
    "compare": "zbench.report.compare:compare_cmd",
    "baseline": "zbench.report.baseline:baseline_cmd",
    "report": "zbench.report.render:report_cmd", "suites": "zbench.cli.suitescli:suites_cmd",
}


def _add_dump_commands() -> None:
    """Add the commands of :data:`CORE_COMMANDS` to the group (idempotent)."""
    import importlib

    for name, ref in CORE_COMMANDS.items():
        module, attr = ref.split(":")
        if name not in cli.commands:
            cli.add_command(getattr(importlib.import_module(module), attr), name)


def _needs_no_plugins(argv: list[str]) -> bool:
    """``zbench --version`` (and ``zbench`` with no command) never load a plugin."""
    return not argv or argv[0] == "--version"


def main(argv: list[str] | None = None) -> None:
    _add_dump_commands()
    if _needs_no_plugins(sys.argv[1:] if argv is None else argv):
        cli.main(args=argv, prog_name="zbench")
        return
    try:
        get_registry().register_commands(cli)
    except UserError as exc:  # pragma: no cover - defensive
        click.echo(f"zbench: error: {exc}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="zbench")


