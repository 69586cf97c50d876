"""The queue as CSV: the current filters, every row (no paging), formula-safe,
streamed, for staff only."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.factories import TicketFactory
from tickets.views import export

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_what_the_filters_show(client, agent1, make_ticket):
    make_ticket(subject="Printer jam", priority="high")
    make_ticket(subject="VPN drops", priority="low")
    client.force_login(agent1)
    response = client.get(reverse("tickets:agent-export"), {"priority": "high"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="tierdesk-queue-')
    rows = rows_of(response)
    assert [r["subject"] for r in rows] == ["Printer jam"]
    assert rows[0]["priority"] == "high" and rows[0]["tier"] == "1"
    assert rows[0]["requester_email"] == "pat@example.com"


def test_every_row_not_one_page_and_cost_does_not_grow(client, agent1, make_ticket,
                                                      monkeypatch, django_assert_max_num_queries):  # fmt: skip
    for i in range(60):
        make_ticket(subject=f"Issue {i}")
    monkeypatch.setattr(export, "CHUNK", 25)
    client.force_login(agent1)
    with django_assert_max_num_queries(12):
        rows = rows_of(client.get(reverse("tickets:agent-export")))
    assert len(rows) == 60


def test_formulas_are_neutralised(client, agent1, make_ticket):
    make_ticket(subject='=HYPERLINK("http://evil.example","x")')
    client.force_login(agent1)
    (row,) = rows_of(client.get(reverse("tickets:agent-export")))
    assert row["subject"].startswith("'=")


def test_an_agent_exports_only_what_they_may_see(client, agent1, make_ticket, category):
    make_ticket(subject="Mine to see")
    TicketFactory(subject="Tier 3 secret", tier=3, category=category)
    client.force_login(agent1)
    subjects = [r["subject"] for r in rows_of(client.get(reverse("tickets:agent-export"),
                                                         {"view": "all"}))]  # fmt: skip
    assert "Mine to see" in subjects and "Tier 3 secret" not in subjects


def test_customers_and_visitors_get_nothing(client, customer, make_ticket):
    make_ticket()
    response = client.get(reverse("tickets:agent-export"))
    assert response.status_code == 302
    client.force_login(customer)
    assert client.get(reverse("tickets:agent-export")).status_code == 403


def test_the_queue_offers_the_export_with_its_filters(client, agent1):
    client.force_login(agent1)
    html = client.get(reverse("tickets:agent-queue")).content.decode()
    assert f'formaction="{reverse("tickets:agent-export")}"' in html
