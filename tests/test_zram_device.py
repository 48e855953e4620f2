"""The real kernel's zram, driven by zbench_zramkernel.device (needs root and zram).

Every test checks that the zram devices present afterwards are exactly those present before:
only devices created here are ever touched, and all of them must be gone again.
"""

from __future__ import annotations

import os
import random
import select
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from zbench_zramkernel.device import (
    MM_STAT_FIELDS,
    PAGE_SIZE,
    ZramDevice,
    ZramError,
    coalesce_runs,
    leftover_devices,
    parse_algorithms,
    parse_mm_stat,
)
from zbench_zramkernel.host import kernel_rules, zram_available

ALGORITHM = "lz4"
_REASON = zram_available(ALGORITHM)
if _REASON is not None:
    pytest.skip(_REASON, allow_module_level=True)

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("zero", "same", "text", "random", "numeric", "text")


def gen_pages(n: int, seed: int = 7) -> tuple[bytes, list[str]]:
    """``n`` pages cycling through zero / same-filled / text-like / random / numeric."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"etaoinshrdlucmfw") for _ in range(rng.randint(2, 8)))
             for _ in range(50)]
    out = bytearray()
    kinds: list[str] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "zero":
            page = bytes(PAGE_SIZE)
        elif kind == "same":  # zram's test is per unsigned long: repeat one 8-byte word
            page = struct.pack("<Q", rng.getrandbits(64) | 1) * (PAGE_SIZE // 8)
        elif kind == "random":
            page = rng.randbytes(PAGE_SIZE)
        elif kind == "numeric":
            page = b"".join(rng.getrandbits(16).to_bytes(8, "little") for _ in range(512))
        else:
            text = bytearray()
            while len(text) < PAGE_SIZE:
                text += rng.choice(words) + b" "
            page = bytes(text[:PAGE_SIZE])
        out += page
        kinds.append(kind)
    return bytes(out), kinds


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    before = leftover_devices()
    yield
    assert leftover_devices() == before


def test_pure_helpers() -> None:
    full = parse_mm_stat("4096 30 12288 0 12288 0 0 0 0\n")
    assert list(full) == list(MM_STAT_FIELDS) and full["compr_data_size"] == 30
    old = parse_mm_stat("8192 100 4096 0 4096 1 0")  # a 4.x kernel: no huge columns
    assert old == {"orig_data_size": 8192, "compr_data_size": 100, "mem_used_total": 4096,
                   "mem_limit": 0, "mem_used_max": 4096, "same_pages": 1, "pages_compacted": 0}
    assert parse_algorithms("[lzo-rle] lzo lz4 \n") == (["lzo-rle", "lzo", "lz4"], "lzo-rle")
    assert coalesce_runs([5, 1, 2, 3, 3, 9, 10]) == [(1, 3), (5, 1), (9, 2)]
    assert coalesce_runs([]) == []


def test_write_read_discard_compact() -> None:
    n = 300
    data, kinds = gen_pages(n)
    with ZramDevice(ALGORITHM, 4 << 20) as dev:
        name = dev.name
        assert name == f"zram{dev.number}" and name in leftover_devices()
        assert dev.algorithms()[0] and ALGORITHM in dev.algorithms()
        records = dev.write_pages(data)
        assert [r.index for r in records] == list(range(n))
        for rec, kind in zip(records, kinds, strict=True):
            if kind in ("zero", "same"):
                assert rec.same and not rec.huge and rec.compr_size == 0, (kind, rec)
            elif kind == "random":
                assert rec.huge and not rec.same and rec.compr_size == PAGE_SIZE, (kind, rec)
            else:
                assert not rec.same and not rec.huge and 0 < rec.compr_size < 3072, (kind, rec)

        st = dev.mm_stat()
        assert st["orig_data_size"] == n * PAGE_SIZE
        assert st["compr_data_size"] == sum(r.compr_size for r in records)
        assert st["same_pages"] == sum(r.same for r in records)
        assert st["huge_pages"] == sum(r.huge for r in records) == st["huge_pages_since"]
        assert 0 < st["mem_used_total"] <= st["mem_used_max"]

        for i in range(n):
            assert dev.read_page(i) == data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE], i

        # Discard half: every even page (150 one-page runs) -> the stats drop by exactly those.
        gone = [r for r in records if r.index % 2 == 0]
        runs = dev.discard(r.index for r in gone)
        assert runs == [(i, 1) for i in range(0, n, 2)]
        after = dev.mm_stat()
        assert after["orig_data_size"] == (n - len(gone)) * PAGE_SIZE
        assert after["compr_data_size"] == st["compr_data_size"] - sum(r.compr_size for r in gone)
        assert after["same_pages"] == st["same_pages"] - sum(r.same for r in gone)
        assert after["huge_pages"] == st["huge_pages"] - sum(r.huge for r in gone)
        assert dev.read_page(0) == bytes(PAGE_SIZE)  # an empty slot reads as zeros
        assert dev.read_page(1) == data[PAGE_SIZE : 2 * PAGE_SIZE]
        assert set(dev.records()) == {i for i in range(n) if i % 2}

        # A contiguous range coalesces into one ioctl.
        assert dev.discard(range(201, 260)) == [(201, 59)]
        assert dev.mm_stat()["orig_data_size"] == len(dev.records()) * PAGE_SIZE

        before_compact = dev.mm_stat()
        dev.compact()
        compacted = dev.mm_stat()
        assert compacted["pages_compacted"] >= before_compact["pages_compacted"]
        assert compacted["mem_used_total"] <= before_compact["mem_used_total"]
        assert compacted["compr_data_size"] == before_compact["compr_data_size"]
        for i in range(1, 200, 2):
            assert dev.read_page(i) == data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE], i

    assert not dev.is_live
    assert name not in leftover_devices()
    assert not Path(f"/sys/block/{name}").exists()
    with pytest.raises(ZramError):
        dev.read_page(1)
    with pytest.raises(ZramError):
        dev.open()  # a device object is single-use


def test_overwrite_keeps_per_slot_accounting() -> None:
    data, kinds = gen_pages(12, seed=3)
    with ZramDevice(ALGORITHM, 1 << 20) as dev:
        first = dev.write_pages(data)
        # Overwrite every slot with another kind of page (rotate the sequence by one).
        rotated = data[PAGE_SIZE:] + data[:PAGE_SIZE]
        second = dev.write_pages(rotated)
        for i, rec in enumerate(second):  # compression is deterministic: same verdicts
            src = first[(i + 1) % 12]
            assert (rec.same, rec.huge, rec.compr_size) == (src.same, src.huge, src.compr_size)
        assert kinds[:6] == list(KINDS)
        st = dev.mm_stat()
        assert st["orig_data_size"] == 12 * PAGE_SIZE
        assert st["compr_data_size"] == sum(r.compr_size for r in second)
        assert st["same_pages"] == sum(r.same for r in second)
        assert st["huge_pages"] == sum(r.huge for r in second)
        single = dev.write_page(3, bytes(PAGE_SIZE))
        assert single.same and single.compr_size == 0 and single.index == 3
        assert dev.read_page(4) == rotated[4 * PAGE_SIZE : 5 * PAGE_SIZE]


def test_argument_checks() -> None:
    with ZramDevice(ALGORITHM, 10 * PAGE_SIZE - 100) as dev:
        assert dev.disksize == 10 * PAGE_SIZE and dev.pages == 10
        with pytest.raises(IndexError):
            dev.write_page(10, bytes(PAGE_SIZE))
        with pytest.raises(IndexError):
            dev.read_page(-1)
        with pytest.raises(IndexError):
            dev.discard([9, 10])
        with pytest.raises(ValueError):
            dev.write_pages(bytes(100))
        with pytest.raises(ValueError):
            dev.write_page(0, bytes(PAGE_SIZE + 1))
    with pytest.raises(ValueError):
        ZramDevice(ALGORITHM, 0)


def test_unknown_algorithm_removes_device() -> None:
    dev = ZramDevice("no-such-algorithm", 1 << 20)
    with pytest.raises(ZramError, match="does not offer"):
        with dev:
            pass
    assert not dev.is_live and dev.name not in leftover_devices()


def test_exception_inside_with_removes_device() -> None:
    old_int = signal.getsignal(signal.SIGINT)
    old_term = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError, match="boom"):
        with ZramDevice(ALGORITHM, 1 << 20) as dev:
            dev.write_pages(gen_pages(8)[0])
            assert signal.getsignal(signal.SIGTERM) is not old_term  # our handler is active
            name = dev.name
            raise RuntimeError("boom")
    assert name not in leftover_devices()
    assert signal.getsignal(signal.SIGINT) is old_int
    assert signal.getsignal(signal.SIGTERM) is old_term


def test_nested_devices() -> None:
    old_term = signal.getsignal(signal.SIGTERM)
    with ZramDevice(ALGORITHM, 1 << 20) as a, ZramDevice("lzo", 1 << 20) as b:
        assert a.number != b.number
        assert {a.name, b.name} <= set(leftover_devices())
        page = gen_pages(3)[0][2 * PAGE_SIZE :]
        ra, rb = a.write_page(0, page), b.write_page(0, page)
        assert not ra.same and not rb.same and ra.compr_size > 0 and rb.compr_size > 0
    assert a.name not in leftover_devices() and b.name not in leftover_devices()
    assert signal.getsignal(signal.SIGTERM) is old_term


CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    # A background job may start with SIGINT ignored; make it behave like a terminal program.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from zbench_zramkernel.device import ZramDevice
    pages = bytes(4096) * 8 + os.urandom(4096 * 8) + b"text " * 819 * 8 + b"x" * 8
    with ZramDevice("lz4", 1 << 20) as dev:
        dev.write_pages(pages)
        print(dev.name, flush=True)
        if sys.argv[1] == "sleep":
            time.sleep(60)
        else:
            while True:  # be interrupted in the middle of I/O
                dev.write_pages(pages)
                dev.discard(range(24))
    """
)


@pytest.mark.parametrize("mode", ["sleep", "busy"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_removes_device(sig: signal.Signals, mode: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "child did not report its device"
        assert proc.stdout is not None
        name = proc.stdout.readline().strip()
        assert name.startswith("zram") and name in leftover_devices(), name
        time.sleep(0.1)
        proc.send_signal(sig)
        rc = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert name not in leftover_devices(), stderr
    assert "cleanup failed" not in stderr
    if sig == signal.SIGTERM:
        assert rc == -signal.SIGTERM, (rc, stderr)  # re-raised with the default action
    else:
        assert rc in (-signal.SIGINT, 1, 130), (rc, stderr)
        assert "KeyboardInterrupt" in stderr


def test_atexit_removes_forgotten_device() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins")]))
    code = (
        "from zbench_zramkernel.device import ZramDevice\n"
        "dev = ZramDevice('lz4', 1 << 20)\n"
        "dev.open()  # never closed: the atexit hook has to remove it\n"
        "dev.write_page(0, b'abc' * 1365 + b'd')\n"
        "print(dev.name, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip()
    assert name.startswith("zram") and name not in leftover_devices()


def test_kernel_rules(record_property: pytest.RecordProperty) -> None:
    rules = kernel_rules()
    record_property("chain_size", rules["chain_size"])
    record_property("chain_size_source", rules["chain_size_source"])
    assert rules["kernel_release"] == os.uname().release
    assert isinstance(rules["chain_size"], int) and 4 <= rules["chain_size"] <= 16
    assert rules["chain_size_source"] in ("default", rules["config_source"])
    assert rules["chain_size_source"] != "default" or rules["chain_size"] == 8
    assert rules["zsmalloc_stat"] in (True, False, None)
    assert isinstance(rules["zsmalloc_debugfs_readable"], bool)
    if rules["kernel_release"].startswith("6.18.") and rules["config_source"]:
        assert rules["chain_size"] == 8  # this machine: CONFIG_ZSMALLOC_CHAIN_SIZE=8
