"""The worker process of a run: ``python -m zbench.run.worker`` (started by
:class:`zbench.run.watchdog.WorkerPool`): one JSON case description per line in, one JSON
outcome per line out, on the pipe the pool gave it."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys

from zbench.run.executors import compute_safely
from zbench.run.watchdog import PARENT_ENV, die_with_parent


def _serve() -> None:
    """The worker's loop: a description in, an outcome out, until stdin closes."""
    die_with_parent()
    if os.environ.get(PARENT_ENV) != str(os.getppid()):
        os._exit(1)  # the run died before the kernel could be asked to kill us
    out = os.fdopen(int(os.environ["ZBENCH_WORKER_FD"]), "wb", buffering=0)
    os.dup2(2, 1)  # a plugin's prints go to stderr, never into the answers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run decides; it kills us
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        res = compute_safely(json.loads(line))
        out.write(json.dumps(res).encode() + b"\n")
        # what outlived the case's release (zbench.run.memory) is the worker's own
        # state (modules, plugins, the dump and its compressed pages): frozen out of
        # the next case's collections, which then cost what that case left
        gc.freeze()


if __name__ == "__main__":
    _serve()
