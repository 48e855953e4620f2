"""Wall-time targets of the timing and reporting tools, measured, not asserted.

    python benchmarks/timing_targets.py [--json]

Runs each command once from the repository root and prints its wall time next to
its target; the last measurement is recorded in benchmarks/timing.md.  Nothing
here is a test: speed never fails the test suite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="zbench-targets-"))
    try:
        z = shutil.which("zbench") or "zbench"
        rows = [
            ("zbench run suites/default.yaml (with timing)", 60.0,
             _time([z, "run", "suites/default.yaml", "--out", str(tmp / "d")])),
            ("zbench run suites/default.yaml --no-timing", 30.0,
             _time([z, "run", "suites/default.yaml", "--no-timing", "--out", str(tmp / "n")])),
            ("zbench run suites/quick.yaml", 10.0,
             _time([z, "run", "suites/quick.yaml", "--out", str(tmp / "q")])),
            ("zbench report <default run> --html", 10.0,
             _time([z, "report", str(tmp / "d"), "--html"])),
            ("zbench compare <default run> <default run>", 5.0,
             _time([z, "compare", str(tmp / "d"), str(tmp / "d")])),
        ]
        timing = json.loads((tmp / "d" / "results.json").read_text())["timing"]
        per_case = [t["elapsed_s"] for t in timing if "elapsed_s" in t]
        rows.append(("one timing case of the default suite (mean)", 5.0,
                     sum(per_case) / len(per_case)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "--json" in sys.argv:
        print(json.dumps([{"what": w, "target_s": t, "measured_s": round(m, 2)}
                          for w, t, m in rows], indent=2))
        return
    for what, target, measured in rows:
        verdict = "ok" if measured <= target else "MISSED"
        print(f"{what:50s} {measured:7.2f} s  (target <= {target:.0f} s)  {verdict}")


if __name__ == "__main__":
    main()
