"""The pages: tags and macros on the ticket page, the queue's tag filter, and the
rule and macro editors, with who may use each."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automation.models import Macro, TicketTag, Trigger
from tests.automation.factories import MacroFactory, TriggerFactory
from tests.factories import CategoryFactory, UserFactory
from tickets.models import Ticket, TicketEvent
from tickets.services import core

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


def ticket_url(ticket: Ticket) -> str:
    return reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})


def tags_url(ticket: Ticket) -> str:
    return reverse("automation:ticket-tags", kwargs={"reference": ticket.reference})


def macro_url(ticket: Ticket) -> str:
    return reverse("automation:ticket-macro", kwargs={"reference": ticket.reference})


def tag_names(ticket: Ticket) -> list[str]:
    return sorted(TicketTag.objects.filter(ticket=ticket).values_list("tag__name", flat=True))


# ---------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------


def test_agent_tags_a_ticket_and_sees_it_on_the_page_and_timeline(client, make_ticket, agent1):
    ticket = make_ticket()
    client.force_login(agent1)
    response = client.post(tags_url(ticket), {"tags": "VPN, #password vpn"})
    assert response.status_code == 302
    assert tag_names(ticket) == ["password", "vpn"]
    event = ticket.events.get(kind=Kind.TAGS)
    assert event.actor == agent1 and event.data == {"added": ["vpn", "password"]}
    html = client.get(ticket_url(ticket)).content.decode()
    assert "#vpn" in html and "#password" in html and "Tagged vpn, password." in html
    assert client.post(tags_url(ticket), {"remove": "vpn"}).status_code == 302
    assert tag_names(ticket) == ["password"]
    assert ticket.events.filter(kind=Kind.TAGS).count() == 2


def test_a_bad_tag_is_a_400_with_a_message_and_writes_nothing(client, make_ticket, agent1):
    ticket = make_ticket()
    client.force_login(agent1)
    response = client.post(tags_url(ticket), {"tags": "ok <script>"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "is not a tag" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert tag_names(ticket) == []


def test_tags_need_an_agent_who_may_act(client, make_ticket, agent1, customer):
    tier2 = make_ticket(category=CategoryFactory(name="Servers", slug="servers", entry_tier=2))
    client.force_login(agent1)
    assert client.post(tags_url(tier2), {"tags": "x"}).status_code == 404  # not visible
    client.force_login(customer)
    assert client.post(tags_url(tier2), {"tags": "x"}).status_code == 403
    client.logout()
    assert client.post(tags_url(tier2), {"tags": "x"}).status_code == 302  # to the login
    assert tag_names(tier2) == []


def test_queue_filters_by_tag(client, make_ticket, agent1):
    tagged, other = make_ticket(subject="VPN down"), make_ticket(subject="Printer jam")
    client.force_login(agent1)
    client.post(tags_url(tagged), {"tags": "vpn"})
    html = client.get(reverse("tickets:agent-queue"), {"view": "all", "tag": "vpn"}).content
    assert tagged.reference.encode() in html and other.reference.encode() not in html
    response = client.get(reverse("tickets:agent-queue"), {"tag": "no good!"})
    assert response.status_code == 200 and b"Ignored an unknown tag." in response.content


# ---------------------------------------------------------------------------
# Macros on the ticket page
# ---------------------------------------------------------------------------


def test_a_macro_applied_from_the_page_does_what_an_agent_would(
    client, make_ticket, agent1, manager
):
    client.force_login(manager)
    response = client.post(
        reverse("automation:macro-new"),
        {
            "name": "Password reset sent",
            "owner": "",
            "reply": "We sent you a reset link.",
            "status": "pending_customer",
            "priority": "high",
            "tags": "password",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    macro = Macro.objects.get(name="Password reset sent")
    assert macro.owner is None and macro.tags == ["password"]
    ticket = make_ticket()
    client.force_login(agent1)
    page = client.get(ticket_url(ticket)).content.decode()
    assert "Password reset sent" in page and "Apply macro" in page
    assert client.post(macro_url(ticket), {"macro": macro.pk}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("pending_customer", "high")
    assert ticket.first_response_at is not None  # a person's reply, through ticket_reply
    assert tag_names(ticket) == ["password"]
    kinds = list(ticket.events.exclude(kind=Kind.CREATED).values_list("kind", "actor_id"))
    assert kinds == [
        (Kind.PRIORITY, agent1.pk),
        (Kind.TAGS, agent1.pk),
        (Kind.REPLY, agent1.pk),
        (Kind.STATUS, agent1.pk),
    ]


def test_a_macro_that_resolves_uses_the_reply_as_resolution(client, make_ticket, agent1):
    macro = MacroFactory(reply="Reset done.", status="resolved")
    ticket = make_ticket()
    client.force_login(agent1)
    client.post(macro_url(ticket), {"macro": macro.pk})
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolution == "Reset done."


def test_a_refused_step_rolls_the_whole_macro_back(client, make_ticket, agent1):
    macro = MacroFactory(reply="Done", priority="high", tags=["x"])
    ticket = make_ticket()
    core.ticket_resolve(ticket=ticket, actor=agent1, resolution="fixed")
    client.force_login(agent1)
    response = client.post(macro_url(ticket), {"macro": macro.pk})
    assert response.status_code == 400 and b"already resolved" in response.content
    assert tag_names(ticket) == [] and not ticket.events.filter(kind=Kind.REPLY).exists()


def test_macros_of_others_and_tickets_out_of_reach_are_refused(client, make_ticket, agent1, agent2):
    mine = MacroFactory(owner=agent2, reply="Mine")
    theirs = MacroFactory(owner=agent1, reply="Theirs")
    low = make_ticket()
    high = make_ticket(category=CategoryFactory(name="Servers", slug="servers", entry_tier=2))
    client.force_login(agent1)
    assert client.post(macro_url(low), {"macro": mine.pk}).status_code == 404
    assert client.post(macro_url(high), {"macro": theirs.pk}).status_code == 404
    assert client.post(macro_url(low), {"macro": "x"}).status_code == 404
    assert not Ticket.objects.filter(events__kind=Kind.REPLY).exists()


def test_macro_service_refuses_a_ticket_the_agent_cannot_act_on(make_ticket, agent1):
    from automation.services import macro_apply
    from helpdesk.exceptions import ForbiddenError

    high = make_ticket(category=CategoryFactory(name="Servers", slug="servers", entry_tier=2))
    with pytest.raises(ForbiddenError, match="You cannot act on"):
        macro_apply(macro=MacroFactory(reply="hi"), ticket=high, actor=agent1)


# ---------------------------------------------------------------------------
# The rule editor (managers only)
# ---------------------------------------------------------------------------

RULE = {
    "name": "Urgent resets",
    "is_active": "on",
    "position": "10",
    "event_kinds": ["created"],
    "text_contains": "password",
    "set_priority": "urgent",
}


def test_only_managers_edit_rules(client, agent1, customer):
    rule = TriggerFactory(add_tag="x")
    urls = [
        reverse("automation:trigger-list"),
        reverse("automation:trigger-new"),
        reverse("automation:trigger-edit", kwargs={"pk": rule.pk}),
    ]
    for user in (agent1, customer):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403
        assert client.post(urls[1], RULE).status_code == 403
        delete = reverse("automation:trigger-delete", kwargs={"pk": rule.pk})
        assert client.post(delete).status_code == 403
    client.logout()
    assert client.get(urls[0]).status_code == 302
    assert client.post(urls[1], RULE).status_code == 302  # to the login page
    assert Trigger.objects.count() == 1


def test_a_manager_sets_up_a_rule_that_then_runs(
    client, manager, make_ticket, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("automation:trigger-new"), RULE)
    assert response.status_code == 302
    rule = Trigger.objects.get(name="Urgent resets")
    assert rule.created_by == manager
    ticket = make_ticket(subject="Forgot my password")
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert "Urgent resets" in client.get(reverse("automation:trigger-list")).content.decode()
    # Deactivated: the next ticket is left alone.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("automation:trigger-delete", kwargs={"pk": rule.pk}), {"action": "deactivate"}
        )
    later = make_ticket(subject="password again")
    later.refresh_from_db()
    assert later.priority == "normal"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"set_priority": ""}, "Choose at least one action"),
        ({"event_kinds": []}, "This field is required"),
        ({"event_kinds": ["trigger"]}, "Select a valid choice"),
        ({"requester_domain": "not a domain"}, "Enter a domain such as example.com"),
        ({"add_tag": "Bad Tag!"}, "lower-case letters"),
        ({"min_minutes_in_status": "9999999"}, "At most a year"),
        ({"name": "taken"}, "There is already a rule with this name"),
    ],
)
def test_rule_form_errors_are_clear(client, manager, change, message):
    TriggerFactory(name="Taken", add_tag="x")
    client.force_login(manager)
    response = client.post(reverse("automation:trigger-new"), {**RULE, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Trigger.objects.count() == 1


def test_rule_and_macro_lists_are_a_few_queries(client, manager, django_assert_max_num_queries):
    categories = [CategoryFactory(name=f"C{n}", slug=f"c{n}") for n in range(3)]
    agents = [UserFactory(username=f"u{n}") for n in range(3)]
    for n in range(40):
        TriggerFactory(categories=categories, notify_users=agents, add_tag=f"t{n}")
        MacroFactory(owner=manager if n % 2 else None, reply="hi", tags=["a", "b"])
    client.force_login(manager)
    client.get(reverse("automation:trigger-list"))
    with django_assert_max_num_queries(8):
        html = client.get(reverse("automation:trigger-list")).content.decode()
    assert html.count("Deactivate “") == 40
    with django_assert_max_num_queries(8):
        html = client.get(reverse("automation:macro-list")).content.decode()
    assert html.count("Delete “") == 40


def test_agents_keep_personal_macros_only(client, agent1, agent2):
    other = MacroFactory(owner=agent2, reply="theirs")
    shared = MacroFactory(reply="shared")
    client.force_login(agent1)
    response = client.post(
        reverse("automation:macro-new"), {"name": "Mine", "reply": "hello", "owner": agent2.pk}
    )
    assert response.status_code == 302
    assert Macro.objects.get(name="Mine").owner == agent1  # never someone else's
    for macro in (other, shared):
        url = reverse("automation:macro-edit", kwargs={"pk": macro.pk})
        assert client.get(url).status_code == 404
        delete = reverse("automation:macro-delete", kwargs={"pk": macro.pk})
        assert client.post(delete).status_code == 404
    response = client.post(reverse("automation:macro-new"), {"name": "Empty"})
    assert response.status_code == 400 and b"needs something to do" in response.content
    response = client.post(reverse("automation:macro-new"), {"name": "mine", "reply": "x"})
    assert response.status_code == 400 and b"already a macro" in response.content


def test_editing_a_rule_takes_effect_on_the_next_event(
    client, manager, make_ticket, category, django_capture_on_commit_callbacks
):
    other = CategoryFactory(name="VPN", slug="vpn")
    rule = TriggerFactory(name="Tag it", categories=[other], add_tag="seen")
    assert tag_names(make_ticket()) == []  # the rule's list is now in the process memo
    client.force_login(manager)
    edit = reverse("automation:trigger-edit", kwargs={"pk": rule.pk})
    assert 'value="Tag it"' in client.get(edit).content.decode()
    data = {"name": "Tag it", "is_active": "on", "position": "1", "event_kinds": ["created"]}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(edit, {**data, "categories": [category.pk], "add_tag": "seen"})
    assert response.status_code == 302
    assert tag_names(make_ticket()) == ["seen"]  # the category change (a m2m write) counted


def test_the_ticket_page_offers_shared_and_own_macros_only(client, make_ticket, agent1, agent2):
    MacroFactory(name="Shared one", reply="a")
    MacroFactory(name="Agent1 own", owner=agent1, reply="b")
    MacroFactory(name="Agent2 own", owner=agent2, reply="c")
    MacroFactory(name="Retired", reply="d", is_active=False)
    client.force_login(agent1)
    html = client.get(ticket_url(make_ticket())).content.decode()
    assert "Shared one" in html and "Agent1 own" in html
    assert "Agent2 own" not in html and "Retired" not in html
