"""The data path end to end: suite → cases → results, with verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from zbench_tiny import PagePerObject

from zbench import VerifyError, hookimpl
from zbench.api.registry import Registry, reset_registry
from zbench.input.compcache import cache_dir
from zbench.run.runner import Narrowing, expand, narrow, run_suite
from zbench.run.suite import parse_suite


class Corrupting(PagePerObject):
    """Returns one wrong byte on every read: what verify exists to catch."""

    name = "corrupting"

    def read(self, handle: int) -> bytes:
        data = bytearray(super().read(handle))
        data[0] ^= 0xFF
        return bytes(data)


class _Local:
    @hookimpl
    def register_allocators(self, register):  # noqa: ANN001
        register(PagePerObject)
        register(Corrupting)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.load_entry_points()
    reg.register_plugin(_Local(), "local")
    return reg


def _suite(dump: Path, allocator: str, **extra: object) -> dict:
    return {"name": "t", "seed": 3, "dumps": [str(dump)], "compressors": ["lz4"],
            "allocators": [allocator], "workloads": ["fill", "churn"], **extra}


def _run(registry: Registry, data: dict) -> dict:
    suite = parse_suite(data, "t.yaml")
    return run_suite(suite, expand(suite, Path("."), "t.yaml", registry), registry,
                     report=lambda _m: None)


def test_results_record_cases_metrics_and_environment(registry: Registry,
                                                       raw_dump: Path) -> None:
    res = _run(registry, _suite(raw_dump, "tiny", verify=True))
    assert res["schema"] == "zbench.results" and res["version"] == 1
    env = res["environment"]
    assert env["zbench_version"] and env["python"] and env["kernel"]
    assert any(p["name"] == "local" for p in env["plugins"])
    fill, churn = res["cases"]
    assert fill["workload"]["name"] == "fill" and churn["workload"]["name"] == "churn"
    assert fill["dump"]["pages"] == 256 and len(fill["dump"]["sha256"]) == 64
    assert "lz4" in fill["compressor"]["library"]
    m = fill["metrics"]
    assert m["stored_pages"] == 256
    assert m["verified_loads"] == 256
    assert m["pool_pages"] == 256 - m["same_filled_pages"]
    assert m["frames_allocated"] - m["frames_freed"] == m["pool_pages"]
    assert m["external_fragmentation_bytes"] == 0  # a page per slot, slot = page
    assert m["internal_fragmentation_bytes"] == m["pool_pages"] * 4096 - m["object_bytes"]
    assert [p["label"] for p in churn["phases"]] == ["fill", "churn", "compact"]
    assert churn["metrics"]["verified_loads"] > churn["metrics"]["stored_pages"]


def test_same_seed_same_results_other_seed_differs(registry: Registry, raw_dump: Path) -> None:
    a = _run(registry, _suite(raw_dump, "tiny"))["cases"][1]["metrics"]
    b = _run(registry, _suite(raw_dump, "tiny"))["cases"][1]["metrics"]
    c = _run(registry, {**_suite(raw_dump, "tiny"), "seed": 4})["cases"][1]["metrics"]
    assert a == b
    assert a != c


def test_verify_catches_a_wrong_byte(registry: Registry, raw_dump: Path) -> None:
    with pytest.raises(VerifyError, match="returned different bytes|load of offset .* failed"):
        _run(registry, _suite(raw_dump, "corrupting", verify=True))
    # without verify nothing reads the pages back at the end of a fill
    _run(registry, {**_suite(raw_dump, "corrupting"), "workloads": ["fill"]})


def test_verify_failure_exits_1_on_the_cli(registry: Registry, raw_dump: Path,
                                           tmp_path: Path) -> None:
    from zbench.cli.app import cli

    reset_registry(registry)
    res = CliRunner().invoke(cli, ["run", "--dump", str(raw_dump), "--allocator", "corrupting",
                                   "--verify", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "VERIFY FAILED" in res.stderr and "Traceback" not in res.stderr
    # the failure is recorded beside the other cases, never lost with them
    cases = json.loads((tmp_path / "o" / "results.json").read_text())["cases"]
    assert [c["failed"]["kind"] for c in cases] == ["verify"]
    assert "metrics" not in cases[0]


def test_compressed_pages_are_cached_and_rebuilt_when_damaged(
        registry: Registry, raw_dump: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path / "cache"))
    first = _run(registry, _suite(raw_dump, "tiny"))
    files = list((cache_dir() / "compressed").glob("*.bin"))
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:-10])  # damage it
    second = _run(registry, _suite(raw_dump, "tiny"))
    assert second["cases"][0]["metrics"] == first["cases"][0]["metrics"]
    assert files[0].stat().st_size > 0


def test_narrowing_and_set(registry: Registry, raw_dump: Path) -> None:
    suite = parse_suite({**_suite(raw_dump, "tiny"), "compressors": ["lz4", "zstd"]}, "t.yaml")
    n = Narrowing(names={"compressor": ["zstd"], "workload": ["fill"]},
                  sets={"zstd": {"level": "1"}})
    s = narrow(suite, "t.yaml", n, registry)
    plan = expand(s, Path("."), "t.yaml", registry)
    assert len(plan.cases) == 1
    assert plan.cases[0].compressor.options.level == 1  # type: ignore[attr-defined]


def test_cli_json_and_files(registry: Registry, raw_dump: Path, tmp_path: Path) -> None:
    from zbench.cli.app import cli

    reset_registry(registry)
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", "--dump", str(raw_dump), "--allocator", "tiny",
                                   "--json", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    printed = json.loads(res.stdout)
    assert printed == json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    assert "## Fragmentation" in report and "tiny" in report and "`pool_pages`" in report
    assert "[1/1]" in res.stderr  # progress on stderr
