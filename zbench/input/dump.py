"""Page dumps: loading, writing and converting them.

Two on-disk formats are accepted:

``raw``
    4 KiB pages back to back, e.g. from ``dd``.  The size must be a nonzero
    multiple of :data:`~zbench.api.frames.PAGE_SIZE`.  There is no metadata, so every
    page's region class and source are ``"unknown"``.

``zbench``
    ``ZBENCHDUMP 1\\n`` (magic line), an 8-byte little-endian length ``L``,
    ``L`` bytes of UTF-8 JSON metadata, then one zstd frame holding the pages.
    The metadata records the page count and the sha256 of the raw pages, both
    checked on load, how the dump was captured, the kernel, THP mode, tool
    versions, and per-page region class and source as run-length lists
    ``[[region, source, first_page, n_pages], ...]`` in ``page_runs``.
    ``page_size`` is the capturing kernel's PAGE_SIZE (``os.sysconf("SC_PAGE_SIZE")``):
    4096, or 16 K / 64 K for a capture on such a kernel, whose pages are read natively.

A dump can also be read as pages larger than its own (:meth:`Dump.paged`): each
``N``-byte page is ``N / page_size`` consecutive pages of one page run (one region class
and source), and a run's tail that does not fill an ``N``-byte page is dropped (counted in
``dropped_pages``).  That approximates a process on an ``N``-byte-page kernel; it is not
one (a real 16 K process lays out and zero-fills its memory differently): docs/page-size.md.

Every problem with a dump file is a :class:`~zbench.api.errors.DumpError` whose
one-line message names the file.  Writes are atomic (temporary file in the
same directory, then :func:`os.replace`) and create files with mode 0600,
because a dump is a copy of a process's memory.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import platform
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from zbench.api import safeio
from zbench.api.errors import DumpError
from zbench.api.frames import PAGE_SIZE, page_size_error

MAGIC = b"ZBENCHDUMP 1\n"
MAGIC_PREFIX = b"ZBENCHDUMP"
FORMAT_VERSION = 1
ZSTD_LEVELS = ((16 << 20, 19), (256 << 20, 9))  # (up to this many bytes, level); beyond: 3
_LEN = struct.Struct("<Q")
_MAX_META = 64 << 20
UNKNOWN = "unknown"


def _err(path: Path | str, problem: object) -> DumpError:
    return DumpError(f"{path}: {safeio.one_line(problem)}")


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def host_meta() -> dict[str, Any]:
    """Kernel release, THP mode and tool versions of this machine."""
    thp = UNKNOWN
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        start, end = text.find("["), text.find("]")
        if 0 <= start < end:
            thp = text[start + 1 : end]
    except OSError:
        pass
    tools: dict[str, str] = {
        "python": platform.python_version(),
        "zstandard": zstandard.__version__,
        "libzstd": ".".join(str(x) for x in zstandard.ZSTD_VERSION),
    }
    try:
        import lz4  # noqa: PLC0415 - optional, only recorded

        tools["lz4"] = str(getattr(lz4, "__version__", UNKNOWN))
        tools["liblz4"] = lz4.library_version_string()
    except ImportError:
        pass
    try:
        from zbench.api.version import __version__

        tools["zbench"] = __version__
    except ImportError:
        pass
    return {"kernel": platform.release(), "thp": thp, "tools": tools}


def _check_runs(path: Path | str, runs: Any, n_pages: int) -> list[tuple[str, str, int, int]]:
    """Validate ``page_runs``: they must cover pages 0..n_pages-1 in order, once."""
    if not isinstance(runs, list):
        raise _err(path, "metadata page_runs is not a list")
    out: list[tuple[str, str, int, int]] = []
    expect = 0
    for run in runs:
        if (
            not isinstance(run, list)
            or len(run) != 4
            or not all(isinstance(x, str) for x in run[:2])
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in run[2:])
        ):
            raise _err(path, f"metadata page_runs entry {run!r} is not [region, source, start, n]")
        region, source, start, count = run
        if start != expect or count <= 0:
            raise _err(path, f"metadata page_runs entry {run!r} does not start at page {expect}")
        out.append((region, source, start, count))
        expect = start + count
    if expect != n_pages:
        raise _err(path, f"metadata page_runs cover {expect} pages, dump has {n_pages}")
    return out


def merge_runs(labels: list[tuple[str, str]]) -> list[list[Any]]:
    """Run-length encode per-page (region, source) labels into ``page_runs``."""
    runs: list[list[Any]] = []
    for i, (region, source) in enumerate(labels):
        if runs and runs[-1][0] == region and runs[-1][1] == source:
            runs[-1][3] += 1
        else:
            runs.append([region, source, i, 1])
    return runs


@dataclass
class Dump:
    """A loaded page dump: ``n_pages`` pages of ``page_size`` bytes, plus metadata.

    ``sha256`` names the file's pages (a :meth:`paged` view keeps its source's);
    ``dropped_pages``: the source pages a :meth:`paged` view left out (0 otherwise)."""

    path: Path
    n_pages: int
    sha256: str
    meta: dict[str, Any]
    format: str
    _data: bytes = field(repr=False)
    _runs: list[tuple[str, str, int, int]] = field(repr=False, default_factory=list)
    _starts: list[int] = field(repr=False, default_factory=list)
    page_size: int = PAGE_SIZE
    dropped_pages: int = 0
    _views: dict[int, Dump] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self._runs:
            self._runs = [(UNKNOWN, UNKNOWN, 0, self.n_pages)]
        self._starts = [r[2] for r in self._runs]

    @property
    def data(self) -> bytes:
        """All pages, back to back."""
        return self._data

    def __len__(self) -> int:
        return self.n_pages

    def _index(self, i: int) -> int:
        if i < 0:
            i += self.n_pages
        if not 0 <= i < self.n_pages:
            raise IndexError(f"page {i} out of range (dump has {self.n_pages} pages)")
        return i

    def page(self, i: int) -> bytes:
        """Page ``i`` (``page_size`` bytes)."""
        i = self._index(i)
        ps = self.page_size
        return self._data[i * ps : (i + 1) * ps]

    def paged(self, page_size: int) -> Dump:
        """This dump read as ``page_size``-byte pages (itself at its own page size): each
        page is ``page_size // self.page_size`` consecutive pages of one page run, and a
        run's tail that does not fill a page is dropped (``dropped_pages`` counts those
        source pages).  An approximation of a process on a ``page_size``-byte-page kernel
        (the module docstring); a DumpError when the size is not a page size, is smaller
        than the dump's own, or no run fills one page."""
        if page_size == self.page_size:
            return self
        view = self._views.get(page_size)
        if view is None:
            view = self._views[page_size] = self._grouped(page_size)
        return view

    def _grouped(self, page_size: int) -> Dump:
        problem = page_size_error(page_size)
        if problem is None and page_size < self.page_size:
            problem = (f"page size {page_size} is smaller than the dump's own "
                       f"{self.page_size}")
        if problem is not None:
            raise _err(self.path, problem)
        k, ps = page_size // self.page_size, self.page_size
        chunks: list[bytes] = []
        runs: list[tuple[str, str, int, int]] = []
        n = 0
        for region, source, start, count in self._runs:
            whole = count // k
            if whole:
                chunks.append(self._data[start * ps : (start + whole * k) * ps])
                runs.append((region, source, n, whole))
                n += whole
        dropped = self.n_pages - n * k
        if not n:
            raise _err(self.path, f"no page run holds {k} consecutive {ps}-byte pages: "
                                  f"nothing to read as {page_size}-byte pages")
        meta = {**self.meta, "page_size": page_size, "n_pages": n,
                "read_as": {"from_page_size": ps, "dropped_pages": dropped}}
        return Dump(self.path, n, self.sha256, meta, self.format, b"".join(chunks), runs,
                    page_size=page_size, dropped_pages=dropped)

    def _run(self, i: int) -> tuple[str, str, int, int]:
        i = self._index(i)
        return self._runs[bisect.bisect_right(self._starts, i) - 1]

    def region_class(self, i: int) -> str:
        """Region class of page ``i``: anon, heap, stack, file-cow or unknown."""
        return self._run(i)[0]

    def source(self, i: int) -> str:
        """The program page ``i`` was captured from (``unknown`` for raw dumps)."""
        return self._run(i)[1]

    @property
    def page_runs(self) -> list[tuple[str, str, int, int]]:
        return list(self._runs)

    def breakdown(self) -> dict[str, dict[str, int]]:
        """Page counts per source, then per region class."""
        out: dict[str, dict[str, int]] = {}
        for region, source, _start, count in self._runs:
            per = out.setdefault(source, {})
            per[region] = per.get(region, 0) + count
        return out


def _read_file(path: Path) -> bytes:
    """A regular file's bytes (a FIFO, device or directory is refused, never read)."""
    return safeio.read_bytes(path, None, "file", DumpError)


def load_dump(path: str | os.PathLike[str]) -> Dump:
    """Load a raw or zbench page dump; any problem raises :class:`DumpError`."""
    p = Path(path)
    blob = _read_file(p)
    if not blob:
        raise _err(p, "file is empty (no pages)")
    if blob.startswith(MAGIC_PREFIX):
        return _load_zbench(p, blob)
    if len(blob) % PAGE_SIZE:
        raise _err(p, f"size {len(blob)} is not a multiple of {PAGE_SIZE} (truncated dump?)")
    n = len(blob) // PAGE_SIZE
    digest = sha256_hex(blob)
    meta: dict[str, Any] = {
        "format": "raw",
        "page_size": PAGE_SIZE,
        "n_pages": n,
        "sha256": digest,
    }
    return Dump(p, n, digest, meta, "raw", blob)


def _load_zbench(p: Path, blob: bytes) -> Dump:
    if not blob.startswith(MAGIC):
        line = blob[: blob.find(b"\n")] if b"\n" in blob[:64] else blob[:32]
        raise _err(p, f"bad zbench header {line!r} (expected {MAGIC.strip()!r})")
    pos = len(MAGIC)
    if len(blob) < pos + _LEN.size:
        raise _err(p, "zbench header is truncated (no metadata length)")
    (meta_len,) = _LEN.unpack_from(blob, pos)
    pos += _LEN.size
    if meta_len > _MAX_META or pos + meta_len > len(blob):
        raise _err(p, f"zbench header is corrupt (metadata length {meta_len} past end of file)")
    try:
        meta = json.loads(blob[pos : pos + meta_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _err(p, f"metadata is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise _err(p, "metadata is not a JSON object")
    pos += meta_len
    for key, kind in (("n_pages", int), ("sha256", str)):
        if not isinstance(meta.get(key), kind):
            raise _err(p, f"metadata lacks {key}")
    if meta.get("version") != FORMAT_VERSION:
        raise _err(p, f"unsupported zbench dump version {meta.get('version')!r}")
    ps = meta.get("page_size", PAGE_SIZE)  # absent: 4096, as every dump once was
    problem = page_size_error(ps)
    if problem is not None:
        raise _err(p, f"metadata page_size: {problem}")
    n = meta["n_pages"]
    if n <= 0:
        raise _err(p, f"metadata says {n} pages")
    expected = n * ps
    data = _decompress(p, blob[pos:], expected)
    if len(data) != expected:
        got = len(data) / ps
        msg = f"wrong page count: payload holds {got:g} pages, metadata says {n}"
        raise _err(p, msg + " (truncated or corrupt file?)")
    digest = sha256_hex(data)
    if digest != meta["sha256"]:
        raise _err(p, f"sha256 mismatch: pages hash to {digest}, metadata says {meta['sha256']}")
    runs = _check_runs(p, meta.get("page_runs", [[UNKNOWN, UNKNOWN, 0, n]]), n)
    return Dump(p, n, digest, meta, "zbench", data, runs, page_size=ps)


def _decompress(p: Path, payload: bytes, expected: int) -> bytes:
    """Decompress the page frame, never producing more than ``expected + 1`` bytes."""
    if not payload:
        raise _err(p, "payload is missing (file truncated after the metadata)")
    chunks: list[bytes] = []
    total = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(payload) as reader:
            while total <= expected:
                chunk = reader.read(min(1 << 22, expected + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
    except zstandard.ZstdError as e:
        raise _err(p, f"payload does not decompress (corrupt zstd data): {e}") from None
    return b"".join(chunks)


def _check_pages(pages: bytes | bytearray | memoryview, path: Path | str,
                 page_size: int = PAGE_SIZE) -> None:
    if len(pages) == 0:
        raise _err(path, "refusing to write an empty dump (no pages)")
    problem = page_size_error(page_size)
    if problem is not None:
        raise _err(path, problem)
    if len(pages) % page_size:
        raise _err(path, f"page data size {len(pages)} is not a multiple of {page_size}")


def write_raw(path: str | os.PathLike[str], pages: bytes | bytearray | memoryview) -> None:
    """Write pages back to back (the raw format), atomically, mode 0600."""
    p = Path(path)
    _check_pages(pages, p)
    safeio.write_atomic(p, [pages], safeio.PRIVATE, DumpError)


def build_meta(pages: bytes | bytearray | memoryview, meta: dict[str, Any],
               page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """The metadata :func:`write_dump` stores: ``meta`` plus the computed fields."""
    n = len(pages) // page_size
    out: dict[str, Any] = {
        "format": "zbench",
        "version": FORMAT_VERSION,
        "page_size": page_size,
        "n_pages": n,
        "sha256": sha256_hex(pages),
    }
    host = host_meta()
    for key, value in meta.items():
        if key not in out:
            out[key] = value
    for key, value in host.items():
        out.setdefault(key, value)
    out.setdefault("page_runs", [[UNKNOWN, UNKNOWN, 0, n]])
    return out


def zstd_level(n_bytes: int) -> int:
    """Level 19 for small dumps (the shipped one), faster levels for big captures."""
    return next((level for limit, level in ZSTD_LEVELS if n_bytes <= limit), 3)


def write_dump(
    path: str | os.PathLike[str],
    pages: bytes | bytearray | memoryview,
    meta: dict[str, Any],
    level: int | None = None,
    page_size: int = PAGE_SIZE,
) -> None:
    """Write a zbench dump (magic, JSON metadata, zstd pages), atomically, mode 0600.

    ``format``, ``version``, ``page_size`` (the pages' size: the capturing kernel's
    PAGE_SIZE), ``n_pages`` and ``sha256`` are computed here; ``kernel``, ``thp`` and
    ``tools`` default to this machine's.  ``page_runs`` (default: all ``unknown``) must
    cover every page.  ``level``: zstd level, by default :func:`zstd_level` of the size.
    """
    p = Path(path)
    _check_pages(pages, p, page_size)
    full = build_meta(pages, meta, page_size)
    _check_runs(p, full["page_runs"], full["n_pages"])
    try:
        meta_bytes = json.dumps(full, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise _err(p, f"metadata is not JSON-serialisable: {e}") from None
    level = zstd_level(len(pages)) if level is None else level
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
    payload = cctx.compress(bytes(pages))
    safeio.write_atomic(p, [MAGIC, _LEN.pack(len(meta_bytes)), meta_bytes, payload],
                        safeio.PRIVATE, DumpError)


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], to: str) -> Dump:
    """Convert a dump to ``raw`` or ``zbench``; returns the loaded source."""
    d = load_dump(src)
    if to == "raw":
        write_raw(dst, d.data)
    elif to == "zbench":
        meta = {k: v for k, v in d.meta.items() if k not in ("format",)}
        if d.format == "raw":
            meta["converted_from"] = {"format": "raw", "file": Path(src).name}
            meta["kernel"] = meta["thp"] = UNKNOWN  # not known for a raw file
        write_dump(dst, d.data, meta, page_size=d.page_size)
    else:
        raise DumpError(f"{dst}: unknown dump format {to!r} (use raw or zbench)")
    return d


def default_dump_path() -> Path:
    """The dump shipped with zbench: ``dumps/default.zbdump`` of the checkout, else of the
    installed data (:func:`zbench.input.data.default_dump`), from whatever folder zbench runs in."""
    from zbench.input.data import default_dump

    return default_dump()
