"""Counters a running collector writes to its state directory, and `hf-collector status` reads."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DeviceStatus:
    state: str = "starting"  # starting | connected | reconnecting | failed
    message: str = ""
    values_read: int = 0
    last_sample_ms: int = 0
    # tags the device refused (OPC UA: a node id the server does not know), by topic: [status name, code]
    refused_tags: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class CollectorStatus:
    edge: str = ""
    config_version: int = 0
    values_read: int = 0
    messages_published: int = 0
    messages_buffered: int = 0
    messages_dropped: int = 0
    broker_connected: bool = False
    config_errors: list[str] = field(default_factory=list)
    devices: dict[str, DeviceStatus] = field(default_factory=dict)
    updated_at: float = 0.0

    def write(self, path: Path) -> None:
        self.updated_at = time.time()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)


def odoo_report(status: CollectorStatus) -> dict[str, Any]:
    """What ``hf.uns.edge.report_collector_status`` takes: the config errors and every refused tag with the
    server's status code (as a signed 32-bit int: XML-RPC carries no larger one)."""
    refused = [
        {"topic": topic, "status": name, "code": code - 2**32 if code >= 2**31 else code}
        for device in status.devices.values()
        for topic, (name, code) in sorted(device.refused_tags.items())
    ]
    return {"config_errors": list(status.config_errors), "refused_tags": refused}


def read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def render(data: dict[str, Any]) -> str:
    age = time.time() - float(data.get("updated_at", 0))
    lines = [
        (
            f"edge {data['edge']}  config v{data['config_version']}  "
            f"broker {'connected' if data['broker_connected'] else 'AWAY'}  (status {age:.0f} s old)"
        ),
        (
            f"values read {data['values_read']}  messages published {data['messages_published']}  "
            f"messages buffered {data['messages_buffered']}  dropped {data['messages_dropped']}"
        ),
    ]
    for name, device in sorted(data["devices"].items()):
        note = f"  ({device['message']})" if device["message"] else ""
        lines.append(f"  {name:<24} {device['state']:<13} {device['values_read']:>10} values{note}")
        lines += [
            f"    refused tag {topic}: {status} (0x{code:08X})"
            for topic, (status, code) in sorted(device.get("refused_tags", {}).items())
        ]
    lines += [f"  config error: {error}" for error in data.get("config_errors", [])]
    return "\n".join(lines)
