"""An OPC UA server whose endpoint URL has a path (opc.tcp://host:4840/probe/, issue 16 point 10): the path
Odoo's device sends is the one the driver connects to."""

from __future__ import annotations

from typing import Any

from hf_collector.drivers.opcua import OpcUaDriver
from hf_collector.model import parse_site


def document(endpoint_path: object) -> dict[str, Any]:
    return {
        "edge": "e",
        "version": 1,
        "hash": "h",
        "devices": [
            {
                "name": "probe-server",
                "protocol": "opcua",
                "host": "10.0.0.7",
                "port": 4840,
                "endpoint_path": endpoint_path,
                "tags": [
                    {
                        "name": "t",
                        "topic": "umh/v1/acme/_historian/t",
                        "data_type": "float",
                        "address": {"node_id": "ns=2;i=2"},
                    }
                ],
            }
        ],
    }


def test_the_endpoint_path_is_part_of_the_url() -> None:
    site = parse_site(document("/probe/"))
    assert not site.errors
    assert OpcUaDriver(site.devices[0]).url == "opc.tcp://10.0.0.7:4840/probe/"


def test_no_endpoint_path_is_the_servers_root() -> None:
    for empty in ("", None):
        assert OpcUaDriver(parse_site(document(empty)).devices[0]).url == "opc.tcp://10.0.0.7:4840"


def test_a_path_that_cannot_be_a_urls_is_a_config_error_naming_the_device() -> None:
    site = parse_site(document("probe ?x"))
    assert not site.devices
    assert any("probe-server" in error and "endpoint path" in error for error in site.errors)
