"""Speed of the allocator models on their own: 100 000 random mallocs + writes into each
model's pool (zbud also frees every other object), measured, not asserted.

    python benchmarks/model_fill.py [--json]

The unit tests run the same fills for their pool accounting (tests/test_*_pool.py,
tests/test_z3fold_placement.py); the target, 10 s per model on the 2-core development
machine, lives here because speed never fails the test suite.
"""

from __future__ import annotations

import json
import random
import sys
import time

import zbench

TARGET_S = 10.0
N = 100_000
#: (allocator, kernel version, largest object, free every other object afterwards)
MODELS = [("zsmalloc", "6.18", 4096, False), ("zbud", "6.4", 3968, True),
          ("z3fold", "6.14", 4096, False)]


def fill(name: str, kernel: str, largest: int, free_half: bool) -> float:
    cls = zbench.get_plugin_class("allocator", name)
    pool = cls(cls.Options(kernel=kernel), zbench.PageFrames())
    rng = random.Random(0)
    chunk = rng.randbytes(zbench.PAGE_SIZE)
    t0 = time.perf_counter()
    handles = []
    for _ in range(N):
        n = rng.randint(1, largest)
        h = pool.malloc(n)
        pool.write(h, chunk[:n])
        handles.append(h)
    if free_half:
        for h in handles[::2]:
            pool.free(h)
    return time.perf_counter() - t0


def main() -> None:
    rows = [(f"{name} {kernel}: {N:,} mallocs + writes" + (", half freed" if half else ""),
             fill(name, kernel, largest, half)) for name, kernel, largest, half in MODELS]
    if "--json" in sys.argv[1:]:
        print(json.dumps([{"what": w, "target_s": TARGET_S, "seconds": round(s, 2)}
                          for w, s in rows], indent=1))
        return
    for what, s in rows:
        print(f"{what:<48} {s:6.2f} s  (target ≤ {TARGET_S:g} s: "
              f"{'met' if s <= TARGET_S else 'MISSED'})")


if __name__ == "__main__":
    main()
