"""The compiled key-row reads (helpdesk/sqlcache.py) give what the ORM gives. These
fail on a Django upgrade that compiles the same queryset differently for another
value (then ``first_row`` would run stale SQL): fix or drop the module then."""

from __future__ import annotations

import pytest

from helpdesk import sqlcache
from tickets.models import Ticket
from tickets.selectors import newest_event_id, ticket_key_by_token, ticket_list_visible_to

pytestmark = pytest.mark.django_db


def _key_row_qs(user, ref):
    return (
        ticket_list_visible_to(user=user)
        .select_related(None)
        .filter(reference=ref)
        .order_by()
        .annotate(newest_event_id=newest_event_id())
        .values_list("pk", "updated_at", "newest_event_id")[:1]
    )


def test_the_compiled_sql_is_the_orms_for_every_value(make_ticket, agent1, manager):
    tickets = [make_ticket(), make_ticket()]
    for user in (agent1, manager):
        compiled = sqlcache.compile_one(lambda ref, user=user: _key_row_qs(user, ref))
        assert compiled is not None, "the reference is no longer one whole parameter"
        sql, params, at = compiled
        for ticket in tickets:
            qs = _key_row_qs(user, ticket.reference)
            orm_sql, orm_params = qs.query.get_compiler(using=qs.db).as_sql()
            assert orm_sql == sql
            assert list(orm_params) == [*params[:at], ticket.reference, *params[at + 1 :]]
            shape = ("test", user.pk, ticket.pk)
            assert sqlcache.first_row(shape, lambda r, u=user: _key_row_qs(u, r), ticket.reference, model=Ticket) == next(iter(qs), None)  # fmt: skip


def test_a_value_is_a_parameter_never_sql(make_ticket, manager):
    make_ticket()
    hostile = "x' OR '1'='1"
    assert sqlcache.first_row("test-hostile", lambda r: _key_row_qs(manager, r), hostile, model=Ticket) is None  # fmt: skip


def test_a_shape_whose_value_is_not_one_parameter_uses_the_orm(make_ticket):
    ticket = make_ticket()

    def build(ref):  # the value twice, once inside ``%value%``
        return Ticket.objects.filter(reference=ref, subject__icontains=ref).values_list("pk")[:1]

    assert sqlcache.compile_one(build) is None
    assert sqlcache.first_row("test-twice", build, ticket.reference, model=Ticket) is None


def test_the_tracking_key_row_is_the_ticket_and_refuses_a_wrong_token(make_ticket):
    from django.http import Http404

    ticket = make_ticket()
    key = ticket_key_by_token(token=ticket.tracking_token)
    assert (key.pk, key.reference, key.updated_at) == (ticket.pk, ticket.reference, ticket.updated_at)  # fmt: skip
    assert key.newest_event_id == ticket.events.order_by("-id").first().pk
    assert key.subject == ticket.subject  # deferred: loaded on first access
    last = ticket.tracking_token[-1]
    for bad in ("", "x" * 65, ticket.tracking_token[:-1] + ("B" if last == "A" else "A")):
        with pytest.raises(Http404):
            ticket_key_by_token(token=bad)
