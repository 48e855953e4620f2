"""The verdict: which allocator did best on what, with its margin, from a results mapping.

Per dump × compressor × front end × workload, the best packing (effective ratio = the
original bytes of the stored pages / pool bytes, so an allocator that stored fewer pages
under zswap's pool limit is not rewarded for its smaller pool); per compressor, the fastest
store and load of the real code (the ``kernel-latency`` section: the allocator's own time in
user-mode Linux) and of the Python models (pyperf timing: the model's own cost, not the
kernel's), each with Welch's t-test (:func:`zbench.api.significance.welch_p`); per front end,
the most migratable allocator where the ``migrate`` workload ran.  ``zbench run`` prints it
before the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from zbench.api.significance import ALPHA, welch_p
from zbench.report.sections import reporter_timings
from zbench.report.text import wrap


@dataclass(frozen=True)
class Finding:
    """One line of the verdict: ``winner`` beat ``runner_up`` on ``what`` by ``margin_pct``."""

    group: tuple[str, str]  # (dump, compressor)
    what: str  # "packing", "real store", "model load", "migration", ...
    scope: str  # front end / workload, or where the timing comes from
    winner: str
    runner_up: str
    value: float
    runner_value: float
    margin_pct: float
    p: float | None = None  # timings: Welch's two-sided p

    @property
    def significant(self) -> bool | None:
        return None if self.p is None else self.p < ALPHA

    def text(self) -> str:
        if self.what == "packing":
            if self.margin_pct == 0:
                return f"{self.winner} tie at {self.value:.2f}x effective ratio"
            verb = "pack" if " and " in self.winner else "packs"
            return (f"{self.winner} {verb} {self.margin_pct:.1f} % tighter than "
                    f"{self.runner_up} ({self.value:.2f}x vs {self.runner_value:.2f}x "
                    "effective ratio)")
        if self.what == "migration":
            if self.margin_pct == 0:
                return f"{self.winner} tie at {self.value:.1f} % of pool pages migrated"
            verb = "migrate" if " and " in self.winner else "migrates"
            return (f"{self.winner} {verb} most: {self.value:.1f} % of pool pages vs "
                    f"{self.runner_value:.1f} % for {self.runner_up}")
        sig = "significant" if self.significant else "not significant"
        # as time saved (a 2x speed-up is "50 % less time", never "100 % faster")
        less = 100.0 * (1 - self.value / self.runner_value) if self.runner_value else 0.0
        return (f"{self.winner} takes {less:.1f} % less time than {self.runner_up} "
                f"({self.value / 1000:.2f} vs {self.runner_value / 1000:.2f} µs/page; "
                f"p {self.p:.2g}, {sig})")


def _ok(c: dict[str, Any]) -> bool:
    return not c.get("skipped") and not c.get("failed") and isinstance(c.get("metrics"), dict)


def _group(c: dict[str, Any]) -> tuple[str, str]:
    return (c["dump"]["name"], c["compressor"]["label"])


def _best(group: tuple[str, str], what: str, scope: str, vals: dict[str, float],
          margin: Any) -> Finding:
    """The highest of ``vals`` against the best of the others below it (all tied: ``a, b
    and c`` as winner, margin 0)."""
    ranked = sorted(vals.items(), key=lambda kv: -kv[1])
    top = ranked[0][1]
    tied = [k for k, v in ranked if v == top]
    rest = [(k, v) for k, v in ranked if v < top]
    name = tied[0] if len(tied) == 1 else ", ".join(tied[:-1]) + " and " + tied[-1]
    if not rest:
        return Finding(group, what, scope, name, "", top, top, 0.0)
    return Finding(group, what, scope, name, rest[0][0], top, rest[0][1],
                   margin(top, rest[0][1]))


def packing(results: dict[str, Any]) -> list[Finding]:
    """Best effective ratio among the allocators behind one front end, per workload."""
    groups: dict[tuple[str, ...], dict[str, float]] = {}
    for c in results["cases"]:
        if not _ok(c) or not c["metrics"].get("effective_ratio"):
            continue
        if c["frontend"]["name"] == c["allocator"]["name"]:  # its own front end: not comparable
            continue
        key = (*_group(c), c["frontend"]["label"], c["workload"]["label"])
        groups.setdefault(key, {})[c["allocator"]["label"]] = float(
            c["metrics"]["effective_ratio"])
    out = []
    for (dump, comp, fe, wl), vals in groups.items():
        if len(vals) < 2:
            continue
        out.append(_best((dump, comp), "packing", f"{fe}, {wl}", vals,
                         lambda va, vb: round(100 * (va / vb - 1), 1)))
    return out


def _fastest(means: dict[str, float], values: dict[str, list[float]], group: tuple[str, str],
             what: str, scope: str) -> Finding | None:
    if len(means) < 2:
        return None
    (a, ma), (b, mb) = sorted(means.items(), key=lambda kv: kv[1])[:2]
    return Finding(group, what, scope, a, b, ma, mb, round(100 * (mb / ma - 1), 1),
                   welch_p(values[a], values[b]))


def real_timing(results: dict[str, Any]) -> list[Finding]:
    """Fastest store / load per compressor among the timings reporter sections offer
    (:meth:`~zbench.api.reporter.Reporter.timings`: the real code's, for one)."""
    dump = next((c["dump"]["name"] for c in results["cases"]), "")
    labels = {c["compressor"]["name"]: c["compressor"]["label"] for c in results["cases"]}
    out = []
    for t in reporter_timings(results):
        f = _fastest({k: fmean(v) for k, v in t.values.items()}, t.values,
                     (dump, labels.get(t.compressor, t.compressor)), t.what, t.scope)
        if f:
            out.append(f)
    return out


def model_timing(results: dict[str, Any]) -> list[Finding]:
    """Fastest store / load of the Python models under pyperf, per dump × compressor ×
    front end (the model's own cost, not the kernel's)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results.get("timing") or []:
        if r.get("skipped") or r.get("error"):
            continue
        groups.setdefault((r["dump"]["name"], r["compressor"]["label"], r["frontend"]["label"]),
                          []).append(r)
    out = []
    for (dump, comp, fe), recs in groups.items():
        for op in ("store", "load"):
            means = {r["allocator"]["label"]: r[op]["mean_ns"] for r in recs
                     if (r.get(op) or {}).get("mean_ns") is not None}
            values = {r["allocator"]["label"]: r[op].get("values_ns") or [] for r in recs}
            f = _fastest(means, values, (dump, comp), f"model {op}",
                         f"{fe}, pyperf: the Python models' own cost")
            if f:
                out.append(f)
    return out


def migration(results: dict[str, Any]) -> list[Finding]:
    """Most pool pages migrated (nothing mapped), per dump × compressor × front end."""
    groups: dict[tuple[str, str, str], dict[str, float]] = {}
    for c in results["cases"]:
        if not _ok(c) or not c.get("migration"):
            continue
        v = c["metrics"].get("migrate_success_pct")
        if v is not None:
            groups.setdefault((*_group(c), c["frontend"]["label"]), {})[
                c["allocator"]["label"]] = float(v)
    out = []
    for (dump, comp, fe), vals in groups.items():
        if len(vals) < 2:
            continue
        out.append(_best((dump, comp), "migration", fe, vals,
                         lambda va, vb: round(va - vb, 1)))
    return out


def verdict(results: dict[str, Any]) -> list[Finding]:
    """Every finding, grouped by (dump, compressor) in the order the cases ran."""
    found = packing(results) + real_timing(results) + model_timing(results) + migration(results)
    order = list(dict.fromkeys(_group(c) for c in results["cases"]))
    order += [f.group for f in found if f.group not in order]
    return sorted(found, key=lambda f: order.index(f.group))


def verdict_text(results: dict[str, Any], width: int | None = 120) -> str | None:
    """The verdict block, one heading per dump × compressor; ``None`` with nothing to
    compare (a single allocator, nothing timed)."""

    found = verdict(results)
    if not found:
        return None
    lines: list[str] = []
    group: tuple[str, str] | None = None
    for f in found:
        if f.group != group:
            group = f.group
            lines.append(f"{f.group[1]} on dump {f.group[0]}:")
        lines.append(wrap(f"  {f.what} ({f.scope}): {f.text()}", width, "    "))
    return "\n".join(lines)
