"""Suite files: which dumps, compressors, front ends, allocators and workloads to cross.

```yaml
name: default
seed: 1
dumps: [../dumps/default.zbdump]      # relative to the suite file
compressors: [lz4, {name: zstd, options: {level: 3}}]
frontends: [zram]                     # optional, default [zram]
allocators: [{name: zsmalloc, options: {kernel: "6.18"}}]
workloads: [fill, churn]
verify: true                          # optional
requires: [zbench-zblock>=0.1]        # optional: distributions needed (else exit 2)
timing: {pages: 512, processes: 2}    # optional: store/load latency (zbench/timing.py)
exclude:                              # optional: combinations left out of the cross product
  - {allocators: [zbud], workloads: [churn]}   # a case matching every field listed
```

Errors name the file and the field (``suites/x.yaml: allocators[1].name: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from zbench.errors import UserError
from zbench.requirements import check_requires, parse_requirement
from zbench.timing import TimingSpec, timing_field


class PluginRef(BaseModel):
    """A plugin by name with its options; a bare string is the name alone."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or self.name


class Exclusion(BaseModel):
    """Cases to leave out: a case matches when, for every field given, its plugin's label
    or name is listed (dumps by file stem); a field left out matches anything."""

    model_config = ConfigDict(extra="forbid")
    dumps: list[str] = Field(default_factory=list)
    compressors: list[str] = Field(default_factory=list)
    frontends: list[str] = Field(default_factory=list)
    allocators: list[str] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)

    def matches(self, parts: dict[str, tuple[str, ...]]) -> bool:
        """``parts``: field -> the case's (label, name) for that field."""
        return any(getattr(self, f) for f in parts) and all(
            not getattr(self, f) or set(names) & set(getattr(self, f))
            for f, names in parts.items())


def _refs(value: Any) -> Any:
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "suite"
    description: str = ""
    seed: int = 0
    dumps: list[str] = Field(min_length=1)
    compressors: list[PluginRef] = Field(min_length=1)
    frontends: list[PluginRef] = Field(default_factory=lambda: [PluginRef(name="zram")])
    allocators: list[PluginRef] = Field(min_length=1)
    workloads: list[PluginRef] = Field(min_length=1)
    verify: bool = False
    #: distributions (PEP 508, e.g. ``zbench-zblock>=0.1``) the suite needs installed
    requires: list[Annotated[str, AfterValidator(parse_requirement)]] = Field(
        default_factory=list)
    timing: TimingSpec | None = None  # latency under pyperf (zbench/timing.py)
    exclude: list[Exclusion] = Field(default_factory=list)  # combinations left out
    reports: list[PluginRef] = Field(default_factory=list)  # reporter plugins' sections

    _normalise = field_validator(
        "compressors", "frontends", "allocators", "workloads", "reports", mode="before"
    )(_refs)
    _timing = field_validator("timing", mode="before")(timing_field)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_suite(data: Any, where: str) -> Suite:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a suite must be a mapping (got {type(data).__name__})")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"{where}: {_loc(err['loc']) or 'suite'}: {err['msg']}") from None
    check_requires(suite.requires, where)  # before any plugin is looked up
    return suite


def load_suite(path: str | Path) -> tuple[Suite, Path]:
    """Read and validate a suite file; return it with its directory (dump paths are relative)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{p}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read suite: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{p}: {line}YAML syntax error: {problem}") from None
    return parse_suite(data, str(p)), p.parent
