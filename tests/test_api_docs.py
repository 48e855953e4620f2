"""docs/api.md documents exactly the public API: one entry per name in ``zbench.__all__``,
each saying its kind and the module that defines it (which must define it)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import zbench

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
#: an entry: its heading, then "Kind: ... From: `module`." (the From may wrap a line)
ENTRY = re.compile(r"^### `(\w+)`\n(Kind: .+?)(?=^### |^## |\Z)", re.M | re.S)
FROM = re.compile(r"From:\s+`([\w.]+)`")


def entries(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in ENTRY.finditer(text):
        assert m.group(1) not in found, f"docs/api.md documents {m.group(1)} twice"
        found[m.group(1)] = m.group(2)
    return found


def test_every_public_name_has_an_entry_and_no_other() -> None:
    documented = set(entries(DOC.read_text(encoding="utf-8")))
    public = set(zbench.__all__)
    assert not public - documented, f"docs/api.md lacks {sorted(public - documented)}"
    assert not documented - public, (
        f"docs/api.md documents names not in zbench.__all__: {sorted(documented - public)}")


def test_every_headed_name_is_a_parsed_entry() -> None:
    text = DOC.read_text(encoding="utf-8")
    headed = set(re.findall(r"^### `(\w+)`", text, re.M))
    assert headed == set(entries(text)), (
        f"entries without a 'Kind:' line: {sorted(headed - set(entries(text)))}")


def test_every_entry_names_the_module_that_defines_it() -> None:
    wrong = []
    for name, body in entries(DOC.read_text(encoding="utf-8")).items():
        m = FROM.search(body)
        if m is None:
            wrong.append(f"{name}: no 'From: `module`'")
            continue
        module = importlib.import_module(m.group(1))
        if getattr(module, name, None) is not getattr(zbench, name):
            wrong.append(f"{name}: not defined by {m.group(1)}")
    assert not wrong, "docs/api.md: " + "; ".join(wrong)


def test_the_checks_catch_a_missing_and_an_extra_entry() -> None:
    text = DOC.read_text(encoding="utf-8")
    pruned = re.sub(r"^### `welch_p`\n", "### `welch_q`\n", text, flags=re.M)
    found = set(entries(pruned))
    assert "welch_p" not in found and "welch_q" in found


def test_plugins_md_links_here() -> None:
    plugins = (DOC.parent / "plugins.md").read_text(encoding="utf-8")
    assert "(api.md)" in plugins
