"""The "Answers" section: each of a suite's ``questions:`` answered with numbers.

Per question its ``ask``, then one row per pair of cases (:func:`zbench.run.questions.pairs`):
the dimensions both cases share, then per figure ``base → test  change (change %)``, e.g.
``1467 → 1402  −65 (−4.4 %)``.  The numbers are the cases' ``metrics`` as the results hold
them; a figure's header carries its unit and which way is better from the metric registry
(:class:`~zbench.api.metrics.MetricDef`).  A failed case, or a figure the case does not
have, shows ``—``.  Results without questions have no such section.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from tabulate import tabulate

from zbench.api.metrics import MetricDef
from zbench.report.casetables import fit
from zbench.report.sections import metric_defs
from zbench.report.text import wrap
from zbench.run.questions import DIMENSIONS, Question, case_labels, pairs

TITLE = "Answers"
NOTE = ("Each row: a case of the question's `base` and the case of its `test` that differs "
        "only in the dimensions the question names; figures as base → test, change "
        "(change %).")
MINUS = "\u2212"


def _num(value: int | float) -> str:
    """A figure as the results hold it (floats to at most 4 decimals), signs as − and +."""
    if isinstance(value, int):
        text = str(abs(value))
    else:
        text = f"{abs(round(value, 4)):.4f}".rstrip("0").rstrip(".")
    return f"{MINUS}{text}" if value < 0 else text


def _change(base: int | float, test: int | float) -> str:
    """``test - base`` with its sign, and the change in % of ``base`` (one decimal)."""
    delta = test - base
    if isinstance(delta, float):
        delta = round(delta, 4)
    sign = "+" if delta > 0 else ""
    pct = "—" if base == 0 else f"{sign}{_num(round(100 * delta / base, 1))} %"
    return f"{sign}{_num(delta)} ({pct})"


def figure_cell(base: Mapping[str, Any], test: Mapping[str, Any], figure: str) -> str:
    """One figure of a pair: ``base → test  change (change %)``, ``—`` without both."""
    b = _figure(base, figure)
    t = _figure(test, figure)
    if b is None or t is None:
        return "—"
    return f"{_num(b)} → {_num(t)}  {_change(b, t)}"


def _figure(case: Mapping[str, Any], figure: str) -> int | float | None:
    """The case's number for ``figure``; ``None`` for a failed case or one without it."""
    value = (case.get("metrics") or {}).get(figure)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def figure_header(figure: str, defs: Mapping[str, MetricDef]) -> str:
    """``pool_pages (pages, lower is better)``: the figure with its registry definition."""
    d = defs.get(figure)
    if d is None:
        return figure
    bits = [d.unit] if d.unit else []
    bits += [f"{d.better} is better"] if d.better else []
    return f"{figure} ({', '.join(bits)})" if bits else figure


def answer_rows(question: Question, cases: list[dict[str, Any]],
                defs: Mapping[str, MetricDef]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of one question's table: the shared dimensions, then the figures."""
    named = question.named()
    shared = [d for d in DIMENSIONS if d not in named]
    found = pairs(question, cases)
    if "page_size" in shared and found and all(
            case_labels(b)["page_size"] == 4096 for b, _ in found):
        shared.remove("page_size")  # every pair on 4 K pages: nothing to tell apart
    headers = [*shared, *(figure_header(f, defs) for f in question.figures)]
    rows = [[str(case_labels(b)[d]) for d in shared]
            + [figure_cell(b, t, f) for f in question.figures] for b, t in found]
    return headers, rows


def questions_of(results: Mapping[str, Any]) -> list[Question]:
    """The questions the results' suite record holds (none: an older or plain run); a
    hand-edited question that no longer validates is left out."""
    out = []
    for q in (results.get("suite") or {}).get("questions") or []:
        try:
            out.append(Question.model_validate(q))
        except ValidationError:
            continue
    return out


def _sides(q: Question) -> str:
    base, test = q.sides()
    return ", ".join(f"{d} {base[d]} → {test[d]}" for d in q.named())


NO_PAIR = "(no pair of cases ran)"


def _tables(results: Mapping[str, Any]
            ) -> list[tuple[Question, list[str], list[list[str]]]]:
    defs = {d.name: d for d in metric_defs()}
    cases = list(results.get("cases") or [])
    return [(q, *answer_rows(q, cases, defs)) for q in questions_of(results)]


def answers(results: Mapping[str, Any], fmt: str) -> str:
    """Every question's ``ask`` and table for a document, in tabulate's ``fmt``
    (``github`` for report.md, ``html`` for the HTML report); "" without questions."""
    blocks = []
    for q, headers, rows in _tables(results):
        table = (tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
                 if rows else NO_PAIR)
        if fmt == "html":
            head = f"<h3>{html.escape(q.ask)}</h3><p>{html.escape(_sides(q))}</p>"
            blocks.append(head + (table if rows else f"<p>{html.escape(table)}</p>"))
        else:
            blocks.append(f"### {q.ask}\n\n{_sides(q)}\n\n{table}")
    return "\n\n".join(blocks)


def terminal_answers(results: Mapping[str, Any], width: int | None) -> str:
    """The same for the terminal: ``simple`` tables fitted to ``width`` columns."""
    blocks = []
    for q, headers, rows in _tables(results):
        keys = len(headers) - len(q.figures)
        table = fit(headers, rows, keys, width) if rows else NO_PAIR
        blocks.append(f"{wrap(q.ask, width)}\n{wrap(_sides(q), width)}\n\n{table}")
    return "\n\n".join(blocks)
