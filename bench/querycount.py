"""SQL queries per request of each bench target, measured one request at a time.

Reads a JSON list of targets on stdin ({name, method, path, user, form}) and writes
{name: {"status": int, "queries": int, "slowest": [[ms, sql], ...]}} on stdout. Each
target is requested twice through Django's test client and the second, warm request
is counted (the first may fill per-process caches), so the figure is what a page
costs in steady state, not under load.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def _request(client: Client, target: dict):
    if target["method"] == "POST":
        form = dict(target["form"], submission_key="qc-" + secrets.token_hex(12))
        return client.post(target["path"], form)
    return client.get(target["path"])


def measure(targets: list[dict]) -> dict:
    users = get_user_model().objects
    results: dict[str, dict] = {}
    for target in targets:
        client = Client(HTTP_HOST="127.0.0.1")
        if target.get("user"):
            client.force_login(users.get(username=target["user"]))
        _request(client, target)  # the cold one fills per-process caches: not counted
        with CaptureQueriesContext(connection) as ctx:
            response = _request(client, target)
        slowest = sorted(
            ([float(q["time"]) * 1000, q["sql"][:300]] for q in ctx.captured_queries),
            reverse=True,
        )[:3]
        results[target["name"]] = {
            "status": response.status_code,
            "queries": len(ctx.captured_queries),
            "slowest": slowest,
        }
    return results


if __name__ == "__main__":
    json.dump(measure(json.load(sys.stdin)), sys.stdout)
