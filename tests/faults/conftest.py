"""Fault tests start their own servers (see harness.py) and break them."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .harness import ROOT


@pytest.fixture(scope="session")
def static_root():
    """Hashed static files, as production (DEBUG off, manifest storage) needs them."""
    folder = Path(tempfile.mkdtemp(prefix="tierdesk-static-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "STATIC_ROOT": str(folder),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def test_database_url(settings) -> str:
    """The pytest database, for servers started by a test (use with transactional_db)."""
    db = settings.DATABASES["default"]
    assert "postgresql" in db["ENGINE"], "fault tests need PostgreSQL"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
