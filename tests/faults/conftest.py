"""Fault tests start their own servers (see harness.py) and break them."""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.dburl import url_of

from .harness import LOOSE_LIMITS, ROOT


@pytest.fixture(autouse=True)
def _own_cache_namespace_and_loose_limits(settings):
    """Fault tests post many forms from one address; the abuse limits are not what they
    test. A fresh cache prefix keeps their counters away from other tests'."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"faulttest-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches
    for name in LOOSE_LIMITS:
        setattr(settings, name, int(LOOSE_LIMITS[name]))


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
    return url_of(db)
