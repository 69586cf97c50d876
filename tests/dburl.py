"""Database URLs for the processes tests start (workers, gunicorn, bench runs)."""

from __future__ import annotations

from urllib.parse import quote


def url_of(settings_dict: dict, *, name: str | None = None) -> str:
    """A ``DATABASE_URL`` for the same server as ``settings_dict``; a Unix socket
    directory as host (the embedded PostgreSQL) is percent-encoded, as settings expect."""
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD")
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if password else f"{user}@"
    host = quote(settings_dict.get("HOST") or "127.0.0.1", safe="")
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{name or settings_dict['NAME']}"
