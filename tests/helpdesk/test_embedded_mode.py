"""The embedded default: no variables set → an embedded PostgreSQL in var/, the cache in
a PostgreSQL table, the filesystem broker in var/. What `make run` gives a new user.

One embedded server (in a temporary var/) serves the module: it is migrated and seeded
once, as `make run` does, and each test checks one thing a user of the demo desk sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import pytest

from helpdesk import embedded_pg
from tests.ports import ephemeral_port

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = [sys.executable, "-m", "helpdesk.embedded_pg"]

pytestmark = pytest.mark.timeout(600)

CLEAN_ENV_DROP = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_SETTINGS_MODULE",
    "TEST_DATABASE_NAME",
)


def _embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV_DROP}
    env["TIERDESK_VAR_DIR"] = str(var_dir)
    env.update(extra)
    return env


def _manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=True,
    )  # fmt: skip


def _postgres_pids(data_dir: Path) -> list[int]:
    """Live (not zombie) postgres processes whose command line names DATA_DIR."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if "postgres" in cmdline and str(data_dir) in cmdline and state not in "ZX":
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """An empty var/ → embedded server up, migrated, cache table made, demo seeded."""
    var_dir = tmp_path_factory.mktemp("embedded") / "var"
    env = _embedded_env(var_dir)
    server = embedded_pg.Server(var_dir)
    started = subprocess.run(
        [*LAUNCHER, "start", "--var", str(var_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        _manage(env, "migrate", "--noinput", "-v0")
        _manage(env, "createcachetable")
        seeded = _manage(env, "seed_demo")
        assert "Demo data ready" in seeded.stdout
        yield var_dir, env, server
    finally:
        server.stop()


def _django(env: dict, code: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


PRELUDE = """
    import django, os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    django.setup()
    from django.conf import settings
    from django.test import Client
"""


def test_settings_point_at_the_embedded_server_and_a_shared_cache(desk):
    var_dir, env, _server = desk
    out = _django(
        env,
        PRELUDE
        + """
    db = settings.DATABASES["default"]
    print(db["ENGINE"], db["HOST"], settings.CACHES["default"]["BACKEND"], settings.CELERY_BROKER_URL)
    """,
    )
    engine, host, cache, broker = out.split()
    assert engine == "django.db.backends.postgresql"
    assert host == str(var_dir / "pgsock")
    assert cache == "helpdesk.cache.DatabaseCache"
    assert broker == "filesystem://"


def test_the_manager_dashboard_shows_figures_charts_and_csv(desk):
    _var, env, _server = desk
    out = _django(
        env,
        PRELUDE
        + """
    import re
    client = Client()
    assert client.login(username="manager", password="demo")
    page = client.get("/dashboard/")
    html = page.content.decode()
    assert page.status_code == 200, page.status_code
    assert "needs PostgreSQL" not in html
    tier1 = re.search(r'data-figure="tier1">([^<]*)<', html).group(1)
    csv = client.get("/api/v1/metrics/summary/?format=csv")
    chart = client.get("/dashboard/export/escalations.csv")
    import json
    print(json.dumps([tier1, csv.status_code, csv["Content-Type"], chart.status_code,
                      html.count('<canvas id="chart-')]))
    """,
    )
    import json

    tier1, csv_status, csv_type, export_status, charts = json.loads(out)
    assert tier1.endswith("%"), out  # the demo history's rate, not "—" or a notice
    assert (csv_status, export_status) == (200, 200)
    assert csv_type.startswith("text/csv")
    assert charts == 6


def test_kb_search_forgives_a_typo(desk):
    _var, env, _server = desk
    out = _django(
        env,
        PRELUDE
        + """
    page = Client().get("/kb/", {"q": "pasword"})
    print(page.status_code, "Reset your password" in page.content.decode())
    """,
    )
    assert out.split() == ["200", "True"]


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except HTTPError as error:
        return error.code


def _gunicorn(port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def test_two_web_processes_share_one_rate_limit(desk):
    """Each gunicorn is its own process with its own memory: the suggestion limit per
    address is counted in the PostgreSQL cache table both of them read."""
    _var, env, _server = desk
    env = {**env, "PORTAL_SUGGEST_LIMIT_PER_MINUTE": "4"}
    ports = [ephemeral_port(), ephemeral_port()]
    procs = [_gunicorn(port, env) for port in ports]
    try:
        for port in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _get_status(f"http://127.0.0.1:{port}/healthz") == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        suggest = "/tickets/new/suggest/?subject=vpn+keeps+dropping"
        # Four hits, two on each process, are within the limit; the fifth is over it,
        # whichever process counts it.
        statuses = [_get_status(f"http://127.0.0.1:{ports[i % 2]}{suggest}") for i in range(4)]
        assert statuses == [200, 200, 200, 200]
        assert _get_status(f"http://127.0.0.1:{ports[0]}{suggest}") == 429
        assert _get_status(f"http://127.0.0.1:{ports[1]}{suggest}") == 429
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.mark.worker
def test_a_task_round_trip_over_the_filesystem_broker(desk, tmp_path):
    var_dir, env, _server = desk
    env = {**env, "CELERY_RESULT_BACKEND": f"file://{tmp_path}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
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
    assert any((var_dir / "broker" / "control").glob("*.exchange"))


# --------------------------------------------------------------------------- lifecycle


def test_ctrl_c_stops_the_database_and_a_second_launcher_says_why(tmp_path):
    """`make run` is the launcher's `exec` around web, worker and beat: Ctrl-C (SIGINT to
    the terminal's process group) ends the command, then the launcher stops PostgreSQL."""
    var_dir = tmp_path / "var"
    env = _embedded_env(var_dir)
    child = "import os, time; print(os.environ['DATABASE_URL'], flush=True); time.sleep(120)"
    launcher = subprocess.Popen(
        [*LAUNCHER, "exec", "--var", str(var_dir), "--", sys.executable, "-c", child],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert launcher.stdout.readline().startswith("embedded PostgreSQL: starting")
        url = launcher.stdout.readline().strip()
        assert url == embedded_pg.Server(var_dir).url()
        assert _postgres_pids(var_dir / "pg")

        second = subprocess.run(
            [*LAUNCHER, "exec", "--var", str(var_dir), "--", "true"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert "Tierdesk is already running" in second.stderr
        assert f"launcher pid {launcher.pid}" in second.stderr

        os.killpg(launcher.pid, signal.SIGINT)
        assert launcher.wait(timeout=60) == 130
        assert "embedded PostgreSQL: stopped" in launcher.stdout.read()
        assert _postgres_pids(var_dir / "pg") == []
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
        embedded_pg.Server(var_dir).stop()


def test_a_killed_server_is_recovered_at_the_next_start(tmp_path):
    var_dir = tmp_path / "var"
    server = embedded_pg.Server(var_dir)
    server.start()  # durable, as under `make run`: a committed row survives kill -9
    try:
        embedded_pg.ensure_database(server.url("keep"))
        _sql(server, "keep", "CREATE TABLE t (n int); INSERT INTO t VALUES (42)")
        os.kill(server.postmaster_pid(), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.postmaster_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (server.data / "postmaster.pid").exists()  # stale, as after a crash

        server.start()
        assert server.answers()
        assert _sql(server, "keep", "SELECT n FROM t") == [(42,)]
    finally:
        server.stop()
    assert _postgres_pids(server.data) == []


def _sql(server: embedded_pg.Server, database: str, statement: str) -> list:
    import psycopg2

    conn = psycopg2.connect(host=str(server.socket_dir), dbname=database, user="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def test_database_url_overrides_the_embedded_server(tmp_path):
    var_dir = tmp_path / "var"
    env = _embedded_env(var_dir, DATABASE_URL="postgres://elsewhere.invalid/x")
    result = subprocess.run(
        [*LAUNCHER, "exec", "--var", str(var_dir), "--", sys.executable, "-c",
         "import os; print(os.environ['DATABASE_URL'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "postgres://elsewhere.invalid/x"
    assert not (var_dir / "pg").exists()
