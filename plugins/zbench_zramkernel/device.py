"""A real zram device (drivers/block/zram) of our own, driven page by page.

The models in ``zbench_zram``/``zbench_zsmalloc`` predict what zram does with a page
(same-filled slot, compressed object, or huge raw page) and how much zsmalloc memory that
costs; this module asks the running kernel instead, so the two can be compared.

Rules this module keeps (see Documentation/admin-guide/blockdev/zram.rst and
drivers/block/zram/zram_drv.c):

* it only ever touches a device it created itself through ``/sys/class/zram-control/hot_add``
  (never ``zram0``), never runs mkswap/swapon and never writes zswap parameters;
* every device it created is removed again (``reset`` then ``hot_remove``): on a normal
  ``with`` exit, on an exception, on SIGINT/SIGTERM (handlers installed while a device is
  open: clean up, then hand the signal to the previous handler or re-raise it with the
  default action) and, as a last resort, from an ``atexit`` hook;
* the creation and the teardown of a device run with SIGINT/SIGTERM blocked, so a signal can
  never leave a device half-created or half-removed behind.

I/O goes through ``/dev/zramN`` opened ``O_RDWR | O_DIRECT`` with a page-aligned anonymous
mmap as the buffer, so every write is exactly one zram slot and nothing sits in the page cache.
Per-page results come from the deltas of ``mm_stat`` around each write.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import mmap
import os
import re
import shutil
import signal
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

__all__ = [
    "BLKDISCARD",
    "MM_STAT_FIELDS",
    "PAGE_SIZE",
    "MmStat",
    "PageRecord",
    "ZramDevice",
    "ZramError",
    "coalesce_runs",
    "leftover_devices",
    "parse_algorithms",
    "parse_mm_stat",
]

PAGE_SIZE = 4096
BLKDISCARD = 0x1277  # _IO(0x12, 119): arg is uint64[2] = {start, length} in bytes
CONTROL_DIR = Path("/sys/class/zram-control")
SYS_BLOCK = Path("/sys/block")
ZSMALLOC_DEBUGFS = Path("/sys/kernel/debug/zsmalloc")
DEFAULT_CHAIN_SIZE = 8  # mm/Kconfig: ZSMALLOC_CHAIN_SIZE default 8 (range 4..16), 6.3+

#: mm_stat columns in order; older kernels print a prefix of them (mm_stat_show() in
#: drivers/block/zram/zram_drv.c; Documentation/admin-guide/blockdev/zram.rst).
MM_STAT_FIELDS: tuple[str, ...] = (
    "orig_data_size",
    "compr_data_size",
    "mem_used_total",
    "mem_limit",
    "mem_used_max",
    "same_pages",
    "pages_compacted",
    "huge_pages",
    "huge_pages_since",
)
_ORIG, _COMPR, _SAME, _HUGE = 0, 1, 5, 7

MmStat = dict[str, int]
_Handler = Callable[[int, FrameType | None], Any] | int | None
_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
_BUSY_RETRY_S = 3.0  # how long reset/hot_remove retry on EBUSY (a transient opener)
_NAME_RE = re.compile(r"zram(\d+)")


class ZramError(RuntimeError):
    """zram refused something, or a device is not in the state an operation needs."""


@dataclass(frozen=True, slots=True)
class PageRecord:
    """What the kernel did with one written page (from the mm_stat deltas around the write).

    ``compr_size`` is the page's contribution to ``compr_data_size``: 0 for a same-filled
    page, ``PAGE_SIZE`` for a huge (stored raw) page, else the compressed length.
    """

    index: int
    compr_size: int
    same: bool
    huge: bool


# --------------------------------------------------------------------------- parsing helpers


def parse_mm_stat(text: str) -> MmStat:
    """``mm_stat`` line → {field: int}; only the columns the kernel printed are present."""
    values = [int(tok) for tok in text.split()]
    return dict(zip(MM_STAT_FIELDS, values, strict=False))


def parse_algorithms(text: str) -> tuple[list[str], str | None]:
    """``comp_algorithm`` text (``"[lzo-rle] lzo lz4"``) → (offered, selected)."""
    offered: list[str] = []
    selected: str | None = None
    for tok in text.split():
        if tok.startswith("[") and tok.endswith("]"):
            tok = tok[1:-1]
            selected = tok
        offered.append(tok)
    return offered, selected


def coalesce_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted distinct page indices → [(first index, page count), ...] of consecutive runs."""
    runs: list[tuple[int, int]] = []
    for idx in sorted(set(indices)):
        if runs and runs[-1][0] + runs[-1][1] == idx:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((idx, 1))
    return runs


# --------------------------------------------------------------------------- sysfs helpers


def _read_text(path: Path | str) -> str:
    with open(path, encoding="ascii") as fh:
        return fh.read()


def _write_text(path: Path | str, text: str) -> None:
    """One write(2) to a sysfs attribute, so its errno surfaces as an OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)


def _retry_busy(action: Callable[[], None]) -> None:
    deadline = time.monotonic() + _BUSY_RETRY_S
    delay = 0.005
    while True:
        try:
            action()
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def leftover_devices() -> list[str]:
    """Names of the zram devices that exist now (``zram0`` included), numerically sorted."""
    try:
        names = [p.name for p in SYS_BLOCK.iterdir() if _NAME_RE.fullmatch(p.name)]
    except OSError:
        return []
    return sorted(names, key=lambda n: int(n[4:]))


# --------------------------------------------------------------------------- process guard
# Every device this process created and has not removed yet, by number. SIGINT/SIGTERM
# handlers are installed while at least one device is open (main thread only: Python allows
# signal handlers nowhere else), and the atexit hook sweeps whatever is still here.

_lock = threading.RLock()
_live: dict[int, ZramDevice] = {}
_users = 0
_saved_handlers: dict[int, _Handler] = {}


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Block SIGINT/SIGTERM in this thread (pending ones are delivered on exit)."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install_handlers() -> None:
    if _saved_handlers or not _in_main_thread():
        return
    for sig in _SIGNALS:
        prev = signal.getsignal(sig)
        if prev is None or prev == signal.SIG_IGN:
            # Ignored (nothing will kill us through it) or owned by C code: leave it alone.
            continue
        _saved_handlers[sig] = prev
        signal.signal(sig, _on_signal)


def _restore_handlers() -> None:
    if not _in_main_thread():
        return
    for sig, prev in list(_saved_handlers.items()):
        with contextlib.suppress(ValueError, TypeError, OSError):
            if signal.getsignal(sig) is _on_signal:  # someone else may have replaced ours
                signal.signal(sig, prev)
    _saved_handlers.clear()


def _guard_enter() -> None:
    global _users
    with _lock:
        _users += 1
        _install_handlers()


def _guard_leave() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users <= 0:
            _users = 0
            _restore_handlers()


def _cleanup_all() -> list[str]:
    """Remove every device this process still holds; returns error messages (never raises)."""
    errors: list[str] = []
    with _signals_blocked(), _lock:
        for dev in list(_live.values()):
            try:
                dev._teardown()
            except (OSError, ZramError) as exc:
                errors.append(f"{dev.name}: {exc}")
    for msg in errors:
        print(f"zbench_zramkernel: cleanup failed: {msg}", file=sys.stderr)
    return errors


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _cleanup_all()
    prev = _saved_handlers.get(signum, signal.SIG_DFL)
    with _lock:
        _restore_handlers()
    if callable(prev):
        prev(signum, frame)  # SIGINT: default_int_handler raises KeyboardInterrupt
        return
    if prev == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)  # die of the signal, as the default action would
    sys.exit(128 + signum)  # only reached if the default action does not terminate


atexit.register(_cleanup_all)


# --------------------------------------------------------------------------- the device


class ZramDevice:
    """A zram device created with ``hot_add`` for the duration of a ``with`` block.

    >>> with ZramDevice("lz4", 64 << 20) as dev:          # doctest: +SKIP
    ...     records = dev.write_pages(pages)
    ...     dev.mm_stat()["compr_data_size"] == sum(r.compr_size for r in records)
    True
    """

    def __init__(self, algorithm: str, disksize: int) -> None:
        if disksize <= 0:
            raise ValueError(f"disksize must be positive, got {disksize}")
        self.algorithm = algorithm
        self.disksize = -(-int(disksize) // PAGE_SIZE) * PAGE_SIZE  # zram rounds up too
        self._number: int | None = None
        self._state = "new"  # new -> live -> closed
        self._guarded = False
        self._fd = -1
        self._stat_fd = -1
        self._buf: mmap.mmap | None = None
        self._node: str | None = None
        self._node_dir: str | None = None
        self._slots: dict[int, PageRecord] = {}

    # ---- identity ---------------------------------------------------------------------

    @property
    def number(self) -> int:
        if self._number is None:
            raise ZramError("device not created yet")
        return self._number

    @property
    def name(self) -> str:
        return f"zram{self.number}" if self._number is not None else "zram?"

    @property
    def sysfs(self) -> Path:
        return SYS_BLOCK / self.name

    @property
    def path(self) -> str:
        """The block device node in use (``/dev/zramN``, or a private node if that is missing)."""
        if self._node is None:
            raise ZramError("device not open")
        return self._node

    @property
    def is_live(self) -> bool:
        return self._state == "live"

    @property
    def pages(self) -> int:
        return self.disksize // PAGE_SIZE

    def records(self) -> dict[int, PageRecord]:
        """The latest record of every slot written (and not discarded) through this object."""
        return dict(self._slots)

    def __repr__(self) -> str:
        return f"ZramDevice({self.algorithm!r}, {self.disksize}, {self.name}, {self._state})"

    # ---- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> ZramDevice:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """hot_add, select the algorithm, set disksize, open ``/dev/zramN`` (O_DIRECT)."""
        self._open(configure=True)

    def _open(self, *, configure: bool) -> None:
        if self._state != "new":
            raise ZramError(f"{self!r} cannot be opened twice")
        self._state = "live"
        _guard_enter()
        self._guarded = True
        try:
            with _signals_blocked(), _lock:
                text = _read_text(CONTROL_DIR / "hot_add").strip()
                try:
                    number = int(text)
                except ValueError as exc:
                    raise ZramError(f"hot_add returned {text!r}") from exc
                self._number = number
                _live[number] = self
            if configure:
                self._configure()
        except BaseException:
            self.close()
            raise

    def _configure(self) -> None:
        offered, _ = parse_algorithms(_read_text(self.sysfs / "comp_algorithm"))
        if self.algorithm not in offered:
            raise ZramError(
                f"{self.name} does not offer algorithm {self.algorithm!r} (offers {offered})"
            )
        _write_text(self.sysfs / "comp_algorithm", self.algorithm)
        _, selected = parse_algorithms(_read_text(self.sysfs / "comp_algorithm"))
        if selected != self.algorithm:
            raise ZramError(f"{self.name}: selected {selected!r}, wanted {self.algorithm!r}")
        _write_text(self.sysfs / "disksize", str(self.disksize))
        actual = int(_read_text(self.sysfs / "disksize"))
        if actual != self.disksize:
            raise ZramError(f"{self.name}: disksize {actual}, wanted {self.disksize}")
        self._node = self._device_node()
        self._fd = os.open(self._node, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
        self._stat_fd = os.open(self.sysfs / "mm_stat", os.O_RDONLY | os.O_CLOEXEC)
        self._buf = mmap.mmap(-1, PAGE_SIZE)  # anonymous mapping: page aligned for O_DIRECT

    def _device_node(self) -> str:
        """``/dev/zramN`` once devtmpfs has it; else a private node made with mknod."""
        major, minor = (int(x) for x in _read_text(self.sysfs / "dev").split(":"))
        want = os.makedev(major, minor)
        node = f"/dev/{self.name}"
        deadline = time.monotonic() + 2.0
        while True:
            try:
                st = os.stat(node)
                if stat.S_ISBLK(st.st_mode) and st.st_rdev == want:
                    return node
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        self._node_dir = tempfile.mkdtemp(prefix="zbench-zram-")
        node = os.path.join(self._node_dir, self.name)
        os.mknod(node, 0o600 | stat.S_IFBLK, want)
        return node

    def close(self) -> None:
        """Close everything and remove the device (reset + hot_remove). Idempotent."""
        try:
            with _signals_blocked(), _lock:
                self._teardown()
        finally:
            if self._guarded:
                self._guarded = False
                _guard_leave()

    def _teardown(self) -> None:
        """Release fds, reset and hot_remove. Caller holds ``_lock`` with signals blocked."""
        if self._state == "live":
            self._state = "closed"
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # an opener makes reset/hot_remove fail with EBUSY
        sfd, self._stat_fd = self._stat_fd, -1
        if sfd >= 0:
            os.close(sfd)
        if self._buf is not None:
            with contextlib.suppress(BufferError):
                self._buf.close()
            self._buf = None
        if self._node_dir is not None:
            shutil.rmtree(self._node_dir, ignore_errors=True)
            self._node_dir = None
        number = self._number
        if number is None or _live.get(number) is not self:
            return
        sysfs = SYS_BLOCK / f"zram{number}"
        reset_error: OSError | None = None
        if sysfs.exists():
            try:
                _retry_busy(lambda: _write_text(sysfs / "reset", "1"))
            except OSError as exc:  # hot_remove resets too; report only if that fails as well
                reset_error = exc
        try:
            _retry_busy(lambda: _write_text(CONTROL_DIR / "hot_remove", str(number)))
        except OSError as exc:
            if exc.errno != errno.ENODEV and sysfs.exists():
                detail = f" (reset: {reset_error})" if reset_error else ""
                raise ZramError(f"cannot remove zram{number}: {exc}{detail}") from exc
        _live.pop(number, None)
        self._slots.clear()

    # ---- I/O --------------------------------------------------------------------------

    def _require_live(self) -> tuple[int, mmap.mmap]:
        if self._state != "live" or self._fd < 0 or self._buf is None:
            raise ZramError(f"{self!r} is not open")
        return self._fd, self._buf

    def _check_range(self, index: int, count: int = 1) -> None:
        if index < 0 or index + count > self.pages:
            raise IndexError(f"pages {index}..{index + count - 1} outside 0..{self.pages - 1}")

    def _write_raw(self, fd: int, buf: mmap.mmap, index: int, page: Any) -> None:
        buf[:] = page
        done = os.pwrite(fd, buf, index * PAGE_SIZE)
        if done != PAGE_SIZE:
            raise ZramError(f"short write at page {index}: {done} bytes")

    def _stat_raw(self) -> list[int]:
        data = os.pread(self._stat_fd, 512, 0)  # sysfs regenerates the text on a read at 0
        return [int(tok) for tok in data.split()]

    def write_page(self, index: int, page: bytes | bytearray | memoryview) -> PageRecord:
        """Write one page at ``index`` (O_DIRECT) and return the kernel's verdict on it."""
        return self.write_pages(page, start=index)[0]

    def write_pages(
        self, pages: bytes | bytearray | memoryview, start: int = 0
    ) -> list[PageRecord]:
        """Write consecutive pages from ``start``; one :class:`PageRecord` per page.

        After each write ``mm_stat`` is read again; the record holds the deltas of
        ``compr_data_size``, ``same_pages`` and ``huge_pages``. Overwriting a slot first frees
        the old contents, so the old record (kept per slot) is added back.
        """
        fd, buf = self._require_live()
        view = memoryview(pages).cast("B")
        if len(view) % PAGE_SIZE:
            raise ValueError(f"{len(view)} bytes is not a multiple of {PAGE_SIZE}")
        count = len(view) // PAGE_SIZE
        self._check_range(start, count)
        records: list[PageRecord] = []
        prev = self._stat_raw()
        has_huge = len(prev) > _HUGE
        for i in range(count):
            index = start + i
            self._write_raw(fd, buf, index, view[i * PAGE_SIZE : (i + 1) * PAGE_SIZE])
            cur = self._stat_raw()
            old = self._slots.get(index)
            d_orig = cur[_ORIG] - prev[_ORIG] + (PAGE_SIZE if old else 0)
            compr = cur[_COMPR] - prev[_COMPR] + (old.compr_size if old else 0)
            d_same = cur[_SAME] - prev[_SAME] + (1 if old and old.same else 0)
            if has_huge:
                d_huge = cur[_HUGE] - prev[_HUGE] + (1 if old and old.huge else 0)
            else:
                d_huge = int(compr == PAGE_SIZE)
            if d_orig != PAGE_SIZE or d_same not in (0, 1) or d_huge not in (0, 1):
                raise ZramError(
                    f"{self.name} page {index}: unexpected mm_stat deltas orig={d_orig} "
                    f"same={d_same} huge={d_huge} (was the slot written behind our back?)"
                )
            record = PageRecord(index, compr, bool(d_same), bool(d_huge))
            self._slots[index] = record
            records.append(record)
            prev = cur
        return records

    def read_page(self, index: int) -> bytes:
        """Read one page back (O_DIRECT)."""
        fd, buf = self._require_live()
        self._check_range(index)
        done = os.preadv(fd, [buf], index * PAGE_SIZE)
        if done != PAGE_SIZE:
            raise ZramError(f"short read at page {index}: {done} bytes")
        return bytes(buf)

    def discard(self, indices: Iterable[int]) -> list[tuple[int, int]]:
        """BLKDISCARD the given pages, one ioctl per run of consecutive pages.

        Returns the runs as (first index, page count).
        """
        fd, _ = self._require_live()
        runs = coalesce_runs(indices)
        for first, count in runs:
            self._check_range(first, count)
        for first, count in runs:
            fcntl.ioctl(fd, BLKDISCARD, struct.pack("=QQ", first * PAGE_SIZE, count * PAGE_SIZE))
            for index in range(first, first + count):
                self._slots.pop(index, None)
        return runs

    def compact(self) -> None:
        """Ask zsmalloc to compact this device's pool (``echo 1 > compact``)."""
        self._require_live()
        _write_text(self.sysfs / "compact", "1")

    def mm_stat(self) -> MmStat:
        self._require_live()
        return parse_mm_stat(_read_text(self.sysfs / "mm_stat"))

    def algorithms(self) -> list[str]:
        """The algorithms this device offers (``comp_algorithm`` without the brackets)."""
        self._require_live()
        return parse_algorithms(_read_text(self.sysfs / "comp_algorithm"))[0]
