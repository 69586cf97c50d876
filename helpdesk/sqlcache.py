"""One-row reads whose SQL is compiled once per process and shape.

Kept for the two hottest cache hits, the agent ticket page and the customer tracking
page: a hit needs only one small key row, and building and compiling that queryset
(visibility filters, a subquery for the newest event) cost about as much as the rest
of the hit (bench-quick, #24: without it the ticket page used 1.7x the CPU of the
ceiling page per request and fell under 0.5x of its throughput). The SQL is the ORM's
own, compiled for a placeholder; only that one bound parameter changes between calls.
``tests/helpdesk/test_sqlcache.py`` fails if a Django upgrade compiles it otherwise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Model, QuerySet

_MARK = "zz-sqlcache-placeholder-zz"
#: Shapes are few (one per page and visibility class); the bound is a backstop.
MAX_SHAPES = 1000
_compiled: OrderedDict[Hashable, tuple[str, list, int] | None] = OrderedDict()
_lock = threading.Lock()


def compile_one(build: Callable[[str], QuerySet]) -> tuple[str, list, int] | None:
    """``build(placeholder)`` compiled: its SQL, its parameters and where the value
    goes; ``None`` unless the placeholder is exactly one whole parameter (pasted into
    the SQL, used twice, or part of one such as ``%value%``)."""
    qs = build(_MARK)
    try:
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    except EmptyResultSet:  # ``.none()``: nothing to compile, the ORM answers alone
        return None
    params = list(params)
    at = [i for i, p in enumerate(params) if p == _MARK]
    stray = _MARK in sql or any(isinstance(p, str) and _MARK in p and p != _MARK for p in params)
    return None if stray or len(at) != 1 else (sql, params, at[0])


def first_row(
    shape: Hashable, build: Callable[[str], QuerySet], value: str, *, model: type[Model]
) -> tuple[Any, ...] | None:
    """The first row of ``build(value)`` (a ``values_list`` queryset), as the database
    returns it. ``shape`` names everything ``build`` depends on besides ``value``."""
    with _lock:
        found = shape in _compiled
        compiled = _compiled.get(shape)
        if found:
            _compiled.move_to_end(shape)
    if not found:
        compiled = compile_one(build)
        with _lock:
            _compiled[shape] = compiled
            while len(_compiled) > MAX_SHAPES:
                _compiled.popitem(last=False)
    if compiled is None:  # not the shape expected: the ORM
        return next(iter(build(value)), None)
    sql, params, at = compiled
    with connections[router.db_for_read(model)].cursor() as cursor:
        cursor.execute(sql, [*params[:at], value, *params[at + 1 :]])
        return cursor.fetchone()
