"""Contract suites for compressors and workloads, and generated test pages.

```python
from zbench.testing import CompressorContract, WorkloadContract

class TestMyCompressor(CompressorContract):
    compressor_class = MyCompressor

class TestMyWorkload(WorkloadContract):
    workload_class = MyWorkload
```
"""

from __future__ import annotations

import json
import random
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from zbench import PAGE_SIZE, Compressor, Op, OpKind, PluginError, VerifyError, Workload
from zbench.api.options import parse_options
from zbench.testing.rules import ContractViolation


def make_pages(n: int, seed: int = 0) -> bytes:
    """``n`` pages of mixed compressibility: text-like, numeric, random, zero-filled."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnop") for _ in range(rng.randint(2, 9)))
             for _ in range(64)]
    out = bytearray()
    for i in range(n):
        kind = i % 7
        if kind == 6:
            page = rng.randbytes(PAGE_SIZE)
        elif kind == 5:
            page = b"".join(rng.getrandbits(20).to_bytes(8, "little")
                            for _ in range(PAGE_SIZE // 8))
        elif kind == 4 and i % 3 == 0:
            page = bytes(PAGE_SIZE)
        else:
            chunks: list[bytes] = []
            while sum(map(len, chunks)) < PAGE_SIZE:
                chunks.append(rng.choice(words) + b" ")
                if rng.random() < 0.1 * (kind + 1):
                    chunks.append(rng.randbytes(rng.randint(1, 24)))
            page = b"".join(chunks)[:PAGE_SIZE]
        out += page
    return bytes(out)


def _options_id(opts: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in opts.items()) or "default"


def _registry_with(kind: str, cls: type) -> Any:
    """The installed plugins plus ``cls`` (unless it is installed already)."""
    from zbench.api.registry import Registry

    reg = Registry()
    reg.load_entry_points()
    try:
        have = reg.get(kind, cls.name)  # type: ignore[attr-defined]
    except PluginError:
        have = None
    if have is None:
        hook = f"register_{kind}s"
        mod = types.SimpleNamespace()
        from zbench import hookimpl

        def register(register: Any) -> None:
            register(cls)

        register.__name__ = hook
        setattr(mod, hook, hookimpl(register))
        reg.register_plugin(mod, f"contract-{cls.name}")  # type: ignore[attr-defined]
    return reg


def _run(reg: Any, tmp: Path, compressor: str, workload: str,
         workload_options: Mapping[str, Any]) -> dict[str, Any]:
    from zbench.run.runner import run_suite_data

    dump = tmp / "contract.pages"
    dump.write_bytes(make_pages(96))
    data = {"name": "contract", "dumps": [str(dump)], "compressors": [compressor],
            "allocators": ["zsmalloc"], "frontends": ["zram"],
            "workloads": [{"name": workload, "options": dict(workload_options)}],
            "verify": True}
    return run_suite_data(data, "contract suite", base=tmp, registry=reg,
                          report=lambda _m: None)


class _Contract:
    option_sets: ClassVar[Sequence[Mapping[str, Any]]] = ({},)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "contract_options" in metafunc.fixturenames:
            sets = [dict(o) for o in self.option_sets]
            metafunc.parametrize("contract_options", sets, ids=[_options_id(o) for o in sets])


class CompressorContract(_Contract):
    """Rules every compressor keeps.  Set :attr:`compressor_class`."""

    compressor_class: ClassVar[type[Compressor]]

    def make(self, options: Mapping[str, Any]) -> Compressor:
        cls = self.compressor_class
        return cls(parse_options(cls.Options, dict(options), f"{cls.name} options"))

    def who(self, options: Mapping[str, Any]) -> str:
        return f"{self.compressor_class.name} ({_options_id(options)} options)"

    def test_contract_compressor_round_trip(self, contract_options: dict[str, Any]) -> None:
        comp = self.make(contract_options)
        raw = make_pages(28, seed=11)
        for i in range(28):
            page = raw[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
            back = comp.decompress(comp.compress(page), PAGE_SIZE)
            if back != page:
                raise ContractViolation("compressor-round-trip", self.who(contract_options),
                                        f"page {i} ({'zero' if not any(page) else 'data'}) "
                                        f"came back different")

    def test_contract_compressor_deterministic(self, contract_options: dict[str, Any]) -> None:
        one, two = self.make(contract_options), self.make(contract_options)
        raw = make_pages(14, seed=12)
        for i in range(14):
            page = raw[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
            if one.compress(page) != two.compress(page) or one.compress(page) != \
                    one.compress(page):
                raise ContractViolation("compressor-deterministic", self.who(contract_options),
                                        f"page {i} compressed to different bytes")

    def test_contract_compressor_identity(self, contract_options: dict[str, Any]) -> None:
        comp = self.make(contract_options)
        ver = comp.library_version()
        if not isinstance(ver, str) or not ver:
            raise ContractViolation("compressor-identity", self.who(contract_options),
                                    f"library_version() returned {ver!r}")
        try:
            json.dumps(dict(comp.params()))
        except (TypeError, ValueError) as exc:
            raise ContractViolation("compressor-identity", self.who(contract_options),
                                    f"params() is not JSON-serialisable: {exc}") from None

    def test_contract_compressor_runs(self, contract_options: dict[str, Any],
                                      tmp_path: Path) -> None:
        if contract_options:
            pytest.skip("end-to-end run with default options only")
        reg = _registry_with("compressor", self.compressor_class)
        try:
            res = _run(reg, tmp_path, self.compressor_class.name, "fill", {})
        except VerifyError as exc:
            raise ContractViolation("compressor-round-trip", self.who(contract_options),
                                    f"a verified run failed: {exc}") from None
        assert all("skipped" not in c for c in res["cases"]), res["cases"]


class WorkloadContract(_Contract):
    """Rules every workload keeps.  Set :attr:`workload_class`."""

    workload_class: ClassVar[type[Workload]]
    #: Corpus size the checks use, and the most operations a run may yield.
    n_pages: ClassVar[int] = 64
    max_ops: ClassVar[int] = 1_000_000

    def make(self, options: Mapping[str, Any], seed: int) -> Workload:
        cls = self.workload_class
        return cls(parse_options(cls.Options, dict(options), f"{cls.name} options"), seed)

    def who(self, options: Mapping[str, Any]) -> str:
        return f"{self.workload_class.name} ({_options_id(options)} options)"

    def ops(self, options: Mapping[str, Any], seed: int) -> list[Op]:
        out: list[Op] = []
        for op in self.make(options, seed).operations(self.n_pages):
            out.append(op)
            if len(out) > self.max_ops:
                raise ContractViolation("workload-valid-ops", self.who(options),
                                        f"operations() did not end within {self.max_ops} "
                                        f"operations for {self.n_pages} pages")
        return out

    def test_contract_workload_deterministic(self, contract_options: dict[str, Any]) -> None:
        a, b = self.ops(contract_options, 3), self.ops(contract_options, 3)
        if a != b:
            i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                     min(len(a), len(b)))
            raise ContractViolation("workload-deterministic", self.who(contract_options),
                                    f"two runs with seed 3 differ at operation {i}")

    def test_contract_workload_valid_ops(self, contract_options: dict[str, Any]) -> None:
        sized = self.workload_class.sized_stores
        for i, op in enumerate(self.ops(contract_options, 5)):
            problem = ""
            if not isinstance(op, Op) or not isinstance(op.kind, OpKind):
                problem = f"yielded {op!r}, not a zbench.Op"
            elif op.kind is OpKind.STORE and op.size:
                if not sized:
                    problem = f"STORE with size {op.size} but sized_stores is False"
            elif op.kind is OpKind.STORE and not 0 <= op.page < self.n_pages:
                problem = f"STORE of page {op.page}, outside the {self.n_pages}-page corpus"
            elif op.kind.name in ("PHASE", "MIGRATE") and not op.label:
                problem = f"{op.kind.name} without a label"
            if not problem and (not isinstance(op.offset, int) or op.offset < 0):
                problem = f"offset {op.offset!r} is not a non-negative int"
            if problem:
                raise ContractViolation("workload-valid-ops", self.who(contract_options),
                                        f"operation {i}: {problem}")

    def test_contract_workload_runs(self, contract_options: dict[str, Any],
                                    tmp_path: Path) -> None:
        reg = _registry_with("workload", self.workload_class)
        try:
            res = _run(reg, tmp_path, "lz4", self.workload_class.name, contract_options)
        except VerifyError as exc:
            raise ContractViolation("workload-runs", self.who(contract_options),
                                    f"a verified run failed: {exc}") from None
        cases = res["cases"]
        if not cases or any("skipped" in c for c in cases):
            raise ContractViolation("workload-runs", self.who(contract_options),
                                    f"the run did not complete: {cases}")
