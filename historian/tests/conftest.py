"""Fixtures of the historian and ingest tests: a private Mosquitto per module, a throwaway database per test
(ingest_fixtures). A module that needs them otherwise defines its own of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ingest_fixtures import PG_HOST, PG_PORT, historian_database, private_mosquitto


@pytest.fixture(scope="module")
def broker() -> Iterator[int]:
    with private_mosquitto() as port:
        yield port


@pytest.fixture
def db() -> Iterator[str]:
    with historian_database(PG_HOST, PG_PORT) as name:
        yield name
