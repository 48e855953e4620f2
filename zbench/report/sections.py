"""Reporter plugins' sections, rendered from a results mapping (the terminal, report.md
and the HTML report all ask here)."""

from __future__ import annotations

from typing import Any

from zbench.api.registry import describe_exc, get_registry


def sections(results: dict[str, Any], fmt: str) -> list[tuple[str, str, str]]:
    """``(title, table, note)`` of every reporter section the results hold."""
    out = []
    for label, sec in (results.get("reports") or {}).items():
        title = sec.get("title") or label
        if sec.get("error"):
            out.append((title, f"failed: {sec['error']}", ""))
            continue
        try:
            cls = get_registry().get("reporter", sec["reporter"])
        except Exception as exc:  # the plugin is not installed here
            out.append((title, f"(not rendered: {exc})", ""))
            continue
        try:  # plugin code on a record read back from a file: contained like collect()
            table, note = cls.render(sec["record"], fmt)
        except Exception as exc:  # noqa: BLE001
            out.append((title, f"(not rendered: {describe_exc(exc)})", ""))
            continue
        out.append((title, table, note))
    return out
