"""The repository stands on its own: no file cites a document outside it (the reference
notes the project was started from) or an internal issue number; it cites the kernel
(file, function, commit, lore) and its own docs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = {".py", ".md", ".yaml", ".yml", ".toml", ".c", ".h", ".sh", ".tmpl", ".txt", ".cfg"}
# built from parts, so this file does not cite them itself
NOTES = ["kernel-" + "allocators", "page-" + "dumps.md", "peers-" + "ecosystem", "house-" + "style"]
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", r"\bshared/" + "reference",
                               *map(re.escape, NOTES)]))
ISSUE = re.compile(r"\b(?:[Ii]ssue|[Tt]ask)s?\s+#?\d+\b")


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True,
                             text=True, check=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [ROOT / f for f in out
            if (Path(f).suffix in TEXT or f == ".ci/run") and (ROOT / f).is_file()]


def offending(text: str) -> list[str]:
    return [m.group(0) for rx in (OUTSIDE, ISSUE) for m in rx.finditer(text)]


def test_no_file_cites_outside_documents_or_issue_numbers() -> None:
    bad = [f"{p.relative_to(ROOT)}: {hit}" for p in _tracked()
           for hit in offending(p.read_text(encoding="utf-8", errors="replace"))]
    assert bad == []


def test_the_check_finds_citations() -> None:
    up, issue = "../" + "shared", "iss" + "ue 12"
    assert offending(f"see {up}/{'reference'}/x.md and {issue}") == [up, issue]
    tasks = "tasks " + "#4"
    assert offending("as " + NOTES[0] + ".md §3 says; " + tasks) == [NOTES[0], tasks]
    assert offending("mm/zsmalloc.c, commit 1234abcd; the issue of size classes") == []
