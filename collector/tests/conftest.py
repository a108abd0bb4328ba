"""The collector suite's fixtures (defined in collector_fixtures, importable under that unique name)."""

from collector_fixtures import run_collector

__all__ = ["run_collector"]
