"""An inner pytest run over a generated test file, for tests of the contract suites:
which of its tests failed, and how."""

from __future__ import annotations

import pytest


def outcomes(pytester: pytest.Pytester, memo: dict[str, str], module: str, source: str,
             *args: str) -> dict[str, str]:
    """Fill ``memo`` (once) with ``Class::test -> failure text`` ("" = passed or skipped)
    of one inner pytest run of ``source`` as ``module``, and return it."""
    if not memo:
        pytester.makepyfile(**{module: source})
        rec = pytester.inline_run("-q", *args)
        for r in rec.getreports("pytest_runtest_logreport"):
            if r.when == "call" or (r.when == "setup" and not r.passed):
                memo[r.nodeid.split("::", 1)[1]] = (
                    "" if r.passed or r.skipped else r.longreprtext)
        assert memo, "the inner pytest run collected nothing"
    return memo


def of_class(memo: dict[str, str], cls: str) -> dict[str, str]:
    """Test name -> failure text for the tests of class ``cls``."""
    return {k.split("::")[1]: v for k, v in memo.items() if k.startswith(cls + "::")}


def failed(out: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in out.items() if v}
