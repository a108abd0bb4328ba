"""Certificate fingerprints: how a device's pinned server certificate is written and compared.

An OPC UA server's certificate is pinned as the SHA-256 of its DER bytes, written as 64 hex digits; the
colons and the case that tools print (``openssl x509 -fingerprint -sha256``: ``AB:CD:…``) are accepted.
"""

from __future__ import annotations

import hashlib
import re

from hf_core.errors import ConfigError

_HEX = re.compile(r"[0-9a-f]{64}")


def normalize_fingerprint(text: str) -> str:
    """``"AB:CD:…"`` or ``"abcd…"`` → ``"abcd…"`` (64 lower-case hex digits); "" stays "" (nothing pinned)."""
    compact = re.sub(r"[\s:]", "", text or "").lower()
    if compact.startswith(("sha256fingerprint=", "sha256=")):  # openssl's "sha256 Fingerprint=…"
        compact = compact.split("=", 1)[1]
    if compact and not _HEX.fullmatch(compact):
        raise ConfigError(
            f"{text!r} is no SHA-256 fingerprint: give 64 hex digits (colons allowed), as "
            "`openssl x509 -noout -fingerprint -sha256 -inform der -in server.der` prints it."
        )
    return compact


def certificate_fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as :func:`normalize_fingerprint` writes it."""
    return hashlib.sha256(der).hexdigest()
