"""The e-mail ingest benchmark (bench/mail.py), end to end on a few messages, so that
`make bench` never rots: a real dovecot, the poller in its own process, every
message taken in once with the outcome it should have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.dburl import url_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_the_mail_benchmark_takes_every_message_in_once(tmp_path):
    if shutil.which("dovecot") is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is missing: `make dovecot` installs Debian's dovecot-imapd")
        pytest.skip("dovecot is not installed (make dovecot)")
    out = tmp_path / "mail.json"
    env = dict(os.environ, DATABASE_URL=url_of(settings.DATABASES["default"]), LOG_LEVEL="WARNING")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "mail.py"), "--messages", "40", "--rate", "50",
         "--idle", "1", "--timeout", "120", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["taken_in"] == 40
    assert result["all_taken_in_once_as_expected"], result["outcomes"]
    assert result["mix"] == {"new": 20, "customer": 16, "agent": 4}
    assert result["messages_per_s"] > 0 and result["latency_p99_s"] is not None
