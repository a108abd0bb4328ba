"""The provisioner's errors, in Hyperfactory's one exception family (``hf_core.errors.HfError``).

Messages have two layers, as in the collector and the ingest: a plain sentence for the operator and, in
``detail``, the technical cause (never a secret). Each kind also says its ``hf-saas`` exit code.
"""

from __future__ import annotations

from hf_core import errors as core


class HfSaasError(core.HfError):
    """Base of every error the provisioner raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class ConfigError(HfSaasError, core.ConfigError):
    """The provisioner's own settings are wrong or incomplete."""

    exit_code = 2


class SpecError(HfSaasError):
    """A tenant specification (what the onboarding form produced) is invalid.

    ``errors`` maps a field path such as ``devices.3.ip`` to a sentence that says what to fix.
    """

    exit_code = 3

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        first = "; ".join(f"{key}: {msg}" for key, msg in list(self.errors.items())[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"The tenant specification has {len(self.errors)} error(s): {first}{more}")


class TenantExistsError(HfSaasError):
    """A tenant (or a database) of that name already exists."""

    exit_code = 4


class TenantNotFoundError(HfSaasError):
    """No tenant of that name is known to this provisioner."""

    exit_code = 5


class ProvisionError(HfSaasError):
    """A provisioning step failed; the tenant is left in state ``failed`` with this message."""

    exit_code = 6


class ZitiError(HfSaasError):
    """The OpenZiti controller refused or could not be reached."""

    exit_code = 7
