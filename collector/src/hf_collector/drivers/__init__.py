"""Protocol drivers: each implements :class:`hf_collector.model.Driver`."""

from __future__ import annotations

from hf_collector.model import DeviceConfig, Driver
from hf_core.types import DeviceProtocol


def make_driver(device: DeviceConfig) -> Driver:
    if device.protocol is DeviceProtocol.OPCUA:
        from hf_collector.drivers.opcua import OpcUaDriver

        return OpcUaDriver(device)
    if device.protocol is DeviceProtocol.MODBUS:
        from hf_collector.drivers.modbus import ModbusDriver

        return ModbusDriver(device)
    from hf_collector.drivers.s7 import S7Driver

    return S7Driver(device)
