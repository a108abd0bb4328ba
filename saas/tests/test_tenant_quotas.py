"""Issue 17: a tenant's bandwidth is metered and its storage quota enforced at the tenant's own ingest, which
`hf-saas serve` runs: a real tenant database (made from the template by the provisioner), its real ingest behind
the cloud's broker, its quotas written the one way (Provisioner.set_quotas), a storage quota far below the size
of the tenant's Odoo database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from hf_historian import schema
from hf_historian.ingest.quota import RELOAD_S
from hf_saas.provision import CreateResult, Provisioner
from hf_saas.quotas import tenant_cursor
from hf_saas.spec import Quotas, parse_spec

from .conftest import created_tenants, spec_data
from .test_tenant_data import CELL, _edge_credentials, _ingests_of, _publish, _wait

TOPIC = f"umh/v1/pytest_epsilon/{CELL}/_historian"


@pytest.fixture(scope="module")
def epsilon(provisioner: Provisioner) -> Iterator[CreateResult]:
    with created_tenants(provisioner, {"epsilon": parse_spec(spec_data("Pytest Epsilon"))}) as created:
        yield created["epsilon"]


def _temperatures(provisioner: Provisioner, db: str) -> list[float]:
    with tenant_cursor(provisioner.settings, db) as cr:
        cr.execute("SELECT to_regclass('hf_historian_sample') IS NOT NULL")
        if not schema.one_row(cr)[0]:
            return []
        cr.execute(
            "SELECT s.value FROM hf_historian_sample s JOIN hf_uns_tag t ON t.id = s.tag_id "
            "WHERE t.name = 'temperature' ORDER BY s.time"
        )
        return [float(row[0]) for row in cr.fetchall()]


def _days(provisioner: Provisioner, db: str) -> set[object]:
    with tenant_cursor(provisioner.settings, db) as cr:
        return {day for _code, day in schema.existing_partitions(cr)}


def test_a_tenant_at_its_storage_quota_drops_old_raw_days_then_parks_and_is_told(
    epsilon: CreateResult, tenant_server: dict[str, str], broker: dict[str, object], provisioner: Provisioner
) -> None:
    port = int(broker["port"])  # type: ignore[call-overload]
    credentials = _edge_credentials(epsilon)
    assert _wait(lambda: _ingests_of(epsilon.db), 30), "no ingest runs for the tenant"
    time.sleep(3)  # the ingest subscribes once connected
    now = time.time()
    two_days_ago = now - 2 * 86400
    _publish(port, credentials, TOPIC, {"timestamp_ms": int(two_days_ago * 1000), "temperature": 1.0})
    _publish(port, credentials, TOPIC, {"timestamp_ms": int(now * 1000), "temperature": 2.0})
    assert _wait(lambda: _temperatures(provisioner, epsilon.db) == [1.0, 2.0], 30)
    usage = provisioner.usage(epsilon.db)
    assert usage["messages_today"] == 2 and usage["bytes_today"] > 0, usage  # bandwidth, metered at the ingest
    old_day = datetime.fromtimestamp(two_days_ago, UTC).date()
    assert old_day in _days(provisioner, epsilon.db)

    # 1 MB of storage, shortened at the quota: the tenant's ingest drops its old raw days, and, with only
    # today's left and still over, parks what comes (the Odoo database alone is far larger)
    tiny = Quotas(tags=3, samples_per_day=1000, retention_days=14, storage_mb=1, storage_policy="shorten_retention")
    provisioner.set_quotas(epsilon.db, tiny)
    assert _wait(lambda: old_day not in _days(provisioner, epsilon.db), RELOAD_S + 30), "old raw days not dropped"
    assert _wait(lambda: provisioner.usage(epsilon.db)["notices"], 30)
    assert "only today's raw history left" in provisioner.usage(epsilon.db)["notices"][0]
    _publish(port, credentials, TOPIC, {"timestamp_ms": int(time.time() * 1000), "temperature": 3.0})
    assert _wait(lambda: provisioner.usage(epsilon.db)["samples_parked_today"] == 1, 30)
    assert _temperatures(provisioner, epsilon.db) == [2.0]  # parked, not stored, not lost

    # storage bought: the parked sample is stored and the tenant is told no more
    provisioner.set_quotas(epsilon.db, Quotas(tags=3, samples_per_day=1000, retention_days=14, storage_mb=100_000))
    assert _wait(lambda: _temperatures(provisioner, epsilon.db) == [2.0, 3.0], RELOAD_S + 30)
    assert _wait(lambda: not provisioner.usage(epsilon.db)["notices"], 30)
    quotas = provisioner.usage(epsilon.db)["quotas"]
    assert (quotas["storage_policy"], quotas["cpu"], quotas["memory_mb"]) == ("pause_ingest", 1.0, 2048)
