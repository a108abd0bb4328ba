"""`hf-collector browse opc.tcp://…`: an OPC UA server's variables as a CSV that Odoo's tag import accepts."""

from __future__ import annotations

import asyncio
import csv
import re
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from asyncua import Client, Node, ua

from hf_core.errors import SourceError
from hf_core.uns import TagKey, segment_from_name

DATA_TYPES: dict[ua.VariantType | None, str] = {
    ua.VariantType.Boolean: "bool",
    ua.VariantType.String: "string",
    ua.VariantType.LocalizedText: "string",
    ua.VariantType.Float: "float",
    ua.VariantType.Double: "float",
}
# The columns of Odoo's tag import (Manufacturing ▸ Hyperfactory ▸ Tags ▸ Import records), in its field names:
# `id` is the row's external key, so importing the same file again updates the tags instead of failing.
COLUMNS = ["id", "name", "tag_group", "workcenter_id", "device_id", "data_type", "role", "opcua_node_id", "description"]
MAX_VARIABLES = 50_000
# Role guesses from a variable's name and type; anything else stays a plain value.
STATE_WORDS = re.compile(r"(state|status|mode)$", re.IGNORECASE)
SCRAP_WORDS = re.compile(r"(scrap|reject|bad)", re.IGNORECASE)
COUNT_WORDS = re.compile(r"(count|counter|parts|pieces|good)", re.IGNORECASE)


def segment(text: str) -> str:
    """A browse name as a UNS segment: 'Spindle Speed' -> 'Spindle_Speed' ('tag' when nothing is left)."""
    return segment_from_name(text) or "tag"


def guess_role(name: str, data_type: str) -> str:
    """What OEE needs, where the name and type say it: a state string or enum, a part or scrap counter."""
    if data_type in ("string", "int") and STATE_WORDS.search(name):
        return "machine_state"
    if data_type == "int" and SCRAP_WORDS.search(name):
        return "scrap_count"
    if data_type == "int" and COUNT_WORDS.search(name):
        return "good_count"
    return "plain"


def portable_node_id(node_id: ua.NodeId, namespaces: list[str]) -> str:
    """``nsu=<namespace uri>;…``: a namespace's index changes when the server's namespace table does, its
    URI does not (the collector resolves it at connect)."""
    local = ua.NodeId(node_id.Identifier, ua.Int16(0), node_id.NodeIdType).to_string()
    return f"nsu={namespaces[node_id.NamespaceIndex]};{local}"


@dataclass
class Browse:
    """One walk of a server's address space below a starting object."""

    namespaces: list[str]
    workcenter: str = ""
    device: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)

    async def walk(self, node: Node, groups: list[str], depth: int = 0) -> None:
        if depth > 10 or len(self.rows) >= MAX_VARIABLES:
            return
        for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
            if child.nodeid.NamespaceIndex == 0:
                continue  # the server's own nodes (Server, LastChange…), not the PLC's variables
            node_class = await child.read_node_class()
            name = (await child.read_browse_name()).Name
            if node_class == ua.NodeClass.Variable:
                self.rows.append(await self._row(child, name, groups))
            elif node_class == ua.NodeClass.Object:
                await self.walk(child, [*groups, segment(name)], depth + 1)

    async def _row(self, child: Node, name: str, groups: list[str]) -> dict[str, Any]:
        try:
            variant = (await child.read_data_value()).Value
            kind = variant.VariantType if variant is not None else None
        except ua.UaError:
            kind = None
        data_type = DATA_TYPES.get(kind, "int" if kind and "Int" in kind.name else "float")
        key = "_".join(segment(part) for part in (self.workcenter or "tags", *groups, name))
        tag_key = TagKey(groups=tuple(groups), name=segment(name))
        return {
            "id": f"hf_browse_{key}",
            "name": tag_key.name,
            "tag_group": tag_key.tag_group,
            "workcenter_id": self.workcenter,
            "device_id": self.device,
            "data_type": data_type,
            "role": guess_role(name, data_type),
            "opcua_node_id": portable_node_id(child.nodeid, self.namespaces),
            "description": name,
        }


async def _start_node(client: Client, node_id: str | None) -> Node:
    """The object to browse: the one given, else the server's single machine object when Objects holds only
    one (so its name is not repeated as a tag group under a workcell of the same name), else Objects."""
    if node_id:
        return client.get_node(node_id)
    objects = client.nodes.objects
    own = [
        child
        for child in await objects.get_children(refs=ua.ObjectIds.HierarchicalReferences)
        if child.nodeid.NamespaceIndex != 0 and await child.read_node_class() == ua.NodeClass.Object
    ]
    return own[0] if len(own) == 1 else objects


async def browse(
    url: str, request_timeout: float = 5.0, *, workcenter: str = "", device: str = "", node_id: str | None = None
) -> list[dict[str, Any]]:
    """Every variable below ``node_id`` (see :func:`_start_node`), the server's own namespace left out, as rows
    of Odoo's tag import for ``workcenter`` and ``device`` (their names in Odoo); each request to the server
    may take ``request_timeout`` seconds."""
    client = Client(url=url, timeout=request_timeout)
    try:
        await client.connect()
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise SourceError(
            f"OPC UA server {url} did not answer; check the address and that it runs.", detail=str(exc)
        ) from exc
    try:
        walk = Browse(await client.get_namespace_array(), workcenter, device)
        await walk.walk(await _start_node(client, node_id), [])
        return walk.rows
    finally:
        await client.disconnect()


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def main(url: str, workcenter: str = "", device: str = "", node_id: str | None = None) -> int:
    write_csv(asyncio.run(browse(url, workcenter=workcenter, device=device, node_id=node_id)), sys.stdout)
    return 0
