"""benchmarks/soak.py: a small soak passes, corruption is caught, bad arguments are refused."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from zbench import get_plugin_class, hookimpl
from zbench.api.registry import get_registry

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "soak.py"


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zbench_benchmarks_soak", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_small_soak_of_every_model_passes(tmp_path: Path, soak: ModuleType) -> None:
    out = tmp_path / "soak.json"
    p = run_script("--ops", "3000", "--compact-every", "500", "--migrate-every", "600",
                   "--json", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads(out.read_text())
    assert doc["mismatches"] == 0 and doc["failed"] == []
    assert [m["label"] for m in doc["models"]] == list(soak.MODELS)
    for m in doc["models"]:
        assert m["ops"] == 3000 and not m["error"]
        assert m["stores"] + m["loads"] + m["invalidates"] == 3000
        assert m["compactions"] == 6
        assert m["experiments"] == {"evacuate": 2, "migrate": 1, "load": 1, "reclaim": 1}
        # every load, plus every live page after each compaction and experiment
        assert m["loads_verified"] > m["loads"]
        assert m["migrations_tried"] > 0
    by = {m["label"]: m for m in doc["models"]}
    assert by["zsmalloc-6.18/zram"]["migrations"] > 0  # zs_page_migrate moved pages
    assert by["zbud-6.1/zswap"]["migrations"] == 0  # zbud pages never move
    assert by["aspace-one/zswap-aspace"]["reclaim_written_back"] > 0  # reclaim experiment
    assert sorted(p.name for p in tmp_path.iterdir()) == ["soak.json"]


def _flipping(base: type, after: int) -> type:
    """``base`` with one byte of the ``after``-th object written flipped in its frames."""

    class Flipping(base):  # type: ignore[misc, valid-type]
        name = "flip-zsmalloc"
        writes = 0

        def write(self, handle: int, data: bytes) -> None:
            Flipping.writes += 1
            if Flipping.writes == after:
                data = data[:-1] + bytes([data[-1] ^ 0x5A])
            super().write(handle, data)

    return Flipping


def _register_flipping(after: int) -> None:
    cls = _flipping(get_plugin_class("allocator", "zsmalloc"), after)

    class Plugin:
        @hookimpl
        def register_allocators(self, register: Callable[[type], None]) -> None:
            register(cls)

    rec = get_registry().register_plugin(Plugin(), "flip")
    assert rec.status == "ok", rec.error


def test_soak_detects_a_flipped_byte(tmp_path: Path, soak: ModuleType,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _register_flipping(after=300)
    model = soak.Model("flip-zsmalloc/zram", {"name": "flip-zsmalloc"}, {"name": "zram"},
                       {"name": "lz4"})
    monkeypatch.setattr(soak, "MODELS", {model.label: model})
    out = tmp_path / "soak.json"
    rc = soak.main(["--ops", "3000", "--compact-every", "200", "--seed", "7",
                    "--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback" not in err
    assert "flip-zsmalloc/zram: mismatch at op " in err and "seed 7" in err
    doc = json.loads(out.read_text())
    assert doc["mismatches"] == 1 and doc["failed"] == ["flip-zsmalloc/zram"]
    (m,) = doc["models"]
    assert m["mismatches"] == 1
    # found at the next check of every live page at the latest: the next compaction
    assert 300 <= m["ops"] < 3000
    assert f"data op {m['ops']}" in m["error"]


def test_an_unflipped_wrapper_passes(soak: ModuleType) -> None:
    _register_flipping(after=10**9)  # the same wrapper, never flipping: no false alarm
    model = soak.Model("flip-zsmalloc/zram", {"name": "flip-zsmalloc"}, {"name": "zram"},
                       {"name": "lz4"})
    r = soak.run_model(model, 3000, 7, {"compact_every": 200}, progress=False)
    assert (r.mismatches, r.error, r.ops) == (0, "", 3000)


@pytest.mark.parametrize("args, field", [
    (["--models", "slab"], "--models: unknown model 'slab'"),
    (["--ops", "0"], "--ops"),
    (["--ops", "many"], "--ops"),
    (["--seed", "x"], "--seed"),
    (["--json", "."], "--json"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, args: list[str], field: str) -> None:
    if args[-1] != ".":
        args = [*args, "--json", str(tmp_path / "soak.json")]
    p = run_script(*args, cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("soak: error: ") and field in lines[0]
    assert "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []  # no output file, nothing left over


def test_help(tmp_path: Path) -> None:
    p = run_script("--help", cwd=tmp_path)
    assert p.returncode == 0 and "--migrate-every" in p.stdout and "zsmalloc-6.18/zram" in p.stdout


@pytest.mark.parametrize("kind, mismatches", [("verify", 1), ("invariant", 0), ("timeout", 0)])
def test_a_case_recorded_as_failed_fails_the_soak(soak: ModuleType,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  kind: str, mismatches: int) -> None:
    def run_suite(data: dict, where: str = "suite", *, quiet: bool = False) -> dict:
        return {"cases": [{"failed": {"kind": kind, "reason": "offset 3 differs"}}]}

    monkeypatch.setattr(soak.zbench, "run_suite", run_suite)
    r = soak.run_model(soak.MODELS["zbud-6.1/zswap"], 100, 3, progress=False)
    assert r.failed and r.mismatches == mismatches
    assert "seed 3" in r.error and "offset 3 differs" in r.error
    assert ("mismatch at op" in r.error) == (kind == "verify")
