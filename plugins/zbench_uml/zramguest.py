"""zram itself in a UML guest: a device configured as a user would, driven with a dump's
pages in a workload's order — the reference for the zram front-end model's device features.

The guest kernel is its own: its ``zram0`` is configured from ``/init`` through sysfs in
the order ``Documentation/admin-guide/blockdev/zram.rst`` requires — ``backing_dev`` (a
``ubd`` block device backed by a sparse host file) and ``comp_algorithm``,
``recomp_algorithm`` lines, ``algorithm_params`` lines (6.12+: level, ``dict=`` a file on
the guest's hostfs root), then ``disksize``, ``mem_limit`` — and ``guest/zbzram.c`` (a
static helper built on the host) writes, reads (verified), discards and compacts slots and
writes the post-processing knobs (``idle``, ``recompress``, ``writeback``) where the
scenario says.  At each phase it records ``mm_stat``, ``io_stat``, ``bd_stat`` and the count
of every ``block_state`` flag (``CONFIG_ZRAM_MEMORY_TRACKING``).

:func:`sizes` records what the guest kernel's zram makes of every page of a dump with one
algorithm and its parameters (the change of ``compr_data_size`` and ``huge_pages`` a
single write makes), so the model can be fed exactly the kernel's object sizes: the
entries go where the ``kernel`` compressor reads them (zbench's cache,
``ksizes/<dump sha256>.json``, schema ``zbench.kernel-sizes``, docs/kernel.md), under the
release ``<release>-uml`` and an algorithm key naming the parameters.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zbench import PAGE_SIZE, Dump, Op, OpKind, cache_dir, same_filled_word, write_atomic

from .boot import BootError, guest_root, run_guest, static_helper
from .build import BuiltKernel, kernels_dir

HELPER_SRC = Path(__file__).parent / "guest" / "zbzram.c"
MM_STAT = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit",
           "mem_used_max", "same_pages", "pages_compacted", "huge_pages", "huge_pages_since")
IO_STAT = ("failed_reads", "failed_writes", "invalid_io", "notify_free")
BD_STAT = ("bd_count", "bd_reads", "bd_writes")
#: block_state's flag columns (zram_drv.c read_block_state)
FLAGS = ("same", "wb", "huge", "idle", "recompressed", "incompressible")
OPS = ("writes", "failed", "reads", "mismatches", "discards")
SIZES_SCHEMA = "zbench.kernel-sizes"


@dataclass(frozen=True)
class Algorithm:
    """One algorithm of the device: its name and ``algorithm_params`` (6.12+)."""

    name: str
    level: int | None = None
    dictionary: Path | None = None

    def key(self) -> str:
        """The ``kernel`` compressor's algorithm key for sizes made with these parameters."""
        parts = [self.name]
        if self.level is not None:
            parts.append(f"level={self.level}")
        if self.dictionary is not None:
            digest = hashlib.sha256(self.dictionary.read_bytes()).hexdigest()[:12]
            parts.append(f"dict={digest}")
        return " ".join(parts)

    def params_line(self, guest_dict: str) -> str | None:
        if self.level is None and self.dictionary is None:
            return None
        words = [f"algo={self.name}"]
        if self.level is not None:
            words.append(f"level={self.level}")
        if self.dictionary is not None:
            words.append(f"dict={guest_dict}")
        return " ".join(words)


@dataclass
class Device:
    """How ``/init`` sets the guest's zram0 up."""

    primary: Algorithm = field(default_factory=lambda: Algorithm("lz4"))
    secondary: list[Algorithm] = field(default_factory=list)  # priorities 1, 2, 3
    backing_pages: int = 0
    mem_limit: int = 0  # bytes, 0: none
    disksize_pages: int = 0

    def init_lines(self, dev: str = "zram0") -> list[str]:
        z = f"/sys/block/{dev}"
        lines = []
        if self.backing_pages:
            lines.append(f"echo /dev/ubda > {z}/backing_dev")
        lines.append(f"echo {self.primary.name} > {z}/comp_algorithm")
        algos = [self.primary, *self.secondary]
        for prio, a in enumerate(self.secondary, start=1):
            lines.append(f"echo 'algo={a.name} priority={prio}' > {z}/recomp_algorithm")
        for i, a in enumerate(algos):
            line = a.params_line(f"/dict{i}")
            if line is not None:
                lines.append(f"echo '{line} priority={i}' > {z}/algorithm_params")
        lines.append(f"echo {self.disksize_pages * PAGE_SIZE} > {z}/disksize")
        if self.mem_limit:
            lines.append(f"echo {self.mem_limit} > {z}/mem_limit")
        lines.append(f"/bin/busybox cat {z}/comp_algorithm > /algorithms")
        return lines

    def files(self) -> dict[str, Path]:
        """The dictionaries, by their name on the guest's root."""
        return {f"dict{i}": a.dictionary for i, a in enumerate([self.primary, *self.secondary])
                if a.dictionary is not None}


def helper() -> Path:
    return static_helper(HELPER_SRC)


def guest_lines(ops: list[Op], actions: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The helper's operation lines for ``ops``: a load compares with the page last written
    to its slot; ``actions[label]`` (sysfs writes) run when the workload ends the phase
    ``label``, before its figures are taken, ``actions["end"]`` after the last operation,
    before the final figures (phase ``end``)."""
    last: dict[int, int] = {}
    out: list[str] = []
    for op in ops:
        if op.kind is OpKind.STORE:
            last[op.offset] = op.page
            out.append(f"w {op.offset} {op.page}")
        elif op.kind is OpKind.LOAD:
            if op.offset in last:
                out.append(f"r {op.offset} {last[op.offset]}")
        elif op.kind is OpKind.INVALIDATE:
            last.pop(op.offset, None)
            out.append(f"d {op.offset}")
        elif op.kind is OpKind.COMPACT:
            out.append("s compact 1")
        elif op.kind is OpKind.PHASE:
            out += [f"s {knob} {value}" for knob, value in actions.get(op.label, [])]
            out.append(f"p {op.label}")
    out += [f"s {knob} {value}" for knob, value in actions.get("end", [])]
    out.append("p end")
    return out


def _ints(words: list[str], names: tuple[str, ...]) -> dict[str, int]:
    return {n: int(w) for n, w in zip(names, words, strict=False)}


def parse_output(text: str) -> dict[str, Any]:
    """The helper's output: phases (label and every figure), sizes, sysfs return codes."""
    phases: list[dict[str, Any]] = []
    sizes: list[tuple[int, int, int]] = []
    sysfs: list[tuple[str, int]] = []
    status = "missing"
    tables = {"mm_stat": MM_STAT, "io_stat": IO_STAT, "bd_stat": BD_STAT, "flags": FLAGS,
              "ops": OPS}
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if head == "phase":
            phases.append({"label": rest})
        elif head in tables and phases:
            phases[-1].update(_ints(rest.split(), tables[head]))
        elif head == "size":
            page, size, huge = (int(w) for w in rest.split())
            sizes.append((page, size, huge))
        elif head == "sysfs":
            knob, rc = rest.split()
            sysfs.append((knob, int(rc)))
        elif head == "status":
            status = rest
    return {"phases": phases, "sizes": sizes, "sysfs": sysfs, "status": status}


def run(kernel: BuiltKernel, dump: Dump, lines: list[str], device: Device, *,
        mem_mb: int = 512, timeout_s: float = 600.0) -> dict[str, Any]:
    """Boot once: configure zram0 as ``device`` says and run the helper's ``lines``."""
    if device.disksize_pages <= 0:
        raise ValueError("the device needs a disksize")
    binary = helper()
    with guest_root() as root:
        with open(root / "pages", "wb") as f:
            for i in range(dump.n_pages):
                f.write(dump.page(i))
        (root / "ops").write_text("\n".join(lines) + "\n")
        shutil.copy2(binary, root / "zbzram")
        for name, path in device.files().items():
            shutil.copy2(path, root / name)
        extra: tuple[str, ...] = ()
        if device.backing_pages:
            bd = root / "backing.img"
            with open(bd, "wb") as f:
                f.truncate(device.backing_pages * PAGE_SIZE)
            extra = (f"ubd0={bd}",)
        init = ["/bin/busybox mount -t sysfs sysfs /sys",
                "/bin/busybox mount -t debugfs debugfs /sys/kernel/debug",
                *device.init_lines(), "/zbzram zram0 /pages /ops /out"]
        console, seconds = run_guest(kernel.linux, root, init, mem_mb=mem_mb,
                                     extra_args=extra, timeout_s=timeout_s)
        out = (root / "out").read_text() if (root / "out").is_file() else ""
        algorithms = ((root / "algorithms").read_text()
                      if (root / "algorithms").is_file() else "")
    res = parse_output(out)
    if res["status"] != "ok":
        tail = " | ".join(console.strip().splitlines()[-3:])[-300:]
        raise BootError(f"zram guest: {res['status']}: {tail}")
    if f"[{device.primary.name}]" not in algorithms:
        raise BootError(f"zram guest: asked for {device.primary.name}, comp_algorithm says "
                        f"{algorithms.strip() or 'nothing'}")
    res["seconds"] = round(seconds, 2)
    res["warnings"] = sum("WARNING:" in ln or "BUG:" in ln for ln in console.splitlines())
    return res


def release(kernel: BuiltKernel) -> str:
    """The release the guest's sizes are recorded under: ``<release>-uml``."""
    return f"{kernel.release}-uml"


def _sizes_path(dump: Dump) -> Path:
    return cache_dir() / "ksizes" / f"{dump.sha256}.json"


def sizes(kernel: BuiltKernel, dump: Dump, algorithm: Algorithm) -> str:
    """Record every page's size under the guest kernel's zram with ``algorithm`` (each page
    written once to its own slot, the change of ``compr_data_size``: 0 for a same-filled
    page, ``PAGE_SIZE`` for a huge one) where the ``kernel`` compressor reads them, unless
    already there; the algorithm key to ask it for."""
    key = algorithm.key()
    path = _sizes_path(dump)
    data = json.loads(path.read_text()) if path.is_file() else None
    if not isinstance(data, dict) or data.get("dump_sha256") != dump.sha256:
        data = {"schema": SIZES_SCHEMA, "version": 1, "dump_sha256": dump.sha256,
                "entries": {}}
    entry_key = f"{release(kernel)}/{key}"
    if entry_key in data["entries"]:
        return key
    device = Device(primary=algorithm, disksize_pages=dump.n_pages)
    res = run(kernel, dump, [f"c {i} {i}" for i in range(dump.n_pages)], device)
    got = {page: (size, huge) for page, size, huge in res["sizes"]}
    if len(got) != dump.n_pages:
        raise BootError(f"zram guest sizes: {len(got)} of {dump.n_pages} pages recorded")
    same = [int(same_filled_word(dump.page(i)) is not None) for i in range(dump.n_pages)]
    data["entries"][entry_key] = {
        "release": release(kernel), "algorithm": key, "source": "zbench kernel (UML zram)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": [got[i][0] for i in range(dump.n_pages)], "same": same,
        "huge": [got[i][1] for i in range(dump.n_pages)]}
    write_atomic(path, json.dumps(data, separators=(",", ":")) + "\n", mode=0o644)
    return key


__all__ = ["Algorithm", "Device", "guest_lines", "helper", "kernels_dir", "parse_output",
           "release", "run", "sizes"]
