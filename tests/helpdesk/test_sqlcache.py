"""Single-row reads with SQL compiled once per shape: the same rows as the ORM, the
value passed as a parameter (never pasted into the SQL), instances in field order."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import sqlcache
from tickets.models import Ticket
from tickets.selectors import TRACK_KEY_FIELDS, ticket_key_by_token

pytestmark = pytest.mark.django_db


def test_compiled_once_and_each_value_is_a_parameter(make_ticket):
    a, b = make_ticket(), make_ticket()
    sqlcache._compiled.pop("test-shape", None)

    def build(ref):
        return Ticket.objects.filter(reference=ref).values_list("pk", "reference")[:1]

    assert sqlcache.first_row("test-shape", build, a.reference, model=Ticket) == (a.pk, a.reference)
    with CaptureQueriesContext(connection) as ctx:
        row = sqlcache.first_row("test-shape", build, b.reference, model=Ticket)
    assert row == (b.pk, b.reference)
    assert (
        b.reference not in ctx.captured_queries[0]["sql"]
        or "%s" not in ctx.captured_queries[0]["sql"]
    )
    hostile = "x' OR '1'='1"  # a parameter, not SQL: matches nothing
    assert sqlcache.first_row("test-shape", build, hostile, model=Ticket) is None


def test_the_tracking_key_row_is_the_ticket_and_refuses_a_wrong_token(make_ticket):
    ticket = make_ticket()
    key = ticket_key_by_token(token=ticket.tracking_token)
    assert (key.pk, key.reference, key.updated_at) == (
        ticket.pk,
        ticket.reference,
        ticket.updated_at,
    )
    assert key.newest_event_id == ticket.events.order_by("-id").first().pk
    assert set(TRACK_KEY_FIELDS) <= set(key.__dict__)
    assert key.subject == ticket.subject  # deferred: loaded on first access
    from django.http import Http404

    last = ticket.tracking_token[-1]
    for bad in ("", "x" * 65, ticket.tracking_token[:-1] + ("B" if last == "A" else "A")):
        with pytest.raises(Http404):
            ticket_key_by_token(token=bad)


@pytest.mark.parametrize(
    "build",
    [
        # The value twice: no single place to put it.
        lambda ref: (
            Ticket.objects.filter(reference=ref, subject__isnull=False)
            .filter(reference=ref)
            .values_list("pk")[:1]
        ),
        # ``reference__icontains`` makes it ``%value%``: one whole parameter and one
        # partial one. Substituting only the whole one left the placeholder in the
        # other, so the compiled query found nothing.
        lambda ref: (
            Ticket.objects.filter(reference=ref)
            .filter(reference__icontains=ref)
            .values_list("pk")[:1]
        ),
    ],
    ids=["twice", "part-of-a-parameter"],
)
def test_a_shape_whose_value_is_not_one_parameter_uses_the_orm(make_ticket, build):
    ticket = make_ticket()
    sqlcache._compiled.pop("test-not-one-param", None)
    for _ in range(2):
        assert sqlcache.first_row("test-not-one-param", build, ticket.reference, model=Ticket) == (
            ticket.pk,
        )
    assert sqlcache._compiled["test-not-one-param"] is None


def test_instances_are_the_orm_s_with_related_rows_and_annotations(make_ticket, category):
    """``instances`` compiles once per shape and builds what the ORM builds: the row,
    its select_related category (no extra query) and annotations; each value is a
    parameter, so a hostile one matches nothing."""
    from django.db.models import Value
    from django.db.models.functions import Length

    a, b = make_ticket(subject="Printer jam"), make_ticket(subject="VPN drops")
    sqlcache._compiled_lists.pop("test-list-shape", None)

    def build(subject):
        return (
            Ticket.objects.filter(subject=subject)
            .select_related("category")
            .annotate(n=Length("subject"), tag=Value("x"))
            .order_by("pk")
        )

    first = sqlcache.instances("test-list-shape", build, {"subject": a.subject})
    with CaptureQueriesContext(connection) as ctx:
        (got,) = sqlcache.instances("test-list-shape", build, {"subject": b.subject})
        assert got.category.name == category.name
    assert len(ctx.captured_queries) == 1
    assert [t.pk for t in first] == [a.pk]
    (orm,) = build(b.subject)
    assert (got.pk, got.reference, got.n, got.tag, got.created_at) == (
        orm.pk,
        orm.reference,
        orm.n,
        orm.tag,
        orm.created_at,
    )
    assert sqlcache.instances("test-list-shape", build, {"subject": "x' OR '1'='1"}) == []
