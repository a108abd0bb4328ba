"""Cloning a tenant from the template while another session is briefly on it (real PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing

import psycopg2
import pytest

from hf_saas import db as pg
from hf_saas.errors import ProvisionError
from hf_saas.settings import Settings

TEMPLATE = "hf_pt_clone_template"
CLONE = "hf_pt_clone_copy"


@pytest.fixture
def template(settings: Settings) -> Iterator[str]:
    for name in (CLONE, TEMPLATE):
        pg.drop(settings, name)
    with closing(pg.connect(settings)) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{TEMPLATE}"')
    yield TEMPLATE
    for name in (CLONE, TEMPLATE):
        pg.drop(settings, name)


def test_a_clone_waits_for_a_session_on_the_template_to_end(settings: Settings, template: str) -> None:
    session = psycopg2.connect(**settings.dsn(template))
    threading.Timer(0.6, session.close).start()  # a provisioning step still on the template, ending soon
    started = time.monotonic()
    pg.clone(settings, template, CLONE)
    waited = time.monotonic() - started
    assert pg.exists(settings, CLONE)
    assert 0.5 < waited < 8.0, f"cloned {waited:.2f} s after the start: once the session ended, not before"


def test_a_template_that_stays_in_use_is_a_clear_error(
    settings: Settings, template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg, "CLONE_WAIT_S", 1.5)  # the production wait is 10 s
    with closing(psycopg2.connect(**settings.dsn(template))):
        started = time.monotonic()
        with pytest.raises(ProvisionError, match="stays in use"):
            pg.clone(settings, template, CLONE)
        # PostgreSQL itself waits up to 5 s for the other sessions on each attempt
        assert time.monotonic() - started < 8.0
    assert not pg.exists(settings, CLONE)
