"""What a manager does on the manager pages, and what the audit log then says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from desk.models import AuditEntry
from integrations.models import ApiToken, Webhook
from tests.factories import CategoryFactory, make_agent
from tickets.models import CannedResponse, Category
from tiers.models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    Holiday,
    SLAPolicy,
    VendorContact,
)

pytestmark = pytest.mark.django_db


def _category_data(**overrides):
    data = {
        "name": "Printers",
        "slug": "printers",
        "description": "Paper jams and queues",
        "entry_tier": "2",
        "default_priority": "high",
        "sort_order": "10",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_a_category_is_created_with_its_entry_tier_and_the_log_says_so(manager_client):
    response = manager_client.post(reverse("desk:category-new"), _category_data())
    assert response.status_code == 302
    category = Category.objects.get(slug="printers")
    assert (category.entry_tier, category.default_priority) == (2, "high")
    entry = AuditEntry.objects.get()
    assert (entry.actor_name, entry.action, entry.object_type) == (
        "manager",
        "create",
        "tickets.category",
    )
    assert entry.changes["entry_tier"] == [None, 2]
    assert entry.object_id == str(category.pk)


def test_changing_a_category_logs_before_and_after_only_of_what_changed(manager_client):
    category = CategoryFactory(name="Printers", slug="printers", entry_tier=1)
    url = reverse("desk:category-edit", args=[category.pk])
    manager_client.post(url, _category_data(entry_tier="3", default_priority=""))
    entry = AuditEntry.objects.get()
    assert entry.action == "update"
    assert entry.changes["entry_tier"] == [1, 3]
    assert "name" not in entry.changes
    # Saving again with the same values writes no entry.
    manager_client.post(url, _category_data(entry_tier="3", default_priority=""))
    assert AuditEntry.objects.count() == 1


def test_a_bad_category_is_a_400_with_the_field_message_and_nothing_written(manager_client):
    CategoryFactory(name="Printers", slug="printers")
    response = manager_client.post(
        reverse("desk:category-new"), _category_data(slug="other", entry_tier="9")
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Category with this Name already exists." in text
    assert "Select a valid choice. 9 is not one of the available choices." in text
    assert Category.objects.count() == 1
    assert not AuditEntry.objects.exists()


def test_the_budget_grid_sets_each_tier_and_priority(manager_client, policies):
    grid = {f"t{p.tier}_{p.priority}": str(p.budget) for p in EscalationPolicy.objects.all()}
    grid["t1_urgent"] = "0:20:00"
    grid["t2_low"] = "3 00:00:00"
    response = manager_client.post(reverse("desk:budgets"), grid)
    assert response.status_code == 302
    assert EscalationPolicy.objects.get(tier=1, priority="urgent").budget == timedelta(minutes=20)
    assert EscalationPolicy.objects.get(tier=2, priority="low").budget == timedelta(days=3)
    changes = {e.object_repr: e.changes["budget"] for e in AuditEntry.objects.all()}
    assert len(changes) == 2
    assert ["0:30:00", "0:20:00"] in changes.values()


def test_a_zero_or_garbled_budget_is_refused_and_nothing_changes(manager_client, policies):
    before = {(p.tier, p.priority): p.budget for p in EscalationPolicy.objects.all()}
    response = manager_client.post(
        reverse("desk:budgets"), {"t1_urgent": "0:00:00", "t1_high": "soon", "t2_low": "1:00:00"}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Give a duration longer than zero." in text
    assert "Enter a valid duration." in text
    assert {(p.tier, p.priority): p.budget for p in EscalationPolicy.objects.all()} == before
    assert not AuditEntry.objects.exists()


def test_a_missing_budget_row_is_created_from_the_grid(manager_client, calendar):
    manager_client.post(reverse("desk:budgets"), {"t3_urgent": "1:00:00"})
    policy = EscalationPolicy.objects.get(tier=3, priority="urgent")
    assert policy.budget == timedelta(hours=1)
    assert AuditEntry.objects.get().action == "create"


def test_an_agent_changes_tier_availability_and_capacity(manager_client):
    agent = make_agent(1, username="newbie")
    profile = agent.agent_profile
    url = reverse("desk:agent-edit", args=[profile.pk])
    response = manager_client.post(
        url, {"tier": "2", "is_available": "", "capacity": "5", "is_active": "on"}
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.tier, profile.is_available, profile.capacity) == (2, False, 5)
    entry = AuditEntry.objects.get()
    assert entry.changes["tier"] == [1, 2]
    assert entry.changes["capacity"] == [None, 5]
    listing = manager_client.get(reverse("desk:agents")).content.decode()
    assert "0 / 5" in listing


def test_a_deactivated_agent_no_longer_sees_the_queue(manager_client, client):
    agent = make_agent(1, username="leaver")
    manager_client.post(
        reverse("desk:agent-edit", args=[agent.agent_profile.pk]),
        {"tier": "1", "is_available": "on", "capacity": ""},
    )
    assert AgentProfile.objects.get(user=agent).is_active is False
    client.force_login(agent)
    assert client.get(reverse("tickets:agent-queue")).status_code in (302, 403)


def test_a_new_agent_gets_a_set_your_password_mail(
    manager_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("desk:agent-new"),
            {"username": "sam", "email": "sam@example.com", "first_name": "Sam", "tier": "2"},
        )
    assert response.status_code == 302
    profile = AgentProfile.objects.get(user__username="sam")
    assert profile.tier == 2
    assert not profile.user.has_usable_password()
    assert [m.to for m in mail.outbox] == [["sam@example.com"]]
    assert "/accounts/reset/" in mail.outbox[0].body
    assert AuditEntry.objects.get().changes["username"] == [None, "sam"]


def test_a_taken_username_is_a_400(manager_client):
    make_agent(1, username="sam")
    response = manager_client.post(
        reverse("desk:agent-new"), {"username": "SAM", "email": "x@example.com", "tier": "1"}
    )
    assert response.status_code == 400
    assert "The username SAM is taken." in response.content.decode()


def test_reset_password_and_revoke_tokens(manager_client, django_capture_on_commit_callbacks):
    agent = make_agent(1, username="lost")
    ApiToken.objects.create(user=agent, name="a", prefix="td_a", key_hash="a" * 64)
    ApiToken.objects.create(user=agent, name="b", prefix="td_b", key_hash="b" * 64)
    pk = agent.agent_profile.pk
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("desk:agent-password", args=[pk]))
    agent.refresh_from_db()
    assert not agent.has_usable_password()
    assert mail.outbox[0].to == [agent.email]
    manager_client.post(reverse("desk:agent-tokens", args=[pk]))
    assert not ApiToken.objects.filter(user=agent, revoked_at=None).exists()
    notes = list(AuditEntry.objects.order_by("id").values_list("note", flat=True))
    assert notes[0].startswith("Password reset")
    assert notes[1] == "API tokens revoked: 2."


def test_choosing_a_new_default_calendar_moves_the_mark(manager_client, calendar):
    response = manager_client.post(
        reverse("desk:calendar-new"),
        {"name": "Office hours", "time_zone": "Europe/Berlin", "is_default": "on"},
    )
    assert response.status_code == 302
    new = BusinessCalendar.objects.get(name="Office hours")
    assert new.is_default and new.time_zone == "Europe/Berlin"
    calendar.refresh_from_db()
    assert not calendar.is_default


def test_an_unknown_time_zone_is_refused(manager_client):
    response = manager_client.post(
        reverse("desk:calendar-new"), {"name": "Mars", "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 400
    assert not BusinessCalendar.objects.filter(name="Mars").exists()


def test_holidays_are_added_once_per_day_and_removed(manager_client, calendar):
    url = reverse("desk:holiday-add", args=[calendar.pk])
    data = {"holiday-date": "2026-12-25", "holiday-name": "Christmas"}
    assert manager_client.post(url, data).status_code == 302
    response = manager_client.post(url, data)
    assert response.status_code == 400
    assert "This calendar has a holiday on that day already." in response.content.decode()
    holiday = Holiday.objects.get()
    manager_client.post(reverse("desk:holiday-delete", args=[holiday.pk]))
    assert not Holiday.objects.exists()
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("id")) == [
        "create",
        "delete",
    ]


def test_working_hours_must_end_after_they_start(manager_client, calendar):
    response = manager_client.post(
        reverse("desk:hours-add", args=[calendar.pk]),
        {"hours-weekday": "0", "hours-start": "17:00", "hours-end": "09:00"},
    )
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    assert not calendar.hours.exists()


def test_sla_resolution_cannot_precede_the_first_response(manager_client, calendar):
    response = manager_client.post(
        reverse("desk:sla-new"),
        {
            "priority": "urgent",
            "first_response": "2:00:00",
            "resolution": "1:00:00",
            "warn_at_percent": "75",
        },
    )
    assert response.status_code == 400
    assert "Resolution cannot come before the first response." in response.content.decode()
    assert not SLAPolicy.objects.exists()


def test_a_vendors_categories_are_logged_by_name(manager_client):
    fw = CategoryFactory(name="Firmware", slug="firmware")
    hw = CategoryFactory(name="Hardware", slug="hardware")
    data = {
        "name": "Vera",
        "company": "Acme",
        "email": "vera@acme.example",
        "categories": [fw.pk],
        "response_target": "8:00:00",
        "resolution_target": "3 00:00:00",
        "is_active": "on",
    }
    manager_client.post(reverse("desk:vendor-new"), data)
    vendor = VendorContact.objects.get()
    manager_client.post(
        reverse("desk:vendor-edit", args=[vendor.pk]), {**data, "categories": [fw.pk, hw.pk]}
    )
    assert set(vendor.categories.values_list("slug", flat=True)) == {"firmware", "hardware"}
    change = AuditEntry.objects.filter(action="update").get().changes
    assert change == {"categories": [["Firmware"], ["Firmware", "Hardware"]]}


def test_canned_responses_are_created_and_deleted(manager_client):
    manager_client.post(
        reverse("desk:canned-new"),
        {"title": "Hi", "body": "Hello {{ requester_name }}", "tier": "1"},
    )
    canned = CannedResponse.objects.get()
    manager_client.post(reverse("desk:canned-delete", args=[canned.pk]))
    assert not CannedResponse.objects.exists()
    entry = AuditEntry.objects.filter(action="delete").get()
    assert entry.changes["title"] == ["Hi", None]


def test_a_webhook_to_an_internal_address_is_refused(manager_client):
    response = manager_client.post(
        reverse("desk:webhook-new"),
        {"name": "Inside", "url": "http://127.0.0.1:8000/hook", "events": ["ticket.created"]},
    )
    assert response.status_code == 400
    assert "Refused: internal address." in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_webhook_secret_never_reaches_the_log(manager_client, monkeypatch):
    monkeypatch.setattr("desk.forms.webhook_url_check", lambda url: None)
    response = manager_client.post(
        reverse("desk:webhook-new"),
        {"name": "CRM", "url": "https://crm.example.com/hook", "events": ["ticket.created"]},
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert webhook.created_by.username == "manager"
    entry = AuditEntry.objects.get()
    assert "secret" not in entry.changes
    assert webhook.secret not in str(entry.changes)


def test_a_manager_revokes_anyones_token_once(manager_client):
    agent = make_agent(1, username="scripted")
    token = ApiToken.objects.create(user=agent, name="ci", prefix="td_c", key_hash="c" * 64)
    url = reverse("desk:token-revoke", args=[token.pk])
    assert manager_client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = manager_client.post(url)
    assert response.status_code == 409
    assert "This token was revoked already." in response.content.decode()


def test_unknown_ids_are_404(manager_client):
    assert manager_client.get(reverse("desk:category-edit", args=[999999])).status_code == 404
    assert manager_client.post(reverse("desk:canned-delete", args=[999999])).status_code == 404


def test_a_manager_cannot_lock_themselves_out(manager_client, demo_manager):
    url = reverse("desk:agent-edit", args=[demo_manager.agent_profile.pk])
    response = manager_client.post(url, {"tier": "3", "is_available": "on"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "You cannot remove your own manager role." in text
    assert "You cannot deactivate yourself." in text
    profile = AgentProfile.objects.get(user=demo_manager)
    assert profile.is_manager and profile.is_active
