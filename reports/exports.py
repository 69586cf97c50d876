"""CSV exports of the dashboard: one file per table, and the whole summary. Cells are
made formula-safe by ``helpdesk.spreadsheet``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpdesk.spreadsheet import FORMULA_PREFIXES, csv_cell, csv_text

__all__ = ["FORMULA_PREFIXES", "csv_cell", "csv_text", "summary_csv", "table_csv"]


def _flatten(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    elif isinstance(value, list):
        yield path, "; ".join(str(v) for v in value)
    else:
        yield path, value


def summary_csv(summary: dict[str, Any]) -> str:
    """The whole dashboard as one long CSV: ``section, field, value`` per figure."""
    rows = []
    for section, value in summary.items():
        for path, leaf in _flatten(value, ""):
            rows.append([section, path, leaf])
    return csv_text(["section", "field", "value"], rows)


def _articles(a: list[dict]) -> str:
    return "; ".join(f"{x['title']} ({x['count']})" for x in a)


#: Each dashboard table: (title, header, row function over the summary).
TABLES: dict[str, tuple[str, list[str], Any]] = {
    "per-tier": (
        "Per tier",
        ["tier", "handled", "resolved", "escalated", "median_handling_seconds",
         "p90_tier_seconds", "csat_average", "csat_responses"],
        lambda s: s["per_tier"],
    ),
    "agents": (
        "Per agent",
        ["agent", "name", "tier", "handled", "resolved", "escalated",
         "median_handling_seconds", "csat_average", "csat_responses"],
        lambda s: s["agents"],
    ),
    "categories": (
        "Top categories",
        ["category", "created", "this_week", "last_week", "rising", "escalated", "pingpong"],
        lambda s: s["categories"],
    ),
    "escalations": (
        "Escalation rate per step",
        ["step", "escalated", "left_tier", "rate"],
        lambda s: s["escalation_steps"],
    ),
    "times": (
        "Response and resolution times",
        ["metric", "group", "key", "count", "mean", "median", "p90"],
        lambda s: [
            {"metric": metric, "group": group, "key": key, **(value or {})}
            for metric, groups in s["times"].items()
            for group, values in (
                ("overall", {"all": groups["overall"]}),
                ("tier", groups["by_tier"]),
                ("priority", groups["by_priority"]),
            )
            for key, value in values.items()
        ],
    ),
    "backlog": (
        "Backlog",
        ["group", "key", "open"],
        lambda s: [{"group": "tier", "key": r["tier"], "open": r["open"]}
                   for r in s["backlog"]["by_tier"]]
        + [{"group": "age", "key": r["label"], "open": r["open"]} for r in s["backlog"]["by_age"]],
    ),
    "vendors": (
        "Vendor scorecards",
        ["vendor", "handoffs", "response_target_seconds", "response_median_seconds",
         "response_within_target_rate", "response_overdue_now", "resolution_target_seconds",
         "resolution_median_seconds", "resolution_within_target_rate", "reopened_after_fix",
         "reopen_after_fix_rate"],
        lambda s: s["vendors"],
    ),
    "coaching": (
        "Avoidable escalations (coaching list)",
        ["agent", "category", "avoidable", "missing_article", "articles"],
        lambda s: [{**g, "articles": _articles(g["articles"])} for g in s["coaching"]],
    ),
    "articles": (
        "KB articles that resolve or deflect",
        ["title", "slug", "resolved", "shown", "opened", "deflected"],
        lambda s: s["articles"],
    ),
    "funnel": (
        "Deflection funnel",
        ["step", "sessions", "rate"],
        lambda s: [
            {"step": "shown suggestions", "sessions": s["funnel"]["sessions_shown"], "rate": None},
            {"step": "opened an article", "sessions": s["funnel"]["sessions_opened"],
             "rate": s["funnel"]["open_rate"]},
            {"step": "sent no ticket (deflected)", "sessions": s["funnel"]["sessions_deflected"],
             "rate": s["funnel"]["deflection_rate"]},
        ],
    ),
}  # fmt: skip


def table_csv(name: str, summary: dict[str, Any]) -> str:
    _title, header, rows = TABLES[name]
    return csv_text(header, ([row.get(h) for h in header] for row in rows(summary)))
