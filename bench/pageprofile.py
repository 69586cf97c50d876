"""Where one page spends its time: SQL (with EXPLAIN ANALYZE of its slowest query) vs Python.

    DATABASE_URL=... python bench/pageprofile.py /agent/ --user agent1 -n 20 [--explain] [--cprofile]
    DATABASE_URL=... python bench/pageprofile.py --post submission -n 20 [--explain] [--cprofile]

Requests the page ``-n`` times through Django's test client with production
settings (after one warm-up request) and prints the mean wall time, the time in
SQL, the queries, and optionally EXPLAIN ANALYZE of the slowest query and the top of
a cProfile. Used to explain every missed goal in BENCHMARKS.md.

``--post TARGET`` posts the form of a POST target of bench/run.py (``submission``)
the way wrk does: CSRF checks on (token from the form page), a fresh
``submission_key`` each time. Every POST writes a real ticket. Like bench/run.py,
the request rate limits and API throttles are raised (a profile measures the code,
not the 429 page).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-profile-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("TIERDESK_BENCH", "1")
os.environ.setdefault(
    "TIERDESK_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench-profile")
)


def _raise_rate_limits() -> None:
    # The same overrides as the wrk run (bench/run.py), before settings are read: a
    # profile measures the code, not a 429 (the API throttles after 60 requests).
    from bench.run import rate_limit_overrides

    for name, value in rate_limit_overrides().items():
        os.environ.setdefault(name, value)


_raise_rate_limits()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

# Production settings serve hashed static names from the manifest: keep it current
# (it only copies what changed).
call_command("collectstatic", interactive=False, verbosity=0)

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def post_request(client: Client, name: str):
    """A callable posting target ``name``'s form with a valid CSRF token and a fresh
    submission key, as wrk does (bench/wrk.lua)."""
    import re
    import secrets

    from bench.run import build_targets

    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM tickets_category WHERE is_active ORDER BY sort_order, name LIMIT 1"
        )
        fx = {"category_id": cur.fetchone()[0], "tier1_reference": "", "tracking_token": ""}
    target = next((t for t in build_targets(fx) if t.name == name), None)
    if target is None or target.method != "POST":
        raise SystemExit(f"--post: {name} is not a POST target of bench/run.py")
    page = client.get(target.path)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    if match is None:
        raise SystemExit(f"no CSRF token on {target.path} (HTTP {page.status_code})")
    token = match.group(1)

    def request():
        form = dict(
            target.form, csrfmiddlewaretoken=token, submission_key=secrets.token_urlsafe(24)
        )
        response = client.post(target.path, form)
        if response.status_code not in target.ok:
            raise SystemExit(f"POST {target.path}: HTTP {response.status_code}")
        return response

    return request, f"POST {target.path}"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("path", nargs="?", help="the page to GET (not with --post)")
    p.add_argument("--post", metavar="TARGET", help="POST the form of this bench/run.py target")
    p.add_argument("--user")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("--explain", action="store_true")
    p.add_argument("--cprofile", action="store_true")
    p.add_argument("--sort", default="tottime", help="cProfile order: tottime or cumulative")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sql-chars", type=int, default=400, help="how much of each query to print")
    args = p.parse_args()
    if bool(args.post) == bool(args.path):
        p.error("give a path to GET or --post TARGET")

    client = Client(HTTP_HOST="127.0.0.1", enforce_csrf_checks=bool(args.post))
    if args.user:
        client.force_login(get_user_model().objects.get(username=args.user))
    if args.post:
        request, label = post_request(client, args.post)
    else:
        label = args.path

        def request():
            return client.get(args.path)

    status = request().status_code
    total = sql = cpu = 0.0
    captured: list[dict] = []
    profiler = cProfile.Profile() if args.cprofile else None
    for _ in range(args.n):
        with CaptureQueriesContext(connection) as ctx:
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            request()
            if profiler:
                profiler.disable()
            total += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
        sql += sum(float(q["time"]) for q in ctx.captured_queries)
        captured = ctx.captured_queries
    print(f"{label} as {args.user or 'anonymous'}: HTTP {status}")
    print(
        f"  mean {total / args.n * 1000:.1f} ms per request ({cpu / args.n * 1000:.1f} ms CPU in Python), "
        f"SQL {sql / args.n * 1000:.1f} ms in {len(captured)} queries"
    )
    for q in sorted(captured, key=lambda q: -float(q["time"])):
        print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][: args.sql_chars]}")
    if args.explain and captured:
        slowest = max(captured, key=lambda q: float(q["time"]))["sql"]
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest)
            print("\nEXPLAIN ANALYZE of the slowest query:")
            for (line,) in cur.fetchall():
                print("  " + line)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
