"""``same_filled_word``: the kernel's ``page_same_filled`` on every page size, including the
early rejections on the second and last word (which must not change any answer)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zbench import PAGE_SIZES, same_filled_word


def _reference(page: bytes) -> int | None:
    words = {page[i:i + 8] for i in range(0, len(page), 8)}
    return int.from_bytes(words.pop(), "little") if len(words) == 1 else None


@given(st.sampled_from(PAGE_SIZES), st.binary(min_size=8, max_size=8),
       st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 255)), max_size=3))
def test_same_filled_word_equals_a_word_by_word_check(size: int, word: bytes,
                                                      pokes: list[tuple[int, int]]) -> None:
    page = bytearray(word * (size // 8))
    for at, value in pokes:
        page[at % size] = value
    assert same_filled_word(bytes(page)) == _reference(bytes(page))


def test_a_difference_in_the_last_or_a_middle_word_only_is_seen() -> None:
    for at in (8, 2048, 4095):
        page = bytearray(4096)
        page[at] = 1
        assert same_filled_word(bytes(page)) is None
    assert same_filled_word(b"\xab" * 16384) == int.from_bytes(b"\xab" * 8, "little")
