"""`hf-collector browse opc.tcp://…`: an OPC UA server's variables as a CSV that Odoo's tag import accepts."""

from __future__ import annotations

import asyncio
import csv
import sys
from typing import Any, TextIO

from asyncua import Client, Node, ua

from hf_core.errors import SourceError
from hf_core.uns import segment_from_name

DATA_TYPES: dict[ua.VariantType | None, str] = {
    ua.VariantType.Boolean: "bool", ua.VariantType.String: "string", ua.VariantType.LocalizedText: "string",
    ua.VariantType.Float: "float", ua.VariantType.Double: "float",
}
COLUMNS = ["name", "tag_group", "data_type", "opcua_node_id", "description"]
MAX_VARIABLES = 50_000


def segment(text: str) -> str:
    """A browse name as a UNS segment: 'Spindle Speed' -> 'Spindle_Speed' ('tag' when nothing is left)."""
    return segment_from_name(text) or "tag"


async def _walk(node: Node, groups: list[str], rows: list[dict[str, Any]], depth: int) -> None:
    if depth > 10 or len(rows) >= MAX_VARIABLES:
        return
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        node_class = await child.read_node_class()
        name = (await child.read_browse_name()).Name
        if node_class == ua.NodeClass.Variable:
            try:
                variant = (await child.read_data_value()).Value
                kind = variant.VariantType if variant is not None else None
            except ua.UaError:
                kind = None
            data_type = DATA_TYPES.get(kind, "int" if kind and "Int" in kind.name else "float")
            rows.append({"name": segment(name), "tag_group": "$".join(groups), "data_type": data_type,
                         "opcua_node_id": child.nodeid.to_string(), "description": name})
        elif node_class == ua.NodeClass.Object and name != "Server":
            await _walk(child, [*groups, segment(name)], rows, depth + 1)


async def browse(url: str, request_timeout: float = 5.0) -> list[dict[str, Any]]:
    """Every variable under Objects (the server's own diagnostics left out); each request to the server
    may take ``request_timeout`` seconds."""
    client = Client(url=url, timeout=request_timeout)
    try:
        await client.connect()
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise SourceError(f"OPC UA server {url} did not answer; check the address and that it runs.",
                          detail=str(exc)) from exc
    try:
        rows: list[dict[str, Any]] = []
        await _walk(client.nodes.objects, [], rows, 0)
        return rows
    finally:
        await client.disconnect()


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def main(url: str) -> int:
    write_csv(asyncio.run(browse(url)), sys.stdout)
    return 0
