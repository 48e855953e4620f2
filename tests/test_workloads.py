"""zipf, pressure and replay."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import lz4.block
import pytest
from conftest import make_pages
from zbench_workloads import Pressure, Zipf
from zbench_workloads.replay import parse_trace

from zbench import OpKind, UserError, load_dump, run_suite


def test_zipf_traffic_is_seeded_consistent_and_skewed() -> None:
    opts = Zipf.Options(resident_pct=25, accesses=6000, write_pct=30)
    ops = list(Zipf(opts, 3).operations(800))
    assert ops == list(Zipf(opts, 3).operations(800))
    held: dict[int, int] = {}  # offset -> page, what the swap device must hold
    loads = Counter()
    for o in ops:
        if o.kind is OpKind.STORE:
            if o.label == "clean":
                assert held.get(o.offset) == o.page  # a clean store names the slot's page
            held[o.offset] = o.page
        elif o.kind is OpKind.LOAD:
            assert held[o.offset] == o.page  # swap-in of what was swapped out there
            loads[o.page] += 1
        elif o.kind is OpKind.INVALIDATE:
            del held[o.offset]
    kinds = Counter(o.kind for o in ops)
    assert kinds[OpKind.LOAD] > 1000 and kinds[OpKind.INVALIDATE] > 100
    # popularity: hot pages stay resident, so far fewer swap-ins than with uniform accesses
    uniform = Zipf.Options(resident_pct=25, accesses=6000, write_pct=30, exponent=0)
    uniform_loads = sum(1 for o in Zipf(uniform, 3).operations(800) if o.kind is OpKind.LOAD)
    assert uniform_loads > 0.65 * 6000  # ~75 % misses with a quarter resident
    assert sum(loads.values()) < 0.6 * uniform_loads


def test_pressure_only_grows_past_the_corpus() -> None:
    ops = list(Pressure(Pressure.Options(rounds=3, free_pct=0, load_pct=0), 1).operations(100))
    stores = [o for o in ops if o.kind is OpKind.STORE]
    assert len(stores) == 300 and len({o.offset for o in stores}) == 300
    assert [o.label for o in ops if o.kind is OpKind.PHASE] == ["round 1", "round 2", "round 3"]


def _dump(tmp_path: Path, n: int = 200) -> Path:
    p = tmp_path / "d.pages"
    p.write_bytes(make_pages(n))
    return p


def test_size_trace_replays_to_the_same_pool_as_the_pages(tmp_path: Path) -> None:
    dump_path = _dump(tmp_path)
    dump = load_dump(dump_path)
    lines = []
    for i in range(dump.n_pages):
        page = dump.page(i)
        if page == page[:8] * 512:
            continue  # same-filled pages never reach the allocator
        size = len(lz4.block.compress(page, store_size=False))
        lines.append(json.dumps({"op": "store", "offset": i, "size": size}))
    trace = tmp_path / "sizes.jsonl"
    trace.write_text("\n".join(lines) + "\n")
    res = run_suite({"dumps": [str(dump_path)], "compressors": ["lz4"], "verify": True,
                     "allocators": ["zsmalloc"],
                     "workloads": ["fill", {"name": "replay", "options": {"trace": str(trace)}}]},
                    quiet=True)
    fill, replay = (c["metrics"] for c in res["cases"])
    assert replay["pool_pages"] == fill["pool_pages"]
    assert replay["huge_pages"] == fill["huge_pages"]
    assert replay["stored_pages"] == fill["stored_pages"] - fill["same_filled_pages"]
    assert replay["verified_loads"] == replay["stored_pages"]


def test_csv_trace_with_pages_and_loads(tmp_path: Path) -> None:
    dump_path = _dump(tmp_path, 20)
    trace = tmp_path / "t.csv"
    trace.write_text("op,offset,page,size\nstore,5,3,\nstore,6,,700\nload,5,,\n"
                     "invalidate,6,,\ncompact,,,\n")
    ops = parse_trace(trace)
    assert [o.kind for o in ops] == [OpKind.STORE, OpKind.STORE, OpKind.LOAD,
                                     OpKind.INVALIDATE, OpKind.COMPACT]
    assert ops[1].size == 700 and ops[0].page == 3
    res = run_suite({"dumps": [str(dump_path)], "compressors": ["lz4"], "verify": True,
                     "allocators": ["zsmalloc"],
                     "workloads": [{"name": "replay", "options": {"trace": str(trace)}}]},
                    quiet=True)
    assert res["cases"][0]["metrics"]["stored_pages"] == 1


@pytest.mark.parametrize("text,match", [
    ('{"op": "stash", "offset": 1}\n', r"t.jsonl:1: op: unknown op 'stash'"),
    ('{"op": "store", "offset": 1}\n', "exactly one of page and size"),
    ('{"op": "store", "offset": 1, "size": 9000}\n', "size: 9000 outside"),
    ('{"op": "load"}\n', "offset: required"),
    ('{"op": "store", "offset": "x", "page": 1}\n', "offset: not an integer"),
    ('{"op": "store", "offset": 1, "page": 1}\nnot json\n', "t.jsonl:2: not JSON"),
])
def test_bad_traces_name_the_line(tmp_path: Path, text: str, match: str) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(text)
    with pytest.raises(UserError, match=match):
        parse_trace(trace)


def test_missing_trace_is_an_option_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"workloads\[0\]\.options.*no such trace file"):
        run_suite({"dumps": [str(_dump(tmp_path, 4))], "compressors": ["lz4"],
                   "allocators": ["zsmalloc"],
                   "workloads": [{"name": "replay", "options": {"trace": "nope.jsonl"}}]},
                  quiet=True)
