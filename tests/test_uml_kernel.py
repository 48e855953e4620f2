"""The real kernel in user-mode Linux: zbench's driver, the kernel-uml allocator against the
models, the latency reporter, and what goes wrong (bad streams, hung kernels, failed builds).

The kernel is built once (``zbench kernel build --version 6.12``, cached under
$ZBENCH_CACHE); CI builds it before the tests.  Where the build tools cannot be
installed the tests skip with that reason.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from zbench_uml import build
from zbench_uml.boot import BootError, boot, new_stream
from zbench_uml.stream import HEADER, RECORD, Op

from zbench import cache_dir, default_dump_path, load_dump, run_suite

pytestmark = [pytest.mark.uml, pytest.mark.slow]


@pytest.fixture(scope="module")
def kernel(uml_kernel_612: build.BuiltKernel) -> build.BuiltKernel:
    return uml_kernel_612


def _stream(backend: str, pages: list[bytes], compressor: str = "lz4") -> Path:
    path, f, w = new_stream(backend, compressor)
    with f:
        for i, p in enumerate(pages):
            w.store_page(i, p)
        w.phase("stored")
        for i in range(len(pages)):
            w.load(i)
        for i in range(0, len(pages), 2):
            w.free(i)
        w.phase("half freed")
        w.end()
    return path


def test_driver_stores_loads_and_verifies_on_every_backend(kernel: build.BuiltKernel) -> None:
    dump = load_dump(default_dump_path())
    pages = [dump.page(i) for i in range(64)]
    run = boot(kernel.linux, [_stream(b, pages) for b in ("zbud", "z3fold", "zsmalloc")],
               timeout_s=120)
    for backend, res in zip(("zbud", "z3fold", "zsmalloc"), run.results, strict=True):
        assert res.ok, (backend, res.error)
        assert res.backend == backend and res.release == kernel.release
        s = res.summary
        assert s["mismatches"] == 0 and s["loads"] == s["stores"] > 0
        assert s["stores"] + s["store_fail"] == 64
        assert [p["label"] for p in res.phases] == ["stored", "half freed"]
        assert res.phases[0]["objects"] == s["stores"]
        assert 0 < res.phases[1]["pool_pages"] <= res.phases[0]["pool_pages"]
        stores, comp = res.timings(Op.STORE_PAGE)
        assert len(stores) == s["stores"] and all(0 < c < t for t, c in zip(stores, comp,
                                                                         strict=True))


@pytest.mark.parametrize("backend", ["zbud", "z3fold", "zsmalloc"])
def test_models_equal_the_kernel_after_every_phase(kernel: build.BuiltKernel,
                                                   backend: str) -> None:
    """fill-discard-compact and churn: the model's pool pages equal the real allocator's
    at every phase, and after every single operation (trace_pages)."""
    suite = {
        "name": "t", "seed": 3, "verify": True, "dumps": [str(default_dump_path())],
        "compressors": ["lz4"],
        "frontends": [{"name": "zswap", "options": {"kernel": "6.12", "ram_mb": 64}}],
        "allocators": [{"name": "kernel-uml", "options": {"kernel": "6.12", "backend": backend,
                                                          "trace_pages": True}}],
        "workloads": [{"name": "fill-discard", "options": {"discard_pct": 60}},
                      {"name": "churn", "options": {"steps": 3000, "zero_filled_pct": 5}}],
    }
    res = run_suite(suite, "test", quiet=True)
    for case in res["cases"]:
        assert "skipped" not in case, case.get("skipped")
        m = case["metrics"]
        assert m["kernel_first_divergence"] == 0
        assert m["kernel_loads_verified"] > 0 and m["kernel_store_failures"] == 0
        for ph in case["phases"]:
            assert ph["pool_pages"] == ph["model_pool_pages"], (case["workload"], ph)
        assert m["pool_pages"] == m["model_pool_pages"]


def _raw_stream(header: bytes, body: bytes) -> Path:
    path, f, _ = new_stream("zbud")
    with f:
        f.seek(0)
        f.truncate()
        f.write(header + body)
    return path


def test_malformed_streams_are_refused_with_the_reason(kernel: build.BuiltKernel) -> None:
    good = HEADER.pack(b"ZBOPS01\n", b"zbud", b"", 4, 0)
    streams = [
        _raw_stream(HEADER.pack(b"NOTOPS!\n", b"zbud", b"", 4, 0), b""),
        _raw_stream(good, RECORD.pack(Op.STORE, 99, 3) + b"abc"),  # slot out of range
        _raw_stream(good, RECORD.pack(Op.STORE, 0, 100) + b"short"),  # payload cut
        _raw_stream(good, RECORD.pack(42, 0, 0)),  # no such op
        _raw_stream(good, RECORD.pack(Op.STORE, 0, 3) + b"abc"),  # no END record
        _raw_stream(HEADER.pack(b"ZBOPS01\n", b"zblock", b"", 4, 0), b""),  # no such backend
    ]
    run = boot(kernel.linux, streams, timeout_s=120)
    errors = [r.error for r in run.results]
    assert all(r.status == "error" for r in run.results), errors
    for res, want in zip(run.results, ["bad header", "out of range", "cut short", "unknown op",
                                       "without an END", "not in this kernel"], strict=True):
        assert want in res.error, (want, res.error)


def _run_dirs() -> set[str]:
    d = cache_dir() / "uml" / "run"
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


def test_a_kernel_past_its_timeout_is_killed_and_cleaned(kernel: build.BuiltKernel) -> None:
    before = _run_dirs()
    dump = load_dump(default_dump_path())
    with pytest.raises(BootError, match="did not finish in 0.05 s; killed"):
        boot(kernel.linux, [_stream("zsmalloc", [dump.page(i) for i in range(2048)])],
             timeout_s=0.05)
    assert _run_dirs() <= before  # the guest's root folder and its stream are gone
    left = subprocess.run(["pgrep", "-f", f"umid=zbench-{os.getpid()}-"],
                          capture_output=True, text=True)
    assert left.stdout == "", left.stdout  # no UML process of ours survives


def test_latency_reporter_times_every_backend_and_compressor(kernel: build.BuiltKernel,
                                                             tmp_path: Path) -> None:
    import pyperf
    from zbench_uml.reporter import KernelLatency, KernelLatencyOptions

    results = {"cases": [{"allocator": {"name": n}, "compressor": {"name": c, "options": {}},
                          "dump": {"path": str(default_dump_path())}}
                         for n in ("zsmalloc", "zbud") for c in ("lz4", "zstd")]}
    rep = KernelLatency(KernelLatencyOptions(boots=1, passes=2, pages=64))
    rec = rep.collect(results, tmp_path, lambda _m: None)
    assert set(rec["series"]) == {"zbud/lz4", "zbud/zstd", "zsmalloc/lz4", "zsmalloc/zstd"}
    for s in rec["series"].values():
        for op in ("store", "load"):
            x = s[op]
            assert x["passes"] == 2 and 0 < x["alloc_mean_ns"] < x["total_mean_ns"]
            assert 0 < x["compressor_share_pct"] < 100
    assert {(r["op"], r["compressor"]) for r in rec["rankings"]} == {
        (op, c) for op in ("store", "load") for c in ("lz4", "zstd")}
    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "pyperf" / "kernel-zbud-lz4.json"))
    bench = suite.get_benchmark("zbud/lz4 store allocator")
    assert len(bench.get_values()) == 2
    table, note = KernelLatency.render(rec, "simple")
    assert "zsmalloc" in table and "significant" in note
    assert max(len(line) for line in (table + "\n" + note).splitlines()) <= 120


def test_cli_refuses_an_unknown_version_in_one_line() -> None:
    r = subprocess.run([sys.executable, "-m", "zbench", "kernel", "build", "--version", "5.4"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--version" in lines[0] and "5.4" in lines[0], r.stderr


def test_the_build_key_follows_the_driver_source(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    key = build.build_key("6.12", "1.0")
    copy = tmp_path / "zbench_drv.c"
    copy.write_text(build.DRIVER.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(build, "DRIVER", copy)
    assert build.build_key("6.12", "1.0") != key
    assert build.build_key("6.12", "1.1") != build.build_key("6.12", "1.0")


def test_a_failed_build_leaves_no_cache_entry(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZBENCH_UML_KERNELS", str(tmp_path / "kernels"))
    tarball = tmp_path / "linux-source-6.12.tar.xz"
    with tarfile.open(tarball, "w:xz") as tf:  # a "source tree" make cannot configure
        info = tarfile.TarInfo("linux-source-6.12/README")
        data = b"not a kernel\n"
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(build, "ensure_prerequisites", lambda v, p: "0-test")
    monkeypatch.setattr(build, "_tarball", lambda v: tarball)
    with pytest.raises(build.BuildError, match="defconfig failed"):
        build.build("6.12", progress=lambda _m: None)
    kernels = build.kernels_dir()
    assert [p.name for p in kernels.iterdir() if not p.name.endswith(".log")] == []
    assert build.list_built() == []


def test_real_zswap_equals_the_model_on_fill(kernel: build.BuiltKernel) -> None:
    """zswap itself in the guest (swap on ubd, the helper paging the dump out) against
    the zswap model fed the guest kernel's lz4 sizes: every counter equal."""
    from zbench_uml.allocator import MODEL_OPTIONS
    from zbench_uml.zswapguest import compare

    rows = compare(kernel, default_dump_path(), "zbud", {"name": "fill"}, mem_mb=256,
                   max_pool_percent=8, model_options=MODEL_OPTIONS["6.12"]["zbud"])
    got = {r["counter"]: (r["model"], r["kernel"]) for r in rows}
    assert got["stored_pages"][1] > 3900 and got["pool_pages"][1] > 1000
    assert got["reject_compress_fail"][1] > 0  # the incompressible pages, as -EINVAL
    assert all(m == k for m, k in got.values()), got


def test_kernel_uml_refuses_migration_experiments(kernel: build.BuiltKernel) -> None:
    suite = {
        "name": "t", "seed": 1, "dumps": [str(default_dump_path())], "compressors": ["lz4"],
        "frontends": [{"name": "zswap", "options": {"kernel": "6.12"}}],
        "allocators": [{"name": "kernel-uml", "options": {"backend": "zsmalloc"}}],
        "workloads": [{"name": "migrate"}],
    }
    before = _run_dirs()
    res = run_suite(suite, "test", quiet=True)
    assert "no migration experiments" in res["cases"][0]["skipped"]
    assert _run_dirs() <= before  # its op stream is gone too
