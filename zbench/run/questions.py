"""A suite's ``questions:``: comparisons between cases, answered with numbers in the report.

```yaml
questions:
  - ask: "What does zstd save over lz4 on a fill?"
    base: {compressor: lz4, workload: fill}      # dimension -> case label
    test: {compressor: zstd, workload: fill}
    figures: [pool_pages, compressed_bytes]      # optional; default [pool_pages]
```

A question pairs every case ``base`` selects with the case ``test`` selects that differs
from it only in the dimensions the question names (:data:`DIMENSIONS`); a dimension named
on one side only takes the same value on the other, so it narrows both.  Every other
dimension is equal within a pair; each pair is one row of the report's "Answers" section
(:mod:`zbench.report.answers`).  Skipped cases pair with nothing.

A case's labels are those of its results record: ``case[dim]["label"]`` for the plugins,
the dump file's stem for ``dump`` (without the ``@16K`` its id adds for other page sizes)
and ``case["dump"].get("page_size", 4096)`` for ``page_size``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE, page_size_error
from zbench.run.spec import dump_name

#: the plugin dimensions: a case record's part, selected by its label
PART_DIMENSIONS = ("allocator", "frontend", "compressor", "workload")
#: every dimension a question may name, in the order the report lists them
DIMENSIONS = (*PART_DIMENSIONS, "dump", "page_size")

Selector = dict[str, StrictStr | StrictInt]


def _selector(value: Any) -> Any:
    """A side of a question: a mapping of known dimensions to labels (``page_size``: an
    allowed page size in bytes)."""
    if not isinstance(value, dict):
        return value
    for dim, label in value.items():
        if dim not in DIMENSIONS:
            raise PydanticCustomError(
                "dimension", "{dim}: not a dimension (dimensions: {dims})",
                {"dim": repr(dim), "dims": ", ".join(DIMENSIONS)})
        if dim == "page_size":
            problem = page_size_error(label) if isinstance(label, int) else "not an integer"
            if problem is not None:
                raise PydanticCustomError("page_size", "page_size: {p}", {"p": problem})
        elif not isinstance(label, str) or not label:
            raise PydanticCustomError("label", "{dim}: a label is a non-empty string, not "
                                      "{value}", {"dim": dim, "value": repr(label)})
    return value


class Question(BaseModel):
    """One question of a suite: what it asks, the two sides, the metrics it compares."""

    model_config = ConfigDict(extra="forbid")
    ask: StrictStr = Field(min_length=1)
    base: Selector = Field(min_length=1)
    test: Selector = Field(min_length=1)
    figures: list[StrictStr] = Field(default_factory=lambda: ["pool_pages"], min_length=1)

    _sides = field_validator("base", "test", mode="before")(_selector)

    @field_validator("ask")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("ask", "the question is empty")
        return value

    @field_validator("figures")
    @classmethod
    def _figures(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or value.count(name) > 1:
                raise PydanticCustomError("figure", "{name}: listed twice or empty",
                                          {"name": repr(name)})
        return value

    def sides(self) -> tuple[dict[str, str | int], dict[str, str | int]]:
        """The base and test selectors, a dimension named on one side only copied to the
        other (it narrows both)."""
        return {**self.test, **self.base}, {**self.base, **self.test}

    def named(self) -> tuple[str, ...]:
        """The dimensions that differ within a pair, in :data:`DIMENSIONS` order."""
        base, test = self.sides()
        return tuple(d for d in DIMENSIONS if base.get(d) != test.get(d))


def check_questions(questions: list[Question], labels: Mapping[str, Iterable[str]],
                    where: str) -> None:
    """Refuse a question whose two sides select the same cases, or that names a label no
    case of the suite has (``labels``: dimension -> the suite's labels; a dimension
    missing from it, the front end of a suite without ``frontends:``, is not checked)."""
    for i, q in enumerate(questions):
        if not q.named():
            raise UserError(f"{where}: questions[{i}]: base and test select the same cases "
                            "(name a dimension with different labels)")
        for side, sel in (("base", q.base), ("test", q.test)):
            for dim, label in sel.items():
                have = labels.get(dim)
                if dim == "page_size" or have is None or label in set(have):
                    continue
                raise UserError(f"{where}: questions[{i}].{side}.{dim}: {label!r} is no "
                                f"{dim} of this suite (it has: {', '.join(sorted(have))})")


def case_labels(case: Mapping[str, Any]) -> dict[str, str | int]:
    """A results record's label in every dimension (see the module docstring)."""
    dump = case["dump"]
    page_size = int(dump.get("page_size", PAGE_SIZE))
    name = str(dump["name"]).removesuffix(dump_name("", page_size))  # the id's @16K
    return {**{d: str(case[d]["label"]) for d in PART_DIMENSIONS},
            "dump": name, "page_size": page_size}


def _matches(labels: Mapping[str, str | int], sel: Mapping[str, str | int]) -> bool:
    return all(labels[d] == v for d, v in sel.items())


def pairs(question: Question, cases: Iterable[Mapping[str, Any]]
          ) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(base case, test case)`` records of the question, in the base cases' order: every
    case the base side selects with the one case the test side selects that has the
    base case's labels in every dimension the question leaves free."""
    base_sel, test_sel = question.sides()
    named = question.named()
    live = [(c, case_labels(c)) for c in cases if not c.get("skipped")]
    out = []
    for base, bl in live:
        if not _matches(bl, base_sel):
            continue
        want = {**{d: v for d, v in bl.items() if d not in named}, **test_sel}
        tests = [c for c, tl in live if _matches(tl, want)]
        if len(tests) == 1:
            out.append((base, tests[0]))
    return out
