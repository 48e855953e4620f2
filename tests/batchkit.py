"""Helpers the batch tests share (tests/test_zs_native.py, tests/test_zswap_native.py)."""

from __future__ import annotations

from zbench.api import sized


def batch_of(ops: list[tuple[int, int, int, int]]) -> sized.SizedBatch:
    """A sizes-only batch of ``(kind, offset, size, fill code)`` operations; each phase is
    labelled ``p<index>``."""
    b = sized.SizedBatch()
    for i, (kind, off, size, code) in enumerate(ops):
        b.kinds.append(kind)  # type: ignore[attr-defined]
        b.offsets.append(off)  # type: ignore[attr-defined]
        b.sizes.append(size)  # type: ignore[attr-defined]
        b.fill.append(code)  # type: ignore[attr-defined]
        if kind == sized.PHASE:
            b.labels[i] = f"p{i}"
    return b
