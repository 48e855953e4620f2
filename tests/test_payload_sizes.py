"""The sizes-only path (``payload: sizes``) gives exactly the byte-storing path's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zbench_compressors import Lz4

from zbench.run.runner import run_suite_data

ROOT = Path(__file__).resolve().parent.parent
DUMP = str(ROOT / "dumps" / "default.zbdump")
WORKLOADS: list[dict[str, Any]] = [
    {"name": "fill", "options": {"zero_filled_pct": 5, "same_filled_pct": 1}},
    {"name": "churn", "options": {"zero_filled_pct": 10, "steps": 3000}},
    {"name": "zipf", "options": {"resident_pct": 50, "write_pct": 30}},
    {"name": "pressure", "options": {"rounds": 3}},
    {"name": "migrate", "options": {"resident_pct": 200, "free_pageblocks": 1, "churn_pct": 30,
                                    "mapped_pct": 10, "reclaim_pct": 25}},
]


def _run(payload: str, frontend: dict[str, Any], allocators: list[str],
         tmp: Path) -> dict[str, Any]:
    wls = [{**w, "options": {**w["options"], "scale_pages": 3000, "payload": payload}}
           for w in WORKLOADS]
    data = {"name": f"payload-{payload}", "seed": 3, "dumps": [DUMP], "compressors": ["lz4"],
            "frontends": [frontend], "allocators": allocators, "workloads": wls}
    res = run_suite_data(data, base=tmp, report=lambda _m: None)
    out = {}
    for c in res["cases"]:
        assert "metrics" in c, c
        out[c["id"]] = {k: c.get(k) for k in ("metrics", "phases", "classes")}
        out[c["id"]]["migration"] = {k: v for k, v in (c.get("migration") or {}).items()
                                     if not k.endswith("_ms")}  # wall times differ
    return out


@pytest.mark.parametrize("frontend,allocators", [
    ({"name": "zswap", "options": {"kernel": "6.6", "ram_mb": 16}},
     ["zbud", "z3fold", "zsmalloc"]),
    ({"name": "zram", "options": {"kernel": "6.6"}}, ["zsmalloc"]),
])
@pytest.mark.slow
def test_sizes_only_matches_bytes(frontend: dict[str, Any], allocators: list[str],
                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_bytes = _run("bytes", frontend, allocators, tmp_path)

    def no_decompress(self: object, data: bytes, size: int) -> bytes:
        raise AssertionError("the sizes-only path decompressed a page")

    monkeypatch.setattr(Lz4, "decompress", no_decompress)
    sizes = _run("sizes", frontend, allocators, tmp_path)
    assert len(with_bytes) == len(WORKLOADS) * len(allocators)
    assert sizes == with_bytes


def test_size_frames_keep_words_not_bytes() -> None:
    from zbench.api.frames import PageFrames
    from zbench.sim.sizeframes import SizeFrames

    for frames in (PageFrames(), SizeFrames()):
        a, b = frames.alloc(), frames.alloc()
        frames.put_u64(a, 16, 7)
        frames.put_u64(a, 4088, 9)
        frames.write(a, 24, b"payload")
        frames.copy(a, 0, b, 0, 4096)
        assert (frames.get_u64(b, 16), frames.get_u64(b, 4088), frames.get_u64(b, 0)) == (7, 9, 0)
        frames.copy(a, 4088, b, 8, 8)  # only the copied range changes
        assert (frames.get_u64(b, 8), frames.get_u64(b, 16)) == (9, 7)
        page = frames.page(b)  # the raw frame holds the words, on either kind
        assert int.from_bytes(page[8:16], "little") == 9
        frames.put_u64(b, 32, 5)
        assert frames.get_u64(b, 32) == 5 and page[32] == 5
    assert isinstance(SizeFrames()._new_frame(), dict)


def test_verify_takes_the_byte_path(tmp_path: Path) -> None:
    data = {"name": "v", "seed": 1, "verify": True, "dumps": [DUMP], "compressors": ["lz4"],
            "frontends": [{"name": "zram"}], "allocators": ["zsmalloc"],
            "workloads": [{"name": "churn", "options": {"scale_pages": 500, "payload": "sizes"}}]}
    res = run_suite_data(data, base=tmp_path, report=lambda _m: None)
    assert res["cases"][0]["metrics"]["verified_loads"] > 0
