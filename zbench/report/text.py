"""Text that fits a terminal: byte widths and wrapping for the tables and the verdict."""

from __future__ import annotations

import html
import textwrap
from typing import Any

#: The terminal width every table and note is fitted to (``--wide``: unlimited).
WIDTH = 120


def blen(value: Any) -> int:
    """Length in UTF-8 bytes, an upper bound of the columns a cell takes (µ, ±, — are
    one column but two or three bytes): what ``awk '{print length}'`` counts in C locales."""
    return len(str(value).encode())


def wrap(text: str, width: int | None = WIDTH, indent_more: str = "  ") -> str:
    """Lines longer than ``width`` (in bytes, :func:`blen`) wrapped, their indentation kept."""
    if width is None:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if blen(line) <= width:
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        for w in range(width, width // 2, -1):
            lines = textwrap.wrap(line, w, subsequent_indent=indent + indent_more,
                                  break_on_hyphens=False)
            if all(blen(ln) <= width for ln in lines):
                break
        out += lines
    return "\n".join(out)


def prose_html(text: str) -> str:
    """Escaped HTML of a note; `name` becomes <code>name</code>."""
    parts = html.escape(text, quote=False).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def bullets(lines: list[str], fmt: str) -> str:
    """A bullet list: Markdown, or HTML for ``fmt`` ``html`` (``lines`` are prose with
    `backticks`)."""
    if fmt != "html":
        return "\n".join(f"- {line}" for line in lines)
    return "<ul>" + "".join(f"<li>{prose_html(line)}</li>" for line in lines) + "</ul>"
