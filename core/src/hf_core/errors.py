"""One exception family for the collector and the ingest.

Messages have two layers: ``str(error)`` is a plain sentence a plant engineer can act on;
``error.detail`` keeps the technical cause (the driver's own message).
"""

from __future__ import annotations


class HfError(Exception):
    """Base of every error Hyperfactory raises on purpose."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ConfigError(HfError):
    """Configuration that cannot work: fix the config, retrying will not help."""


class RetryableError(HfError):
    """A failure that may pass by itself; ``retry_in`` is the suggested delay in seconds."""

    def __init__(self, message: str, *, retry_in: float = 1.0, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.retry_in = retry_in


class SourceError(RetryableError):
    """A PLC or server that does not answer or answers garbage."""


class SinkError(RetryableError):
    """The broker or the historian refused or is away."""
