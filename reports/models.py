"""Daily rollups behind the manager dashboard.

The dashboard never loads tickets into Python: it aggregates these rows (one per
day and dimension) in the database, and computes the days that have no rollup yet
(always today) live with the very same SQL (``reports.rollup``). Rows are rebuilt
whole per day, so a rebuild is idempotent.

Every rollup row is keyed by the *day a fact happened* (server time zone) and the
dimension of that fact; each column documents which tier it is counted under:

* ``created``/``first_response_*``: the tier the ticket entered at (entry tier);
* ``arrivals``: the tier the ticket arrived in (created, moved in, reopened);
* ``departures``/``escalated``/``deescalated``/``pingpong``/``stint_seconds``: the
  tier the ticket left (``stint_seconds`` is the time spent in it, see rollup.py);
* ``resolved``/``resolution_seconds``/``csat_*``: the tier that resolved it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


def _seconds_array() -> ArrayField:
    return ArrayField(models.IntegerField(), default=list, blank=True)


class RollupDay(models.Model):
    """Marks a day whose rollup rows are complete (built after the day ended)."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"rollup {self.day}"


class _DailyFacts(models.Model):
    """The counts and duration arrays of one rollup row, shared by the fine
    (category × priority × tier) and the coarse (priority × tier) rollups, which the
    same SQL fills."""

    created = models.IntegerField(default=0)
    arrivals = models.IntegerField(default=0)
    departures = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    resolved_first_contact = models.IntegerField(default=0)
    resolved_breached = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)
    deescalated = models.IntegerField(default=0)
    pingpong = models.IntegerField(default=0)
    csat_count = models.IntegerField(default=0)
    csat_sum = models.IntegerField(default=0)
    resolution_seconds = _seconds_array()
    first_response_seconds = _seconds_array()
    stint_seconds = _seconds_array()

    class Meta:
        abstract = True


class DailyTicketRollup(_DailyFacts):
    day = models.DateField()
    category = models.ForeignKey(
        "tickets.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    priority = models.CharField(max_length=10)
    tier = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "category", "priority", "tier"], name="ticket_rollup_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} c{self.category_id} {self.priority} T{self.tier}"


class DailyTierRollup(_DailyFacts):
    """``DailyTicketRollup`` without the category: one row per day, priority and tier.

    The same facts, summed, with the same arrays merged (still sorted). A dashboard
    without a category filter reads these ~16 rows a day instead of ~500: the
    percentiles then unnest a few hundred arrays for 90 days, not 45,000 (the per-row
    cost was most of a request's time). Built by the same SQL as the ticket rollup.
    """

    day = models.DateField()
    priority = models.CharField(max_length=10)
    tier = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "priority", "tier"], name="tier_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.priority} T{self.tier}"


class DailyCategoryRollup(models.Model):
    """New tickets, escalations and ping-pong per day and category, all tiers and
    priorities together: the "top categories" table and its weekly trend without a
    tier or priority filter read 50 rows a day instead of ~500 wide ones."""

    day = models.DateField()
    category = models.ForeignKey(
        "tickets.Category", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    created = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)
    pingpong = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "category"], name="category_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} c{self.category_id}"


class DailyAgentRollup(models.Model):
    """What each agent finished: resolutions, escalations, stints they ended, CSAT."""

    day = models.DateField()
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    tier = models.PositiveSmallIntegerField()
    handled = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)
    csat_count = models.IntegerField(default=0)
    csat_sum = models.IntegerField(default=0)
    stint_seconds = _seconds_array()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "agent", "tier"], name="agent_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} agent {self.agent_id} T{self.tier}"


class DailyArticleRollup(models.Model):
    """Per KB article: tickets it resolved, and how often the ticket form suggested it,
    how often it was opened, and how often it was opened in a session that then sent
    no ticket (a deflection)."""

    day = models.DateField()
    article = models.ForeignKey(
        "knowledgebase.Article", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    resolved = models.IntegerField(default=0)
    shown = models.IntegerField(default=0)
    opened = models.IntegerField(default=0)
    deflected = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "article"], name="article_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} article {self.article_id}"


class DailyFunnelRollup(models.Model):
    """Deflection funnel per day, counted in ticket-form sessions."""

    day = models.DateField(primary_key=True)
    sessions_shown = models.IntegerField(default=0)
    sessions_opened = models.IntegerField(default=0)
    sessions_deflected = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"funnel {self.day}"
