"""Tables for inspection and validation: the class table and debugfs ``classes``."""

from __future__ import annotations

from typing import Any

from .compaction import zs_can_compact
from .fullness import Fullness, make_fullness
from .options import ZsOptions
from .rules import ZsRules
from .size_class import ClassTable, build_class_table


def class_table(options: ZsOptions) -> ClassTable:
    rules = ZsRules.for_options(options)
    fullness = make_fullness(rules.fullness)
    return build_class_table(rules.chain_size, rules.chain_rule, fullness.nr_groups)


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
    rules = ZsRules.for_options(options)
    table = class_table(options)
    return {
        "kernel": str(rules.kernel),
        "chain_size": rules.chain_size,
        "size_classes": len(table.distinct),
        "huge_class_size": table.huge_class_size,
        "rule": rules.chain_rule.value,
    }


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
