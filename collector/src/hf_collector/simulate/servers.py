"""Real protocol servers exposing a simulated machine each: OPC UA (asyncua), Modbus TCP (pymodbus), S7 (snap7)."""

from __future__ import annotations

import logging
import struct
from typing import Any, Protocol

import snap7
from asyncua import Server, ua
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from snap7.type import SrvArea
from snap7.util import set_bool, set_dint, set_int, set_real

from hf_collector.simulate.machine import Machine

_logger = logging.getLogger(__name__)
OPCUA_NAMESPACE = "urn:hyperfactory:simulator"
# Modbus holding registers (big-endian words): the layout the generated site.yaml describes.
MODBUS_MAP = {
    "temperature": (0, "float32"),
    "spindle_speed": (2, "float32"),
    "state": (4, "uint16"),
    "good_count": (5, "uint32"),
    "scrap_count": (7, "uint32"),
    "vibration": (9, "float32"),
}
# S7 DB1 byte offsets.
S7_DB = 1
S7_MAP = {
    "temperature": (0, "REAL"),
    "spindle_speed": (4, "REAL"),
    "state": (8, "INT"),
    "good_count": (10, "DINT"),
    "scrap_count": (14, "DINT"),
    "vibration": (18, "REAL"),
    "running": (22, "BOOL"),
}


class SimulatedServer(Protocol):
    """A protocol server showing one simulated machine: started, updated after each step, stopped."""

    async def start(self) -> None: ...
    async def update(self) -> None: ...
    async def stop(self) -> None: ...


def _registers(value: float | int, kind: str) -> list[int]:
    raw = struct.pack({"float32": ">f", "uint16": ">H", "uint32": ">I"}[kind], value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


class OpcUaMachine:
    def __init__(self, machine: Machine, port: int) -> None:
        self.machine, self.port = machine, port
        self.server = Server()
        self.nodes: dict[str, Any] = {}

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/")
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        namespace = await self.server.register_namespace(OPCUA_NAMESPACE)
        cell = await self.server.nodes.objects.add_object(ua.NodeId(ua.String("cnc1"), ua.Int16(namespace)), "cnc1")
        values: dict[str, tuple[Any, ua.VariantType]] = {
            "state": ("running", ua.VariantType.String),
            "spindle_speed": (0.0, ua.VariantType.Double),
            "temperature": (22.0, ua.VariantType.Double),
            "good_count": (0, ua.VariantType.Int64),
            "scrap_count": (0, ua.VariantType.Int64),
            "vibration": (2.0, ua.VariantType.Double),
        }
        for name, (initial, variant) in values.items():
            self.nodes[name] = await cell.add_variable(
                ua.NodeId(ua.String(f"cnc1.{name}"), ua.Int16(namespace)), name, ua.Variant(initial, variant)
            )
        await self.server.start()
        self.namespace = namespace

    async def update(self) -> None:
        m = self.machine
        for name, value, variant in (
            ("state", m.state, ua.VariantType.String),
            ("spindle_speed", m.spindle_speed, ua.VariantType.Double),
            ("temperature", m.temperature, ua.VariantType.Double),
            ("good_count", m.good_count, ua.VariantType.Int64),
            ("scrap_count", m.scrap_count, ua.VariantType.Int64),
            ("vibration", m.vibration, ua.VariantType.Double),
        ):
            await self.nodes[name].write_value(ua.Variant(value, variant))

    async def stop(self) -> None:
        await self.server.stop()


class ModbusMachine:
    def __init__(self, machine: Machine, port: int) -> None:
        self.machine, self.port = machine, port
        device = SimDevice(
            id=1,
            simdata=(
                [SimData(0, count=16, values=False, datatype=DataType.BITS)],
                [SimData(0, count=16, values=False, datatype=DataType.BITS)],
                [SimData(0, count=64, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=16, values=0, datatype=DataType.REGISTERS)],
            ),
        )
        self.server = ModbusTcpServer([device], address=("127.0.0.1", port))

    async def start(self) -> None:
        await self.server.serve_forever(background=True)

    async def update(self) -> None:
        m = self.machine
        values = {
            "temperature": m.temperature,
            "spindle_speed": m.spindle_speed,
            "state": m.state_code,
            "good_count": m.good_count,
            "scrap_count": m.scrap_count,
            "vibration": m.vibration,
        }
        for name, (address, kind) in MODBUS_MAP.items():
            await self.server.context.async_setValues(1, 16, address, _registers(values[name], kind))
        await self.server.context.async_setValues(1, 5, 0, [m.state == "running"])

    async def stop(self) -> None:
        await self.server.shutdown()


class S7Machine:
    def __init__(self, machine: Machine, port: int) -> None:
        self.machine, self.port = machine, port
        self.db = bytearray(64)
        self.server = snap7.Server(log=False)
        self.server.register_area(SrvArea.DB, S7_DB, self.db)

    async def start(self) -> None:
        self.server.start_to("127.0.0.1", tcp_port=self.port)

    async def update(self) -> None:
        m, db = self.machine, self.db
        set_real(db, 0, m.temperature)
        set_real(db, 4, m.spindle_speed)
        set_int(db, 8, m.state_code)
        set_dint(db, 10, m.good_count)
        set_dint(db, 14, m.scrap_count)
        set_real(db, 18, m.vibration)
        set_bool(db, 22, 0, m.state == "running")

    async def stop(self) -> None:
        self.server.stop()
