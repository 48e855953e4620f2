"""Compression dictionaries, as zram's ``algorithm_params`` takes them (Linux 6.12).

``echo "algo=zstd dict=/path/to/dict level=8" > /sys/block/zramX/algorithm_params``
(``algorithm_params_store`` in drivers/block/zram/zram_drv.c) reads the file into
the device's ``zcomp_params``; the backend then builds its compression state from it
once per device: backend_zstd.c ``zstd_create_cdict_byreference`` /
``zstd_create_ddict_byreference`` (raw content or a trained dictionary: zstd tells them
apart by the dictionary magic), backend_lz4.c ``LZ4_loadDict``.  Here the file is read
with ``zbench.read_bytes``, the same safety as every user-named file zbench reads
(regular files only, a size limit, one-line errors), and remembered by its identity so
each case rebuilt in a worker does not read it again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from zbench import UserError, read_bytes

#: the largest dictionary zbench reads (``zstd --train`` makes 110 KiB by default)
MAX_DICT = 1 << 20


@dataclass(frozen=True)
class Dictionary:
    """A dictionary file's content and its sha256 (what results and caches key on)."""

    data: bytes
    sha256: str


#: the dictionaries last read, by (path, inode, size, mtime, ctime)
_LOADED: dict[tuple[str, int, int, int, int], Dictionary] = {}


def load_dictionary(path: Path) -> Dictionary:
    """The content of the dictionary file ``path``; a UserError (one line, naming the
    file) if it is missing, not a regular file, empty or larger than :data:`MAX_DICT`."""
    try:
        st = os.stat(path)
    except OSError:
        st = None  # read_bytes names the problem
    key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns,
           st.st_ctime_ns) if st is not None else None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    data = read_bytes(path, MAX_DICT, "dictionary file")
    if not data:
        raise UserError(f"{path}: the dictionary file is empty")
    d = Dictionary(data, hashlib.sha256(data).hexdigest())
    if key is not None:
        if len(_LOADED) >= 8:  # a suite names one or two dictionaries
            _LOADED.clear()
        _LOADED[key] = d
    return d
