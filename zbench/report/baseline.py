"""``zbench baseline RESULTS``: the deterministic part of a run, to commit and compare with.

A baseline is a results file (same schema) holding only what is identical on
every machine: the cases' ids, plugins, options, dump hashes and deterministic
metrics; no timings, environment, dates or paths.  ``zbench compare --strict
BASELINE NEW`` then fails on any change that the commit did not declare by
updating the baseline (``scripts/update-baselines``, docs/ci.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from zbench.api.errors import UserError
from zbench.api.safeio import PUBLIC, write_atomic
from zbench.run.schema import SCHEMA, SCHEMA_VERSION, raise_problems


def _part(p: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "label", "options", "distribution", "version", "library")
    return {k: p[k] for k in keep if k in p}


def make_baseline(results: dict[str, Any], where: str = "results") -> dict[str, Any]:
    """The deterministic part of a results mapping (checked against the results schema,
    :mod:`zbench.run.schema`), with nothing machine- or time-specific: what a project commits
    and CI compares a fresh run against.  A run with failed cases is no baseline (a
    UserError naming them): CI would hold the failure as the expected state."""
    failed = [f"{where}: cases[{i}].failed: case {c['id']!r} failed; a baseline needs a "
              "run without failed cases" for i, c in enumerate(results["cases"])
              if c.get("failed")]
    if failed:
        raise_problems(failed, where)
    cases = []
    for c in results["cases"]:
        rec: dict[str, Any] = {"id": c["id"]}
        for kind in ("allocator", "frontend", "compressor", "workload"):
            rec[kind] = _part(c[kind])
        d = c["dump"]
        rec["dump"] = {"name": d["name"], "sha256": d["sha256"], "pages": d["pages"]}
        rec["seed"] = c.get("seed")
        if c.get("skipped"):
            rec["skipped"] = c["skipped"]
        else:
            rec["metrics"] = c["metrics"]
        cases.append(rec)
    suite = results.get("suite", {})
    return {"schema": SCHEMA, "version": SCHEMA_VERSION, "baseline": True,
            "suite": {k: suite[k] for k in ("name", "description", "seed", "verify")
                      if k in suite},
            "environment": {"zbench_version": results["environment"]["zbench_version"]},
            "cases": cases}


@click.command("baseline")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of stdout (e.g. baselines/quick.json).")
def baseline_cmd(results: Path, out: Path | None) -> None:
    """Write the deterministic metrics of RESULTS as a baseline to commit (no timings,
    nothing machine-specific); `zbench compare --strict BASELINE NEW` checks against it."""
    from zbench.report.compare import read

    path = results / "results.json" if results.is_dir() else results
    text = json.dumps(make_baseline(read(path), str(path)), indent=1, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(out, text, PUBLIC)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the baseline: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)
