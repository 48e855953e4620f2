"""The results schema (``results.json`` and baselines), checked wherever a file is read back.

``zbench compare``, ``zbench report`` and ``zbench baseline`` read files that may come
from anywhere: another machine, an older zbench, a hand edit, a truncated copy.
:func:`read_results` opens the path without blocking (regular files only: a FIFO or a
device is refused, never waited on), decodes strict UTF-8 JSON (the ``NaN`` and
``Infinity`` tokens Python would accept are refused), and checks the structure against
the models below, which follow what :func:`zbench.run.runner._record`,
:func:`zbench.run.timer.run_timing` and :func:`zbench.report.baseline.make_baseline` write.
Every problem is one line ``FILE: JSON.path: what`` (``new.json: cases[2].metrics.
pool_pages: not a finite number ('NaN')``), all of them in one :class:`UserError`.
Unknown keys are kept (a newer zbench may add some); the keys the consumers read
must be there with the right types.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from zbench.api import safeio
from zbench.api.errors import UserError

SCHEMA = "zbench.results"
SCHEMA_VERSION = 1

#: problems listed before "... and N more"
MAX_PROBLEMS = 20


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _finite(v: Any) -> int | float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        try:
            if math.isfinite(v):
                return v
        except OverflowError:  # an int too large for a float
            pass
    raise PydanticCustomError("finite", "not a finite number ({value})", {"value": _short(v)})


def _count(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise PydanticCustomError("count", "not a non-negative integer ({value})",
                              {"value": _short(v)})


Finite = Annotated[int | float, PlainValidator(_finite)]
Count = Annotated[int, PlainValidator(_count)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class PartRecord(_Model):
    """A plugin of a case: allocator, front end, compressor or workload."""

    name: str
    label: str
    kernel: str | None = None
    simplifications: str | None = None
    library: str | None = None
    distribution: str | None = None
    version: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class DumpRecord(_Model):
    name: str
    sha256: str
    pages: Count
    path: str | None = None
    format: str | None = None
    #: a case of another page size than 4096 (docs/page-size.md): its pages' size and the
    #: dump's own pages that filled none (run tails)
    page_size: Count | None = None
    dropped_pages: Count | None = None


class Failure(_Model):
    reason: str
    kind: str


class Phase(_Model):
    label: str
    operations: Finite
    pool_pages: Finite


class ClassRow(_Model):
    size: Count
    obj_allocated: Count
    obj_used: Count


class _Record(_Model):
    """What a case record and a timing record share: the id, the parts and the dump."""

    id: str
    allocator: PartRecord
    frontend: PartRecord
    compressor: PartRecord
    dump: DumpRecord


class CaseRecord(_Record):
    workload: PartRecord
    seed: int | None = None
    verify: bool | None = None
    skipped: str | None = None
    failed: Failure | None = None
    metrics: dict[str, Finite] | None = None
    phases: list[Phase] | None = None
    classes: list[ClassRow] | None = None
    migration: dict[str, Any] | None = None
    corpus: dict[str, Any] | None = None
    #: the native engine a case ran on as one batch (zbench.api.sized)
    engine: str | None = None
    elapsed_s: Finite | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> CaseRecord:
        have = [k for k in ("metrics", "skipped", "failed") if getattr(self, k) is not None]
        if len(have) != 1:
            raise PydanticCustomError(
                "outcome", "a case has exactly one of metrics, skipped, failed (has {have})",
                {"have": ", ".join(have) or "none"})
        return self


class Histogram(_Model):
    edges_ns: list[Finite] = Field(default_factory=list)
    counts: list[Count] = Field(default_factory=list)


class _Percentiles(_Model):
    """From the passes timed one operation at a time."""

    p50_ns: Finite | None = None
    p90_ns: Finite | None = None
    p99_ns: Finite | None = None
    max_ns: Finite | None = None


class TimingOp(_Percentiles):
    """One operation's timing: pyperf's values (one per pass) and their summary."""

    values_ns: list[Finite] = Field(default_factory=list)
    mean_ns: Finite | None = None
    std_ns: Finite | None = None
    compressor_share_pct: Finite | None = None
    histogram: Histogram | None = None


class TimingRecord(_Record):
    #: what was timed: the native engines' batch (their name) or the Python model
    path: str | None = None
    skipped: str | None = None
    error: str | None = None
    store: TimingOp | None = None
    load: TimingOp | None = None

    @model_validator(mode="after")
    def _ops(self) -> TimingRecord:
        if not (self.skipped or self.error) and (self.store is None or self.load is None):
            raise PydanticCustomError("ops", "a timed record needs store and load", {})
        return self


class Distribution(_Model):
    bucket_bytes: Annotated[int, Field(gt=0)]
    counts: list[Count]


class Section(_Model):
    reporter: str | None = None
    title: str | None = None
    error: str | None = None
    record: Any = None


class BaselineEnvironment(_Model):
    zbench_version: str


class Environment(BaselineEnvironment):
    python: str
    kernel: str
    cpu_model: str
    cpu_count: int | None
    date: str
    git: dict[str, Any] | None = None


class _Results(_Model):
    schema_: str = Field(alias="schema")
    version: int
    suite: dict[str, Any]
    cases: list[CaseRecord]
    timing: list[TimingRecord] = Field(default_factory=list)
    distributions: list[Distribution] = Field(default_factory=list)
    reports: dict[str, Section] = Field(default_factory=dict)


class Results(_Results):
    """A run's ``results.json``."""

    environment: Environment


class Baseline(_Results):
    """``zbench baseline``'s output: the deterministic part of a run."""

    baseline: bool
    environment: BaselineEnvironment


# -- JSON paths and messages ------------------------------------------------------------

def json_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "missing"
    if err["type"] in ("finite", "count", "outcome", "ops"):
        return str(err["msg"])
    return f"{err['msg']} (got {_short(err.get('input'))})"


def problems(exc: ValidationError, name: str) -> list[str]:
    """One ``FILE: path: what`` line per validation error."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple("schema" if p == "schema_" else p for p in err["loc"])
        where = json_path(loc)
        out.append(f"{name}: {where}: {_message(err)}" if where else f"{name}: {_message(err)}")
    return out


def raise_problems(lines: list[str], name: str) -> None:
    """A UserError of ``lines`` (one problem each), the first :data:`MAX_PROBLEMS` of them
    and a count of the rest."""
    if len(lines) > MAX_PROBLEMS:
        lines = [*lines[:MAX_PROBLEMS], f"{name}: ... and {len(lines) - MAX_PROBLEMS} more "
                 "problems"]
    raise UserError("\n".join(lines))


# -- reading ---------------------------------------------------------------------------

def read_bytes(path: Path, what: str = "results file") -> bytes:
    """The content of the regular file ``path`` (:func:`zbench.api.safeio.read_bytes`: opened
    without blocking, a FIFO, device or directory refused, size bounded)."""
    return safeio.read_bytes(path, safeio.RESULTS_LIMIT, what)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON (not a finite number)")


def parse_json(raw: bytes, name: str | Path) -> Any:
    """Strict JSON: UTF-8, no ``NaN``/``Infinity``, bounded nesting; a UserError otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text: byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{name}: not JSON: {exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}") from None
    except ValueError as exc:  # NaN/Infinity, an integer of too many digits
        raise UserError(f"{name}: not valid JSON: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UserError(f"{name}: not a results file: nested too deeply") from None


def validate(data: Any, name: str | Path) -> dict[str, Any]:
    """``data`` checked against the results (or baseline) schema; returned unchanged."""
    if not isinstance(data, dict):
        raise UserError(f"{name}: expected a JSON object (a zbench results file), "
                        f"got {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise UserError(f"{name}: schema: not a zbench results file")
    if type(data.get("version")) is not int or data["version"] != SCHEMA_VERSION:
        raise UserError(f"{name}: version: unsupported results version "
                        f"{_short(data.get('version'))}")
    model = Baseline if data.get("baseline") is True else Results
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise_problems(problems(exc, str(name)), str(name))
    except RecursionError:
        raise UserError(f"{name}: not a results file: nested too deeply") from None
    return data


def read_results(path: str | Path) -> dict[str, Any]:
    """A results or baseline file, read safely and validated (:func:`validate`)."""
    p = Path(path)
    return validate(parse_json(read_bytes(p), p), p)
