"""The embedded default: no variables set → SQLite + filesystem broker under var/."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CLEAN_ENV_DROP = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_SETTINGS_MODULE",
)


def _embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_DROP}
    env["TIERDESK_VAR_DIR"] = str(var_dir)
    return env


@pytest.mark.worker
def test_embedded_mode_boots_serves_and_runs_a_task(tmp_path):
    env = _embedded_env(tmp_path / "var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    assert (tmp_path / "var" / "tierdesk.sqlite3").exists()

    page = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            import django, os
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
            django.setup()
            from django.conf import settings
            from django.test import Client
            assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
            assert settings.CELERY_BROKER_URL == "filesystem://"
            response = Client().get("/")
            print(response.status_code, b"Submit a ticket" in response.content)
        """)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert page.stdout.strip().endswith("200 True"), page.stdout + page.stderr

    # A task round trip over the filesystem transport, with a real worker process.
    env["CELERY_RESULT_BACKEND"] = f"file://{tmp_path / 'results'}"
    (tmp_path / "results").mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
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
    # The worker's broadcast (pidbox) exchanges live in var/ with the rest of the
    # broker, not in a control/ folder of the working directory (kombu's default).
    assert any((tmp_path / "var" / "broker" / "control").glob("*.exchange"))
