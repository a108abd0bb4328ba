"""Issue 17's 20-tenant benchmark found it: every tenant's edge collector took ``hf-collector-<edge name>`` as its
MQTT client id, so two tenants whose edges share a name ("Graz edge") took each other's session on the cloud's
broker thousands of times a second. A bundle now names its collector's session after its tenant and edge."""

from __future__ import annotations

from dataclasses import replace

from hf_collector import config as collector_config
from hf_saas.bundle import EdgeBundle, mqtt_client_id

GRAZ = EdgeBundle(
    tenant="acme",
    odoo_url="http://hf_t_acme.localhost:8070",
    db="hf_t_acme",
    edge_login="edge-1-graz-graz-edge",
    edge_api_key="k",
    mqtt_url="mqtt://mqtt.localhost:1883",
    mqtt_username="hf_t_acme-edge",
    mqtt_password="p",
    topic_root="umh/v1/acme",
)


def test_two_tenants_edges_of_the_same_name_have_their_own_broker_sessions() -> None:
    other = replace(GRAZ, tenant="zenith", db="hf_t_zenith", mqtt_username="hf_t_zenith-edge")
    ids = [bundle.collector_config()["mqtt"]["client_id"] for bundle in (GRAZ, other)]
    assert ids[0] != ids[1]
    assert ids[0] == "hf_t_acme-edge-1-graz-graz-edge"
    # the collector takes it from the bundle's file (no flag, no variable)
    file_values = GRAZ.collector_config()
    assert collector_config.setting("mqtt_client_id", file_values) == ids[0]


def test_a_long_tenant_and_edge_keep_distinct_ids_within_64_bytes() -> None:
    db = "hf_t_" + "a" * 58
    first, second = mqtt_client_id(db, "edge-1-" + "x" * 40), mqtt_client_id(db, "edge-2-" + "x" * 40)
    assert first != second
    assert len(first.encode()) <= 64 and len(second.encode()) <= 64
