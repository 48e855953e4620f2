"""Tables for inspection and validation: the class table and debugfs ``classes``."""

from __future__ import annotations

from typing import Any

from .compaction import zs_can_compact
from .fullness import Fullness, make_fullness
from .options import DEFAULT_PAGE_SIZE, ZsOptions
from .rules import ZsRules
from .size_class import ClassTable, build_class_table


def class_table(options: ZsOptions) -> ClassTable:
    """The class table of ``options`` (its kernel's rules, chain size and page size)."""
    rules = ZsRules.for_options(options)
    fullness = make_fullness(rules.fullness)
    return build_class_table(rules.chain_size, rules.chain_rule, fullness.nr_groups,
                             options.page_size)


def describe_rows(options: ZsOptions) -> list[dict[str, Any]]:
    """One row per distinct size class."""
    return [
        {
            "class": c.index,
            "size": c.size,
            "pages_per_zspage": c.pages_per_zspage,
            "objs_per_zspage": c.objs_per_zspage,
            "waste": c.waste,
            "huge": c.huge,
        }
        for c in class_table(options).distinct
    ]


def describe_summary(options: ZsOptions) -> dict[str, Any]:
    """The table's headline figures; for a page size other than 4 KiB also the page
    size and the class step (left out at 4 KiB, as in the serialised options)."""
    rules = ZsRules.for_options(options)
    table = class_table(options)
    summary: dict[str, Any] = {
        "kernel": str(rules.kernel),
        "chain_size": rules.chain_size,
        "size_classes": len(table.distinct),
        "huge_class_size": table.huge_class_size,
        "rule": rules.chain_rule.value,
    }
    if table.page_size != DEFAULT_PAGE_SIZE:
        summary["page_size"] = table.page_size
        summary["class_step"] = table.class_delta
    return summary


def class_rows(table: ClassTable, fullness: Fullness) -> list[dict[str, int]]:
    """debugfs ``classes``: class, size, per-group zspage counts, obj_allocated,
    obj_used, pages_used, pages_per_zspage, freeable."""
    rows = []
    for c in table.distinct:
        row: dict[str, int] = {"class": c.index, "size": c.size}
        for name, group in fullness.columns:
            row[name] = c.group_count[group]
        row.update(
            obj_allocated=c.obj_allocated,
            obj_used=c.obj_used,
            pages_used=c.obj_allocated // c.objs_per_zspage * c.pages_per_zspage,
            pages_per_zspage=c.pages_per_zspage,
            freeable=zs_can_compact(c),
        )
        rows.append(row)
    return rows
