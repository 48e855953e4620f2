"""The run layer's contract with the API: one serialisable CaseSpec, the default front end
(``FrontEnd.default_frontend``) and untimeable allocators (``Allocator.timeable``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zbench_zram.frontend import Zram
from zbench_zsmalloc import ZsPool

from zbench import hookimpl
from zbench.api.errors import UserError
from zbench.api.registry import Registry, get_registry
from zbench.run.executors import describe, rebuild
from zbench.run.runner import adhoc_frontend, default_frontend, expand, run_suite
from zbench.run.spec import PARTS, CaseSpec
from zbench.run.suite import parse_suite
from zbench.run.timer import timing_cases

ROOT = Path(__file__).resolve().parent.parent
DUMP = ROOT / "dumps" / "default.zbdump"


def _suite(**extra: Any) -> Any:
    return parse_suite({"name": "spec", "seed": 3, "dumps": [str(DUMP)],
                        "compressors": ["lz4"], "allocators": ["zsmalloc"],
                        "workloads": [{"name": "fill", "options": {"scale_pages": 16}}],
                        **extra}, "test")


class _Untimed(ZsPool):
    name = "zs-untimed"
    timeable = False


class _OtherDefault(Zram):
    name = "zram-too"
    default_frontend = True


class _Plugin:
    def __init__(self, allocators: list[type] | None = None,
                 frontends: list[type] | None = None) -> None:
        self.allocators, self.frontends = allocators or [], frontends or []

    @hookimpl
    def register_allocators(self, register):  # noqa: ANN001
        for cls in self.allocators:
            register(cls)

    @hookimpl
    def register_frontends(self, register):  # noqa: ANN001
        for cls in self.frontends:
            register(cls)


def _registry(**kw: list[type]) -> Registry:
    reg = Registry()
    reg.load_entry_points()
    reg.register_plugin(_Plugin(**kw), "test-plugin")
    return reg


def test_a_suite_without_frontends_gets_the_default_one() -> None:
    reg = get_registry()
    assert default_frontend(reg) == "zram"
    plan = expand(_suite(), ROOT, "test", reg)
    assert [c.frontend.name for c in plan.cases] == ["zram"]
    given = expand(_suite(frontends=[{"name": "zswap", "options": {"kernel": "6.6"}}]),
                   ROOT, "test", reg)
    assert [c.frontend.name for c in given.cases] == ["zswap"]
    assert expand(_suite(frontends=[]), ROOT, "test", reg).cases == []  # as given


def test_the_results_record_the_resolved_frontends() -> None:
    reg = get_registry()
    suite = _suite()
    res = run_suite(suite, expand(suite, ROOT, "test", reg), reg, report=lambda _m: None)
    assert res["suite"]["frontends"] == [{"name": "zram", "options": {}, "label": None}]


def test_two_default_frontends_are_refused_by_name() -> None:
    reg = _registry(frontends=[_OtherDefault])
    with pytest.raises(UserError, match="zram, zram-too all do"):
        expand(_suite(), ROOT, "test", reg)
    with pytest.raises(UserError, match="no single default front end"):
        adhoc_frontend(reg, ["zsmalloc"], {})


def test_an_untimeable_allocator_gets_no_timing_case() -> None:
    reg = _registry(allocators=[_Untimed])
    plan = expand(_suite(allocators=["zsmalloc", "zs-untimed"]), ROOT, "test", reg)
    got = {tc.case.allocator.name: tc.skip_reason for tc in timing_cases(plan)}
    assert got == {"zsmalloc": "", "zs-untimed": "not timed (the running kernel)"}


def test_a_case_survives_its_spec_and_the_worker_description() -> None:
    reg = get_registry()
    (case,) = expand(_suite(allocators=[{"name": "zsmalloc", "label": "zs",
                                         "options": {"kernel": "6.6"}}]),
                     ROOT, "test", reg).cases
    desc = json.loads(json.dumps(describe(case, "ab" * 32)))
    spec = CaseSpec.from_json(desc)
    assert spec == case.spec("ab" * 32) and [p.kind for p in spec.parts] == list(PARTS)
    assert spec.part("allocator").record() == {
        "name": "zsmalloc", "label": "zs", "options": case.allocator.options.model_dump(),
        "plugin": "zsmalloc", "distribution": case.allocator.plugin.dist,
        "version": case.allocator.plugin.version}
    back = rebuild(desc, reg)
    assert back.id == case.id and back.seed == 3 and back.dump_path == case.dump_path
    for kind in PARTS:
        assert back.part(kind).options == case.part(kind).options
        assert back.part(kind).cls is case.part(kind).cls
