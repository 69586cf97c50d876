"""Single-row reads whose SQL is compiled once per process.

On the hottest cached pages (the agent ticket page, the customer tracking page) a
cache hit needs one small row to build its key, and building and compiling the
queryset for it cost more than the rest of the hit (the tracking page: two thirds
of it). The SQL here is the ORM's own, compiled for a placeholder value and kept
per shape; only that one parameter changes between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet

_MARK = "zz-sqlcache-placeholder-zz"
#: Per shape: the SQL, its parameters and where the value goes; ``None`` when the
#: placeholder did not come out as exactly one whole parameter (that shape uses the ORM
#: every time).
_compiled: dict[Hashable, tuple[str, list, int] | None] = {}
#: Shapes are few (one per page and visibility class); the bound is a backstop.
MAX_SHAPES = 1000


def first_row(
    shape: Hashable, build: Callable[[str], QuerySet], value: str, *, model: type[Model]
) -> tuple[Any, ...] | None:
    """The first row of ``build(value)`` (a ``values_list`` queryset), as the database
    returns it. ``shape`` names everything ``build`` depends on besides ``value``."""
    if shape not in _compiled:
        compiled = _compile(lambda: build(_MARK), {"value": _MARK})
        single = compiled is not None and len(compiled[3]) == 1
        _remember(
            _compiled, shape, (compiled[1], compiled[2], compiled[3][0][0]) if single else None
        )
    compiled = _compiled[shape]
    if compiled is None:  # not the shape expected: the ORM, without compiling twice
        return next(iter(build(value)), None)
    sql, params, at = compiled
    with connections[router.db_for_read(model)].cursor() as cursor:
        cursor.execute(sql, [*params[:at], value, *params[at + 1 :]])
        return cursor.fetchone()


def _compile(
    build: Callable[[], QuerySet], marks: dict[str, str]
) -> tuple[Any, str, list, list[tuple[int, str]]] | None:
    """Compile ``build()``, whose values are the ``marks``: the compiler, the SQL, its
    parameters and where each value goes. ``None`` when a mark is not a whole
    parameter (pasted into the SQL, or part of one such as ``%mark%``): substituting
    the parameters would then not give the query for another value."""
    qs = build()
    compiler = qs.query.get_compiler(using=qs.db)
    sql, params = compiler.as_sql()
    params = list(params)
    where = [(i, name) for i, p in enumerate(params) for name, m in marks.items() if p == m]
    stray = any(m in sql for m in marks.values()) or any(
        isinstance(p, str) and m in p and p != m for p in params for m in marks.values()
    )
    return None if stray else (compiler, sql, params, where)


def _remember(store: dict, shape: Hashable, compiled: Any) -> None:
    if len(store) >= MAX_SHAPES:
        store.clear()
    store[shape] = compiled


def from_row(model: type[Model], fields: tuple[str, ...], row: tuple[Any, ...]) -> Any:
    """A ``model`` instance from ``row`` (values of ``fields``, by attname, any order);
    the other fields are deferred and load on first access. ``Model.from_db`` wants
    the values in the model's field order."""
    values = dict(zip(fields, row, strict=True))
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(router.db_for_read(model), names, [values[n] for n in names])


#: Per shape: the compiler (it knows how to turn rows into instances), the SQL, its
#: parameters and where each value goes; ``None`` when a value did not come out as
#: whole parameters (that shape uses the ORM every time).
_compiled_lists: dict[Hashable, tuple[Any, str, list, list[tuple[int, str]]] | None] = {}


def instances(
    shape: Hashable, build: Callable[..., QuerySet], values: dict[str, str]
) -> list[Model]:
    """``list(build(**values))``, building and compiling the queryset once per
    ``shape`` (everything ``build`` depends on besides ``values``): each value is a
    string parameter that changes between calls. Rows become instances as the ORM
    makes them (``select_related`` objects and annotations included)."""
    if shape not in _compiled_lists:
        marks = {name: f"zz-sqlcache-{name}-zz" for name in values}
        _remember(_compiled_lists, shape, _compile(lambda: build(**marks), marks))
    compiled = _compiled_lists[shape]
    if compiled is None:
        return list(build(**values))
    compiler, sql, params, where = compiled
    params = list(params)
    for i, name in where:
        params[i] = values[name]
    model = compiler.query.model
    db = router.db_for_read(model)
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _from_rows(compiler, rows, db)


def _from_rows(compiler: Any, rows: list, db: str) -> list[Model]:
    """What ``ModelIterable`` does with a compiled query's rows."""
    from django.db.models.query import get_related_populators

    klass_info = compiler.klass_info
    select = compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [f[0].target.attname for f in select[start:end]]
    populators = get_related_populators(klass_info, select, db)
    result = []
    for row in compiler.results_iter([rows]):
        obj = klass_info["model"].from_db(db, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, at in compiler.annotation_col_map.items():
            setattr(obj, name, row[at])
        result.append(obj)
    return result
