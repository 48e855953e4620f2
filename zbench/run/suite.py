"""Suite files: which dumps, compressors, front ends, allocators and workloads to cross.

```yaml
name: default
seed: 1
dumps: [../dumps/default.zbdump]      # relative to the suite file
# or {path: ../dumps/default.zbdump, page_size: 16384}: read as 16 K pages (docs/page-size.md)
compressors: [lz4, {name: zstd, options: {level: 3}}]
frontends: [zram]                     # optional: default, the default front end
allocators: [{name: zsmalloc, options: {kernel: "6.18"}}]
workloads: [fill, churn]
verify: true                          # optional
requires: [zbench-zblock>=0.1]        # optional: distributions needed (else exit 2)
timing: {pages: 512, processes: 2}    # optional: store/load latency (zbench/run/timing.py)
exclude:                              # optional: combinations left out of the cross product
  - {allocators: [zbud], workloads: [churn]}   # a case matching every field listed
questions:                            # optional: answered in the report (zbench/run/questions.py)
  - {ask: "zstd over lz4?", base: {compressor: lz4}, test: {compressor: zstd}}
```

Without ``frontends:`` a suite runs under the front end that declares itself the default
(``FrontEnd.default_frontend``), resolved when the suite is expanded
(:func:`zbench.run.runner.with_default_frontend`).

Errors name the file and the field (``suites/x.yaml: allocators[1].name: ...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from zbench.api import safeio
from zbench.api.errors import UserError
from zbench.api.frames import page_size_error
from zbench.api.options import check_strict
from zbench.input import data
from zbench.run.questions import Question, check_questions
from zbench.run.requirements import check_requires, parse_requirement
from zbench.run.timing import TimingSpec, timing_field

#: a suite name becomes the folder ``reports/<name>-<stamp>``: one plain path component
NAME_RE = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,99}")
MAX_DEPTH = 64  # nesting levels of a suite's YAML
MAX_NODES = 1_000_000  # values of a suite's YAML, aliases expanded
PLUGIN_LISTS = ("compressors", "frontends", "allocators", "workloads", "reports")


class DumpRef(BaseModel):
    """A dump of the suite: its path and the page size to read it as (``None``: the
    dump's own, 4096 unless it was captured on a 16 K or 64 K kernel); a bare string is
    the path alone, and serialises back to one, so a suite without page sizes records
    exactly as before."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1)
    page_size: StrictInt | None = None

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, value: int | None) -> int | None:
        problem = None if value is None else page_size_error(value)
        if problem is not None:
            raise PydanticCustomError("page_size", problem)
        return value

    @model_serializer(mode="wrap")
    def _plain_path(self, handler: SerializerFunctionWrapHandler) -> Any:
        return self.path if self.page_size is None else handler(self)


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
    seed: StrictInt = 0
    dumps: list[DumpRef] = Field(min_length=1)
    compressors: list[PluginRef] = Field(min_length=1)
    #: not given: the default front end, filled in at expansion (see the module docstring)
    frontends: list[PluginRef] = Field(default_factory=list)
    allocators: list[PluginRef] = Field(min_length=1)
    workloads: list[PluginRef] = Field(min_length=1)
    verify: StrictBool = False
    #: distributions (PEP 508, e.g. ``zbench-zblock>=0.1``) the suite needs installed
    requires: list[Annotated[str, AfterValidator(parse_requirement)]] = Field(
        default_factory=list)
    timing: TimingSpec | None = None  # latency under pyperf (zbench/run/timing.py)
    exclude: list[Exclusion] = Field(default_factory=list)  # combinations left out
    reports: list[PluginRef] = Field(default_factory=list)  # reporter plugins' sections
    questions: list[Question] = Field(default_factory=list)  # answered in the report

    _normalise = field_validator(
        "compressors", "frontends", "allocators", "workloads", "reports", mode="before"
    )(_refs)
    _timing = field_validator("timing", mode="before")(timing_field)

    @field_validator("dumps", mode="before")
    @classmethod
    def _dump_refs(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        for v in value:
            if not isinstance(v, str | dict):
                raise PydanticCustomError(
                    "dump_ref", "a dump is a path or a mapping {path: ..., page_size: ...}, "
                    "not {value}", {"value": repr(v)})
        return [{"path": v} if isinstance(v, str) else v for v in value]

    @field_validator("timing", mode="before")
    @classmethod
    def _strict_timing(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, v in value.items():
                field = TimingSpec.model_fields.get(str(key))
                if field is not None:
                    try:
                        check_strict(v, field.annotation)
                    except PydanticCustomError as exc:
                        raise PydanticCustomError("strict_scalar", f"{key}: {exc}") from None
        return value

    @field_validator("seed", "verify", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        check_strict(value, int if info.field_name == "seed" else bool)
        return value

    @model_serializer(mode="wrap")
    def _without_questions(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A suite without questions records exactly as before the key existed."""
        out = handler(self)
        if isinstance(out, dict) and not self.questions:
            out.pop("questions", None)
        return out

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value) or value in (".", ".."):
            raise PydanticCustomError(
                "suite_name", "{value}: the suite name names the folder reports/<name>-<date>:"
                " use 1-100 of A-Z a-z 0-9 . _ + - (no '/', not starting with '.')",
                {"value": repr(value)})
        return value


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_labels(suite: Suite, where: str) -> None:
    """Two plugins of one list shown under one label would share a table column."""
    for fld in PLUGIN_LISTS:
        seen: dict[str, int] = {}
        for i, ref in enumerate(getattr(suite, fld)):
            key = "label" if ref.label is not None else "name"
            if ref.display in seen:
                raise UserError(f"{where}: {fld}[{i}].{key}: {ref.display!r} is already the "
                                f"label of {fld}[{seen[ref.display]}] (give each a unique label)")
            seen[ref.display] = i


def suite_labels(suite: Suite) -> dict[str, list[str]]:
    """The labels the suite's cases have, by question dimension (``dump``: file stems);
    the front end of a suite without ``frontends:`` is known only at expansion."""
    out = {fld.removesuffix("s"): [ref.display for ref in getattr(suite, fld)]
           for fld in ("compressors", "frontends", "allocators", "workloads")}
    if not suite.frontends:
        del out["frontend"]
    out["dump"] = [Path(ref.path).stem for ref in suite.dumps]
    return out


def parse_suite(data: Any, where: str) -> Suite:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a suite must be a mapping (got {type(data).__name__})")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise UserError(f"{where}: {_loc(err['loc']) or 'suite'}: {msg}") from None
    check_labels(suite, where)
    check_questions(suite.questions, suite_labels(suite), where)
    check_requires(suite.requires, where)  # before any plugin is looked up
    return suite


class SuiteLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key repeated in one mapping (which YAML's
    loaders otherwise resolve silently, the last one winning)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if dup:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_map(loader: SuiteLoader, node: yaml.MappingNode) -> Any:
    """YAML mappings through :meth:`SuiteLoader.construct_mapping` (PyYAML's own
    ``construct_yaml_map``, a generator the loader drives)."""
    return loader.construct_yaml_map(node)


SuiteLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def check_shape(data: Any, where: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_DEPTH` or, aliases expanded, larger than
    :data:`MAX_NODES` values (both would blow up later, in validation or JSON)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise UserError(f"{where}: the suite holds more than {MAX_NODES} values "
                            "(aliases expanded)")
        if depth > MAX_DEPTH:
            raise UserError(f"{where}: the suite is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def parse_yaml(text: str, where: str) -> Any:
    """Load suite YAML; any problem is one line naming ``where`` (and the line)."""
    try:
        data = yaml.load(text, Loader=SuiteLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if problem.startswith("duplicate key"):
            raise UserError(f"{where}: {line}{problem}") from None
        raise UserError(f"{where}: {line}YAML syntax error: {problem}") from None
    except RecursionError:
        raise UserError(f"{where}: the suite is nested too deeply to read") from None
    check_shape(data, where)
    return data


def load_suite(path: str | Path) -> tuple[Suite, Path]:
    """Read and validate a suite file; return it with its directory (dump paths are relative).

    A bare name that is not a file (``default``) is a shipped suite (``zbench suites``);
    an unknown one is a UserError listing them."""
    p = Path(path)
    if not p.exists() and data.is_suite_name(str(path)):
        shipped = data.shipped_suites()
        if str(path) not in shipped:
            have = ", ".join(shipped) or "none installed"
            raise UserError(f"{path}: no such suite file or shipped suite (shipped: {have})")
        p = shipped[str(path)]
    text = safeio.read_text(p, safeio.SUITE_LIMIT, "suite file")
    return parse_suite(parse_yaml(text, str(p)), str(p)), p.parent
