"""What a run is made of: a case's resolved plugins (:class:`Part`), the case itself
(:class:`Case`: dump, compressor, front end, allocator, workload, seed) and the plan of a
run (:class:`Plan`: its cases and the dumps they read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zbench.api.options import PluginOptions
from zbench.api.registry import PluginRecord
from zbench.input.dump import Dump


@dataclass(frozen=True)
class Part:
    """A resolved plugin of a case: its class, validated options and provider."""

    kind: str
    name: str
    label: str
    cls: type
    options: PluginOptions
    plugin: PluginRecord


@dataclass
class Case:
    index: int
    dump_path: Path
    compressor: Part
    frontend: Part
    allocator: Part
    workload: Part
    seed: int
    verify: bool
    skip_reason: str = ""

    @property
    def id(self) -> str:
        return "/".join(
            (self.allocator.label, self.frontend.label, self.compressor.label,
             self.workload.label, self.dump_path.stem)
        )


@dataclass
class Plan:
    """The cases of a run, validated, and the dumps they read (loaded once)."""

    cases: list[Case]
    dumps: dict[Path, Dump]
