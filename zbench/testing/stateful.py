"""Random malloc / free / read / compact / bad-size sequences (hypothesis), every rule
checked after every step; a failure shows the shortest sequence that breaks it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from zbench import AllocationError
from zbench.testing.checker import PoolChecker


def run_machine(make: Callable[[], PoolChecker], examples: int, steps: int,
                shrink: bool = True) -> None:
    """Run the contract's state machine against pools made by ``make``."""
    if os.environ.get("ZBENCH_HYPOTHESIS_PROFILE") == "long":
        examples, steps = examples * 20, steps * 3
    top = make().alloc.max_size()
    sizes = st.one_of(st.integers(1, min(top, 128)), st.integers(1, top),
                      st.sampled_from(sorted({1, top // 2, top})))

    class AllocatorMachine(RuleBasedStateMachine):
        objects = Bundle("objects")
        c: PoolChecker
        broken = False

        @contextmanager
        def step(self) -> Iterator[PoolChecker]:
            # a failed step leaves the pool as it is: teardown must not pile on
            try:
                yield self.c
            except BaseException:
                self.broken = True
                raise

        @initialize()
        def setup(self) -> None:
            self.c = make()

        @rule(target=objects, size=sizes)
        def store(self, size: int) -> int:
            with self.step() as c:
                return c.store(size)

        @rule(handle=consumes(objects))
        def free(self, handle: int) -> None:
            with self.step() as c:
                c.free(handle)

        @rule(handle=objects)
        def read(self, handle: int) -> None:
            with self.step() as c:
                c.verify(handle, "on a random read")

        @rule()
        def compact(self) -> None:
            with self.step() as c:
                c.compact()
                c.verify_all("after compact()")

        @rule(bad=st.sampled_from([0, -1, top + 1, top + 4096]))
        def refuse(self, bad: int) -> None:
            with self.step() as c:
                before = c.snapshot()
                try:
                    c.alloc.malloc(bad)
                except AllocationError:
                    pass
                else:
                    raise c.fail("bad-sizes-refused", f"malloc({bad}) returned a handle")
                if c.snapshot() != before:
                    raise c.fail("bad-sizes-refused", f"the refused malloc({bad}) changed the "
                                                      f"pool: {before} -> {c.snapshot()}")

        @invariant()
        def stats_add_up(self) -> None:
            if hasattr(self, "c"):
                with self.step() as c:
                    c.check_stats(f"after step {c.stored + c.freed} of a random sequence")

        def teardown(self) -> None:
            if hasattr(self, "c") and not self.broken:
                self.c.verify_all("at the end of a random sequence")
                self.c.free_all()
                self.c.check_empty("after a random sequence freed everything")

    phases = [p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain)]
    run_state_machine_as_test(AllocatorMachine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
