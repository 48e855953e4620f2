from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES / "zbench-tiny"))  # the example plugin's module, for unit tests


def make_pages(n: int, seed: int = 0) -> bytes:
    """Generated pages of mixed compressibility: text-like, numeric, random, zero."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnop") for _ in range(rng.randint(2, 9)))
             for _ in range(64)]
    out = bytearray()
    for i in range(n):
        kind = i % 7
        if kind == 6:
            page = rng.randbytes(4096)
        elif kind == 5:
            page = b"".join(rng.getrandbits(20).to_bytes(8, "little") for _ in range(512))
        elif kind == 4 and i % 3 == 0:
            page = bytes(4096)
        else:
            chunks = []
            while sum(map(len, chunks)) < 4096:
                chunks.append(rng.choice(words) + b" ")
                if rng.random() < 0.1 * (kind + 1):
                    chunks.append(rng.randbytes(rng.randint(1, 24)))
            page = b"".join(chunks)[:4096]
        out += page
    return bytes(out)


# UML kernels take minutes to build: the tests use the ones built outside them (the
# environment's cache, as `zbench kernel build` left it), while every other cache is
# a fresh one per test session
os.environ.setdefault("ZBENCH_UML_KERNELS", str(
    Path(os.environ.get("ZBENCH_CACHE") or Path.home() / ".cache" / "zbench") / "uml" / "kernels"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "zbench-cache"))
    from zbench.api import registry as plugins

    plugins.reset_registry()
    yield
    plugins.reset_registry()


@pytest.fixture
def raw_dump(tmp_path: Path) -> Path:
    p = tmp_path / "small.pages"
    p.write_bytes(make_pages(256))
    return p
