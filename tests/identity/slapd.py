"""A throwaway OpenLDAP server (Debian's slapd) for the directory tests.

Its own config, database and TLS certificate (a test CA, a server certificate for
127.0.0.1) in a temporary folder; a free loopback port; the company "Acme" loaded with
slapadd before it starts. ``Directory`` also changes entries while it runs (python-ldap,
as the directory's admin), and can be stopped and started again to test an outage.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
import time
from pathlib import Path

import ldap
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.identity.idp import free_port

BASE = "dc=acme,dc=test"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory-admin-pw"
SERVICE_DN = f"cn=tierdesk,{BASE}"
SERVICE_PASSWORD = "tierdesk-bind-pw"
PASSWORD = "dir-pass-1"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"

#: uid, given name, surname, mail
PERSONS = [
    ("jordan", "Jordan", "Front", "jordan@acme.test"),
    ("sam", "Sam", "Lead", "sam@acme.test"),
    ("kim", "Kim", "Office", "kim@acme.test"),
    ("agent1", "Other", "Person", "other.agent1@acme.test"),
    ("chris", "Chris", "Customer", "customer@example.com"),
]
#: group cn → member uids
MEMBERSHIP = {
    "helpdesk-tier1": ["jordan"],
    "helpdesk-tier2": ["agent1"],
    "helpdesk-managers": ["sam"],
}

GROUP_ROLES = {
    f"cn=helpdesk-tier1,{GROUPS}": "agent:1",  # by DN
    "helpdesk-tier2": "agent:2",  # by name
    "helpdesk-managers": "manager:2",
}


def _ldif() -> str:
    out = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: acme\no: Acme\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: {SERVICE_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
        f"cn: tierdesk\nuserPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, given, sn, mail in PERSONS:
        out.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given} {sn}\n"
            f"givenName: {given}\nsn: {sn}\nmail: {mail}\nuserPassword: {PASSWORD}\n"
        )
    for cn, members in MEMBERSHIP.items():
        lines = "".join(f"member: uid={m},{PEOPLE}\n" for m in members)
        out.append(f"dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}")
    return "\n".join(out)


def _certificates(folder: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


class Directory:
    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.ca_file = str(folder / "ca.pem")
        self.proc: subprocess.Popen | None = None

    def _config(self) -> Path:
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        conf = self.dir / "slapd.conf"
        schema = "/etc/ldap/schema"
        conf.write_text(
            f"""include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {self.dir}/slapd.pid
TLSCACertificateFile {self.dir}/ca.pem
TLSCertificateFile {self.dir}/server.pem
TLSCertificateKeyFile {self.dir}/server.key
access to attrs=userPassword by self read by anonymous auth by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by * none
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {data}
"""
        )
        return conf

    def start(self, *, load: bool = True) -> None:
        if load:
            _certificates(self.dir)
            conf = self._config()
            ldif = self.dir / "acme.ldif"
            ldif.write_text(_ldif())
            subprocess.run(
                ["/usr/sbin/slapadd", "-f", str(conf), "-l", str(ldif)],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        self.log = open(self.dir / "slapd.log", "a")  # noqa: SIM115
        # -d 0: stay in the foreground (so the test owns the process), log nothing.
        self.proc = subprocess.Popen(
            ["/usr/sbin/slapd", "-f", str(self.dir / "slapd.conf"), "-h", self.uri + "/", "-d", "0"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.admin().unbind_s()
                return
            except ldap.SERVER_DOWN:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("slapd did not start: " + (self.dir / "slapd.log").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def admin(self):
        conn = ldap.initialize(self.uri, bytes_mode=False)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        conn.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        return conn

    def set_members(self, group: str, uids: list[str]) -> None:
        conn = self.admin()
        # groupOfNames needs one member at least: the admin stands in for "nobody".
        members = [f"uid={u},{PEOPLE}".encode() for u in uids] or [ADMIN_DN.encode()]
        conn.modify_s(f"cn={group},{GROUPS}", [(ldap.MOD_REPLACE, "member", members)])
        conn.unbind_s()

    def delete_person(self, uid: str) -> None:
        conn = self.admin()
        conn.delete_s(f"uid={uid},{PEOPLE}")
        conn.unbind_s()

    def add_person(self, uid: str, given: str, sn: str, mail: str) -> None:
        conn = self.admin()
        conn.add_s(
            f"uid={uid},{PEOPLE}",
            [
                ("objectClass", [b"inetOrgPerson"]),
                ("uid", [uid.encode()]),
                ("cn", [f"{given} {sn}".encode()]),
                ("givenName", [given.encode()]),
                ("sn", [sn.encode()]),
                ("mail", [mail.encode()]),
                ("userPassword", [PASSWORD.encode()]),
            ],
        )
        conn.unbind_s()

    def restore(self) -> None:
        """Back to the loaded company (tests share one server)."""
        for cn, members in MEMBERSHIP.items():
            self.set_members(cn, members)
        conn = self.admin()
        present = {dn for dn, _ in conn.search_s(PEOPLE, ldap.SCOPE_ONELEVEL, "(uid=*)", ["uid"])}
        conn.unbind_s()
        for uid, given, sn, mail in PERSONS:
            if f"uid={uid},{PEOPLE}" not in present:
                self.add_person(uid, given, sn, mail)

    def settings(self, **overrides) -> dict:
        return {
            "SERVER_URI": self.uri,
            "START_TLS": False,
            "CA_CERT_FILE": "",
            "BIND_DN": SERVICE_DN,
            "BIND_PASSWORD": SERVICE_PASSWORD,
            "USER_SEARCH_BASE": PEOPLE,
            "USER_FILTER": "(uid=%(user)s)",
            "GROUP_SEARCH_BASE": GROUPS,
            "GROUP_TYPE": "groupOfNames",
            "GROUP_ROLES": GROUP_ROLES,
            "DEFAULT_ROLE": "customer",
            "TIMEOUT": 2.0,
            **overrides,
        }


def slapd_available() -> bool:
    return shutil.which("/usr/sbin/slapd") is not None
