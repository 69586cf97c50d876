"""Tier 4: the hand-off, the vendor's signed link and page, follow-up reminders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.exceptions import ForbiddenError
from tests.factories import VendorFactory
from tickets.models import Notification, Ticket, TicketEvent
from tickets.services import ticket_add_note, ticket_claim, ticket_escalate, ticket_reply
from tiers.models import VendorHandoff
from tiers.services import (
    EscalationError,
    vendor_followup_sweep,
    vendor_handoff,
    vendor_handoff_revoke,
)
from tiers.tokens import vendor_link_path, vendor_link_token

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
Kind = TicketEvent.Kind

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(category):
    v = VendorFactory(
        name="Dana Vendor", company="Acme Firmware", response_target=8 * H, resolution_target=72 * H
    )
    v.categories.add(category)
    return v


@pytest.fixture
def tier3_ticket(make_ticket, manager, agent3):
    """A ticket at Tier 3, claimed by agent3, with a public reply and an internal note."""
    ticket = make_ticket(subject="Firmware bricks the dock")
    ticket_reply(ticket=ticket, agent=manager, body="We are looking at it (public).")
    ticket_add_note(ticket=ticket, agent=manager, body="SECRET internal note about credentials")
    for _ in range(2):
        ticket_escalate(
            ticket=ticket, actor=manager, symptom="dock dead", steps_tried="reboot", findings="fw"
        )
    ticket_claim(ticket=ticket, agent=agent3)
    ticket.refresh_from_db()
    assert ticket.tier == 3
    return ticket


@pytest.fixture
def handoff(tier3_ticket, agent3, vendor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return vendor_handoff(ticket=tier3_ticket, actor=agent3, summary="Dock firmware 2.1 **bricks** units.")  # fmt: skip


def link(handoff: VendorHandoff) -> str:
    return vendor_link_path(handoff)


class TestHandoff:
    def test_tier3_agent_hands_off_and_stays_accountable(self, handoff, agent3, mailoutbox):
        ticket = Ticket.objects.get(pk=handoff.ticket_id)
        assert (ticket.tier, ticket.status, ticket.owner, ticket.escalate_at) == (
            4, "pending_vendor", agent3, None,
        )  # fmt: skip
        assert abs(handoff.respond_by - handoff.created_at - 8 * H) < timedelta(seconds=1)
        event = ticket.events.get(kind=Kind.VENDOR_HANDOFF)
        assert event.actor == agent3 and event.data["handoff_id"] == handoff.pk
        (mail,) = [m for m in mailoutbox if "vendor" in m.to[0]]
        assert mail.subject.startswith(f"[{ticket.reference}] Hand-off")
        assert "Dock firmware 2.1" in mail.body
        token_url = re.search(r"https?://\S+/vendor/\S+/", mail.body).group(0)
        html = mail.alternatives[0][0]
        assert token_url in html

    def test_only_tier3_agents_and_managers_hand_off(self, tier3_ticket, agent1, vendor):
        with pytest.raises(ForbiddenError):
            vendor_handoff(ticket=tier3_ticket, actor=agent1, summary="please")
        assert not VendorHandoff.objects.exists()

    def test_summary_is_required(self, tier3_ticket, agent3, vendor):
        with pytest.raises(EscalationError, match="summary"):
            vendor_handoff(ticket=tier3_ticket, actor=agent3, summary="  ")

    def test_no_vendor_flags_the_ticket_and_alerts_managers(
        self, tier3_ticket, agent3, manager, django_capture_on_commit_callbacks, mailoutbox
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(EscalationError, match="No vendor covers Password reset"),
        ):
            vendor_handoff(ticket=tier3_ticket, actor=agent3, summary="please")
        tier3_ticket.refresh_from_db()
        assert tier3_ticket.sla_breached_at is not None and tier3_ticket.tier == 3
        assert tier3_ticket.events.filter(kind=Kind.SLA_BREACH, data__reason="no_vendor").exists()
        assert any(manager.email in m.to for m in mailoutbox)

    def test_handoff_form_view(self, client, tier3_ticket, agent3, agent1, vendor):
        url = reverse("tiers:handoff-create", kwargs={"reference": tier3_ticket.reference})
        client.force_login(agent1)
        response = client.post(url, {"summary": "x"})
        assert response.status_code == 404  # a Tier 1 agent cannot even see Tier 3
        client.force_login(agent3)
        response = client.post(url, {"summary": ""}, follow=True)
        assert "Write a hand-off summary" in response.content.decode()
        response = client.post(url, {"summary": "Please look at the dock firmware."})
        assert response.status_code == 302
        assert response["Location"] == tier3_ticket.get_absolute_url()
        assert VendorHandoff.objects.filter(ticket=tier3_ticket, owner=agent3).exists()
        assert client.get(url).status_code == 405


class TestVendorPage:
    def test_shows_summary_and_public_thread_but_no_internal_notes(self, client, handoff):
        response = client.get(link(handoff))
        page = response.content.decode()
        assert response.status_code == 200
        assert "<strong>bricks</strong>" in page  # markdown rendered
        assert "We are looking at it (public)." in page
        assert "SECRET" not in page
        assert "dock dead" not in page  # the internal escalation hand-offs stay internal
        assert "Mark our part done" in page and "Post update" in page
        assert '<label for="id_vendor_reference">' in page

    def test_post_update_with_reference_and_attachment(self, client, handoff, agent3):
        upload = SimpleUploadedFile("trace.txt", b"fw log line\n", content_type="text/plain")
        response = client.post(
            link(handoff),
            {"action": "update", "body": "We reproduced it.", "vendor_reference": "ACME-991",
             "attachments": [upload]},
        )  # fmt: skip
        assert response.status_code == 302
        handoff.refresh_from_db()
        assert handoff.vendor_reference == "ACME-991"
        assert handoff.first_response_at is not None and handoff.response_time is not None
        event = TicketEvent.objects.get(kind=Kind.VENDOR_UPDATE)
        assert event.actor_name == "Dana Vendor (Acme Firmware)" and not event.is_public
        attachment = event.attachments.get()
        assert attachment.uploaded_by_name == "Dana Vendor"
        assert Notification.objects.filter(user=agent3, event=event).exists()
        page = client.get(link(handoff)).content.decode()
        assert "We reproduced it." in page and "ACME-991" in page and "trace.txt" in page

    def test_empty_update_is_a_clear_400(self, client, handoff):
        response = client.post(link(handoff), {"action": "update", "body": ""})
        assert response.status_code == 400
        assert "Write an update or attach a file." in response.content.decode()

    def test_bad_attachment_is_a_clear_400(self, client, handoff):
        upload = SimpleUploadedFile("evil.exe", b"MZ...", content_type="application/octet-stream")
        response = client.post(link(handoff), {"action": "update", "body": "x", "attachments": [upload]})  # fmt: skip
        assert response.status_code == 400
        assert "not accepted" in response.content.decode()
        assert not TicketEvent.objects.filter(kind=Kind.VENDOR_UPDATE).exists()

    def test_mark_done_returns_the_ticket_to_its_owner_at_tier3(self, client, handoff, agent3):
        response = client.post(link(handoff), {"action": "done", "note": "Fixed in 2.2."})
        assert response.status_code == 302
        ticket = Ticket.objects.get(pk=handoff.ticket_id)
        assert (ticket.tier, ticket.status, ticket.assignee) == (3, "open", agent3)
        assert ticket.escalate_at is not None  # a fresh Tier 3 budget
        handoff.refresh_from_db()
        assert handoff.done_at and handoff.resolution_time and handoff.response_time
        assert ticket.events.filter(kind=Kind.VENDOR_DONE, body="Fixed in 2.2.").exists()
        page = client.get(link(handoff)).content.decode()
        assert "You marked your part done" in page and "Post update" not in page
        again = client.post(link(handoff), {"action": "update", "body": "late"})
        assert again.status_code == 400 and "finished" in again.content.decode()

    def test_expired_link_is_403(self, client, handoff):
        url = link(handoff)
        with time_machine.travel(datetime.now(UTC) + timedelta(days=15)):
            response = client.get(url)
        assert response.status_code == 403
        assert "This vendor link has expired." in response.content.decode()

    def test_revoked_link_is_403(self, client, handoff, agent3):
        url = link(handoff)
        vendor_handoff_revoke(handoff=handoff, actor=agent3)
        response = client.get(url)
        assert response.status_code == 403
        assert "revoked" in response.content.decode()
        ticket = Ticket.objects.get(pk=handoff.ticket_id)
        assert (ticket.tier, ticket.status, ticket.assignee) == (3, "open", agent3)
        assert client.post(url, {"action": "update", "body": "x"}).status_code == 403

    @pytest.mark.parametrize("mangle", ["signature", "payload", "garbage", "long"])
    def test_tampered_link_is_403(self, client, handoff, mangle):
        token = vendor_link_token(handoff)
        if mangle == "signature":
            token = token[:-1] + ("A" if token[-1] != "A" else "B")
        elif mangle == "payload":
            token = "x" + token[1:]
        elif mangle == "garbage":
            token = "not-a-token"
        else:
            token = "a" * 1000
        response = client.get(reverse("tiers:vendor", kwargs={"token": token}))
        assert response.status_code == 403
        assert "This vendor link is not valid." in response.content.decode()

    def test_forged_nonce_is_403(self, client, handoff):
        from django.core import signing

        from tiers.tokens import SALT

        token = signing.dumps({"h": handoff.pk, "n": "guessed"}, salt=SALT)
        assert client.get(reverse("tiers:vendor", kwargs={"token": token})).status_code == 403

    def test_revoke_view_and_admin_action(self, client, handoff, manager, admin_user):
        url = reverse("tiers:handoff-revoke", kwargs={"reference": handoff.ticket.reference})
        client.force_login(manager)
        assert client.post(url).status_code == 302
        handoff.refresh_from_db()
        assert handoff.revoked_at is not None
        client.force_login(admin_user)
        response = client.post(
            reverse("admin:tiers_vendorhandoff_changelist"),
            {"action": "revoke_link", "_selected_action": [handoff.pk]},
            follow=True,
        )
        assert response.status_code == 200


class TestFollowup:
    def test_chase_at_75_percent_then_overdue_once(
        self, handoff, manager, django_capture_on_commit_callbacks, mailoutbox
    ):
        mailoutbox.clear()
        start = handoff.created_at
        with django_capture_on_commit_callbacks(execute=True):
            assert vendor_followup_sweep(now=start + 5 * H).chased == []
            assert vendor_followup_sweep(now=start + 6 * H).chased == [handoff.ticket.reference]
            assert vendor_followup_sweep(now=start + 7 * H).chased == []
        assert next(m.subject for m in mailoutbox if "vendor" in m.to[0]).startswith(
            f"[{handoff.ticket.reference}] Reminder"
        )
        with django_capture_on_commit_callbacks(execute=True):
            report = vendor_followup_sweep(now=start + 8 * H)
        assert report.overdue == [handoff.ticket.reference]
        assert vendor_followup_sweep(now=start + 9 * H).overdue == []
        event = TicketEvent.objects.get(kind=Kind.VENDOR_OVERDUE)
        assert event.data["missed"] == "response"
        assert any(manager.email in m.to for m in mailoutbox)

    def test_lost_alert_is_resent(self, tier3_ticket, agent3, vendor, mailoutbox):
        # No on-commit execution: as if the broker was down when the hand-off happened.
        handoff = vendor_handoff(ticket=tier3_ticket, actor=agent3, summary="please")
        assert not [m for m in mailoutbox if vendor.email in m.to]
        report = vendor_followup_sweep(now=handoff.created_at + timedelta(minutes=1))
        assert report.alerts_resent == 1
        assert len([m for m in mailoutbox if vendor.email in m.to]) == 1
        assert (
            vendor_followup_sweep(now=handoff.created_at + timedelta(minutes=2)).alerts_resent == 0
        )


class TestPermissions:
    def test_handoff_needs_tier_3(self, make_ticket, manager, vendor):
        ticket = make_ticket()
        with pytest.raises(EscalationError, match="Only Tier 3 tickets"):
            vendor_handoff(ticket=ticket, actor=manager, summary="please")

    def test_second_handoff_is_a_conflict(self, handoff, agent3):
        from helpdesk.exceptions import ConflictError

        with pytest.raises(ConflictError, match="already with a vendor"):
            vendor_handoff(ticket=handoff.ticket, actor=agent3, summary="again")

    def test_revoke_needs_tier_3_or_the_owner(self, client, handoff, agent1):
        with pytest.raises(ForbiddenError):
            vendor_handoff_revoke(handoff=handoff, actor=agent1)
        url = reverse("tiers:handoff-revoke", kwargs={"reference": handoff.ticket.reference})
        client.force_login(agent1)
        assert client.post(url).status_code == 404  # Tier 4 is not visible to Tier 1
        handoff.refresh_from_db()
        assert handoff.revoked_at is None


def test_notification_slices_hand_the_rest_back(handoff):
    from tiers.services import events_notify

    events = list(TicketEvent.objects.filter(ticket=handoff.ticket).values_list("pk", flat=True))
    _sent, rest = events_notify(event_ids=events, time_budget=0)
    assert rest == events[1:]  # one event per slice at least, the rest handed back
    _sent, rest = events_notify(event_ids=rest)
    assert rest == []


def test_managers_edit_escalation_policies_in_the_admin(client, policies, manager, agent1):
    from tiers.models import EscalationPolicy

    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    policy = EscalationPolicy.objects.get(tier=1, priority="urgent")
    url = reverse("admin:tiers_escalationpolicy_change", args=[policy.pk])
    client.force_login(manager)
    assert client.get(reverse("admin:tiers_escalationpolicy_changelist")).status_code == 200
    response = client.post(
        url, {"tier": 1, "priority": "urgent", "budget": "00:45:00", "warn_at_percent": 80}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.budget == timedelta(minutes=45) and policy.warn_at_percent == 80
    agent1.is_staff = True
    agent1.save(update_fields=["is_staff"])
    client.force_login(agent1)
    assert client.get(url).status_code == 403


def test_vendor_reply_is_recognised_by_reference_or_vendor_number(handoff, vendor):
    from tiers.services import vendor_handoff_for_reply

    ref = handoff.ticket.reference
    assert vendor_handoff_for_reply(subject=f"Re: [{ref}] Hand-off", sender=vendor.email) == handoff
    assert vendor_handoff_for_reply(subject=f"Re: [{ref}]", sender="someone@else.example") is None
    handoff.vendor_reference = "ACME-991"
    handoff.save(update_fields=["vendor_reference"])
    found = vendor_handoff_for_reply(subject="Case ACME-991 update", sender=vendor.email.upper())
    assert found == handoff
    assert vendor_handoff_for_reply(subject="Case ACME-9912", sender=vendor.email) is None


def test_agent_page_offers_to_revoke_the_live_vendor_link(client, policies, agent3):
    """The accountable Tier 3 agent revokes the vendor's link from the ticket page."""
    from tests.factories import CategoryFactory, VendorFactory
    from tickets.services import ticket_create
    from tiers.services import vendor_handoff

    category = CategoryFactory(slug="firmware", entry_tier=3)
    VendorFactory().categories.add(category)
    ticket = ticket_create(
        category=category, subject="Switch firmware", description="Needs the vendor's patch.",
        requester_name="Pat", requester_email="pat@example.com",
    )  # fmt: skip
    handoff = vendor_handoff(ticket=ticket, actor=agent3, summary="Please ship the patch.")
    client.force_login(agent3)
    page = client.get(f"/agent/tickets/{ticket.reference}/").content.decode()
    assert "Revoke vendor link" in page
    response = client.post(f"/vendor/handoff/{ticket.reference}/revoke/", {"handoff": handoff.pk})
    assert response.status_code == 302
    handoff.refresh_from_db()
    assert handoff.revoked_at is not None
    assert (
        "Revoke vendor link"
        not in client.get(f"/agent/tickets/{ticket.reference}/").content.decode()
    )
