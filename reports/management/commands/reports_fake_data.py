"""Generate a large, self-consistent ticket history for measuring the dashboard.

Everything is inserted by PostgreSQL itself (``INSERT … SELECT … generate_series``),
batch by batch with a progress line: 1,000,000 tickets and about 3.3 million events
take a few minutes. Each ticket follows a plausible path — created at its category's
entry tier, a first reply, escalations (manual or by timer, some marked avoidable,
Tier 4 with a vendor hand-off), a resolution (some with a KB article, a quarter
rated) — unless it is still open. Events, ticket fields, ratings, hand-offs and
deflection sessions agree with each other, so every dashboard figure has data.

Needs the demo data (``seed_demo``) for categories, agents, articles and a vendor.
Never run it on a production database: it only adds rows, but a lot of them.
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from knowledgebase.models import Article
from tickets.models import Category
from tiers.models import AgentProfile, VendorContact

# One SELECT computes the whole path of each ticket of the batch; the tickets and
# their events are inserted from it. Stint means: exponential, per tier.
_PLAN_SQL = """
CREATE TEMP TABLE fake_plan ON COMMIT DROP AS
WITH base AS (
    SELECT %(first_id)s + g AS id,
        %(now)s - (%(days)s * power(random(), %(skew)s)) * interval '1 day' AS created_at,
        1 + floor(random() * cardinality(%(cat_ids)s::bigint[]))::int AS ci,
        (ARRAY['low','normal','normal','normal','high','urgent'])[1 + floor(random() * 6)::int] AS priority,
        random() AS r_esc1, random() AS r_esc2, random() AS r_esc3, random() AS r_res,
        random() AS r_fc, random() AS r_art, random() AS r_kind, random() AS r_csat,
        random() AS r_agent, random() AS r_avoid, random() AS r_wait,
        -ln(1 - random()) * 1800 AS fr_s,
        -ln(1 - random()) * 4 * 3600 AS s0, -ln(1 - random()) * 10 * 3600 AS s1,
        -ln(1 - random()) * 24 * 3600 AS s2, -ln(1 - random()) * 48 * 3600 AS s3
    FROM generate_series(1, %(batch)s) g
),
p1 AS (
    SELECT b.*, (%(cat_ids)s::bigint[])[ci] AS category_id, (%(cat_tiers)s::int[])[ci] AS entry_tier,
        -- planned escalations: 1 in 4 leave Tier 1, 3 in 10 of those leave Tier 2, 1 in 5 go on
        CASE WHEN r_esc1 >= 0.25 THEN 0 WHEN r_esc2 >= 0.30 THEN 1 WHEN r_esc3 >= 0.20 THEN 2 ELSE 3 END AS planned
    FROM base b
),
p2 AS (
    SELECT p.*, LEAST(planned, 4 - entry_tier) AS n_plan,
        created_at + s0 * interval '1 second' AS t1,
        created_at + (s0 + s1) * interval '1 second' AS t2,
        created_at + (s0 + s1 + s2) * interval '1 second' AS t3
    FROM p1 p
),
p3 AS (
    SELECT p.*,
        CASE n_plan WHEN 0 THEN t1 WHEN 1 THEN t2 WHEN 2 THEN t3
             ELSE t3 + s3 * interval '1 second' END AS planned_resolved_at
    FROM p2 p
),
p4 AS (
    SELECT p.*,
        (planned_resolved_at < %(now)s AND r_res < 0.98) AS is_resolved,
        (CASE WHEN n_plan >= 1 AND t1 < %(now)s THEN 1 ELSE 0 END
         + CASE WHEN n_plan >= 2 AND t2 < %(now)s THEN 1 ELSE 0 END
         + CASE WHEN n_plan >= 3 AND t3 < %(now)s THEN 1 ELSE 0 END) AS n_esc
    FROM p3 p
)
SELECT p.*, entry_tier + n_esc AS tier,
    CASE n_esc WHEN 1 THEN t1 WHEN 2 THEN t2 WHEN 3 THEN t3 END AS t_last,
    CASE WHEN is_resolved THEN planned_resolved_at END AS resolved_at,
    CASE WHEN created_at + LEAST(fr_s, s0) * interval '1 second' < %(now)s
         THEN created_at + LEAST(fr_s, s0) * interval '1 second' END AS first_response_at,
    (is_resolved AND n_esc = 0 AND entry_tier = 1 AND r_fc < 0.8) AS first_contact,
    CASE WHEN is_resolved AND r_art < 0.3
         THEN 1 + floor(r_art / 0.3 * cardinality(%(art_ids)s::bigint[]))::int END AS ai
FROM p4 p
"""

_TICKETS_SQL = """
INSERT INTO tickets_ticket (
    id, reference, tracking_token, subject, description, category_id, requester_name,
    requester_email, tier, status, priority, assignee_id, first_response_due, first_response_at,
    resolution_due, sla_breached_at, escalation_count, reopen_count, customer_round_trips,
    first_contact_resolution, resolution, resolved_at, resolved_by_id, resolved_tier,
    resolved_article_id, closed_at, created_at, updated_at)
SELECT id, 'TD-' || CASE WHEN id < 1000000 THEN lpad(id::text, 6, '0') ELSE id::text END, md5(random()::text || id::text) || md5(id::text),
    'Generated ticket ' || id, 'Generated for the dashboard benchmark.', category_id,
    'Generated Customer', 'customer' || (id %% 5000) || '@example.com', tier,
    CASE WHEN resolved_at IS NULL THEN
            CASE WHEN r_wait < 0.2 THEN 'pending_customer' WHEN first_response_at IS NULL THEN 'new'
                 WHEN tier = 4 THEN 'pending_vendor' ELSE 'open' END
         WHEN resolved_at < %(now)s - interval '7 days' THEN 'closed' ELSE 'resolved' END,
    priority,
    (%(agents)s::bigint[])[1 + (tier - 1) * %(per_tier)s + floor(r_agent * %(per_tier)s)::int],
    created_at + interval '4 hours', first_response_at, created_at + interval '3 days',
    CASE WHEN COALESCE(resolved_at, %(now)s) > created_at + interval '3 days'
         THEN created_at + interval '3 days' END,
    n_esc, 0, 0, first_contact, CASE WHEN resolved_at IS NULL THEN '' ELSE 'Fixed.' END,
    resolved_at,
    CASE WHEN resolved_at IS NOT NULL THEN
        (%(agents)s::bigint[])[1 + (tier - 1) * %(per_tier)s + floor(r_agent * %(per_tier)s)::int] END,
    CASE WHEN resolved_at IS NOT NULL THEN tier END,
    (%(art_ids)s::bigint[])[ai],
    CASE WHEN resolved_at < %(now)s - interval '7 days' THEN resolved_at + interval '7 days' END,
    created_at, COALESCE(resolved_at, created_at)
FROM fake_plan
"""

_EVENTS_SQL = """
INSERT INTO tickets_ticketevent (ticket_id, kind, actor_id, actor_name, body, is_public, data,
                                 notify, created_at)
SELECT id, 'created', NULL, 'Generated Customer', '', true,
       jsonb_build_object('tier', entry_tier, 'priority', priority, 'via', 'web'), false, created_at
FROM fake_plan
UNION ALL
SELECT id, 'reply', (%(agents)s::bigint[])[1 + (entry_tier - 1) * %(per_tier)s + floor(r_agent * %(per_tier)s)::int],
       '', 'Looking into it.', true, '{}'::jsonb, false, first_response_at
FROM fake_plan WHERE first_response_at IS NOT NULL
UNION ALL
SELECT id, CASE WHEN r_kind < 0.5 THEN 'escalated' ELSE 'promoted' END,
       CASE WHEN r_kind < 0.5 THEN (%(agents)s::bigint[])[1 + (entry_tier + k - 2) * %(per_tier)s + floor(r_agent * %(per_tier)s)::int] END,
       CASE WHEN r_kind < 0.5 THEN '' ELSE 'system' END, '', false,
       jsonb_build_object('from_tier', entry_tier + k - 1, 'to_tier', entry_tier + k),
       false, CASE k WHEN 1 THEN t1 WHEN 2 THEN t2 ELSE t3 END
FROM fake_plan, generate_series(1, 3) k WHERE k <= n_esc
UNION ALL
SELECT id, 'avoidable', (%(agents)s::bigint[])[1 + %(per_tier)s + floor(r_agent * %(per_tier)s)::int], '', '', false,
       jsonb_build_object('tier', 1, 'article', CASE WHEN r_avoid < 0.05 THEN (%(art_slugs)s::text[])[1 + floor(r_avoid * 20 * cardinality(%(art_slugs)s::text[]))::int] END,
           'missing_article', r_avoid >= 0.05,
           'escalated_by', (%(agents)s::bigint[])[1 + floor(r_agent * %(per_tier)s)::int],
           'category_id', category_id),
       false, t1 + interval '1 hour'
FROM fake_plan WHERE entry_tier = 1 AND n_esc >= 1 AND r_kind < 0.5 AND r_avoid < 0.1
UNION ALL
SELECT f.id, 'resolved', t.resolved_by_id, '', 'Fixed.', true,
       jsonb_build_object('tier', f.tier, 'article', a.slug, 'first_contact', f.first_contact),
       false, f.resolved_at
FROM fake_plan f JOIN tickets_ticket t USING (id)
LEFT JOIN knowledgebase_article a ON a.id = t.resolved_article_id
WHERE f.resolved_at IS NOT NULL
"""

_EXTRAS_SQL = [
    # A quarter of the resolutions are rated.
    """
    INSERT INTO tickets_satisfactionrating (ticket_id, resolution_round, rating, comment,
                                            resolved_tier, resolved_by_id, created_at)
    SELECT t.id, 0, 1 + floor(f.r_csat / 0.25 * 5)::int, '', t.resolved_tier,
           t.resolved_by_id, t.resolved_at + interval '1 hour'
    FROM fake_plan f JOIN tickets_ticket t USING (id)
    WHERE t.resolved_at IS NOT NULL AND f.r_csat < 0.25
      AND t.resolved_at + interval '1 hour' < %(now)s
    """,
    # Tickets that reached Tier 4 went to the vendor.
    """
    INSERT INTO tiers_vendorhandoff (ticket_id, vendor_id, owner_id, nonce, summary, expires_at,
        respond_by, resolve_by, first_response_at, done_at, vendor_reference, created_at,
        updated_at)
    SELECT f.id, %(vendor)s, NULL, md5(random()::text || f.id::text), '',
           f.t_last + interval '14 days', f.t_last + interval '8 hours',
           f.t_last + interval '3 days',
           CASE WHEN f.t_last + f.fr_s * 8 * interval '1 second' < %(now)s
                THEN f.t_last + f.fr_s * 8 * interval '1 second' END,
           f.resolved_at, '', f.t_last, f.t_last
    FROM fake_plan f WHERE f.tier = 4 AND f.n_esc >= 1
    """,
    # Ticket-form sessions: three suggestions each; 40% open one; half of those send
    # no ticket (deflected), the others submit this ticket.
    """
    INSERT INTO tickets_deflection (session_key, article_id, shown_at, opened_at, ticket_id)
    SELECT 'fake-' || f.id, (%(art_ids)s::bigint[])[1 + ((f.id + k) %% cardinality(%(art_ids)s::bigint[]))::int],
           f.created_at - interval '2 minutes',
           CASE WHEN k = 1 AND f.r_fc < 0.4 THEN f.created_at - interval '1 minute' END,
           CASE WHEN f.r_fc < 0.2 THEN NULL ELSE f.id END
    FROM fake_plan f, generate_series(1, LEAST(3, cardinality(%(art_ids)s::bigint[]))) k
    WHERE f.r_agent < 0.1
    """,
]


class Command(BaseCommand):
    help = "Insert a large generated ticket history (for measuring the dashboard)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tickets", type=int, default=1_000_000)
        parser.add_argument("--days", type=int, default=730, help="History length.")
        parser.add_argument("--batch", type=int, default=50_000)
        parser.add_argument("--agents-per-tier", type=int, default=12)
        parser.add_argument("--seed", type=float, default=0.42)

    def handle(self, *args, **opts) -> None:
        categories = list(Category.objects.order_by("id").values_list("id", "entry_tier"))
        articles = list(Article.objects.order_by("id").values_list("id", "slug"))
        vendor = VendorContact.objects.order_by("id").first()
        if not categories or not articles or vendor is None:
            raise CommandError("Run `manage.py seed_demo` first (categories, articles, vendor).")
        per_tier = opts["agents_per_tier"]
        agents = self._agents(per_tier)
        now = timezone.now()
        total, batch = opts["tickets"], opts["batch"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_ticket")
            next_id = cursor.fetchone()[0]
            cursor.execute("SELECT setseed(%s)", [opts["seed"]])
        started = time.monotonic()
        done = 0
        while done < total:
            size = min(batch, total - done)
            params = {
                "first_id": next_id,
                "batch": size,
                "now": now,
                "days": opts["days"],
                # A slight skew towards recent days: a help desk that grows.
                "skew": 1.15,
                "cat_ids": [c[0] for c in categories],
                "cat_tiers": [c[1] for c in categories],
                "art_ids": [a[0] for a in articles],
                "art_slugs": [a[1] for a in articles],
                "agents": agents,
                "per_tier": per_tier,
                "vendor": vendor.pk,
            }
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_PLAN_SQL, params)
                cursor.execute(_TICKETS_SQL, params)
                cursor.execute(_EVENTS_SQL, params)
                for sql in _EXTRAS_SQL:
                    cursor.execute(sql, params)
            next_id += size
            done += size
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total - done)
            self.stdout.write(
                f"\r{done:>9,}/{total:,} tickets  {done / total:6.1%}  "
                f"{elapsed:6.0f}s elapsed  ~{eta:5.0f}s left",
                ending="",
            )
            self.stdout.flush()
        self.stdout.write("")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), "
                "(SELECT MAX(id) FROM tickets_ticket))"
            )
            cursor.execute("ANALYZE tickets_ticket")
            cursor.execute("ANALYZE tickets_ticketevent")
            cursor.execute("SELECT COUNT(*) FROM tickets_ticketevent")
            events = cursor.fetchone()[0]
        self.stdout.write(
            self.style.SUCCESS(
                f"Inserted {total:,} tickets; the database now holds {events:,} events. "
                "Run `manage.py reports_rollup` to build the daily rollups."
            )
        )

    def _agents(self, per_tier: int) -> list[int]:
        """``per_tier`` agents for each tier 1–4, flattened tier by tier (Tier 4 slots are
        the Tier 3 owners). Created once, reused on later runs."""
        User = get_user_model()
        ids: list[int] = []
        for tier in (1, 2, 3, 4):
            for n in range(per_tier):
                username = f"fake-t{min(tier, 3)}-{n:02d}"
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"first_name": "Agent", "last_name": f"T{min(tier, 3)}-{n:02d}"},
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                AgentProfile.objects.get_or_create(user=user, defaults={"tier": min(tier, 3)})
                ids.append(user.pk)
        return ids
