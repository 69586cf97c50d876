"""Shared helpers of the benchmark scripts: database URLs, progress bars, processes.

The bench scripts run outside Django's request cycle and talk to PostgreSQL directly
(psycopg2), so they work on any database URL without importing settings.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def db_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def with_db(url: str, name: str) -> str:
    """The same server URL pointing at another database (``postgres`` to create/drop)."""
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + name))


def connect(url: str):
    import psycopg2

    from helpdesk.embedded_pg import connect_params

    return psycopg2.connect(**connect_params(url))


class Progress:
    """A one-line progress bar on stderr (a plain line per step when not a terminal)."""

    def __init__(self, label: str, total: int, unit: str = "") -> None:
        self.label, self.total, self.unit = label, max(total, 1), unit
        self.done = 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._last_line = -1.0
        self.show()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self.show()

    def show(self) -> None:
        frac = self.done / self.total
        elapsed = time.monotonic() - self.started
        eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
        bar = "#" * int(frac * 30)
        line = (
            f"{self.label:<28} [{bar:<30}] {frac * 100:5.1f}% "
            f"{self.done:,}/{self.total:,}{self.unit} {elapsed:6.1f}s eta {eta:5.0f}s"
        )
        if self.tty:
            sys.stderr.write("\r" + line)
        elif self.done == self.total or elapsed - self._last_line >= 5:
            # In logs (make, CI) one line every few seconds is enough to show life.
            sys.stderr.write(line + "\n")
            self._last_line = elapsed
        sys.stderr.flush()

    def close(self) -> None:
        if self.done < self.total:
            self.done = self.total
            self.show()
        if self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def django_env(db_url: str, redis_url: str, var_dir: str | Path, **extra: str) -> dict[str, str]:
    """Production settings for every process of a run (web, worker, query counter)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=env.get("BENCH_SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        TIERDESK_BENCH="1",
        TIERDESK_VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        # Own cache keys: the bench's rate-limit counters (hundreds of submissions from
        # 127.0.0.1) must never reach the app or a test sharing this Redis database.
        CACHE_KEY_PREFIX=f"tierdesk-bench-{Path(var_dir).name}",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env
