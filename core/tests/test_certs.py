"""The one way a certificate fingerprint is written and compared."""

from __future__ import annotations

import pytest

from hf_core.certs import certificate_fingerprint, normalize_fingerprint
from hf_core.errors import ConfigError


def test_the_forms_tools_print_are_one_fingerprint() -> None:
    digest = certificate_fingerprint(b"a certificate")
    colons = ":".join(digest[i : i + 2] for i in range(0, 64, 2)).upper()
    assert normalize_fingerprint(colons) == digest
    assert normalize_fingerprint(f"sha256 Fingerprint={colons}") == digest
    assert normalize_fingerprint(f"  {digest.upper()}\n") == digest
    assert normalize_fingerprint("") == ""


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "ab" * 33, "md5:" + "ab" * 16])
def test_anything_else_is_refused_with_how_to_get_one(bad: str) -> None:
    with pytest.raises(ConfigError, match="openssl x509"):
        normalize_fingerprint(bad)
