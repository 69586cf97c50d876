"""Seed a benchmark database: a help desk with two years of history.

    python bench/seed.py --db-url postgres://.../tierdesk_bench --tickets 1000000 [--force]

Runs ``migrate`` and ``seed_demo`` first, then loads the bulk data with
``INSERT ... SELECT generate_series`` in chunks (a progress bar per table): 200 agents,
50 categories, N tickets (three events per ticket on average, 30% escalated at least
once, 5% through a vendor, CSAT on a fifth of the resolved ones). Secondary indexes are
dropped during the load and rebuilt after it, then ``VACUUM ANALYZE``. The 10,000 KB
articles come from ``bench/kb.py``'s generator, whose words its timed queries use. A database already seeded with the same size is reused.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, Progress, connect, db_name, django_env, log, with_db

AGENTS = 200
CATEGORIES = 50
ARTICLES = 10_000
CHUNK = 50_000
MARKER = "bench_seed_info"

SUBJECTS = [
    "Cannot log in to Windows",
    "Password expired and reset link does not arrive",
    "VPN drops every hour",
    "Outlook keeps asking for my password",
    "Teams camera not detected",
    "Laptop battery drains overnight",
    "Printer on floor 3 jams",
    "Need access to the Finance share",
    "New starter account for next Monday",
    "OneDrive stuck syncing",
    "Wi-Fi slow in meeting room B",
    "Blue screen after driver update",
    "Cannot install Visual Studio Code",
    "Invoice shows the wrong licence count",
    "Dock does not charge my laptop",
    "MFA prompt never arrives on my phone",
    "Shared mailbox missing in Outlook",
    "Excel crashes when opening large files",
    "File server very slow since this morning",
    "Database timeout in the CRM",
    "Account locked after holiday",
    "Request to uninstall old Java runtime",
    "Monitor flickers at 60 Hz",
    "SSO error when opening the intranet",
    "Refund for a duplicate licence",
    "Backup job failed overnight",
    "Disk almost full on build server",
    "Phone not enrolled in device management",
    "Cannot print PDF from the browser",
    "Keyboard keys stick after coffee spill",
]
SENTENCES = [
    "It started this morning after the update.",
    "I restarted twice and it still happens.",
    "Colleagues on my team see the same thing.",
    "The error says access is denied.",
    "I need this fixed before the client meeting on Friday.",
    "It worked fine last week.",
    "I tried the steps from the knowledge base article but they did not help.",
    "Screenshot of the error is available on request.",
    "It only happens when I am on the office network.",
    "My manager approved the request already.",
]
REPLIES = [
    "Thanks for reaching out. Could you try signing out and in again and tell us if it helps?",
    "We reset the setting on our side; please check again and reply here if it is still broken.",
    "I have asked our technical team to look at the server logs for your account.",
    "This is a known issue after the last update; a fix is being rolled out today.",
]
RESOLUTIONS = [
    "Reset the password and re-enrolled MFA.",
    "Reinstalled the driver from the vendor package.",
    "Granted access through the Finance-Readers group.",
    "Replaced the dock under warranty.",
    "Cleared the Outlook credential cache.",
    "Restarted the stuck sync service and cleared the cache.",
]


def sql_array(items: list[str]) -> str:
    return "(ARRAY[" + ",".join("'" + s.replace("'", "''") + "'" for s in items) + "])"


def run_manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def database_exists(db_url: str) -> bool:
    conn = connect(with_db(db_url, "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name(db_url)])
            return cur.fetchone() is not None
    finally:
        conn.close()


def seeded_size(db_url: str) -> int | None:
    if not database_exists(db_url):
        return None
    conn = connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [MARKER])
            if cur.fetchone()[0] is None:
                return None
            cur.execute(f"SELECT tickets FROM {MARKER} ORDER BY seeded_at DESC LIMIT 1")
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def recreate_database(db_url: str) -> None:
    name = db_name(db_url)
    conn = connect(with_db(db_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def _interval_case(whens, default: str) -> str:
    """A SQL CASE giving, for each (condition, timedelta), that interval; else ``default``."""
    return (
        "CASE "
        + " ".join(f"WHEN {cond} THEN interval '{d.total_seconds()} seconds'" for cond, d in whens)
        + f" ELSE interval '{default}' END"
    )


class Seeder:
    def __init__(self, conn, tickets: int, articles: int) -> None:
        self.conn = conn
        self.cur = conn.cursor()
        self.tickets = tickets
        self.articles = articles

    def q(self, sql: str, params: list | dict | None = None) -> list:
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    def one(self, sql: str, params: list | dict | None = None):
        return self.q(sql, params)[0][0]

    # -- people and reference data -------------------------------------------------
    def agents(self) -> None:
        existing = self.one("SELECT count(*) FROM tiers_agentprofile")
        password = self.one("SELECT password FROM auth_user WHERE username = 'agent1'")
        todo = AGENTS - existing
        # Mix: 60% Tier 1, 25% Tier 2, 15% Tier 3, two of them managers.
        self.q(
            """
            WITH new_users AS (
              INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                                     email, is_staff, is_active, date_joined)
              SELECT %(pw)s, false, 'bench_agent' || lpad(g::text, 3, '0'), 'Agent', g::text,
                     'bench_agent' || g || '@tierdesk.local', false, true, now() - interval '3 years'
              FROM generate_series(1, %(n)s) g
              RETURNING id, (substring(username from 12))::int AS g
            )
            INSERT INTO tiers_agentprofile (created_at, updated_at, tier, is_manager, is_active, user_id)
            SELECT now(), now(),
                   CASE WHEN g <= %(n)s * 0.6 THEN 1 WHEN g <= %(n)s * 0.85 THEN 2 ELSE 3 END,
                   g > %(n)s - 2, true, id
            FROM new_users
            """,
            {"pw": password, "n": todo},
        )

    def categories(self) -> None:
        have = self.one("SELECT count(*) FROM tickets_category")
        self.q(
            """
            INSERT INTO tickets_category (created_at, updated_at, name, slug, description,
                                          entry_tier, default_priority, is_active, sort_order)
            SELECT now(), now(), 'Bench category ' || g, 'bench-category-' || g,
                   'Generated for the benchmark.', 1 + (g %% 3), '', true, 200 + g
            FROM generate_series(1, %(n)s) g
            """,
            {"n": max(CATEGORIES - have, 0)},
        )

    def vendors(self) -> None:
        self.q(
            """
            INSERT INTO tiers_vendorcontact (created_at, updated_at, name, company, email, phone,
                contract_reference, response_target, resolution_target, is_active)
            SELECT now(), now(), 'Vendor desk ' || g, 'Vendor ' || g || ' Ltd',
                   'desk' || g || '@vendor.example', '', 'C-' || g, interval '8 hours',
                   interval '3 days', true
            FROM generate_series(1, 5) g
            """
        )

    # -- tickets ---------------------------------------------------------------------
    def ticket_sql(self) -> str:
        budgets = self.q("SELECT tier, priority, budget FROM tiers_escalationpolicy")
        budget_case = _interval_case(
            ((f"tier = {t} AND priority = '{p}'", b) for t, p, b in budgets), "8 hours"
        )
        sla = {
            p: (f, r)
            for p, f, r in self.q(
                "SELECT priority, first_response, resolution FROM tiers_slapolicy"
            )
        }
        fr_case = _interval_case(((f"priority = '{p}'", f) for p, (f, _) in sla.items()), "4 hours")
        res_case = _interval_case(((f"priority = '{p}'", r) for p, (_, r) in sla.items()), "3 days")
        cats = [r[0] for r in self.q("SELECT id FROM tickets_category ORDER BY id")]
        tiers = {
            t: [
                r[0]
                for r in self.q(
                    "SELECT user_id FROM tiers_agentprofile WHERE tier = %s AND NOT is_manager ORDER BY user_id",
                    [t],
                )
            ]
            for t in (1, 2, 3)
        }
        customer = self.one("SELECT id FROM auth_user WHERE username = 'customer'")

        def pick(arr: list[int], rnd: str) -> str:
            return f"(ARRAY{arr}::int[])[1 + floor({rnd} * {len(arr)})::int]"

        return f"""
        INSERT INTO tickets_ticket (
          id, created_at, updated_at, reference, tracking_token, submission_key, subject,
          description, requester_name, requester_email, tier, status, priority, escalate_at,
          escalation_warn_at, tier_entered_at, tier_budget, clock_paused_at,
          budget_remaining_at_pause, warn_remaining_at_pause, paused_business_time,
          first_response_due, first_response_at, resolution_due, sla_warn_at, sla_breached_at,
          escalation_count, reopen_count, customer_round_trips, first_contact_resolution,
          resolution, resolved_at, resolved_tier, closed_at, assignee_id, category_id,
          merged_into_id, owner_id, requester_id, resolved_article_id, resolved_by_id)
        SELECT id, created, coalesce(closed_at, resolved_at, created + interval '10 minutes'),
          'TD-' || CASE WHEN id < 1000000 THEN lpad(id::text, 6, '0') ELSE id::text END,
          -- 244 random bits (two built-in v4 UUIDs; pgcrypto is not in every build,
          -- the embedded one included), URL-safe base64 like secrets.token_urlsafe(32)
          translate(encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '+/=', '-_'),
          NULL, subject, description, 'Customer ' || (id %% 40000),
          'customer' || (id %% 40000) || '@example.com', tier, status, priority,
          CASE WHEN status IN ('new', 'open') AND tier < 4 THEN now() + budget * (0.05 + r2 * 0.9) END,
          -- The warning comes at 75%% of the budget; one already past has fired (the
          -- sweep clears it), as on a desk whose beat has been running.
          CASE WHEN status IN ('new', 'open') AND tier < 4 AND r2 * 0.9 > 0.2
               THEN now() + budget * (r2 * 0.9 - 0.2) END,
          created + escalation_count * interval '2 hours', budget,
          CASE WHEN status = 'pending_customer' THEN now() - r2 * interval '1 day' END,
          CASE WHEN status = 'pending_customer' THEN budget * r3 END,
          CASE WHEN status = 'pending_customer' THEN budget * r3 * 0.75 END,
          NULL,
          created + fr, CASE WHEN status <> 'new' THEN created + fr * r4 * 1.2 END,
          created + res,
          CASE WHEN status NOT IN ('resolved', 'closed') AND created + res * 0.75 > now()
               THEN created + res * 0.75 END,
          CASE WHEN r7 < 0.08 AND created + res < now() THEN created + res END,
          escalation_count, (r7 > 0.96)::int, floor(r5 * 3)::int,
          status IN ('resolved', 'closed') AND escalation_count = 0 AND r7 < 0.6,
          CASE WHEN resolved_at IS NOT NULL THEN {sql_array(RESOLUTIONS)}[1 + (id %% {len(RESOLUTIONS)})] ELSE '' END,
          resolved_at, CASE WHEN resolved_at IS NOT NULL THEN tier END, closed_at,
          assignee_id, category_id, NULL, owner_id,
          CASE WHEN id %% 9973 = 0 THEN {customer} END, NULL,
          CASE WHEN resolved_at IS NOT NULL THEN coalesce(assignee_id, owner_id) END
        FROM (
          SELECT *, {budget_case} AS budget, {fr_case} AS fr, {res_case} AS res,
            CASE WHEN status = 'new' OR tier = 4 THEN NULL
                 WHEN tier = 1 THEN {pick(tiers[1], "r6")}
                 WHEN tier = 2 THEN {pick(tiers[2], "r6")}
                 ELSE {pick(tiers[3], "r6")} END AS assignee_id,
            CASE WHEN tier = 4 THEN {pick(tiers[3], "r6")} END AS owner_id,
            CASE WHEN status IN ('resolved', 'closed')
                 THEN least(created + ({res_case}) * r4 * 1.3, now() - interval '1 hour') END AS resolved_at,
            CASE WHEN status = 'closed'
                 THEN least(created + ({res_case}) * r4 * 1.3 + interval '7 days', now()) END AS closed_at
          FROM (
            SELECT *,
              CASE WHEN live AND esc = 3 THEN 'pending_vendor'
                   WHEN live AND r2 < 0.2 THEN 'new'
                   WHEN live AND r2 < 0.75 THEN 'open'
                   WHEN live THEN 'pending_customer'
                   WHEN created > now() - interval '9 days' THEN 'resolved'
                   ELSE 'closed' END AS status,
              CASE WHEN live AND esc = 3 THEN 4 ELSE 1 + least(esc, 2) END AS tier,
              esc AS escalation_count,
              CASE WHEN r4 < 0.2 THEN 'low' WHEN r4 < 0.75 THEN 'normal'
                   WHEN r4 < 0.95 THEN 'high' ELSE 'urgent' END AS priority,
              (ARRAY{cats}::bigint[])[1 + floor(power(r5, 1.6) * {len(cats)})::int] AS category_id,
              {sql_array(SUBJECTS)}[1 + floor(r6 * {len(SUBJECTS)})::int] AS subject,
              {sql_array(SENTENCES)}[1 + (id %% 10)] || ' ' || {sql_array(SENTENCES)}[1 + (id / 10 %% 10)]
                || ' ' || {sql_array(SENTENCES)}[1 + (id / 100 %% 10)] AS description
            FROM (
              SELECT *,
                r1 < CASE WHEN created > now() - interval '3 days' THEN 0.85
                          WHEN created > now() - interval '14 days' THEN 0.35
                          ELSE 0.004 END AS live,
                -- 30%% escalated at least once, 12%% twice, 5%% on to a vendor
                CASE WHEN r3 < 0.05 THEN 3 WHEN r3 < 0.12 THEN 2 WHEN r3 < 0.30 THEN 1 ELSE 0 END AS esc
              FROM (
                SELECT g AS id,
                  %(t0)s::timestamptz + (g - %(first)s) * %(step)s::interval
                    + random() * %(step)s::interval AS created,
                  random() r1, random() r2, random() r3, random() r4, random() r5,
                  random() r6, random() r7
                FROM generate_series(%(lo)s, %(hi)s) g
              ) a
            ) b
          ) c
        ) d
        """

    def event_sql(self) -> str:
        return f"""
        INSERT INTO tickets_ticketevent (kind, actor_name, body, is_public, data, dedupe_key,
          notify, notified_at, created_at, actor_id, ticket_id)
        SELECT kind,
          CASE WHEN kind = 'created' THEN requester_name WHEN kind = 'vendor_handoff' THEN 'system' ELSE '' END,
          CASE WHEN kind = 'reply' THEN {sql_array(REPLIES)}[1 + (id %% {len(REPLIES)})]
               WHEN kind = 'resolved' THEN resolution
               WHEN kind IN ('escalated', 'vendor_handoff')
                 THEN 'Checked logs and the obvious causes; needs the next tier.'
               ELSE '' END,
          kind IN ('created', 'reply', 'resolved'),
          CASE WHEN kind IN ('escalated', 'vendor_handoff')
               THEN jsonb_build_object('from_tier', k - rr, 'to_tier', k - rr + 1)
               ELSE '{{}}'::jsonb END,
          NULL, kind IN ('created', 'reply', 'resolved'),
          CASE WHEN kind IN ('created', 'reply', 'resolved') THEN ev_at END,
          ev_at,
          CASE WHEN kind = 'created' THEN requester_id
               WHEN kind = 'vendor_handoff' THEN owner_id
               ELSE coalesce(assignee_id, owner_id) END,
          id
        FROM (
          SELECT t.*, k,
            CASE WHEN k = 0 THEN 'created'
                 WHEN k <= rr THEN 'reply'
                 WHEN k <= rr + escalation_count AND k = rr + 3 THEN 'vendor_handoff'
                 WHEN k <= rr + escalation_count THEN 'escalated'
                 ELSE 'resolved' END AS kind,
            created_at + (coalesce(resolved_at, now()) - created_at) * k / (n + 1) AS ev_at
          FROM (
            SELECT t.*,
              CASE WHEN status = 'new' OR id %% 5 >= 3 THEN 0 ELSE 1 END AS rr,
              (CASE WHEN status = 'new' OR id %% 5 >= 3 THEN 0 ELSE 1 END) + escalation_count
                + (status IN ('resolved', 'closed'))::int AS n
            FROM tickets_ticket t WHERE id BETWEEN %(lo)s AND %(hi)s
          ) t, generate_series(0, n) k
          ORDER BY id, k
        ) e
        """

    def load_tickets(self) -> tuple[int, int]:
        first = self.one("SELECT coalesce(max(id), 0) + 1 FROM tickets_ticket")
        last = first + self.tickets - 1
        step_seconds = 730 * 86400 / self.tickets
        sql = self.ticket_sql()
        t0 = self.one("SELECT now() - interval '730 days'")
        bar = Progress("tickets", self.tickets)
        for lo in range(first, last + 1, CHUNK):
            hi = min(lo + CHUNK - 1, last)
            self.q(
                sql,
                {
                    "t0": t0,
                    "first": first,
                    "step": f"{step_seconds} seconds",
                    "lo": lo,
                    "hi": hi,
                },
            )
            self.conn.commit()
            bar.advance(hi - lo + 1)
        bar.close()
        self.q("SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s)", [last])
        sql = self.event_sql()
        bar = Progress("events (≈3 per ticket)", self.tickets, " tickets")
        for lo in range(first, last + 1, CHUNK):
            hi = min(lo + CHUNK - 1, last)
            self.q(sql, {"lo": lo, "hi": hi})
            self.conn.commit()
            bar.advance(hi - lo + 1)
        bar.close()
        return first, last

    def vendor_handoffs(self) -> None:
        vendors = [r[0] for r in self.q("SELECT id FROM tiers_vendorcontact ORDER BY id")]
        self.q(
            f"""
            INSERT INTO tiers_vendorhandoff (created_at, updated_at, nonce, summary, expires_at,
              revoked_at, respond_by, resolve_by, first_response_at, done_at, vendor_reference,
              chased_at, overdue_alerted_at, owner_id, ticket_id, vendor_id)
            SELECT t.tier_entered_at, t.updated_at,
              translate(encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '+/=', '-_'),
              'Firmware fault reproduced; needs the vendor.', t.tier_entered_at + interval '14 days',
              NULL, t.tier_entered_at + interval '8 hours', t.tier_entered_at + interval '3 days',
              t.tier_entered_at + interval '3 hours', t.resolved_at, 'V-' || t.id, NULL, NULL,
              coalesce(t.owner_id, t.assignee_id), t.id,
              (ARRAY{vendors}::bigint[])[1 + (t.id % {len(vendors)})]
            FROM tickets_ticket t WHERE t.escalation_count >= 3
            """
        )

    def ratings(self) -> None:
        self.q(
            """
            INSERT INTO tickets_satisfactionrating (resolution_round, rating, comment,
              resolved_tier, created_at, resolved_by_id, ticket_id)
            SELECT reopen_count, least(5, 1 + floor(power(random(), 0.45) * 5)::int),
              CASE WHEN id % 7 = 0 THEN 'Quick and friendly, thanks.' ELSE '' END,
              resolved_tier, resolved_at + interval '2 hours', resolved_by_id, id
            FROM tickets_ticket
            WHERE resolved_at IS NOT NULL AND random() < 0.2
            """
        )

    # -- columns added by later migrations -------------------------------------------------
    ZERO_BY_TYPE = {
        "character varying": "''",
        "text": "''",
        "integer": "0",
        "smallint": "0",
        "bigint": "0",
        "boolean": "false",
        "jsonb": "'{}'::jsonb",
        "interval": "'0'::interval",
        "timestamp with time zone": "now()",
        "date": "current_date",
        "double precision": "0",
        "numeric": "0",
    }

    def default_new_columns(self, tables: list[str]) -> list[tuple[str, str]]:
        """Give every NOT NULL column without a database default a typed zero default
        for the load, so the generator keeps working when the apps add fields (Django
        keeps field defaults in Python). Returns the columns to reset afterwards."""
        rows = self.q(
            """
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = ANY(%s) AND is_nullable = 'NO'
              AND column_default IS NULL AND column_name <> 'id'
            """,
            [tables],
        )
        changed = []
        for table, column, data_type in rows:
            zero = self.ZERO_BY_TYPE.get(data_type)
            if zero is not None:
                self.q(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT {zero}')
                changed.append((table, column))
        self.conn.commit()
        return changed

    def reset_defaults(self, changed: list[tuple[str, str]]) -> None:
        for table, column in changed:
            self.q(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
        self.conn.commit()

    # -- indexes -------------------------------------------------------------------------
    def drop_secondary_indexes(self, tables: list[str]) -> list[str]:
        """Drop indexes that back no constraint; return their definitions to rebuild."""
        rows = self.q(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        for name, _ in rows:
            self.q(f"DROP INDEX {name}")
        self.conn.commit()
        return [d for _, d in rows]

    def rebuild_indexes(self, defs: list[str]) -> None:
        bar = Progress("rebuild indexes", len(defs))
        for d in defs:
            self.q(d)
            self.conn.commit()
            bar.advance()
        bar.close()


def seed(
    db_url: str,
    tickets: int,
    *,
    force: bool = False,
    articles: int = ARTICLES,
    redis_url: str = "redis://127.0.0.1:6379/14",
) -> bool:
    """Seed ``db_url`` unless it already holds a bench data set of this size.

    Returns True when it seeded, False when it reused the existing data."""
    if not force and seeded_size(db_url) == tickets:
        log(
            f"{db_name(db_url)}: already seeded with {tickets:,} tickets, reusing it (--force redoes)"
        )
        # Code merged since the seeding may bring migrations (indexes, columns): apply them.
        env = django_env(db_url, redis_url, ROOT / "var" / "bench")
        env["DJANGO_DEBUG"] = "1"
        run_manage(["migrate", "--noinput", "-v", "0"], env)
        # Days have passed since the seeding: roll up the finished ones, as the
        # dashboard's hourly task would have (only the missing days are built).
        build_rollups(env)
        load_articles(env, articles)
        return False
    started = time.monotonic()
    log(f"{db_name(db_url)}: creating the database")
    recreate_database(db_url)
    env = django_env(db_url, redis_url, ROOT / "var" / "bench")
    env["DJANGO_DEBUG"] = "1"  # seed_demo and migrate need no production key checks
    log("migrate")
    run_manage(["migrate", "--noinput", "-v", "0"], env)
    log("seed_demo")
    run_manage(["seed_demo", "--no-history"], env)  # the bench loads its own history

    conn = connect(db_url)
    s = Seeder(conn, tickets, articles)
    # A bulk load: no fsync wait per chunk, big sort memory for the index builds, and
    # foreign-key triggers off (the generator only uses ids it has just read).
    s.q("SET synchronous_commit = off")
    s.q("SET maintenance_work_mem = '512MB'")
    s.q("SET work_mem = '64MB'")
    s.q("SET session_replication_role = replica")
    s.q("SELECT setseed(0.42)")
    conn.commit()
    loaded = [
        "auth_user", "tiers_agentprofile", "tickets_category", "tiers_vendorcontact",
        "tickets_ticket", "tickets_ticketevent", "tickets_satisfactionrating",
        "tiers_vendorhandoff",
    ]  # fmt: skip
    temporary_defaults = s.default_new_columns(loaded)
    log("agents, categories, vendors")
    s.agents()
    s.categories()
    s.vendors()
    conn.commit()
    tables = [
        "tickets_ticket",
        "tickets_ticketsearch",
        "tickets_ticketevent",
        "tickets_satisfactionrating",
        "tiers_vendorhandoff",
    ]
    index_defs = s.drop_secondary_indexes(tables)
    s.load_tickets()
    # Triggers are off while loading (replica role): fill the searchable-text side
    # table the trigger would have filled, before its trigram indexes are rebuilt.
    log("ticket search text")
    s.q(
        "INSERT INTO tickets_ticketsearch (ticket_id, subject, description, requester_email) "
        "SELECT id, subject, description, requester_email FROM tickets_ticket "
        "ON CONFLICT (ticket_id) DO NOTHING"
    )
    log("vendor hand-offs and CSAT ratings")
    s.vendor_handoffs()
    s.ratings()
    conn.commit()
    s.rebuild_indexes(index_defs)
    s.reset_defaults(temporary_defaults)
    s.q("SET session_replication_role = origin")
    conn.commit()
    s.q(f"CREATE TABLE IF NOT EXISTS {MARKER} (tickets int, events bigint, seeded_at timestamptz)")
    events = s.one("SELECT count(*) FROM tickets_ticketevent")
    s.q(f"INSERT INTO {MARKER} VALUES (%s, %s, now())", [tickets, events])
    conn.commit()
    conn.autocommit = True
    tables_to_analyze = [
        *tables,
        "auth_user",
        "tiers_agentprofile",
        "tickets_category",
    ]
    bar = Progress("VACUUM ANALYZE", len(tables_to_analyze))
    for t in tables_to_analyze:
        s.q(f"VACUUM ANALYZE {t}")
        bar.advance()
    bar.close()
    build_rollups(env)
    load_articles(env, articles)
    counts = {
        t: s.one(f"SELECT count(*) FROM {t}")
        for t in (
            "tickets_ticket",
            "tickets_ticketevent",
            "tickets_satisfactionrating",
            "tiers_vendorhandoff",
            "knowledgebase_article",
            "tiers_agentprofile",
            "tickets_category",
        )
    }
    conn.close()
    log(
        f"seeded in {time.monotonic() - started:.0f}s: "
        + ", ".join(f"{k}={v:,}" for k, v in counts.items())
    )
    return True


def load_articles(env: dict[str, str], articles: int) -> None:
    """The KB: ``bench/kb.py``'s generator (varied titles and bodies from its topic,
    detail and problem lists, the words its timed queries are made of), through the ORM
    so the KB's trigger fills the search columns. Reused databases get the same."""
    log("KB articles (bench/kb.py --generate-only)")
    subprocess.run(
        [PYTHON, "bench/kb.py", "--generate-only", "--articles", str(articles)],
        cwd=ROOT,
        env=env,
        check=True,
    )


def build_rollups(env: dict[str, str]) -> None:
    """Build the dashboard's daily rollups of every finished day, as production's
    hourly ``reports_rollup_refresh`` task keeps them: without them every dashboard
    request computes its whole range from the events live (seconds, not milliseconds),
    which production never does. Two years take about a minute; a progress line per
    month of days."""
    log("dashboard rollups (reports_rollup)")
    run_manage(["reports_rollup", "--progress"], env)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--force", action="store_true", help="drop and reseed even when present")
    args = parser.parse_args()
    seed(
        args.db_url,
        args.tickets,
        force=args.force,
        articles=args.articles,
        redis_url=args.redis_url,
    )


if __name__ == "__main__":
    main()
