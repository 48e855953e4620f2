"""Kernel version strings as plugin options (``"6.8"``, ``"4.17"``, ``"6.10"``)."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

_RE = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})(?:\.\d+)?(?:[-+~].*)?\s*$")
#: the last minor of each major Linux release line (2.6.x was the last 2.x line; 3.19,
#: 4.20 and 5.19 ended theirs); 6.x and 7.x are open, bounded by a sensible minor
LAST_MINOR = {2: 6, 3: 19, 4: 20, 5: 19, 6: 29, 7: 29}
RANGES = "2.0-2.6, 3.0-3.19, 4.0-4.20, 5.0-5.19, 6.0-6.29, 7.0-7.29"


@total_ordering
class KernelVersion:
    """A major.minor kernel version, ordered numerically (6.10 > 6.9)."""

    __slots__ = ("major", "minor")

    def __init__(self, text: str) -> None:
        m = _RE.match(str(text))
        if not m:
            raise ValueError(f"not a kernel version: {text!r} (expected MAJOR.MINOR, e.g. '6.8')")
        self.major, self.minor = int(m.group(1)), int(m.group(2))
        if self.minor > LAST_MINOR.get(self.major, -1):
            raise ValueError(f"not a Linux kernel version: {text!r} (Linux releases are "
                             f"{RANGES})")

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
            if isinstance(value, bool) or not isinstance(value, str | float):
                raise ValueError(f"kernel version {value!r}: expected a string such as '6.8'")
            if isinstance(value, float):
                raise ValueError(
                    f"kernel version {value!r} was read as a number; quote it (e.g. '6.10')"
                )
            return cls(str(value))

        return core_schema.no_info_plain_validator_function(
            parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )
