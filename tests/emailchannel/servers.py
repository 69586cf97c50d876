"""Real mail servers for the tests: Debian's dovecot (IMAP, with IDLE, MOVE and
UIDPLUS) on a throwaway loopback port with a temporary maildir and configuration,
and an aiosmtpd SMTP receiver that keeps what it is sent."""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Dovecot:
    port: int
    user: str
    password: str
    root: Path
    cert: Path | None = None

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        if self.cert:
            client.starttls(ssl_context=ssl.create_default_context(cafile=str(self.cert)))
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def uids(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        client = self.client()
        try:
            client.select(folder)
            _typ, data = client.uid("SEARCH", None, criteria)
            return [int(x) for x in data[0].split()]
        finally:
            client.logout()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the test is its own CA)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def dovecot(*, tls: bool = False) -> Iterator[Dovecot]:
    """A dovecot of our own: its config, its maildir, its port, stopped and removed
    afterwards. Its folder is a fresh one under /tmp (not pytest's private tmp_path):
    dovecot's own users must read the password file and write the maildir."""
    tmp = Path(tempfile.mkdtemp(prefix="tierdesk-dovecot-"))
    port = free_port()
    for sub in ("run", "state", "mail", "home"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # Dovecot never accesses mail as root; the package's own users serve.
        mail_user = pwd.getpwnam("dovecot")
        login_user = "dovenull"
        for sub in ("mail", "home"):
            os.chown(tmp / sub, mail_user.pw_uid, mail_user.pw_gid)
        os.chmod(tmp, 0o755)  # noqa: S103 (dovecot's users must enter its folder)
    else:
        mail_user = pwd.getpwuid(os.getuid())
        login_user = mail_user.pw_name
    (tmp / "users").write_text("desk:{PLAIN}desk-password::::::\n")
    if tls:
        cert, key = self_signed(tmp)
        os.chmod(key, 0o644)  # a throwaway key that dovecot's config reader must open
        ssl_conf = f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n"
    else:
        cert = None
        ssl_conf = "ssl = no\n"
    conf = tmp / "dovecot.conf"
    conf.write_text(
        f"""
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_conf}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{tmp}/mail/%u
# A throwaway maildir: no fsync, so that the server is not what the bench measures.
mail_fsync = never
first_valid_uid = {mail_user.pw_uid}
default_login_user = {login_user}
default_internal_user = {mail_user.pw_name}
passdb {{
  driver = passwd-file
  args = {tmp}/users
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={tmp}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                log = (tmp / "dovecot.log").read_text() if (tmp / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {out}\n{log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot did not start listening")
            time.sleep(0.05)
        yield Dovecot(port=port, user="desk", password="desk-password", root=tmp, cert=cert)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class SmtpReceiver:
    port: int
    messages: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """aiosmtpd on a free loopback port; every message's raw bytes are kept."""
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            receiver.messages.append(envelope.original_content or envelope.content)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
