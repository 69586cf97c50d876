"""Security review #26, item 3b: the compiled-SQL shape table (helpdesk/sqlcache.py)
never answers a KeyError (a 500) when other requests fill it meanwhile: a caller uses
the value it compiled, and a full table evicts its least recently used shapes instead
of emptying itself."""

from __future__ import annotations

import threading

import pytest

from helpdesk import sqlcache
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def by_reference(ref):
    return Ticket.objects.filter(reference=ref).values_list("pk", "reference")[:1]


def by_reference_list(ref):
    return Ticket.objects.filter(reference=ref)


@pytest.fixture
def empty_stores():
    sqlcache._compiled.clear()
    sqlcache._compiled_lists.clear()
    yield
    sqlcache._compiled.clear()
    sqlcache._compiled_lists.clear()


@pytest.fixture
def concurrent_eviction(monkeypatch, empty_stores):
    """Another request fills the table right after this one stored its shape (what
    many agents do at once at 1,000 shapes): the entry is gone before it is read back."""
    real = sqlcache._remember

    def remember_then_evicted(store, shape, compiled):
        result = real(store, shape, compiled)
        store.clear()
        return result

    monkeypatch.setattr(sqlcache, "_remember", remember_then_evicted)


def test_first_row_answers_with_its_own_compiled_sql_when_evicted_meanwhile(
    concurrent_eviction, make_ticket
):
    ticket = make_ticket()
    row = sqlcache.first_row("sec-shape", by_reference, ticket.reference, model=Ticket)
    assert row == (ticket.pk, ticket.reference)


def test_instances_answers_with_its_own_compiled_sql_when_evicted_meanwhile(
    concurrent_eviction, make_ticket
):
    ticket = make_ticket()
    found = sqlcache.instances("sec-list", by_reference_list, {"ref": ticket.reference})
    assert [t.pk for t in found] == [ticket.pk]


def test_a_full_table_evicts_the_least_recently_used_shape(monkeypatch, empty_stores, make_ticket):
    monkeypatch.setattr(sqlcache, "MAX_SHAPES", 3)
    compiles = []
    real = sqlcache._compile
    monkeypatch.setattr(
        sqlcache, "_compile", lambda build, marks: compiles.append(1) or real(build, marks)
    )
    ticket = make_ticket()
    for shape in ("a", "b", "c", "a"):  # "a" is used again: "b" is now the oldest
        sqlcache.first_row(shape, by_reference, ticket.reference, model=Ticket)
    sqlcache.first_row("d", by_reference, ticket.reference, model=Ticket)
    assert [s for s in "abcd" if s in sqlcache._compiled] == ["a", "c", "d"]
    assert len(compiles) == 4  # "a" was compiled once, and kept
    assert len(sqlcache._compiled) == 3


def test_many_threads_filling_a_small_table_never_fail(monkeypatch, empty_stores):
    monkeypatch.setattr(sqlcache, "MAX_SHAPES", 8)
    store = sqlcache.ShapeStore()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                shape = (n, i % 50)
                value = store.get(shape)
                if value is sqlcache._MISSING:
                    value = store.put(shape, shape)
                assert value == shape
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(store) <= 8
