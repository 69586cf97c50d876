"""Saved views of the queue: a named filter set, personal or shared, with its count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tickets.models import SavedView

pytestmark = pytest.mark.django_db


def save(client, name: str, qs: str, **extra):
    return client.post(reverse("tickets:agent-views"), {"name": name, "qs": qs, **extra})


def test_an_agent_saves_a_view_and_sees_its_count(client, agent1, make_ticket):
    make_ticket(priority="urgent")
    make_ticket(priority="urgent")
    make_ticket(priority="low")
    client.force_login(agent1)
    response = save(client, "Urgent ones", "priority=urgent&evil=1")
    assert response.status_code == 302
    view = SavedView.objects.get()
    # The queue's own normal form; unknown keys are dropped.
    assert view.owner == agent1 and view.query == "view=tier&sort=time_left&priority=urgent"
    html = client.get(reverse("tickets:agent-queue")).content.decode()
    assert f'href="?{view.query.replace("&", "&amp;")}"' in html
    assert 'Urgent ones <span class="badge">2</span>' in html


def test_counts_follow_new_tickets(client, agent1, make_ticket, django_capture_on_commit_callbacks):
    client.force_login(agent1)
    save(client, "Urgent ones", "priority=urgent")
    assert 'Urgent ones <span class="badge">0</span>' in client.get(
        reverse("tickets:agent-queue")).content.decode()  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):  # the counter moves on commit
        make_ticket(priority="urgent")
    assert 'Urgent ones <span class="badge">1</span>' in client.get(
        reverse("tickets:agent-queue")).content.decode()  # fmt: skip


def test_personal_views_are_personal_and_shared_ones_are_for_managers(
    client, agent1, agent2, manager
):
    client.force_login(agent1)
    save(client, "Mine", "priority=high")
    assert save(client, "Everyone", "priority=low", shared="1").status_code == 403
    client.force_login(manager)
    save(client, "Everyone", "priority=low", shared="1")
    client.force_login(agent2)
    html = client.get(reverse("tickets:agent-queue")).content.decode()
    assert "Everyone" in html and "Mine" not in html
    shared = SavedView.objects.get(name="Everyone")
    response = client.post(reverse("tickets:agent-views"), {"delete": shared.pk})
    assert response.status_code == 403 and SavedView.objects.filter(pk=shared.pk).exists()


def test_bad_names_are_refused_with_a_message(client, agent1):
    client.force_login(agent1)
    save(client, "Dup", "priority=high")
    response = save(client, "Dup", "priority=low")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("exists already" in m for m in messages)
    save(client, "   ", "priority=low")
    assert SavedView.objects.count() == 1


def test_an_agent_removes_their_view(client, agent1):
    client.force_login(agent1)
    save(client, "Mine", "priority=high")
    view = SavedView.objects.get()
    client.post(reverse("tickets:agent-views"), {"delete": view.pk})
    assert not SavedView.objects.exists()


def test_the_queue_with_views_keeps_its_query_budget(
    client, agent1, make_ticket, django_assert_max_num_queries
):
    client.force_login(agent1)
    for i in range(5):
        save(
            client,
            f"View {i}",
            f"priority={['low', 'normal', 'high', 'urgent', 'low'][i]}&sort=newest"
            if i == 4
            else f"priority={['low', 'normal', 'high', 'urgent'][i]}",
        )
    make_ticket()
    client.get(reverse("tickets:agent-queue"))
    with django_assert_max_num_queries(3):  # cached: the views' counts are not recounted
        client.get(reverse("tickets:agent-queue"))
