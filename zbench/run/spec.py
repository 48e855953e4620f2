"""What a run is made of: a case's resolved plugins (:class:`Part`, and the plugins they
build through the registry, :class:`Use`), the case itself (:class:`Case`: dump,
compressor, front end, allocator, workload, seed) and the plan of a run (:class:`Plan`).

:class:`CaseSpec` is the one serialisable form of a case: the results record of each
case (:mod:`zbench.run.runner`), the description a worker process rebuilds it from
(:mod:`zbench.run.executors`), the spec of a timing case (:mod:`zbench.run.timer`,
:mod:`zbench.run.bench`) and the case cache's key (:mod:`zbench.run.casecache`) are all
made from it, so they cannot disagree on what a case is.

A case has a page size (the kernel's PAGE_SIZE it models: the dump read as such pages,
:meth:`zbench.input.dump.Dump.paged`); a case of 4096-byte pages says nothing of it — no
``page_size`` in its spec's JSON, no suffix on its id — so its records, cache key and id
are those of a run before page sizes existed (docs/page-size.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, cast, get_args

from zbench.api.allocator import Allocator
from zbench.api.compressor import Compressor
from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE
from zbench.api.frontend import FrontEnd
from zbench.api.options import PluginOptions, parse_options
from zbench.api.registry import PluginRecord, Registry
from zbench.api.workload import Workload
from zbench.input.dump import Dump

Kind = Literal["compressor", "frontend", "allocator", "workload"]
#: a case's parts, in the order its records and descriptions list them
PARTS: tuple[Kind, ...] = get_args(Kind)
#: the parts a timing case has (its workload does not matter)
TIMED_PARTS: tuple[Kind, ...] = ("compressor", "frontend", "allocator")

T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """A resolved plugin of a case: its class, validated options and provider."""

    kind: str
    name: str
    label: str
    cls: type[T]
    options: PluginOptions
    plugin: PluginRecord


@dataclass(frozen=True)
class Use:
    """A plugin a part builds through the registry (``Allocator.uses``), e.g. the backend
    allocator of ``aspace``; ``plugin`` is None when it is not registered (the case then
    fails when it runs, as it would without this record)."""

    kind: str
    name: str
    cls: type | None
    plugin: PluginRecord | None


@dataclass
class Case:
    index: int
    dump_path: Path
    compressor: Part[Compressor]
    frontend: Part[FrontEnd]
    allocator: Part[Allocator]
    workload: Part[Workload]
    seed: int
    verify: bool
    skip_reason: str = ""
    uses: tuple[Use, ...] = ()
    page_size: int = PAGE_SIZE

    @property
    def dump_name(self) -> str:
        """The dump as the case's id names it: the file's stem, ``@16K`` after it when the
        case reads it as pages of another size than 4096."""
        return dump_name(self.dump_path.stem, self.page_size)

    @property
    def id(self) -> str:
        return "/".join(
            (self.allocator.label, self.frontend.label, self.compressor.label,
             self.workload.label, self.dump_name)
        )

    def part(self, kind: str) -> Part[Any]:
        """The part of kind ``kind`` (one of :data:`PARTS`)."""
        if kind not in PARTS:
            raise KeyError(kind)
        return cast(Part[Any], getattr(self, kind))

    def spec(self, dump_sha256: str, kinds: tuple[Kind, ...] = PARTS) -> CaseSpec:
        """This case in its serialisable form (``kinds``: the parts to include)."""
        return CaseSpec(
            index=self.index,
            dump=DumpSpec(str(self.dump_path), dump_sha256, self.dump_path.stem),
            parts=tuple(PartSpec.of(self.part(k)) for k in kinds),
            uses=tuple(UseSpec.of(u) for u in self.uses),
            seed=self.seed, verify=self.verify, skip_reason=self.skip_reason,
            page_size=self.page_size,
        )


def dump_name(stem: str, page_size: int) -> str:
    """A dump's name in case ids: ``stem``, or ``stem@16K`` for 16384-byte pages."""
    return stem if page_size == PAGE_SIZE else f"{stem}@{page_size // 1024}K"


@dataclass
class Plan:
    """The cases of a run, validated, and the dumps they read (loaded once)."""

    cases: list[Case]
    dumps: dict[Path, Dump]


# -- the serialisable form ----------------------------------------------------------------
@dataclass(frozen=True)
class PartSpec:
    """A part as JSON: kind, name, label, options (JSON values) and its provider."""

    kind: str
    name: str
    label: str
    options: dict[str, Any]
    plugin: str
    distribution: str
    version: str

    @classmethod
    def of(cls, p: Part[Any]) -> PartSpec:
        return cls(p.kind, p.name, p.label, p.options.model_dump(mode="json"),
                   p.plugin.name, p.plugin.dist, p.plugin.version)

    def record(self) -> dict[str, Any]:
        """The part as results.json (and the timing records) show it."""
        return {"name": self.name, "label": self.label, "options": dict(self.options),
                "plugin": self.plugin, "distribution": self.distribution,
                "version": self.version}


@dataclass(frozen=True)
class UseSpec:
    """A :class:`Use` as JSON (empty provider fields: not registered)."""

    kind: str
    name: str
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    @classmethod
    def of(cls, u: Use) -> UseSpec:
        if u.plugin is None:
            return cls(u.kind, u.name)
        return cls(u.kind, u.name, u.plugin.name, u.plugin.dist, u.plugin.version)


@dataclass(frozen=True)
class DumpSpec:
    """The dump a case reads: its path, content digest and name (the file's stem)."""

    path: str
    sha256: str
    name: str


@dataclass(frozen=True)
class CaseSpec:
    """One case, serialisable: what a worker, the pyperf program or the cache needs."""

    index: int
    dump: DumpSpec
    parts: tuple[PartSpec, ...]
    seed: int
    verify: bool
    skip_reason: str = ""
    uses: tuple[UseSpec, ...] = field(default=())
    page_size: int = PAGE_SIZE

    def part(self, kind: str) -> PartSpec:
        for p in self.parts:
            if p.kind == kind:
                return p
        raise KeyError(kind)

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON; ``page_size`` only when it is not 4096."""
        out = {"index": self.index, "dump": vars(self.dump),
               "parts": [vars(p) for p in self.parts], "uses": [vars(u) for u in self.uses],
               "seed": self.seed, "verify": self.verify, "skip_reason": self.skip_reason}
        if self.page_size != PAGE_SIZE:
            out["page_size"] = self.page_size
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseSpec:
        return cls(index=data["index"], dump=DumpSpec(**data["dump"]),
                   parts=tuple(PartSpec(**p) for p in data["parts"]),
                   uses=tuple(UseSpec(**u) for u in data.get("uses", ())),
                   seed=data["seed"], verify=data["verify"],
                   skip_reason=data.get("skip_reason", ""),
                   page_size=data.get("page_size", PAGE_SIZE))


# -- resolving against a registry ---------------------------------------------------------
def resolve_part(registry: Registry, kind: str, name: str, label: str, options: Any,
                 where: str, base_dir: Path | None = None) -> Part[Any]:
    """The :class:`Part` of plugin ``name``: its class, ``options`` validated (errors
    name ``where``; a file an option names relative to ``base_dir``, the suite's folder),
    its provider; a UserError for an unknown plugin or a bad option."""
    cls: Any = registry.get(kind, name)
    opts = parse_options(cls.Options, options, where, base_dir)
    return Part(kind, name, label, cls, opts, registry.provider(kind, name))


def rebuild_part(registry: Registry, p: PartSpec, where: str) -> Part[Any]:
    """The :class:`Part` a :class:`PartSpec` names, resolved in this process's registry."""
    return resolve_part(registry, p.kind, p.name, p.label, p.options, f"{where}: {p.kind}")


def resolve_uses(registry: Registry, parts: list[Part[Any]]) -> tuple[Use, ...]:
    """Every plugin the parts say they build through the registry (``uses``), once each,
    in order; one that is not registered is kept with no provider."""
    seen: dict[tuple[str, str], Use] = {}
    for p in parts:
        if not issubclass(p.cls, Allocator | FrontEnd):
            continue
        for kind, name in p.cls.uses(p.options):
            if (kind, name) in seen or (kind, name) == (p.kind, p.name):
                continue
            try:
                cls = registry.get(kind, name)
            except (UserError, KeyError):
                seen[(kind, name)] = Use(kind, name, None, None)
            else:
                seen[(kind, name)] = Use(kind, name, cls, registry.provider(kind, name))
    return tuple(seen.values())


def rebuild_case(registry: Registry, spec: CaseSpec) -> Case:
    """The :class:`Case` a :class:`CaseSpec` describes (every part of :data:`PARTS`)."""
    where = f"case {spec.index}"
    parts = {k: rebuild_part(registry, spec.part(k), where) for k in PARTS}
    return Case(spec.index, Path(spec.dump.path), parts["compressor"], parts["frontend"],
                parts["allocator"], parts["workload"], spec.seed, spec.verify,
                spec.skip_reason, resolve_uses(registry, list(parts.values())), spec.page_size)
