# ruff: noqa: S608 -- SQL is assembled from constants of this module; every value is a bound parameter.
"""The SQL that turns tickets, events, ratings and deflections into daily rollup rows.

One function, :func:`build_window`, aggregates a time window ``[t0, t1)`` grouped by
day. The Celery task stores its output for finished days; the dashboard runs the
same SQL live, into temporary tables, for the days that have no rollup yet (today).
Both paths share every line of SQL, so they cannot disagree.

**Time in a tier** (a *stint*) is derived from the timeline, never from mutable
ticket fields. A ticket *enters* a tier when it is created (``data.tier``), when a
tier move lands it there (``escalated``, ``promoted``, ``deescalated``, ``bounced``,
``vendor_handoff``: ``data.to_tier``) and when it is reopened (``data.tier``). It
*leaves* that tier with the next tier move (``data.from_tier``) or with ``resolved``.
A stint is the wall-clock time between the two, attributed to the day it ended.
A tier move whose ``from_tier`` is not the tier the ticket was in (e.g. a
``vendor_handoff`` written next to the ``promoted`` 3→4 that already moved it) is
not counted twice. Time between a resolution and a reopening belongs to no tier.

**Ping-pong** is an upward move of a ticket that had earlier been bounced back or
de-escalated. **Resolution time** is wall-clock time from creation to each
resolution (a reopened ticket resolved twice counts twice; the SLA clock does not
pause, so neither does this). **First response** is ``first_response_at - created_at``
on the day of the first response, under the entry tier.
"""

from __future__ import annotations

from datetime import datetime

from django.db.backends.utils import CursorWrapper

ENTER_MOVE_KINDS = ["escalated", "promoted", "deescalated", "bounced", "vendor_handoff"]
TIMELINE_KINDS = ["created", *ENTER_MOVE_KINDS, "resolved", "reopened"]

#: Additive columns of the ticket rollup, in table order.
TICKET_COUNTS = [
    "created",
    "arrivals",
    "departures",
    "resolved",
    "resolved_first_contact",
    "resolved_breached",
    "reopened",
    "escalated",
    "deescalated",
    "pingpong",
    "csat_count",
    "csat_sum",
]
TICKET_ARRAYS = ["resolution_seconds", "first_response_seconds", "stint_seconds"]
TICKET_COLUMNS = ["day", "category_id", "priority", "tier", *TICKET_COUNTS, *TICKET_ARRAYS]
TIER_COLUMNS = ["day", "priority", "tier", *TICKET_COUNTS, *TICKET_ARRAYS]
CATEGORY_COUNTS = ["created", "escalated", "pingpong"]
CATEGORY_COLUMNS = ["day", "category_id", *CATEGORY_COUNTS]

AGENT_COUNTS = ["handled", "resolved", "escalated", "csat_count", "csat_sum"]
AGENT_COLUMNS = ["day", "agent_id", "tier", *AGENT_COUNTS, "stint_seconds"]
ARTICLE_COLUMNS = ["day", "article_id", "resolved", "shown", "opened", "deflected"]
FUNNEL_COLUMNS = ["day", "sessions_shown", "sessions_opened", "sessions_deflected"]

_FACT_DEFAULTS: dict[str, str] = {
    "ticket_id": "NULL::bigint",
    "at": "NULL::timestamptz",
    "tier": "NULL::int",
    "agent_id": "NULL::bigint",
    "article": "NULL::text",
    **dict.fromkeys(TICKET_COUNTS, "0"),
    "handled": "0",
    "manual_escalation": "0",
    "resolution_s": "NULL::int",
    "first_response_s": "NULL::int",
    "stint_s": "NULL::int",
}


def _fact(source: str, where: str, **cols: str) -> str:
    values = {**_FACT_DEFAULTS, **cols}
    select = ", ".join(f"{expr} AS {name}" for name, expr in values.items())
    return f"SELECT {select} FROM {source} WHERE {where}"


def _seconds(expr: str) -> str:
    return f"LEAST(EXTRACT(EPOCH FROM ({expr})), 2147483647)::int"


#: Events in the window, each with the timeline event just before it (the tier the
#: ticket was in, and when it entered it). Uses the (kind, created_at) and
#: (ticket, created_at) indexes of tickets_ticketevent.
_STEP_SQL = """
ev AS (
    SELECT e.id, e.ticket_id, e.kind, e.created_at, e.actor_id, e.data
    FROM tickets_ticketevent e
    WHERE e.created_at >= %(t0)s AND e.created_at < %(t1)s AND e.kind = ANY(%(kinds)s)
),
step AS (
    SELECT ev.*, t.created_at AS t_created, t.sla_breached_at,
        prev.kind AS prev_kind, prev.created_at AS entered_at,
        CASE WHEN prev.kind IN ('created', 'reopened') THEN (prev.data->>'tier')::int
             ELSE (prev.data->>'to_tier')::int END AS prev_tier,
        (ev.data->>'from_tier')::int AS from_tier,
        (ev.data->>'to_tier')::int AS to_tier
    FROM ev
    JOIN tickets_ticket t ON t.id = ev.ticket_id
    LEFT JOIN LATERAL (
        SELECT p.kind, p.created_at, p.data FROM tickets_ticketevent p
        WHERE p.ticket_id = ev.ticket_id AND p.kind = ANY(%(kinds)s)
          AND p.created_at <= ev.created_at
          AND (p.created_at < ev.created_at OR p.id < ev.id)
        ORDER BY p.created_at DESC, p.id DESC LIMIT 1
    ) prev ON ev.kind <> 'created'
),
moves AS (
    SELECT * FROM step
    WHERE kind = ANY(%(moves)s) AND from_tier IS NOT NULL AND to_tier IS NOT NULL
      AND from_tier <> to_tier
      AND (prev_kind IS NULL OR (prev_kind <> 'resolved' AND prev_tier = from_tier))
),
resolutions AS (
    SELECT * FROM step WHERE kind = 'resolved' AND (prev_kind IS NULL OR prev_kind <> 'resolved')
)
"""


def _facts_sql() -> str:
    stint = _seconds("s.created_at - s.entered_at")
    parts = [
        _fact(
            "step s",
            "s.kind = 'created'",
            ticket_id="s.ticket_id",
            at="s.created_at",
            tier="(s.data->>'tier')::int",
            created="1",
            arrivals="1",
        ),
        _fact(
            "step s",
            "s.kind = 'reopened' AND s.prev_kind = 'resolved'",
            ticket_id="s.ticket_id",
            at="s.created_at",
            tier="(s.data->>'tier')::int",
            arrivals="1",
            reopened="1",
        ),
        _fact(
            "moves s",
            "true",
            ticket_id="s.ticket_id",
            at="s.created_at",
            tier="s.to_tier",
            arrivals="1",
        ),
        _fact(
            "moves s",
            "true",
            ticket_id="s.ticket_id",
            at="s.created_at",
            tier="s.from_tier",
            agent_id="s.actor_id",
            departures="1",
            handled="CASE WHEN s.actor_id IS NULL THEN 0 ELSE 1 END",
            escalated="(s.to_tier > s.from_tier)::int",
            manual_escalation="(s.to_tier > s.from_tier AND s.actor_id IS NOT NULL)::int",
            deescalated="(s.to_tier < s.from_tier)::int",
            pingpong="""(s.to_tier > s.from_tier AND EXISTS (
                SELECT 1 FROM tickets_ticketevent b WHERE b.ticket_id = s.ticket_id
                AND b.kind IN ('bounced', 'deescalated') AND b.created_at < s.created_at))::int""",
            stint_s=f"CASE WHEN s.entered_at IS NULL THEN NULL ELSE {stint} END",
        ),
        _fact(
            "resolutions s",
            "true",
            ticket_id="s.ticket_id",
            at="s.created_at",
            tier="COALESCE((s.data->>'tier')::int, s.prev_tier)",
            agent_id="s.actor_id",
            article="s.data->>'article'",
            departures="1",
            handled="CASE WHEN s.actor_id IS NULL THEN 0 ELSE 1 END",
            resolved="1",
            resolved_first_contact="COALESCE((s.data->>'first_contact')::boolean, false)::int",
            resolved_breached="(s.sla_breached_at IS NOT NULL AND s.sla_breached_at <= s.created_at)::int",
            resolution_s=_seconds("s.created_at - s.t_created"),
            stint_s=f"CASE WHEN s.entered_at IS NULL THEN NULL ELSE {stint} END",
        ),
        # The first response: the reply (or resolution) that set first_response_at was
        # written in the same transaction, so its event finds the ticket through the
        # (kind, created_at) index; the minute of slack covers a midnight in between.
        _fact(
            """tickets_ticket t""",
            """t.id IN (
                SELECT r.ticket_id FROM tickets_ticketevent r
                WHERE r.kind IN ('reply', 'resolved') AND r.created_at >= %(t0)s
                  AND r.created_at < %(t1)s + interval '1 minute')
              AND t.first_response_at >= %(t0)s AND t.first_response_at < %(t1)s""",
            ticket_id="t.id",
            at="t.first_response_at",
            tier="""COALESCE((SELECT (c.data->>'tier')::int FROM tickets_ticketevent c
                 WHERE c.ticket_id = t.id AND c.kind = 'created'
                 ORDER BY c.created_at LIMIT 1), t.tier)""",
            first_response_s=_seconds("t.first_response_at - t.created_at"),
        ),
        _fact(
            "tickets_satisfactionrating r JOIN tickets_ticket t ON t.id = r.ticket_id",
            "r.created_at >= %(t0)s AND r.created_at < %(t1)s",
            ticket_id="r.ticket_id",
            at="r.created_at",
            tier="COALESCE(r.resolved_tier, t.tier)",
            agent_id="r.resolved_by_id",
            csat_count="1",
            csat_sum="r.rating",
        ),
    ]
    return (
        "WITH "
        + _STEP_SQL
        + """, facts AS (
        """
        + "\nUNION ALL\n".join(parts)
        + """
    )
    SELECT f.*, (f.at AT TIME ZONE %(tz)s)::date AS day, t.category_id, t.priority
    FROM facts f JOIN tickets_ticket t ON t.id = f.ticket_id
    """
    )


def _array(col: str, alias: str) -> str:
    return f"COALESCE(array_agg({col} ORDER BY {col}) FILTER (WHERE {col} IS NOT NULL), '{{}}') AS {alias}"


def _ticket_select(dims: str) -> str:
    return (
        f"SELECT {dims}, "
        + ", ".join(f"SUM({c})::int AS {c}" for c in TICKET_COUNTS)
        + ", "
        + ", ".join(
            [
                _array("resolution_s", "resolution_seconds"),
                _array("first_response_s", "first_response_seconds"),
                _array("stint_s", "stint_seconds"),
            ]
        )
        + f" FROM pg_temp.reports_facts WHERE tier IS NOT NULL GROUP BY {dims}"
    )


_TICKET_SELECT = _ticket_select("day, category_id, priority, tier")
# The same facts without the category (reports.models.DailyTierRollup).
_TIER_SELECT = _ticket_select("day, priority, tier")
# Per category only (reports.models.DailyCategoryRollup).
_CATEGORY_SELECT = (
    "SELECT day, category_id, "
    + ", ".join(f"SUM({c})::int AS {c}" for c in CATEGORY_COUNTS)
    + " FROM pg_temp.reports_facts WHERE tier IS NOT NULL GROUP BY day, category_id"
)

_AGENT_SELECT = (
    "SELECT day, agent_id, tier, SUM(handled)::int AS handled, SUM(resolved)::int AS resolved, "
    "SUM(manual_escalation)::int AS escalated, SUM(csat_count)::int AS csat_count, "
    "SUM(csat_sum)::int AS csat_sum, "
    + _array("CASE WHEN handled = 1 THEN stint_s END", "stint_seconds")
    + " FROM pg_temp.reports_facts WHERE agent_id IS NOT NULL AND tier IS NOT NULL"
    " GROUP BY day, agent_id, tier"
)

# Deflection: one form session (session_key) may show several articles. A session
# that opened an article and sent no ticket is one deflected ticket. Sessions are
# counted on the day of their rows (a session across midnight counts on both days).
_ARTICLE_SELECT = """
WITH d AS (
    SELECT d.session_key, d.article_id, d.opened_at, d.ticket_id,
           (d.shown_at AT TIME ZONE %(tz)s)::date AS day
    FROM tickets_deflection d WHERE d.shown_at >= %(t0)s AND d.shown_at < %(t1)s
),
s AS (
    SELECT day, session_key, bool_or(opened_at IS NOT NULL) AS opened,
           bool_or(ticket_id IS NOT NULL) AS submitted
    FROM d GROUP BY day, session_key
),
shown AS (
    SELECT d.day, d.article_id, 0 AS resolved, 1 AS shown, (d.opened_at IS NOT NULL)::int AS opened,
           (d.opened_at IS NOT NULL AND NOT s.submitted)::int AS deflected
    FROM d JOIN s ON s.day = d.day AND s.session_key = d.session_key
),
res AS (
    SELECT f.day, a.id AS article_id, 1 AS resolved, 0 AS shown, 0 AS opened, 0 AS deflected
    FROM pg_temp.reports_facts f JOIN knowledgebase_article a ON a.slug = f.article
    WHERE f.resolved = 1 AND f.article IS NOT NULL
)
SELECT day, article_id, SUM(resolved)::int, SUM(shown)::int, SUM(opened)::int, SUM(deflected)::int
FROM (SELECT * FROM shown UNION ALL SELECT * FROM res) x GROUP BY day, article_id
"""

_FUNNEL_SELECT = """
SELECT day, COUNT(*)::int, COUNT(*) FILTER (WHERE opened)::int,
       COUNT(*) FILTER (WHERE opened AND NOT submitted)::int
FROM (
    SELECT (d.shown_at AT TIME ZONE %(tz)s)::date AS day, d.session_key,
           bool_or(d.opened_at IS NOT NULL) AS opened, bool_or(d.ticket_id IS NOT NULL) AS submitted
    FROM tickets_deflection d WHERE d.shown_at >= %(t0)s AND d.shown_at < %(t1)s
    GROUP BY 1, 2
) s GROUP BY day
"""

#: (table, columns, select) for each rollup: the stored table and its live twin.
ROLLUPS = {
    "ticket": ("reports_dailyticketrollup", TICKET_COLUMNS, _TICKET_SELECT),
    "tier": ("reports_dailytierrollup", TIER_COLUMNS, _TIER_SELECT),
    "category": ("reports_dailycategoryrollup", CATEGORY_COLUMNS, _CATEGORY_SELECT),
    "agent": ("reports_dailyagentrollup", AGENT_COLUMNS, _AGENT_SELECT),
    "article": ("reports_dailyarticlerollup", ARTICLE_COLUMNS, _ARTICLE_SELECT),
    "funnel": ("reports_dailyfunnelrollup", FUNNEL_COLUMNS, _FUNNEL_SELECT),
}


def live_table(name: str) -> str:
    return f"pg_temp.reports_live_{name}"


def build_window(
    cursor: CursorWrapper, *, t0: datetime, t1: datetime, tz: str, into: str = "live"
) -> None:
    """Aggregate ``[t0, t1)`` by day. ``into="live"``: fill the temporary tables
    ``reports_live_*`` (emptied at commit); ``into="rollup"``: insert into the stored
    rollup tables (the caller has deleted the days first).

    The temporary tables are created once per database session (``ON COMMIT DELETE
    ROWS``), not per request: creating and dropping a dozen tables on every dashboard
    request cost ~20–30 ms of catalog writes. They are emptied here first, since one
    transaction may build several windows (the rollup's chunks, tests)."""
    params = {
        "t0": t0,
        "t1": t1,
        "tz": tz,
        "kinds": TIMELINE_KINDS,
        "moves": ENTER_MOVE_KINDS,
    }
    facts_sql = _facts_sql()
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS reports_facts ON COMMIT DELETE ROWS AS "
        + facts_sql
        + " WITH NO DATA",
        params,
    )
    # A rollup chunk holds a month of facts: TRUNCATE; today's few thousand: DELETE.
    cursor.execute(
        "TRUNCATE pg_temp.reports_facts"
        if into == "rollup"
        else "DELETE FROM pg_temp.reports_facts"
    )
    cursor.execute("INSERT INTO pg_temp.reports_facts " + facts_sql, params)
    for name, (table, columns, select) in ROLLUPS.items():
        if into == "live":
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS reports_live_{name} ON COMMIT DELETE ROWS AS "
                f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"DELETE FROM {live_table(name)}")
            target = live_table(name)
        else:
            target = table
        cursor.execute(f"INSERT INTO {target} ({', '.join(columns)}) {select}", params)
