"""Errors zbench reports to a user.

A :class:`UserError` is bad input (a suite, a dump, an option, a flag): the CLI
prints its one-line message and exits 2, with no traceback.  Everything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class ZbenchError(Exception):
    """Base class of every error zbench raises on purpose."""


class UserError(ZbenchError):
    """Bad input: printed as one line, exit code 2."""

    exit_code = 2


class OptionsError(UserError):
    """A plugin option is unknown or ill-typed; the message names the YAML path."""


class PluginError(UserError):
    """A plugin is missing, broken, or provided twice."""


class DumpError(UserError):
    """A page dump is missing, unreadable, truncated or malformed."""


class CaseSkipped(ZbenchError):
    """A case cannot run here (no root, no zram, an algorithm the kernel lacks);
    the message, one line, is the reason shown in the results."""


class AllocationError(ZbenchError):
    """An allocator refused a request.

    ``code`` is the errno the kernel function returned: ``"ENOSPC"`` (the object
    can never fit: zbud's 3968-byte limit, z3fold's page size; zswap counts it in
    ``reject_compress_poor``), ``"EINVAL"`` or ``"ENOMEM"`` (zswap counts those in
    ``reject_alloc_fail``)."""

    def __init__(self, message: str, code: str = "ENOSPC") -> None:
        super().__init__(message)
        self.code = code


class VerifyError(ZbenchError):
    """A load did not return exactly what was stored: data integrity is broken."""

    exit_code = 1
