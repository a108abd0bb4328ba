"""Issue 16, point 5: a tag the OPC UA server refuses (a node id it does not know, BadNodeIdUnknown, or a
namespace URI it does not have) is said in `hf-collector status` and in the report sent to Odoo, with the
server's status code; the other tags are read."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from asyncua import ua
from hf_testing import free_port

from hf_collector.drivers.opcua import OpcUaDriver
from hf_collector.model import OpcUaAddress, parse_site
from hf_collector.simulate import site_document
from hf_collector.simulate.machine import Machine
from hf_collector.simulate.servers import OpcUaMachine
from hf_collector.status import CollectorStatus, DeviceStatus, odoo_report, render
from hf_core.types import Quality

BAD_NODE_ID_UNKNOWN = 0x80340000


async def test_refused_tags_are_in_the_status_and_the_report_to_odoo() -> None:
    port = free_port()
    server = OpcUaMachine(Machine(seed=7), port)
    await server.start()
    try:
        site = parse_site(site_document({"opcua": port, "modbus": port, "s7": port}, "acme"))
        device = site.devices[0]
        good = device.tags[0]
        unknown = dataclasses.replace(
            good, name="ghost", topic=good.topic.rsplit("/", 1)[0] + "/ghost", address=OpcUaAddress("ns=2;i=99999")
        )
        stranger = dataclasses.replace(
            good,
            name="stranger",
            topic=good.topic.rsplit("/", 1)[0] + "/stranger",
            address=OpcUaAddress("nsu=urn:not:here;s=x"),
        )
        device = dataclasses.replace(device, tags=(good, unknown, stranger))
        async with OpcUaDriver(device) as driver:
            async with asyncio.timeout(20):
                async for batch in driver.samples():
                    if any(s.tag.name == good.name and s.quality is Quality.GOOD for s in batch):
                        break
            assert driver.refused == {
                unknown.topic: ("BadNodeIdUnknown", BAD_NODE_ID_UNKNOWN),
                stranger.topic: ("BadNodeIdUnknown", ua.StatusCodes.BadNodeIdUnknown),
            }
        status = CollectorStatus(
            edge="e",
            devices={device.name: DeviceStatus(refused_tags=driver.refused)},
            config_errors=["Device ghost: no host."],
        )
        report = odoo_report(status)
        assert report["config_errors"] == ["Device ghost: no host."]
        assert {"topic": unknown.topic, "status": "BadNodeIdUnknown", "code": BAD_NODE_ID_UNKNOWN - 2**32} in report[
            "refused_tags"
        ], "XML-RPC carries signed 32-bit ints"
        assert len(report["refused_tags"]) == 2
        text = render(json.loads(json.dumps(dataclasses.asdict(status) | {"updated_at": 0})))
        assert f"refused tag {unknown.topic}: BadNodeIdUnknown (0x80340000)" in text
    finally:
        await server.stop()
