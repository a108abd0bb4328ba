"""Per-tenant broker credentials and ACL in Mosquitto's own password and ACL files.

Each tenant gets a topic root ``umh/v1/<enterprise>`` (its enterprise segment is its unique slug) and
two broker users: ``<slug>-edge`` (the collector: read/write under the root) and ``<slug>-ingest``
(the cloud ingest: read under the root). No user gets a wildcard outside its root, and the broker
must run with ``allow_anonymous false``, so one tenant's credentials cannot read another's topics.

Passwords are stored as Mosquitto 2's PBKDF2-SHA512 hashes (``$7$``); clear passwords are returned
once to the caller and never written or logged here. Files are rewritten atomically under a lock
(concurrent provisioning), then the broker is told to reload with SIGHUP when its pid file is known.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import signal
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .locks import folder_lock

_logger = logging.getLogger(__name__)
ITERATIONS = 101
BEGIN = "# >>> tenant "
END = "# <<< tenant "


@dataclass(frozen=True)
class BrokerCredentials:
    username: str
    password: str
    topic_root: str

    def __repr__(self) -> str:  # never print the password by accident
        return f"BrokerCredentials(username={self.username!r}, topic_root={self.topic_root!r})"


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The line Mosquitto's ``mosquitto_passwd`` writes for this password (``$7$`` PBKDF2-SHA512)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def topic_root(enterprise: str) -> str:
    return f"umh/v1/{enterprise}"


class MosquittoFiles:
    """The ``passwd`` and ``acl`` files of one broker, tenant blocks delimited by markers."""

    def __init__(self, directory: Path, pidfile: Path | None = None) -> None:
        self.directory = directory
        self.passwd = directory / "passwd"
        self.acl = directory / "acl"
        self.pidfile = pidfile

    def _locked(self) -> AbstractContextManager[None]:
        return folder_lock(self.directory)

    def ensure_files(self) -> None:
        with self._locked():
            for path in (self.passwd, self.acl):
                if not path.exists():
                    self._write(path, "")

    def add_tenant(self, tenant: str, enterprise: str) -> dict[str, BrokerCredentials]:
        """(Re)create the tenant's users with fresh passwords; returns them (clear text, once)."""
        root = topic_root(enterprise)
        creds = {
            "edge": BrokerCredentials(f"{tenant}-edge", secrets.token_urlsafe(24), root),
            "ingest": BrokerCredentials(f"{tenant}-ingest", secrets.token_urlsafe(24), root),
        }
        passwd_lines = [f"{c.username}:{hash_password(c.password)}" for c in creds.values()]
        acl_lines = [
            f"user {creds['edge'].username}",
            f"topic readwrite {root}/#",
            "",
            f"user {creds['ingest'].username}",
            # read: the plant's data; write: Odoo's own _analytics events, which the ingest publishes
            f"topic readwrite {root}/#",
        ]
        with self._locked():
            self._replace_block(self.passwd, tenant, passwd_lines, comment=False)
            self._replace_block(self.acl, tenant, acl_lines, comment=True)
        self.reload()
        _logger.info("broker users for tenant %s written (topic root %s)", tenant, root)
        return creds

    def rotate_edge(self, tenant: str, enterprise: str) -> BrokerCredentials:
        """A fresh password for the tenant's edge user; the previous one stops working at the reload.
        The ingest user is left alone (the cloud ingest keeps running)."""
        creds = BrokerCredentials(f"{tenant}-edge", secrets.token_urlsafe(24), topic_root(enterprise))
        with self._locked():
            lines = [
                line for line in self._tenant_lines(self.passwd, tenant) if not line.startswith(f"{creds.username}:")
            ]
            self._replace_block(
                self.passwd, tenant, [f"{creds.username}:{hash_password(creds.password)}", *lines], comment=False
            )
        self.reload()
        _logger.info("broker password of %s rotated", creds.username)
        return creds

    def disable_tenant(self, tenant: str) -> bool:
        """Move the tenant's password hashes aside (``passwd.disabled``): it cannot connect until
        :meth:`enable_tenant`, which restores the same credentials. True when something changed."""
        disabled = self.directory / "passwd.disabled"
        with self._locked():
            lines = self._tenant_lines(self.passwd, tenant)
            if not lines:
                return False
            self._replace_block(disabled, tenant, lines, comment=False)
            self._replace_block(self.passwd, tenant, None, comment=False)
        self.reload()
        return True

    def enable_tenant(self, tenant: str) -> bool:
        disabled = self.directory / "passwd.disabled"
        with self._locked():
            lines = self._tenant_lines(disabled, tenant)
            if not lines:
                return False
            self._replace_block(self.passwd, tenant, lines, comment=False)
            self._replace_block(disabled, tenant, None, comment=False)
        self.reload()
        return True

    @staticmethod
    def _tenant_lines(path: Path, tenant: str) -> list[str]:
        if not path.exists():
            return []
        prefixes = (f"{tenant}-edge:", f"{tenant}-ingest:")
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(prefixes)]

    def remove_tenant(self, tenant: str) -> bool:
        with self._locked():
            changed = self._replace_block(self.passwd, tenant, None, comment=False)
            changed = self._replace_block(self.acl, tenant, None, comment=True) or changed
            changed = self._replace_block(self.directory / "passwd.disabled", tenant, None, comment=False) or changed
        if changed:
            self.reload()
        return changed

    def write_broker_config(
        self, *, plain_port: int, tls_port: int, certfile: Path, keyfile: Path, user: str = ""
    ) -> Path:
        """The cloud broker's ``mosquitto.conf``: the users and ACL this class writes, reloaded on SIGHUP
        through ``pid_file``; TLS for the edges on every interface, plain MQTT on loopback only (for the
        tenants' ingests on the same server: an edge can never send a password in clear text)."""
        self.ensure_files()
        pid_file = self.pidfile or self.directory / "mosquitto.pid"
        lines = [
            "# Written by hf-saas broker-config; every client authenticates, each tenant's users reach their",
            "# own topic root only (acl). hf-saas rewrites passwd and acl and signals a reload (pid_file).",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.passwd}",
            f"acl_file {self.acl}",
            f"pid_file {pid_file}",
            "persistence true",
            f"persistence_location {self.directory / 'data'}/",
            # hf_core.payload.MAX_PAYLOAD_BYTES plus topic and headers; the ingest announces the same limit
            "max_packet_size 1065536",
            *([f"user {user}"] if user else []),
            "",
            "# the cloud side: loopback only",
            f"listener {plain_port} 127.0.0.1",
            "",
            "# the edges: TLS only",
            f"listener {tls_port}",
            f"certfile {certfile}",
            f"keyfile {keyfile}",
            "tls_version tlsv1.2",
            "",
        ]
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        path = self.directory / "mosquitto.conf"
        self._write(path, "\n".join(lines))
        return path

    def has_tenant(self, tenant: str) -> bool:
        # a whole user name: "acme-edge" is not "hf_t_acme-edge"
        return any(line.startswith(f"{tenant}-edge:") for line in self._tenant_lines(self.passwd, tenant))

    def reload(self) -> None:
        if not self.pidfile or not self.pidfile.exists():
            return
        try:
            os.kill(int(self.pidfile.read_text().strip()), signal.SIGHUP)
        except (ValueError, ProcessLookupError, PermissionError) as exc:
            _logger.warning("could not signal the broker to reload (pid file %s): %s", self.pidfile, exc)

    # The password file has no comments in Mosquitto's format, so tenant blocks there are found by
    # the user name prefix; the ACL file carries readable markers.
    def _replace_block(self, path: Path, tenant: str, lines: list[str] | None, *, comment: bool) -> bool:
        old = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        kept: list[str] = []
        if comment:
            inside = False
            for line in old:
                if line == f"{BEGIN}{tenant}":
                    inside = True
                elif line == f"{END}{tenant}":
                    inside = False
                elif not inside:
                    kept.append(line)
        else:
            prefixes = (f"{tenant}-edge:", f"{tenant}-ingest:")
            kept = [line for line in old if not line.startswith(prefixes)]
        new = list(kept)
        if lines is not None:
            new += [f"{BEGIN}{tenant}", *lines, f"{END}{tenant}"] if comment else lines
        if new == old:
            return False
        self._write(path, "\n".join(new) + ("\n" if new else ""))
        return True

    @staticmethod
    def _write(path: Path, text: str) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
