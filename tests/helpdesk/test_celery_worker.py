"""On PostgreSQL + Redis: a real Celery worker started by the test executes a task."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.worker
def test_real_worker_on_redis_executes_a_task():
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
    base = redis_url.rsplit("/", 1)[0]
    env = {
        **os.environ,
        # Own broker/result databases, so no stale task of another test is consumed.
        "CELERY_BROKER_URL": f"{base}/7",
        "CELERY_RESULT_BACKEND": f"{base}/8",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        result = subprocess.run(
            [sys.executable, "-c", "from helpdesk.celery import ping; print(ping.delay().get(timeout=60))"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert result.stdout.strip() == "pong", result.stderr
    finally:
        worker.terminate()
        worker.wait(timeout=30)
