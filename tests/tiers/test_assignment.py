"""Auto-assignment per tier: off, round robin, least open work; availability, capacity,
skills; on creation and on timer promotion; catch-up and reassignment on absence."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from tests.factories import CategoryFactory, make_agent
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_claim, ticket_create
from tiers.assignment import assignment_sweep, auto_assign
from tiers.models import TierAssignment
from tiers.services import escalation_sweep

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
Kind = TicketEvent.Kind
Mode = TierAssignment.Mode

pytestmark = pytest.mark.django_db


def set_mode(tier: int, mode: str, **fields) -> TierAssignment:
    config, _created = TierAssignment.objects.get_or_create(tier=tier)
    config.mode = mode
    for key, value in fields.items():
        setattr(config, key, value)
    config.save()
    return config


@pytest.fixture
def team(db):
    return [make_agent(1, username=f"t1-{name}") for name in ("ana", "ben", "cem")]


@pytest.fixture
def arrive(make_ticket, django_capture_on_commit_callbacks):
    """Create tickets through the real service; the hooks run as after a commit."""

    def _arrive(n: int = 1, **kwargs) -> list[Ticket]:
        made = []
        for i in range(n):
            with django_capture_on_commit_callbacks(execute=True):
                made.append(make_ticket(subject=f"Issue {i}", **kwargs))
        return [Ticket.objects.select_related("assignee").get(pk=t.pk) for t in made]

    return _arrive


def owners(tickets) -> list[str | None]:
    return [t.assignee.get_username() if t.assignee else None for t in tickets]


def test_off_by_default_tickets_wait_in_the_queue(team, arrive):
    (ticket,) = arrive()
    assert ticket.assignee is None and ticket.status == Ticket.Status.NEW


def test_off_costs_no_query_after_the_write(team, make_ticket, django_capture_on_commit_callbacks,
                                            django_assert_max_num_queries):  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = make_ticket()
    event = ticket.events.get(kind=Kind.CREATED)
    from tiers.assignment import on_event

    on_event(event)  # warm the memo of tiers that assign
    with django_assert_max_num_queries(0):
        on_event(event)
    assert callbacks


def test_round_robin_gives_each_agent_their_turn(team, arrive, mailoutbox):
    set_mode(1, Mode.ROUND_ROBIN)
    tickets = arrive(6)
    assert owners(tickets) == ["t1-ana", "t1-ben", "t1-cem"] * 2
    assert {t.status for t in tickets} == {Ticket.Status.OPEN}
    event = tickets[0].events.get(kind=Kind.ASSIGNED)
    assert event.actor_name == "auto-assignment" and event.data["mode"] == "round_robin"
    assert "Assigned to t1-ana" in event.body
    assert any(team[0].email in m.to for m in mailoutbox)  # the agent is told


def test_least_open_work_first(team, arrive, make_ticket):
    ana, ben, _cem = team
    for _ in range(2):
        ticket_claim(ticket=make_ticket(), agent=ana)
    ticket_claim(ticket=make_ticket(), agent=ben)
    set_mode(1, Mode.LEAST_OPEN)
    assert owners(arrive(3)) == ["t1-cem", "t1-ben", "t1-cem"]


def test_away_agents_are_skipped_until_their_return_date(team, arrive):
    _ana, ben, _cem = team
    set_mode(1, Mode.ROUND_ROBIN)
    profile = ben.agent_profile
    profile.is_available, profile.away_until = False, T0 + 24 * H
    profile.save()
    with time_machine.travel(T0, tick=False):
        assert owners(arrive(3)) == ["t1-ana", "t1-cem", "t1-ana"]
    with time_machine.travel(T0 + 25 * H, tick=False):
        assert "t1-ben" in owners(arrive(3))


def test_capacity_is_respected_and_a_full_team_leaves_tickets_in_the_queue(team, arrive):
    for agent in team:
        agent.agent_profile.capacity = 1
        agent.agent_profile.save()
    set_mode(1, Mode.ROUND_ROBIN)
    assert owners(arrive(4)) == ["t1-ana", "t1-ben", "t1-cem", None]


def test_skills_route_categories(team, arrive):
    ana, ben, _cem = team
    hardware = CategoryFactory(name="Hardware", slug="hardware", entry_tier=1)
    for agent in (ana, ben):
        agent.agent_profile.skills.add(hardware)
    other = CategoryFactory(name="Printers", slug="printers", entry_tier=1)
    ana.agent_profile.skills.add(other)
    set_mode(1, Mode.ROUND_ROBIN)
    # ben only does hardware; ana does both; cem, with no skills, takes everything.
    assert set(owners(arrive(3, category=hardware))) == {"t1-ana", "t1-ben", "t1-cem"}
    assert "t1-ben" not in owners(arrive(4, category=other))


def test_a_timer_promotion_is_assigned_in_the_new_tier(make_ticket, agent2,
                                                      django_capture_on_commit_callbacks):  # fmt: skip
    set_mode(2, Mode.ROUND_ROBIN)
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket(priority="normal")  # Tier 1 normal: 8 h
    with (
        time_machine.travel(T0 + 8 * H, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        escalation_sweep(now=T0 + 8 * H)
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == (2, agent2)
    assert ticket.events.filter(kind=Kind.ASSIGNED, actor_name="auto-assignment").count() == 1


def test_a_claimed_ticket_is_left_alone(team, make_ticket):
    set_mode(1, Mode.ROUND_ROBIN)
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=team[2])
    assert auto_assign(ticket.pk) is None
    ticket.refresh_from_db()
    assert ticket.assignee == team[2]


def test_the_sweep_catches_up_a_ticket_whose_hook_did_not_run(team, make_ticket):
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket()  # no on_commit executed: as if the worker died after commit
    set_mode(1, Mode.ROUND_ROBIN)
    report = assignment_sweep(now=T0 + 2 * H)
    assert report.assigned == [ticket.reference]


def test_a_long_absence_hands_the_ticket_to_someone_else(team, make_ticket):
    ana, ben, cem = team
    set_mode(1, Mode.ROUND_ROBIN, reassign_after_hours=4)
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket()
        ticket_claim(ticket=ticket, agent=ana)
    ana.agent_profile.is_available = False
    ana.agent_profile.save()
    assert assignment_sweep(now=T0 + 3 * H).reassigned == []  # not long enough
    with time_machine.travel(T0 + 5 * H, tick=False):
        report = assignment_sweep(now=T0 + 5 * H)
    assert report.reassigned == [ticket.reference]
    ticket.refresh_from_db()
    assert ticket.assignee in (ben, cem)
    moved = ticket.events.filter(kind=Kind.ASSIGNED, data__reason="assignee_away")
    assert moved.count() == 2  # taken from ana (with why), given to the next agent
    assert "is away and nobody touched this ticket for 4 hours" in moved.first().body


@pytest.mark.django_db(transaction=True)
def test_round_robin_under_concurrent_arrivals_gives_each_agent_a_fair_share(policies, category):
    agents = [make_agent(1, username=f"rr{i}") for i in range(3)]
    set_mode(1, Mode.ROUND_ROBIN)
    errors: list[BaseException] = []

    def submit(i: int) -> None:
        try:
            ticket_create(
                category=category, subject=f"Concurrent {i}", description="Help",
                requester_name="Pat", requester_email=f"pat{i}@example.com",
            )  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    shares = Counter(
        Ticket.objects.filter(subject__startswith="Concurrent").values_list(
            "assignee__username", flat=True
        )
    )
    assert shares == {a.username: 4 for a in agents}
    # No ticket was assigned twice.
    assert TicketEvent.objects.filter(kind=Kind.ASSIGNED).count() == 12


class TestPages:
    def test_an_agent_sets_themselves_away_and_back(self, client, team):
        ana = team[0]
        client.force_login(ana)
        page = client.get(reverse("preferences")).content.decode()
        assert "Availability" in page
        response = client.post(
            reverse("preferences"),
            {"form": "availability", "away": "1", "until": "2099-01-05T09:00"},
        )
        assert response.status_code == 302
        ana.agent_profile.refresh_from_db()
        assert ana.agent_profile.is_available is False
        assert ana.agent_profile.away_until.year == 2099
        client.post(reverse("preferences"), {"form": "availability", "away": "0"})
        ana.agent_profile.refresh_from_db()
        assert ana.agent_profile.is_available and ana.agent_profile.away_until is None

    def test_a_return_date_in_the_past_is_refused(self, client, team):
        client.force_login(team[0])
        response = client.post(
            reverse("preferences"),
            {"form": "availability", "away": "1", "until": "2001-01-05T09:00"},
        )
        assert response.status_code == 400
        assert "The return date must be in the future." in response.content.decode()
        team[0].agent_profile.refresh_from_db()
        assert team[0].agent_profile.is_available

    def test_a_customer_has_no_availability(self, client, customer):
        client.force_login(customer)
        assert "Availability" not in client.get(reverse("preferences")).content.decode()
        response = client.post(reverse("preferences"), {"form": "availability", "away": "1"})
        assert response.status_code == 403

    def test_a_manager_switches_a_tier_to_round_robin(self, client, manager, team, arrive):
        config = TierAssignment.every_tier()[0]
        client.force_login(manager)
        listing = client.get(reverse("desk:assignment")).content.decode()
        assert "Off: agents claim from the queue" in listing
        response = client.post(
            reverse("desk:assignment-edit", args=[config.pk]),
            {"mode": "round_robin", "reassign_after_hours": "8"},
        )
        assert response.status_code == 302
        config.refresh_from_db()
        assert (config.mode, config.reassign_after_hours) == ("round_robin", 8)
        from desk.models import AuditEntry

        entry = AuditEntry.objects.latest("pk")
        assert entry.changes["mode"] == ["off", "round_robin"]
        # … and the next ticket is assigned on its own.
        assert owners(arrive(1)) == ["t1-ana"]

    def test_the_assignment_list_costs_a_fixed_number_of_queries(
        self, client, manager, django_assert_max_num_queries
    ):
        client.force_login(manager)
        with django_assert_max_num_queries(12):
            assert client.get(reverse("desk:assignment")).status_code == 200
