"""Kernel version strings as plugin options (``"6.8"``, ``"4.17"``, ``"6.10"``)."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.\d+)?(?:[-+~].*)?\s*$")


@total_ordering
class KernelVersion:
    """A major.minor kernel version, ordered numerically (6.10 > 6.9)."""

    __slots__ = ("major", "minor")

    def __init__(self, text: str) -> None:
        m = _RE.match(str(text))
        if not m:
            raise ValueError(f"not a kernel version: {text!r} (expected MAJOR.MINOR, e.g. '6.8')")
        self.major, self.minor = int(m.group(1)), int(m.group(2))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def __repr__(self) -> str:
        return f"KernelVersion('{self}')"

    def _key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = KernelVersion(other)
        return isinstance(other, KernelVersion) and self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            other = KernelVersion(other)
        if not isinstance(other, KernelVersion):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def parse(value: Any) -> KernelVersion:
            if isinstance(value, KernelVersion):
                return value
            if isinstance(value, float):
                raise ValueError(
                    f"kernel version {value!r} was read as a number; quote it (e.g. '6.10')"
                )
            return cls(str(value))

        return core_schema.no_info_plain_validator_function(
            parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )
