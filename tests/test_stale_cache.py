"""The case cache covers every plugin a case touches, not only the case's own parts.

A plugin that builds another plugin through the registry (``aspace`` packs into a
backend allocator, zbud by default) declares it with ``Allocator.uses`` /
``FrontEnd.uses``; the runner resolves those into the case (``Case.uses``, the
``uses`` of its :class:`~zbench.run.spec.CaseSpec`) and the cache key hashes their
source too (zbench/run/casecache.py), so editing the used plugin recomputes the case.

The end-to-end test makes two real entry-point distributions in a temporary folder
(``NAME.dist-info`` with ``METADATA`` and ``entry_points.txt``, as in
tests/test_hostile_runs.py): ``st-outer``, an allocator that delegates to the allocator
its ``backend`` option names, and ``st-inner``, that backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile import ROOT, make_plugin, zbench

from zbench.api.registry import get_registry
from zbench.run import casecache
from zbench.run.runner import expand
from zbench.run.spec import CaseSpec
from zbench.run.suite import parse_suite

DUMP = ROOT / "dumps" / "default.zbdump"

INNER = '''
from zbench import PAGE_SIZE, Allocator, hookimpl

REVISION = {revision}


class Inner(Allocator):
    name = "st-inner"

    def __init__(self, options, frames):
        super().__init__(options, frames)
        self._objs = {{}}

    @property
    def kernel(self):
        return f"st-inner revision {{REVISION}}"

    def malloc(self, size):
        pfn = self.frames.alloc(owner="st-inner")
        self._objs[pfn] = size
        return pfn

    def free(self, handle):
        del self._objs[handle]
        self.frames.free(handle)

    def write(self, handle, data):
        self.frames.page(handle)[:len(data)] = data

    def read(self, handle):
        return bytes(self.frames.page(handle)[:self._objs[handle]])

    def max_size(self):
        return PAGE_SIZE

    def huge_class_size(self):
        return PAGE_SIZE

    def pool_pages(self):
        return len(self._objs)

    def slot_bytes(self):
        return PAGE_SIZE * len(self._objs)


@hookimpl
def register_allocators(register):
    register(Inner)
'''

OUTER = '''
from zbench import Allocator, PluginOptions, get_plugin_class, hookimpl


class OuterOptions(PluginOptions):
    backend: str = "st-inner"


class Outer(Allocator):
    """Delegates every call to the allocator ``backend`` names, built through the
    registry, as aspace does."""

    name = "st-outer"
    Options = OuterOptions

    @classmethod
    def uses(cls, options):
        return [("allocator", cls.coerce_options(options).backend)]

    def __init__(self, options, frames):
        super().__init__(options, frames)
        cls = get_plugin_class("allocator", self.options.backend)
        self.backend = cls(cls.Options(), frames)

    @property
    def kernel(self):
        return f"st-outer over {self.backend.kernel}"

    def malloc(self, size):
        return self.backend.malloc(size)

    def free(self, handle):
        self.backend.free(handle)

    def write(self, handle, data):
        self.backend.write(handle, data)

    def read(self, handle):
        return self.backend.read(handle)

    def max_size(self):
        return self.backend.max_size()

    def huge_class_size(self):
        return self.backend.huge_class_size()

    def pool_pages(self):
        return self.backend.pool_pages()

    def slot_bytes(self):
        return self.backend.slot_bytes()


@hookimpl
def register_allocators(register):
    register(Outer)
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    d = tmp_path / "site"
    d.mkdir()
    make_plugin(d, "st-inner", INNER.format(revision=1))
    make_plugin(d, "st-outer", OUTER)
    return d


def suite_file(tmp_path: Path) -> Path:
    data = {"name": "stale", "seed": 1, "dumps": [str(DUMP)], "compressors": ["lz4"],
            "frontends": ["zswap"], "allocators": ["st-outer"],
            "workloads": [{"name": "fill", "options": {"scale_pages": 64}}]}
    p = tmp_path / "suite.yaml"
    p.write_text(json.dumps(data))  # JSON is YAML
    return p


def run(site: Path, tmp_path: Path, out: str) -> tuple[dict[str, Any], str]:
    """One cached run of the suite with the temporary plugins; (its case record, stderr)."""
    env = {"PYTHONPATH": str(site), "ZBENCH_CACHE": str(tmp_path / "cache"),
           "ZBENCH_LOAD_PLUGINS": "zbench-st-inner,zbench-st-outer,zswap,compressors,workloads"}
    res = zbench(["run", suite_file(tmp_path), "--no-timing", "--out", tmp_path / out],
                 env=env, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    (case,) = json.loads((tmp_path / out / "results.json").read_text())["cases"]
    return case, res.stderr


@pytest.mark.slow
def test_editing_a_used_plugin_recomputes_the_case(site: Path, tmp_path: Path) -> None:
    first, err = run(site, tmp_path, "a")
    assert "(cached)" not in err
    assert first["allocator"]["kernel"] == "st-outer over st-inner revision 1"
    again, err = run(site, tmp_path, "b")
    assert "(cached)" in err, err  # nothing edited: served from the cache
    assert again["metrics"] == first["metrics"]
    (site / "zbench_st_inner.py").write_text(INNER.format(revision=2))
    edited, err = run(site, tmp_path, "c")
    assert "(cached)" not in err, err  # the used plugin changed: recomputed
    assert edited["allocator"]["kernel"] == "st-outer over st-inner revision 2"
    assert edited["metrics"] == first["metrics"]


def _aspace_cases(variant: str, backend: str = "zbud") -> list[Any]:
    suite = parse_suite({
        "name": "as", "dumps": [str(DUMP)], "compressors": ["lz4"],
        "allocators": [{"name": "aspace", "options": {"variant": variant,
                                                      "backend": backend}}],
        "workloads": [{"name": "fill", "options": {"scale_pages": 16}}]}, "test")
    return expand(suite, ROOT, "test", get_registry()).cases


def test_aspace_declares_its_backend_for_the_packed_variants() -> None:
    (packed,) = _aspace_cases("buddy-tag")
    assert [(u.kind, u.name) for u in packed.uses] == [("allocator", "zbud")]
    assert packed.uses[0].plugin is not None and packed.uses[0].plugin.name == "zbud"
    (alone,) = _aspace_cases("one-per-page")
    assert alone.uses == ()
    (z3,) = _aspace_cases("two-index", backend="z3fold")
    assert [u.name for u in z3.uses] == ["z3fold"]


def test_the_used_plugin_is_in_the_spec_and_the_key() -> None:
    (zbud,) = _aspace_cases("two-index")
    (z3,) = _aspace_cases("two-index", backend="z3fold")
    spec = zbud.spec("0" * 64)
    assert [(u.kind, u.name, u.plugin) for u in spec.uses] == [("allocator", "zbud", "zbud")]
    assert CaseSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    # the same case with the backend's source digest changed gets another key
    key = casecache.case_key(zbud, "0" * 64)
    assert key == casecache.case_key(zbud, "0" * 64)
    assert key != casecache.case_key(z3, "0" * 64)
    real = casecache._source_digest

    def edited(module: str) -> str:
        return "edited" if module.startswith("zbench_zbud") else real(module)

    try:
        casecache._source_digest = edited  # type: ignore[assignment]
        assert casecache.case_key(zbud, "0" * 64) != key
    finally:
        casecache._source_digest = real


def test_an_unknown_used_plugin_is_kept_and_the_case_fails_alone() -> None:
    (case,) = _aspace_cases("buddy-tag", backend="no-such-allocator")
    assert [(u.name, u.plugin) for u in case.uses] == [("no-such-allocator", None)]
    assert casecache.case_key(case, "0" * 64)  # still keyed, never raises
