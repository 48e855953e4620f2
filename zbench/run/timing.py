"""How a suite asks for latency: the top-level ``timing:`` section.

```yaml
timing:              # or `timing: true` for the defaults below
  pages: 512         # pages stored / loaded per value, sampled from the dump (seeded)
  processes: 2       # pyperf worker processes per benchmark (default: pyperf's 20)
  values: 4          # values per process (default: pyperf's 3)
  warmups: 1         # warmup values per process
  loops: 1           # passes over the pages per value; 0 = pyperf calibrates
  rounds: 3          # passes timed one operation at a time, for p50 / p90 / p99
  allocators: [zsmalloc, zbud]   # labels to time (default: all of the suite's)
```

One timing case runs per (allocator, front end, compressor, dump) of the
suite; workloads do not matter to it.  ``zbench run --fast`` / ``--rigorous``
hand pyperf its own presets instead of ``processes`` / ``values``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: pyperf presets ``zbench run`` passes through; "suite" = the suite's own numbers.
PRESETS = ("suite", "fast", "rigorous")


class TimingSpec(BaseModel):
    """The ``timing:`` section of a suite (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    pages: int = Field(512, ge=1, le=1 << 16,
                       description="pages stored / loaded per value (sampled from the dump)")
    processes: int | None = Field(None, ge=1, description="pyperf processes (default 20)")
    values: int | None = Field(None, ge=1, description="values per process (default 3)")
    warmups: int = Field(1, ge=0, description="warmup values per process")
    loops: int = Field(1, ge=0, description="passes per value; 0 = pyperf calibrates")
    min_time: float = Field(0.1, gt=0, description="seconds per value when calibrating")
    rounds: int = Field(3, ge=1, le=100,
                        description="passes timed per operation (percentiles, histogram)")
    allocators: list[str] | None = Field(
        None, description="allocator labels to time (default: every allocator of the suite)")


def timing_field(value: Any) -> Any:
    """``timing: true`` means the defaults, ``timing: false`` none."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


def slug(case_id: str) -> str:
    """A file name for a timing case id (``zsmalloc/zswap-6.6/lz4/default``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_id.replace("/", "__")).strip("_") or "case"
