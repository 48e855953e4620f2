"""The running kernel as an oracle: zbench validate, the zram-kernel allocator, kernel sizes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_pages
from zbench_zramkernel import leftover_devices, zram_available
from zbench_zramkernel.kernelsizes import (
    KernelSizes,
    cache_path,
    load_sizes,
    save_sizes,
    sidecar_path,
)

from zbench import load_dump, run_suite

REASON = zram_available("lz4")
needs_kernel = pytest.mark.skipif(REASON is not None, reason=f"kernel oracle: {REASON}")


def _cli(args: list[str]):  # noqa: ANN202
    from zbench.api.registry import get_registry
    from zbench.cli.app import _add_dump_commands, cli

    _add_dump_commands()
    get_registry().register_commands(cli)
    return CliRunner().invoke(cli, args)


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    p = tmp_path / "default.zbdump"
    shutil.copy(ROOT / "dumps" / "default.zbdump", p)
    return p


# -- needs root and zram -----------------------------------------------------------------

@needs_kernel
@pytest.mark.kernel
@pytest.mark.slow
def test_validate_matches_the_kernel_on_the_shipped_dump(shipped_copy: Path) -> None:
    before = leftover_devices()
    res = _cli(["validate", "--dump", str(shipped_copy), "--json"])
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    rows = {(r["phase"], r["metric"]): r for r in out["comparison"]}
    fill = rows[("fill", "pool_pages")]
    assert fill["kernel sizes"] == fill["kernel"]  # equal, not close
    for phase in ("discard", "compact"):
        assert abs(rows[(phase, "pool_pages")]["kernel sizes error %"]) <= 0.5
    assert out["kernel"]["compact"]["pool_pages"] < out["kernel"]["discard"]["pool_pages"]
    gap = out["size_gap"]  # python-lz4 vs kernel lz4, reported
    assert gap["pages_compared"] > 3000 and "python-lz4" in rows[("fill", "pool_pages")]
    # the sizes go to the cache, never beside the dump unless asked (--save-sizes)
    assert cache_path(load_dump(shipped_copy).sha256).exists()
    assert not sidecar_path(shipped_copy).exists()
    assert leftover_devices() == before


@needs_kernel
@pytest.mark.kernel
def test_validate_text_output_and_threshold(shipped_copy: Path) -> None:
    res = _cli(["validate", "--dump", str(shipped_copy), "--no-save-sizes"])
    assert res.exit_code == 0, res.stderr
    assert "python-lz4 vs kernel lz4 sizes" in res.stdout and "PASS" in res.stdout
    assert not sidecar_path(shipped_copy).exists()
    # python-lz4 sizes are off by more than 0.001 %: the threshold is really applied
    res = _cli(["validate", "--dump", str(shipped_copy), "--max-error", "-1"])
    assert res.exit_code == 1 and "FAIL" in res.stdout


@needs_kernel
@pytest.mark.kernel
def test_zram_kernel_runs_in_a_suite_beside_the_model(shipped_copy: Path) -> None:
    _cli(["validate", "--dump", str(shipped_copy), "--json"])  # records kernel sizes
    before = leftover_devices()
    res = run_suite({
        "name": "oracle", "seed": 1, "verify": True, "dumps": [str(shipped_copy)],
        "compressors": [{"name": "kernel", "options": {"algorithm": "lz4"}}],
        "allocators": ["zsmalloc", "zram-kernel"], "workloads": ["fill"],
    }, quiet=True)
    by = {c["allocator"]["name"]: c for c in res["cases"]}
    kernel, model = by["zram-kernel"], by["zsmalloc"]
    assert kernel["frontend"]["name"] == "zram-kernel"
    assert kernel["metrics"]["verified_loads"] == 4096  # the kernel gave every page back
    for metric in ("pool_pages", "huge_pages", "same_filled_pages", "compressed_bytes"):
        assert kernel["metrics"][metric] == model["metrics"][metric], metric
    assert leftover_devices() == before


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_killed_run_leaves_no_device(tmp_path: Path, sig: signal.Signals) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(512))
    suite = tmp_path / "s.yaml"
    suite.write_text(f"dumps: [{dump}]\ncompressors: [lz4]\nallocators: [zram-kernel]\n"
                     "workloads: [{name: churn, options: {steps: 2000000}}]\n")
    before = set(leftover_devices())
    proc = subprocess.Popen([sys.executable, "-m", "zbench", "run", str(suite), "--out",
                             str(tmp_path / "o")], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (set(leftover_devices()) - before):
        time.sleep(0.05)
    assert set(leftover_devices()) - before, "the run never created its device"
    time.sleep(0.3)  # inside the churn
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert set(leftover_devices()) == before


# -- anywhere ----------------------------------------------------------------------------

def test_kernel_sizes_give_models_the_recorded_sizes(tmp_path: Path) -> None:
    dump_path = tmp_path / "d.pages"
    dump_path.write_bytes(make_pages(300))
    dump = load_dump(dump_path)
    import lz4.block

    sizes, same = [], []
    for i in range(dump.n_pages):
        page = dump.page(i)
        if page == page[:8] * 512:
            sizes.append(0)
            same.append(i)
        else:  # pretend the kernel compressed 7 % better or 5 % worse than python
            n = len(lz4.block.compress(page, store_size=False))
            sizes.append(min(4096, int(n * (0.93 if i % 2 else 1.05))))
    save_sizes(dump_path, dump.sha256, "9.9.9-test", "lz4", sizes, same, [])
    res = run_suite({"name": "k", "verify": True, "dumps": [str(dump_path)],
                     "compressors": [{"name": "kernel", "options": {"release": "9.9.9-test"}}],
                     "allocators": ["zsmalloc"], "workloads": ["fill"]}, quiet=True)
    m = res["cases"][0]["metrics"]
    huge_min = 3625
    expected = sum(4096 if s >= huge_min else s for s in sizes if s)
    assert m["compressed_bytes"] == expected
    assert m["verified_loads"] == dump.n_pages
    assert res["cases"][0]["compressor"]["library"].startswith("kernel kernel 9.9.9-test")


def test_kernel_size_container_round_trips_and_detects_damage(tmp_path: Path) -> None:
    dump_path = tmp_path / "d.pages"
    dump_path.write_bytes(make_pages(40))
    dump = load_dump(dump_path)
    sizes = [0 if dump.page(i) == dump.page(i)[:8] * 512 else 40 + i * 90
             for i in range(dump.n_pages)]  # some far smaller than any codec: by reference
    save_sizes(dump_path, dump.sha256, "9.9.9-test", "lz4", sizes, [], [])
    k = KernelSizes(KernelSizes.Options(release="9.9.9-test"))
    k.bind(dump)
    for i in range(dump.n_pages):
        blob = k.compress(dump.page(i))
        if sizes[i]:
            assert len(blob) == min(sizes[i], 4096)
        assert k.decompress(blob, 4096) == dump.page(i)
        damaged = bytearray(blob)
        damaged[len(damaged) // 2] ^= 0x40
        with pytest.raises(Exception):  # noqa: B017 - any decode failure will do
            if k.decompress(bytes(damaged), 4096) != dump.page(i):
                raise ValueError("different bytes")
    assert k.reference_pages > 0


def test_missing_kernel_sizes_is_a_clear_error(tmp_path: Path) -> None:
    dump_path = tmp_path / "d.pages"
    dump_path.write_bytes(make_pages(4))
    res = _cli(["run", "--dump", str(dump_path), "--compressor", "kernel"])
    assert res.exit_code == 2
    assert "d.pages.ksizes.json" in res.stderr and "zbench validate" in res.stderr
    with pytest.raises(Exception, match="no kernel sizes recorded"):
        load_sizes(dump_path, "x", "lz4", None)


def test_shipped_dump_has_kernel_sizes_for_this_machine_kind() -> None:
    dump = load_dump(ROOT / "dumps" / "default.zbdump")
    for alg in ("lz4", "lzo-rle"):
        entry = load_sizes(dump.path, dump.sha256, alg, None)
        assert len(entry["sizes"]) == dump.n_pages


def test_validate_without_zram_says_why(monkeypatch: pytest.MonkeyPatch,
                                        shipped_copy: Path) -> None:
    from zbench_zramkernel import validate

    monkeypatch.setattr(validate, "zram_available", lambda _alg: "not root (test)")
    res = _cli(["validate", "--dump", str(shipped_copy)])
    assert res.exit_code == 0
    assert res.stderr.strip() == "zbench validate: skipped: not root (test)"


def test_zram_kernel_case_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    from zbench_zramkernel import oracle

    monkeypatch.setattr(oracle, "zram_available", lambda *a: "no zram here (test)")
    dump_path = tmp_path / "d.pages"
    dump_path.write_bytes(make_pages(8))
    res = run_suite({"dumps": [str(dump_path)], "compressors": ["lz4"],
                     "allocators": ["zsmalloc", "zram-kernel"], "workloads": ["fill"]},
                    quiet=True)
    by = {c["allocator"]["name"]: c for c in res["cases"]}
    assert by["zram-kernel"]["skipped"] == "no zram here (test)"
    assert by["zsmalloc"]["metrics"]["stored_pages"] == 8
