"""Hyperfactory edge collector: PLCs (OPC UA, Modbus TCP, S7) into the UNS over MQTT."""
