"""zram itself in a UML guest (zbench_uml.zramguest) against the zram model.

The helper's operation lines and its output parsing are checked without a kernel; the
scenarios then boot the 6.12 UML kernel (built once by ``zbench kernel build``; where none
is built and none can be, they skip with that reason) and every figure of every phase
must equal the model's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from zbench_uml import build
from zbench_uml import zramguest as zg
from zbench_uml import zramvalidate as zv

from zbench import Op, OpKind, default_dump_path, load_dump


def test_guest_lines_load_the_page_last_written_and_run_actions_before_the_figures() -> None:
    ops = [Op(OpKind.STORE, 3, 10), Op(OpKind.STORE, 3, 11), Op(OpKind.LOAD, 3),
           Op(OpKind.LOAD, 9), Op(OpKind.PHASE, label="fill"), Op(OpKind.INVALIDATE, 3),
           Op(OpKind.COMPACT)]
    lines = zg.guest_lines(ops, {"fill": [("idle", "all")], "end": [("writeback", "idle")]})
    assert lines == ["w 3 10", "w 3 11", "r 3 11", "s idle all", "p fill", "d 3",
                     "s compact 1", "s writeback idle", "p end"]


def test_parse_output_names_every_figure() -> None:
    text = ("sysfs idle 0\nphase fill\nmm_stat 16 8 12 0 12 1 0 2 2\nio_stat 0 3 0 0\n"
            "bd_stat 4 1 5\nflags 1 4 0 7 2 1\nops 9 3 0 0 1\nsize 0 100 0\nstatus ok\n")
    res = zg.parse_output(text)
    (ph,) = res["phases"]
    assert ph["label"] == "fill" and ph["compr_data_size"] == 8 and ph["huge_pages_since"] == 2
    assert ph["failed_writes"] == 3 and ph["bd_writes"] == 5 and ph["idle"] == 7
    assert ph["incompressible"] == 1 and ph["discards"] == 1
    assert res["sizes"] == [(0, 100, 0)] and res["sysfs"] == [("idle", 0)]
    assert res["status"] == "ok"


def test_device_configures_in_the_order_zram_wants(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.write_bytes(b"x")
    dev = zg.Device(zg.Algorithm("lz4"), [zg.Algorithm("zstd", level=8, dictionary=d)],
                    backing_pages=8, mem_limit=1 << 20, disksize_pages=4)
    lines = dev.init_lines()
    order = [next(i for i, ln in enumerate(lines) if knob in ln) for knob in (
        "backing_dev", "comp_algorithm", "recomp_algorithm", "algorithm_params",
        "disksize", "mem_limit")]
    assert order == sorted(order)
    assert "'algo=zstd level=8 dict=/dict1 priority=1'" in " ".join(lines)
    assert dev.files() == {"dict1": d}


@pytest.fixture(scope="module")
def kernel(uml_kernel_612: build.BuiltKernel) -> build.BuiltKernel:
    return uml_kernel_612


def _scenarios() -> list[str]:
    return [sc.name for sc in zv.scenarios(load_dump(default_dump_path()), None)]


@pytest.mark.uml
@pytest.mark.slow
@pytest.mark.parametrize("name", _scenarios())
def test_the_zram_model_equals_the_real_zram(kernel: build.BuiltKernel, name: str) -> None:
    dump = load_dump(default_dump_path())
    (sc,) = [s for s in zv.scenarios(dump, None) if s.name == name]
    rows = zv.compare(kernel, default_dump_path(), sc)
    assert rows, "nothing compared"
    off = [r for r in rows if r["error_pct"]]
    assert not off, off[:5]
