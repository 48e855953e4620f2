"""``zbench suites``: the suites shipped with zbench, by name, with their descriptions."""

from __future__ import annotations

import json

import click
from tabulate import tabulate

from zbench.api.errors import UserError
from zbench.input import data


@click.command("suites")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def suites_cmd(as_json: bool) -> None:
    """List the shipped suites; run one by name: `zbench run NAME` (e.g. `zbench run quick`)."""
    shipped = data.shipped_suites()
    if not shipped:
        raise UserError("suites: no shipped suites found (neither in a checkout nor installed "
                        "under share/zbench/suites)")
    rows = [{"name": name, "description": data.suite_description(path), "path": str(path)}
            for name, path in shipped.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(tabulate([[r["name"], r["description"]] for r in rows],
                        headers=["suite", "description"], maxcolwidths=[None, 80]))
    click.echo(f"\nin {next(iter(shipped.values())).parent}; run one with `zbench run NAME`")
