"""Same-filled page detection (``page_same_filled`` in zram and zswap)."""

from __future__ import annotations


def same_filled_word(page: bytes) -> int | None:
    """If every 8-byte word of ``page`` is equal, return that word, else ``None``.

    This is the kernel's check (``unsigned long`` words, 64-bit); a zero page
    returns 0.
    """
    first = page[:8]
    # the kernel compares word by word and stops at the first difference (almost every
    # page differs in its second or last word): the same answer, without building a
    # page-sized pattern for those
    if len(page) >= 16 and (page[8:16] != first or page[-8:] != first):
        return None
    if page == first * (len(page) // 8):
        return int.from_bytes(first, "little")
    return None
