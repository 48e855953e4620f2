"""``zbench new-plugin NAME --kind allocator|frontend|workload|compressor [--dir DIR]``.

Writes a package that installs and passes its tests as generated: ``pyproject.toml`` with
the ``zbench`` entry point, the plugin module, tests built on :mod:`zbench.testing`'s
contract suites, and a README.  Templates are in ``zbench/templates/<kind>/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import click

from zbench.api.errors import UserError
from zbench.api.safeio import write_atomic

KINDS = ("allocator", "frontend", "workload", "compressor")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

SUMMARY = {
    "allocator": "A compressed-memory allocator model",
    "frontend": "A compressed-memory front end (the layer of zram or zswap)",
    "workload": "A swap workload",
    "compressor": "A page compressor",
}
CONTRACT = {
    "allocator": "zbench.testing.AllocatorContract",
    "frontend": "zbench.testing.FrontEndContract",
    "workload": "zbench.testing.WorkloadContract",
    "compressor": "zbench.testing.CompressorContract",
}
RUN_EXAMPLE = {
    "allocator": "zbench run --allocator {name} --allocator zsmalloc --frontend zswap --verify",
    "frontend": "zbench run --frontend {name} --frontend zswap --allocator zsmalloc --verify",
    "workload": "zbench run --workload {name} --verify",
    "compressor": "zbench run --compressor {name} --compressor lz4 --verify",
}


@dataclass(frozen=True)
class PluginNames:
    name: str  # registry name and entry-point name
    module: str  # importable package
    dist: str  # distribution name
    cls: str  # class name

    @classmethod
    def of(cls, name: str) -> PluginNames:
        base = name.removeprefix("zbench-").removeprefix("zbench_")
        if not NAME_RE.match(base):
            raise UserError(f"new-plugin: name {name!r}: use lower-case letters, digits and "
                            f"single '-' or '_' between them, starting with a letter")
        snake = base.replace("-", "_")
        camel = "".join(part.capitalize() for part in snake.split("_"))
        return cls(base, f"zbench_{snake}", f"zbench-{base}", camel)


def render(kind: str, names: PluginNames) -> dict[str, str]:
    """Relative path -> text of every file of the package."""
    from zbench.api.version import __version__

    values = {"name": names.name, "module": names.module, "dist": names.dist,
              "cls": names.cls, "kind": kind, "summary": SUMMARY[kind],
              "contract": CONTRACT[kind], "zbench_version": __version__,
              "run_example": RUN_EXAMPLE[kind].format(name=names.name)}

    def fill(rel: str) -> str:
        return Template((TEMPLATES / rel).read_text(encoding="utf-8")).substitute(values)

    return {
        "pyproject.toml": fill("common/pyproject.toml.tmpl"),
        "README.md": fill("common/README.md.tmpl"),
        f"{names.module}/__init__.py": fill(f"{kind}/plugin.py.tmpl"),
        f"tests/test_{names.module}.py": fill(f"{kind}/test.py.tmpl"),
    }


def _check_free(kind: str, names: PluginNames) -> None:
    """Refuse a name an installed plugin already provides (it could never register)."""
    from zbench.api.registry import get_registry

    reg = get_registry()
    if names.name in reg.names(kind):
        rec = reg.provider(kind, names.name)
        raise UserError(f"new-plugin: a {kind} named {names.name!r} is already provided by "
                        f"plugin {rec.name} ({rec.dist} {rec.version}); choose another name")


def new_plugin(name: str, kind: str, directory: Path | None = None) -> tuple[Path, list[str]]:
    """Write the package; return its directory and the files written."""
    if kind not in KINDS:
        raise UserError(f"new-plugin: --kind {kind!r}: expected one of {', '.join(KINDS)}")
    names = PluginNames.of(name)
    _check_free(kind, names)
    target = directory if directory is not None else Path.cwd() / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"new-plugin: {target}: exists and is not an empty directory")
    files = render(kind, names)
    for rel, text in files.items():
        path = target / rel
        write_atomic(path, text, mode=0o644)
    return target, sorted(files)


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True,
              help="What the plugin provides.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to create [default: ./zbench-NAME].")
def new_plugin_cmd(name: str, kind: str, directory: Path | None) -> None:
    """Write a working plugin package: pyproject with the entry point, the plugin, tests
    using zbench's contract suite, README.  It installs and passes its tests as generated."""
    target, files = new_plugin(name, kind, directory)
    names = PluginNames.of(name)
    click.echo(f"wrote {names.dist} ({kind} {names.name!r}) in {target}:")
    for rel in files:
        click.echo(f"  {rel}")
    click.echo(f"next: cd {target} && pip install -e '.[test]' && python -m pytest")
