"""Reads about tiers, agents, policies and calendars. Never imports ``tickets``'
models or services (its memos use the counters of ``helpdesk.cache``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from helpdesk.cache import POLICIES, VersionedMemo

from .business_time import TWENTY_FOUR_SEVEN, CalendarSpec
from .models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    SLAPolicy,
    TierAssignment,
    VendorContact,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

#: Used when no policy row exists for a tier/priority (an admin deleted it):
#: the ticket still gets a deadline rather than silently never escalating.
FALLBACK_BUDGETS = {
    1: {"urgent": timedelta(minutes=30), "high": timedelta(hours=2), "normal": timedelta(hours=8), "low": timedelta(hours=24)},
    2: {"urgent": timedelta(hours=1), "high": timedelta(hours=4), "normal": timedelta(hours=16), "low": timedelta(hours=48)},
    3: {"urgent": timedelta(hours=2), "high": timedelta(hours=8), "normal": timedelta(hours=24), "low": timedelta(hours=72)},
}  # fmt: skip


@dataclass(frozen=True)
class BudgetRule:
    """The policy that governs a ticket's stay in a tier, and why."""

    tier: int
    priority: str
    budget: timedelta
    warn_at_percent: int
    calendar: CalendarSpec
    policy_id: int | None

    def describe(self) -> str:
        source = f"policy #{self.policy_id}" if self.policy_id else "built-in default"
        return (
            f"Tier {self.tier} {self.priority} budget {self.budget} ({source}), "
            f"calendar {self.calendar.describe()}"
        )


@dataclass(frozen=True)
class SLARule:
    """An SLA policy's targets as plain data (what ``sla_policy_for`` returns): safe to
    keep across requests, unlike a model instance with lazy relations."""

    id: int
    priority: str
    first_response: timedelta
    resolution: timedelta
    warn_at_percent: int

    @property
    def pk(self) -> int:
        return self.id


# ---------------------------------------------------------------------------
# Policies shared across requests
# ---------------------------------------------------------------------------
#: Every write of EscalationPolicy, SLAPolicy, BusinessCalendar, WorkingHours or
#: Holiday bumps this counter (receivers in ``TiersConfig.ready``, after commit): a
#: ticket create then reads one cache counter instead of 4 queries.
_policies = VersionedMemo(POLICIES)
policies_version = _policies.version
_memoized = _policies.get
#: ``with policies_pinned():`` reads the policies version once for the whole block.
policies_pinned = _policies.pinned


def calendar_spec_from(calendar: BusinessCalendar | None) -> CalendarSpec:
    if calendar is None or calendar.is_24x7:
        if calendar is None:
            return TWENTY_FOUR_SEVEN
        return CalendarSpec(time_zone=calendar.time_zone, is_24x7=True, name=calendar.name)
    hours: dict[int, list] = {}
    for h in calendar.hours.all():
        hours.setdefault(h.weekday, []).append((h.start, h.end))
    return CalendarSpec(
        time_zone=calendar.time_zone,
        is_24x7=False,
        hours={k: tuple(sorted(v)) for k, v in hours.items()},
        holidays=frozenset(h.date for h in calendar.holidays.all()),
        name=calendar.name,
    )


def calendar_default() -> CalendarSpec:
    return _memoized(("calendar_default",), _calendar_default_uncached)


def _calendar_default_uncached() -> CalendarSpec:
    # No prefetch: a 24×7 calendar (the default) never reads its hours or holidays, and
    # calendar_spec_from loads them itself for a business-hours one.
    return calendar_spec_from(BusinessCalendar.objects.filter(is_default=True).first())


def auto_assign_tiers() -> frozenset[int]:
    """The tiers whose arrivals are assigned automatically (``tiers/assignment.py``)."""
    return _memoized(
        ("auto_assign_tiers",),
        lambda: frozenset(
            TierAssignment.objects.exclude(mode=TierAssignment.Mode.OFF).values_list(
                "tier", flat=True
            )
        ),
    )


def budget_rule_for(*, tier: int, priority: str) -> BudgetRule | None:
    """The budget for a tier; ``None`` for Tier 4 (vendor time is tracked separately)."""
    if tier >= 4:
        return None
    return _memoized(
        ("budget", tier, priority),
        lambda: _budget_rule_uncached(tier=tier, priority=priority),
    )


def _budget_rule_uncached(*, tier: int, priority: str) -> BudgetRule:
    policy = (
        EscalationPolicy.objects.select_related("calendar")
        .filter(tier=tier, priority=priority)
        .first()
    )
    if policy is None:
        return BudgetRule(
            tier, priority, FALLBACK_BUDGETS[tier][priority], 75, calendar_default(), None
        )
    calendar = calendar_spec_from(policy.calendar) if policy.calendar_id else calendar_default()
    return BudgetRule(tier, priority, policy.budget, policy.warn_at_percent, calendar, policy.pk)


def sla_policy_for(*, priority: str) -> tuple[SLARule | None, CalendarSpec]:
    """The SLA targets of a priority (``None`` without a policy) and their calendar."""
    return _memoized(("sla", priority), lambda: _sla_policy_uncached(priority=priority))


def _sla_policy_uncached(*, priority: str) -> tuple[SLARule | None, CalendarSpec]:
    policy = SLAPolicy.objects.select_related("calendar").filter(priority=priority).first()
    if policy is None:
        return None, calendar_default()
    rule = SLARule(
        policy.pk, policy.priority, policy.first_response, policy.resolution, policy.warn_at_percent
    )
    if policy.calendar_id:
        return rule, calendar_spec_from(policy.calendar)
    return rule, calendar_default()


def agent_profile_of(user: AbstractBaseUser | AnonymousUser | None) -> AgentProfile | None:
    """The active agent profile of a user, cached on the user object for the request."""
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(user, "_tierdesk_profile", False)
    if cached is not False:
        return cached
    profile = AgentProfile.objects.filter(user=user, is_active=True).first()
    user._tierdesk_profile = profile
    return profile


def user_is_agent(user) -> bool:
    return agent_profile_of(user) is not None


def user_is_manager(user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    profile = agent_profile_of(user)
    return bool(profile and profile.is_manager)


def user_max_tier(user) -> int:
    """Highest tier whose tickets the user may see: managers all, agents their own and below."""
    if user_is_manager(user):
        return 4
    profile = agent_profile_of(user)
    if profile is None:
        return 0
    # Tier 3 agents stay accountable for vendor tickets, so they see Tier 4.
    return 4 if profile.tier >= 3 else profile.tier


def agents_of_tier(*, tier: int) -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(tier=tier, is_active=True).select_related("user")


def managers() -> QuerySet[AgentProfile]:
    return AgentProfile.objects.filter(is_manager=True, is_active=True).select_related("user")


def vendor_for_category(*, category_id: int) -> VendorContact | None:
    return (
        VendorContact.objects.filter(is_active=True, categories__id=category_id)
        .order_by("id")
        .first()
    )
