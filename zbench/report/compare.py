"""``zbench compare BASE NEW``: regression tracking (baselines: :mod:`zbench.report.baseline`).

Deterministic metrics (a case's ``metrics``) are compared exactly, or against a
``--fail-on METRIC:THRESHOLD`` (absolute ``5``, relative ``5%``).  Without
``--strict`` a metric with a better direction (``zbench metrics``) fails when it
gets worse; one without a direction is only reported, unless ``--fail-on`` names
it.  With ``--strict`` (CI against a committed baseline) every change fails
unless a threshold allows it, and so do cases that appear or disappear.

Metric definitions come from the core and the installed plugins
(:meth:`zbench.api.registry.Registry.metrics`).  A metric whose definition is not
installed (its plugin is missing here) is compared as a deterministic metric without a
direction: exactly, reported when it changes, failing under ``--strict`` or a
``--fail-on`` naming it; it is listed after the defined metrics.

Timings (``results["timing"]``) fail only when Welch's t-test on the pyperf
values finds the change significant *and* it is past the threshold (default
+10 %); a percentile (p50 / p90 / p99, from separate per-operation passes) counts
only when the pyperf mean moved significantly in the same direction.  Every significant
timing change, slower or faster, is listed and counted in the summary line, past the
threshold or not; so is a change past the threshold that the t-test cannot confirm.

Exit codes: 0 no regression, 1 regression, 2 bad input or usage.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from zbench.api.errors import UserError
from zbench.api.metrics import MetricDef
from zbench.api.registry import get_registry
from zbench.api.significance import ALPHA, welch_p
from zbench.run.results import load_results

#: default threshold for timing metrics: relative, in the worse direction
TIMING_THRESHOLD = "10%"
#: environment fields that must agree for two runs to be from the same machine
MACHINE_FIELDS = ("hostname", "cpu_model", "cpu_count", "machine", "kernel", "python")


@dataclass(frozen=True)
class Threshold:
    value: float
    relative: bool

    @classmethod
    def parse(cls, text: str, where: str) -> Threshold:
        raw = text.strip().lstrip("+")
        rel = raw.endswith("%")
        try:
            value = float(raw[:-1] if rel else raw)
        except ValueError:
            raise UserError(f"{where}: threshold {text!r} is not a number or a percentage "
                            "(e.g. 5, 0.5%)") from None
        if not math.isfinite(value):
            raise UserError(f"{where}: threshold {text!r} is not a finite number")
        if value < 0:
            raise UserError(f"{where}: threshold {text!r} must not be negative")
        return cls(value, rel)

    def exceeded(self, base: float, delta: float) -> bool:
        """True when ``delta`` (the change counted against it, > 0) is past the threshold."""
        if delta <= 0:
            return False
        if self.relative:
            return delta > abs(base) * self.value / 100 if base else True
        return delta > self.value

    def __str__(self) -> str:
        return f"{self.value:g}{'%' if self.relative else ''}"


def parse_fail_on(items: tuple[str, ...] | list[str], known: set[str]) -> dict[str, Threshold]:
    """``METRIC:THRESHOLD`` options; an unknown metric or a bad threshold is a UserError."""
    out: dict[str, Threshold] = {}
    for item in items:
        metric, sep, thr = item.partition(":")
        where = f"--fail-on {item}"
        if not sep or not metric or not thr:
            raise UserError(f"{where}: expected METRIC:THRESHOLD, e.g. pool_pages:0 or "
                            "store_p50_ns:5%")
        if metric not in known:
            raise UserError(f"{where}: unknown metric {metric!r} (see `zbench metrics`)")
        out[metric] = Threshold.parse(thr, where)
    return out


@dataclass
class Row:
    section: str  # "case" or "timing"
    id: str
    metric: str
    base: Any
    new: Any
    verdict: str  # worse | improved | changed | within threshold | not significant | ...
    fail: bool = False  # counts as a regression (exit 1)
    p: float | None = None
    significant: bool = False  # a timing whose change the t-test finds significant

    @property
    def change(self) -> str:
        if not (_finite(self.base) and _finite(self.new)):
            return ""
        d = self.new - self.base
        rel = f" ({100 * d / self.base:+.1f}%)" if self.base else ""
        return (f"{d:+d}" if isinstance(d, int) else f"{d:+.4g}") + rel


@dataclass
class Comparison:
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cases: int = 0
    timings: int = 0
    timing_values: int = 0
    alpha: float = ALPHA
    unsure: int = 0  # timing values past the threshold that the t-test cannot tell from noise

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.fail]

    @property
    def significant_timings(self) -> list[Row]:
        """Timing values that changed significantly, slower or faster, past the threshold
        or not."""
        return [r for r in self.rows if r.section == "timing" and r.significant]


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    try:
        return _num(v) and math.isfinite(v)
    except OverflowError:
        return False


# -- reading ------------------------------------------------------------------------

def read(path: Path) -> dict[str, Any]:
    """A results (or baseline) file, or a run directory holding ``results.json``, checked
    against the results schema (:mod:`zbench.run.schema`); a UserError naming the file and
    the JSON path of every problem otherwise."""
    p = path / "results.json" if path.is_dir() else path
    return load_results(p)


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        key, n = r["id"], 2
        while key in out:
            key, n = f"{r['id']}#{n}", n + 1
        out[key] = r
    return out


# -- comparing ------------------------------------------------------------------------

def compare_results(base: dict[str, Any], new: dict[str, Any],
                    fail_on: dict[str, Threshold] | None = None, strict: bool = False,
                    alpha: float = ALPHA, show_all: bool = False) -> Comparison:
    fail_on = fail_on or {}
    cmp = Comparison(alpha=alpha)
    _machine_warning(base, new, cmp)
    b_cases, n_cases = _by_id(base["cases"]), _by_id(new["cases"])
    for cid, bc in b_cases.items():
        nc = n_cases.get(cid)
        if nc is None:
            cmp.rows.append(Row("case", cid, "—", "present", "missing", "missing", True))
            continue
        if nc.get("failed"):
            why = _failure(nc["failed"])
            cmp.rows.append(Row("case", cid, "—", "ran" if not bc.get("failed") else "failed",
                                why, "failed", True))
            continue
        if bc.get("failed"):
            cmp.warnings.append(f"{cid}: failed in BASE ({_failure(bc['failed'])}); "
                                "not compared")
            continue
        if bc.get("skipped") or nc.get("skipped"):
            if not (bc.get("skipped") and nc.get("skipped")):
                which = "BASE" if bc.get("skipped") else "NEW"
                reason = bc.get("skipped") or nc.get("skipped")
                cmp.warnings.append(f"{cid}: skipped in {which} ({reason}); not compared")
            continue
        cmp.cases += 1
        before = len(cmp.rows)
        _compare_metrics(cid, bc.get("metrics") or {}, nc.get("metrics"), fail_on, strict,
                         show_all, cmp)
        if len(cmp.rows) > before:
            _library_hint(cid, bc, nc, cmp)
    for cid in n_cases.keys() - b_cases.keys():
        nc = n_cases[cid]
        if nc.get("failed"):
            cmp.rows.append(Row("case", cid, "—", "missing", _failure(nc["failed"]), "failed",
                                True))
            continue
        cmp.rows.append(Row("case", cid, "—", "missing", "present", "new", strict))
    _compare_timing(base, new, fail_on, alpha, show_all, cmp)
    return cmp


def defined_metrics() -> dict[str, MetricDef]:
    """Name -> definition of every metric the core and the installed plugins define."""
    return {d.name: d for d in get_registry().metrics()}


def _failure(rec: Any) -> str:
    if isinstance(rec, dict):
        return f"failed: {rec.get('kind', '?')}: {rec.get('reason', '?')}"
    return f"failed: {rec}"


def _compare_metrics(cid: str, bm: dict[str, Any], nm: Any,
                     fail_on: dict[str, Threshold], strict: bool, show_all: bool,
                     cmp: Comparison) -> None:
    if not isinstance(nm, dict):  # only a library caller can get here: read() checks it
        cmp.rows.append(Row("case", cid, "metrics", "present", _fmt(nm), "no metrics", True))
        return
    defs = defined_metrics()
    for metric in sorted(bm.keys() | nm.keys(), key=lambda k: (k not in defs, k)):
        b: Any = bm.get(metric)
        n: Any = nm.get(metric)
        if metric not in nm:
            cmp.rows.append(Row("case", cid, metric, b, None, "missing in NEW", True))
            continue
        if not _finite(n):
            cmp.rows.append(Row("case", cid, metric, b, n, "not a finite number", True))
            continue
        if b == n:
            if show_all:
                cmp.rows.append(Row("case", cid, metric, b, n, "same"))
            continue
        thr = fail_on.get(metric)
        if not (_finite(b) and _finite(n)):
            cmp.rows.append(Row("case", cid, metric, b, n, "changed", strict))
            continue
        better = (d := defs.get(metric)) and d.better or ""
        delta = n - b
        worse = delta if better == "lower" else -delta if better == "higher" else abs(delta)
        if strict:
            failed = (thr or Threshold(0, False)).exceeded(b, abs(delta))
        elif better:
            failed = (thr or Threshold(0, False)).exceeded(b, worse)
        else:
            failed = thr is not None and thr.exceeded(b, abs(delta))
        if better and worse < 0:
            verdict = "improved"
        elif better:
            verdict = "worse" if failed or thr is None else "within threshold"
        else:
            verdict = "changed" if failed or thr is None else "within threshold"
        cmp.rows.append(Row("case", cid, metric, b, n, verdict, failed))


def _compare_timing(base: dict[str, Any], new: dict[str, Any],
                    fail_on: dict[str, Threshold], alpha: float, show_all: bool,
                    cmp: Comparison) -> None:
    from zbench.report.latency import OPS, timing_metrics

    bt = {k: v for k, v in _by_id(base.get("timing", [])).items() if _timed(v)}
    nt = {k: v for k, v in _by_id(new.get("timing", [])).items() if _timed(v)}
    if bt and not nt:
        cmp.warnings.append("BASE has timings and NEW has none: timings not compared")
    defs = defined_metrics()
    for tid, br in bt.items():
        nr = nt.get(tid)
        if nr is None:
            if nt:
                cmp.warnings.append(f"{tid}: timed in BASE only; not compared")
            continue
        cmp.timings += 1
        bp, np_ = (r.get("path") or "the Python model" for r in (br, nr))
        if bp.split(",")[0] != np_.split(",")[0]:
            cmp.warnings.append(f"{tid}: timed on {bp} in BASE, on {np_} in NEW: the "
                                "timings measure different code")
        p_by_op = {op: welch_p((br.get(op) or {}).get("values_ns") or [],
                               (nr.get(op) or {}).get("values_ns") or []) for op in OPS}
        bm, nm = timing_metrics(br), timing_metrics(nr)
        for metric in sorted(bm.keys() & nm.keys()):
            d = defs.get(metric)
            if d is None or not d.better:
                continue
            cmp.timing_values += 1
            b, n = bm[metric], nm[metric]
            op = metric.split("_", 1)[0]
            p = p_by_op[op]
            thr = fail_on.get(metric) or Threshold.parse(TIMING_THRESHOLD, "default")
            worse = n - b  # every timing metric with a direction is "lower is better"
            # percentiles come from their own passes: they count only when the pyperf
            # values moved significantly the same way
            mean_worse = nm.get(f"{op}_mean_ns", 0) - bm.get(f"{op}_mean_ns", 0)
            agrees = (worse > 0) == (mean_worse > 0)
            failed, significant = False, p < alpha and agrees and worse != 0
            past = thr.exceeded(b, abs(worse))
            if not significant:
                verdict = "not significant"
            elif thr.exceeded(b, worse):
                verdict, failed = "worse", True
            elif worse < 0 and past:
                verdict = "improved"
            else:
                verdict = f"{'slower' if worse > 0 else 'faster'}, within threshold"
            # every significant change is listed, and so is a large one the t-test cannot
            # tell from noise (its p says how far it is from significant)
            cmp.unsure += past and not significant
            if show_all or significant or past:
                cmp.rows.append(Row("timing", tid, metric, b, n, verdict, failed, p,
                                    significant))


def _timed(rec: dict[str, Any]) -> bool:
    return not rec.get("skipped") and not rec.get("error")


def _machine_warning(base: dict[str, Any], new: dict[str, Any], cmp: Comparison) -> None:
    be, ne = base.get("environment") or {}, new.get("environment") or {}
    diffs = [f"{k}: {be[k]!r} vs {ne[k]!r}" for k in MACHINE_FIELDS
             if k in be and k in ne and be[k] != ne[k]]
    if diffs:
        cmp.warnings.append("BASE and NEW come from different machines (" + "; ".join(diffs)
                            + "): timings are not comparable")


def _library_hint(cid: str, bc: dict[str, Any], nc: dict[str, Any], cmp: Comparison) -> None:
    bl = (bc.get("compressor") or {}).get("library")
    nl = (nc.get("compressor") or {}).get("library")
    if bl and nl and bl != nl:
        cmp.warnings.append(f"{cid}: compressor library differs ({bl} vs {nl}): compressed "
                            "sizes, and every metric after them, may differ")


# -- output ---------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "—" if v is None else str(v)


def _table(rows: list[Row], fmt: str) -> str:
    body = [[r.section, r.id, r.metric, _fmt(r.base), _fmt(r.new), r.change, r.verdict,
             "FAIL" if r.fail else "", "" if r.p is None else f"{r.p:.2g}"] for r in rows]
    return tabulate(body, headers=["", "case", "metric", "base", "new", "change", "verdict",
                                   "fail", "p"], tablefmt=fmt, disable_numparse=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def timing_summary(cmp: Comparison) -> str:
    """``timings: 2 significant changes (1 slower, 1 faster), 1 large change not
    significant (p >= 0.01)``; empty when no timing was compared."""
    if not cmp.timings:
        return ""
    sig = cmp.significant_timings
    slower = sum(_finite(r.base) and _finite(r.new) and r.new > r.base for r in sig)
    text = (f"timings: {_plural(len(sig), 'significant change')} ({slower} slower, "
            f"{len(sig) - slower} faster)")
    if cmp.unsure:
        text += (f", {_plural(cmp.unsure, 'change')} past the threshold but not significant "
                 f"(p >= {cmp.alpha:g})")
    return text


def summary(cmp: Comparison) -> str:
    n = len(cmp.regressions)
    changed = sum(not r.fail and r.verdict != "same" for r in cmp.rows)
    timing = timing_summary(cmp)
    return (f"{'REGRESSION' if n else 'OK'}: {_plural(n, 'regression')}, "
            f"{_plural(changed, 'other difference')}; {timing + '; ' if timing else ''}"
            f"{cmp.cases} cases and {cmp.timings} timing cases ({cmp.timing_values} timing "
            "values) compared")


def render_text(cmp: Comparison) -> str:
    out = [summary(cmp)]
    out += [f"warning: {w}" for w in cmp.warnings]
    fails = [r for r in cmp.rows if r.fail]
    others = [r for r in cmp.rows if not r.fail]
    if fails:
        out += ["", "Regressions", "", _table(fails, "simple")]
    if others:
        out += ["", "Other differences", "", _table(others, "simple")]
    return "\n".join(out)


def render_markdown(cmp: Comparison) -> str:
    """Fit for a pull-request comment: the summary, warnings, the regressions, and the
    other differences folded away."""
    icon = ":x:" if cmp.regressions else ":white_check_mark:"
    out = ["### zbench compare", "", f"{icon} **{summary(cmp)}**", ""]
    out += [f"> :warning: {w}" for w in cmp.warnings]
    if cmp.warnings:
        out.append("")
    fails = [r for r in cmp.rows if r.fail]
    others = [r for r in cmp.rows if not r.fail]
    if fails:
        out += ["#### Regressions", "", _table(fails, "github"), ""]
    if others:
        out += ["<details><summary>" + f"{len(others)} other difference"
                + "s" * (len(others) != 1) + "</summary>", "", _table(others, "github"), "",
                "</details>", ""]
    out.append("Deterministic metrics are exact; timings count only when Welch's t-test on "
               "the pyperf values is significant and the change is past the threshold.")
    return "\n".join(out) + "\n"


# -- commands -------------------------------------------------------------------------

@click.command("compare")
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--fail-on", "fail_on", multiple=True, metavar="METRIC:THRESHOLD",
              help="Fail when METRIC gets worse by more than THRESHOLD: absolute (5) or "
                   "relative (5%). Repeatable.")
@click.option("--strict", is_flag=True,
              help="Every change of a deterministic metric fails, and so does a case that "
                   "appears or disappears (CI against a committed baseline).")
@click.option("--markdown", is_flag=True, help="Markdown for a pull-request comment.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=ALPHA,
              show_default=True, help="Significance level of the t-test on timings.")
@click.option("--all", "show_all", is_flag=True, help="List every compared value.")
def compare_cmd(base: Path, new: Path, fail_on: tuple[str, ...], strict: bool,
                markdown: bool, alpha: float, show_all: bool) -> None:
    """Compare two runs (results.json files or run directories): exit 0 when NEW has no
    regression against BASE, 1 when it has, 2 on bad input."""
    b, n = read(base), read(new)
    known = set(defined_metrics())
    for data in (b, n):
        for c in data["cases"]:
            known.update(c.get("metrics") or {})
    cmp = compare_results(b, n, parse_fail_on(fail_on, known), strict, alpha, show_all)
    click.echo(render_markdown(cmp) if markdown else render_text(cmp), nl=not markdown)
    sys.exit(1 if cmp.regressions else 0)
