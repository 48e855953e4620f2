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
```

Errors name the file and the field (``suites/x.yaml: allocators[1].name: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zbench.errors import UserError


class PluginRef(BaseModel):
    """A plugin by name with its options; a bare string is the name alone."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or self.name


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

    _normalise = field_validator(
        "compressors", "frontends", "allocators", "workloads", mode="before"
    )(_refs)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_suite(data: Any, where: str) -> Suite:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a suite must be a mapping (got {type(data).__name__})")
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"{where}: {_loc(err['loc']) or 'suite'}: {err['msg']}") from None


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
