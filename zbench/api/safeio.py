"""Reading and writing user-named files safely: the one place zbench does it.

Reading (:func:`read_bytes`, :func:`read_text`): regular files only.  A file is
opened with ``O_NONBLOCK | O_NOCTTY`` so a FIFO never blocks the open, then
``fstat``-ed, and anything that is not a regular file (a FIFO, a character or
block device such as ``/dev/zero``, a directory, a socket) is refused before a
byte is read.  Each kind of file has a size limit (:data:`SUITE_LIMIT`,
:data:`TRACE_LIMIT`; a dump is bounded by its own size), and a file that is not
UTF-8 is reported with the line of the first bad byte.

Writing (:func:`write_atomic`): a temporary file beside the destination, written,
fsynced and renamed over it, so a reader sees the old file or the new one, never
half of one.  A destination that exists and is not a regular file (``/dev/full``,
a FIFO, a directory, a symlink to one of those) is refused before anything is
written; a failing ``mkdir``, temporary file, write, fsync or rename (``ENOTDIR``,
``EROFS``, ``EACCES``, ``ENOSPC``) becomes one line naming the path, and the
temporary file is always removed.

Every problem is a :class:`~zbench.api.errors.UserError` (or the subclass the caller
names) with a one-line message that starts with the path.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zbench.api.errors import UserError

MIB = 1 << 20
SUITE_LIMIT = 4 * MIB  # a suite is a page of YAML
TRACE_LIMIT = 1024 * MIB  # a trace can be long, but not unbounded
RESULTS_LIMIT = 512 * MIB

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISSOCK, "a socket"))


def one_line(text: object) -> str:
    """``text`` with its whitespace runs (newlines included) folded to single spaces."""
    return " ".join(str(text).split())


def kind_of(mode: int) -> str:
    """What a non-regular file is, for messages: ``a FIFO``, ``a directory``, ..."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(path: Path | str, mode: int) -> str:
    return f"{path}: not a regular file ({kind_of(mode)})"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return one_line(exc.strerror or exc)


def open_regular(path: Path | str, what: str = "file",
                 error: type[UserError] = UserError) -> int:
    """A read-only descriptor of the regular file ``path`` (the caller closes it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise error(f"{path}: no such {what}") from None
        if exc.errno == errno.ENXIO:  # a socket
            raise error(f"{path}: not a regular file (a socket)") from None
        raise error(f"{path}: cannot open {what}: {_os_problem(exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(_not_regular(path, st.st_mode))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: Path | str, limit: int | None = None, what: str = "file",
               error: type[UserError] = UserError) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes (else an error)."""
    fd = open_regular(path, what, error)
    try:
        with os.fdopen(fd, "rb") as f:
            data = f.read() if limit is None else f.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {_os_problem(exc)}") from None
    if limit is not None and len(data) > limit:
        raise error(f"{path}: {what} is larger than {_size(limit)} (not a {what}?)")
    return data


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n} bytes"


def decode_utf8(data: bytes, path: Path | str, what: str = "file",
                error: type[UserError] = UserError) -> str:
    """``data`` as UTF-8; a bad byte is reported with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start:exc.start + 1].hex()
        raise error(f"{path}: line {line}: cannot read {what}: not UTF-8 "
                    f"(byte 0x{bad} at column {col})") from None


def read_text(path: Path | str, limit: int | None = None, what: str = "file",
              error: type[UserError] = UserError) -> str:
    """The UTF-8 text of the regular file ``path`` (see :func:`read_bytes`)."""
    return decode_utf8(read_bytes(path, limit, what, error), path, what, error)


def check_destination(path: Path, error: type[UserError] = UserError) -> None:
    """Refuse a destination that exists and is not a regular file (followed through
    symlinks), so a device, FIFO or directory is never replaced or written to."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
            raise error(f"{path}: cannot write: {_os_problem(exc)}") from None
        return  # e.g. a dangling symlink: the rename replaces the link itself
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: cannot write: {_not_regular(path, st.st_mode).split(': ', 1)[1]}")


def make_dirs(folder: Path, error: type[UserError] = UserError) -> None:
    """``mkdir -p folder``; a failure (a file in the way, a read-only or full file
    system) is one line naming the folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"{folder}: cannot create the folder: {_os_problem(exc)}") from None


#: Modes for :func:`write_atomic`: results, reports and plots are readable by others;
#: dumps (process memory) and caches are the owner's only.
PUBLIC = 0o644
PRIVATE = 0o600


def write_atomic(path: str | os.PathLike[str], data: str | bytes | bytearray | memoryview
                 | list[bytes | bytearray | memoryview], mode: int = PRIVATE,
                 error: type[UserError] = UserError) -> None:
    """Write ``data`` (text is UTF-8; a list of buffers is written back to back) to
    ``path`` through a temporary file of ``mode`` in the same folder, fsync and a rename:
    never half a file, never a device or FIFO written to; a failure is one ``error``
    line naming the path.  The one atomic writer of zbench."""
    p = Path(path)
    parts = [data.encode("utf-8")] if isinstance(data, str) else (
        data if isinstance(data, list) else [data])
    check_destination(p, error)
    parent = p.parent
    make_dirs(parent, error)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise error(f"{p}: cannot create a file in {parent}: {_os_problem(exc)}") from None
    try:
        try:
            os.fchmod(fd, mode)
            for part in parts:
                view = memoryview(part).cast("B")
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        check_destination(p, error)  # it may have appeared meanwhile
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise error(f"{p}: cannot write: {_os_problem(exc)}") from None
        raise


def _loc(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def find_non_finite(obj: Any, loc: list[str | int] | None = None) -> tuple[str, float] | None:
    """The location (``cases[3].metrics.pool_pages``) and value of the first NaN or
    infinity in a JSON-like ``obj``, or None."""
    loc = loc or []
    if isinstance(obj, float) and not math.isfinite(obj):
        return _loc(loc) or "value", obj
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            found = find_non_finite(value, [*loc, str(key)])
            if found:
                return found
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            found = find_non_finite(value, [*loc, i])
            if found:
                return found
    return None


def json_text(obj: Any, where: str = "JSON", indent: int | None = 2,
              sort_keys: bool = False) -> str:
    """Strict JSON of ``obj`` (no NaN / Infinity, which are not JSON), with a newline;
    a non-finite number raises :class:`UserError` naming ``where`` and its path."""
    try:
        return json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
    except ValueError:
        found = find_non_finite(obj)
        if found is None:
            raise
        loc, value = found
        raise UserError(f"{where}: {loc}: not a finite number ({value})") from None
