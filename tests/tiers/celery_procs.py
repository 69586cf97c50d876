"""Start real Celery workers and beat against the pytest database, for worker tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from tests.dburl import url_of

ROOT = Path(__file__).resolve().parents[2]


def worker_database_url() -> str:
    """The database pytest created (``test_<name>``): the worker must use the same one."""
    return url_of(connection.settings_dict)


def broker_url() -> str:
    return os.environ.get("CELERY_BROKER_URL") or os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379/2"
    )


def purge_broker(url: str) -> None:
    """Drop queued and unacked messages a previous run may have left on our broker DB."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        # kombu keeps one list per priority step: "celery", "celery\x06\x163", …
        steps = [f"celery\x06\x16{step}" for step in (3, 6, 9)]
        client.delete("celery", *steps, "unacked", "unacked_index", "unacked_mutex")
    finally:
        client.close()


def celery_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "mail").mkdir(exist_ok=True)
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker_url(),
        "ESCALATION_SWEEP_SECONDS": "1",
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "TIERDESK_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class CeleryProcs:
    """Workers/beat as subprocesses; everything started is stopped at ``close()``."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.tmp_path, self.env = tmp_path, env
        self.procs: list[subprocess.Popen] = []
        self.count = 0

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        self.count += 1
        log = open(self.tmp_path / f"{name}-{self.count}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", *args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def worker(self, *extra: str) -> subprocess.Popen:
        return self._start(
            ["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-Q", "celery", "-n", f"escalation-test-{self.count}@%h", *extra],
            "worker",
        )  # fmt: skip

    def beat(self) -> subprocess.Popen:
        return self._start(
            ["beat", "--loglevel=INFO", "-s", str(self.tmp_path / "beat-schedule")], "beat"
        )

    def wait_ready(self, timeout: float = 40) -> bool:
        """Until the last worker started says it is ready to take tasks."""
        log = self.tmp_path / f"worker-{self.count}.log"
        return wait_for(
            lambda: log.exists() and b"ready." in log.read_bytes(), timeout=timeout, interval=0.2
        )

    def logs(self) -> str:
        return "\n".join(
            p.name + ":\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.tmp_path.glob("*.log"))
        )

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
