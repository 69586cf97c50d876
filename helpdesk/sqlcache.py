"""Single-row reads whose SQL is compiled once per process.

On the hottest cached pages (the agent ticket page, the customer tracking page) a
cache hit needs one small row to build its key, and building and compiling the
queryset for it cost more than the rest of the hit (the tracking page: two thirds
of it). The SQL here is the ORM's own, compiled for a placeholder value and kept
per shape; only that one parameter changes between calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet

_MARK = "zz-sqlcache-placeholder-zz"
#: Shapes are few (one per page and visibility class); the bound is a backstop.
MAX_SHAPES = 1000
_MISSING = object()


class ShapeStore:
    """Compiled SQL per shape, at most ``MAX_SHAPES``, least recently used evicted
    first. Shared by the threads of a process: every read and write holds the lock,
    and a caller uses the value it got or stored, never a second lookup (another
    request may evict the entry in between)."""

    def __init__(self) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, shape: Hashable) -> Any:
        """The entry for ``shape`` (now the most recently used), or ``_MISSING``."""
        with self._lock:
            value = self._data.get(shape, _MISSING)
            if value is not _MISSING:
                self._data.move_to_end(shape)
            return value

    def put(self, shape: Hashable, value: Any) -> Any:
        """Store ``value`` for ``shape`` and return it."""
        with self._lock:
            self._data[shape] = value
            self._data.move_to_end(shape)
            while len(self._data) > MAX_SHAPES:
                self._data.popitem(last=False)
        return value

    def pop(self, shape: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._data.pop(shape, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __getitem__(self, shape: Hashable) -> Any:
        value = self.get(shape)
        if value is _MISSING:
            raise KeyError(shape)
        return value

    def __contains__(self, shape: Hashable) -> bool:
        with self._lock:
            return shape in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


#: Per shape: the SQL, its parameters and where the value goes; ``None`` when the
#: placeholder did not come out as exactly one whole parameter (that shape uses the ORM
#: every time).
_compiled = ShapeStore()


def first_row(
    shape: Hashable, build: Callable[[str], QuerySet], value: str, *, model: type[Model]
) -> tuple[Any, ...] | None:
    """The first row of ``build(value)`` (a ``values_list`` queryset), as the database
    returns it. ``shape`` names everything ``build`` depends on besides ``value``."""
    compiled = _compiled.get(shape)
    if compiled is _MISSING:
        full = _compile(lambda: build(_MARK), {"value": _MARK})
        single = full is not None and len(full[3]) == 1
        compiled = _remember(
            _compiled, shape, (full[1], full[2], full[3][0][0]) if single else None
        )
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


def _remember(store: ShapeStore, shape: Hashable, compiled: Any) -> Any:
    """Keep ``compiled`` for ``shape``; the caller goes on with the returned value."""
    return store.put(shape, compiled)


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
_compiled_lists = ShapeStore()


def instances(
    shape: Hashable, build: Callable[..., QuerySet], values: dict[str, str]
) -> list[Model]:
    """``list(build(**values))``, building and compiling the queryset once per
    ``shape`` (everything ``build`` depends on besides ``values``): each value is a
    string parameter that changes between calls. Rows become instances as the ORM
    makes them (``select_related`` objects and annotations included)."""
    compiled = _compiled_lists.get(shape)
    if compiled is _MISSING:
        marks = {name: f"zz-sqlcache-{name}-zz" for name in values}
        compiled = _remember(_compiled_lists, shape, _compile(lambda: build(**marks), marks))
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
