"""The collector's configuration and data, as frozen dataclasses validated where they are made.

The shape follows the configuration document of docs/contracts.md (``devices`` with ``tags``); a
``site.yaml`` and Odoo's ``hf.uns.edge.get_collector_config()`` both load into :class:`SiteConfig`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hf_core.certs import normalize_fingerprint
from hf_core.errors import ConfigError
from hf_core.types import (
    DEFAULT_PORTS,
    MODBUS_TABLES,
    MODBUS_TYPES,
    S7_AREAS,
    S7_TYPES,
    DataType,
    DeviceProtocol,
    Quality,
)
from hf_core.uns import TopicError, UnsTopic

# The longest a tag's last good value goes unsent (hf_collector.heartbeat), unless the document says otherwise.
DEFAULT_HEARTBEAT_S = 60.0
MIN_HEARTBEAT_S = 1.0


@dataclass(frozen=True, slots=True)
class OpcUaAddress:
    node_id: str


@dataclass(frozen=True, slots=True)
class ModbusAddress:
    table: str
    address: int
    type: str
    unit_id: int = 1
    byte_order: str = "big"
    word_order: str = "big"
    length: int = 0  # registers, for strings

    @property
    def register_count(self) -> int:
        return self.length if self.type == "string" else MODBUS_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class S7Address:
    area: str
    type: str
    db_number: int = 0
    offset: int = 0
    bit: int = 0
    length: int = 0  # characters, for STRING

    @property
    def size(self) -> int:
        """Bytes to read: an S7 STRING has two header bytes (max length, actual length)."""
        return self.length + 2 if self.type == "STRING" else S7_TYPES[self.type]


Address = OpcUaAddress | ModbusAddress | S7Address


@functools.lru_cache(maxsize=65_536)
def _split_topic(topic: str) -> tuple[str, str]:
    """(workcell topic, payload name) of a tag topic: parsed once per tag, not once per value read."""
    parsed = UnsTopic.parse(topic)
    return str(parsed.workcell_topic), str(parsed.tag_key())


@dataclass(frozen=True, slots=True)
class TagConfig:
    """One value to read and where its samples go."""

    name: str
    topic: str
    address: Address
    data_type: DataType = DataType.FLOAT
    tag_group: str = ""
    sampling_interval_ms: int = 1000
    deadband: float = 0.0
    scale_gain: float = 1.0
    scale_offset: float = 0.0
    # the longest this tag's last good value goes unsent: it is sent again, stamped with the time it holds
    heartbeat_s: float = DEFAULT_HEARTBEAT_S

    @property
    def message_slot(self) -> tuple[str, str]:
        """(the ``.../_historian`` topic of this tag's workcell, the tag's key in that message: its
        :class:`~hf_core.uns.TagKey`, ``axis$x``): tags read together share one message."""
        return _split_topic(self.topic)

    def scale(self, raw: float | int | bool | str) -> float | int | bool | str:
        if isinstance(raw, bool | str) or (self.scale_gain == 1.0 and self.scale_offset == 0.0):
            return raw
        return raw * self.scale_gain + self.scale_offset

    def value_of(self, raw: Any) -> float | int | bool | str:  # noqa: ANN401  (whatever a PLC library returns)
        """A PLC's raw value as this tag's value, one rule for every driver: a STRING tag's as text, a BOOL
        tag's as truth; a number scaled by gain and offset, then rounded for an INT tag (an integer that needs
        no scaling stays exact) and a float for a FLOAT tag. ValueError for what is no number."""
        kind = self.data_type
        if kind is DataType.STRING:
            return str(raw)
        if kind is DataType.BOOL:
            return bool(raw)
        if kind is DataType.FLOAT and type(raw) is float and self.scale_gain == 1.0 and self.scale_offset == 0.0:
            return raw  # the usual analog value, as it came
        number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else float(raw)
        value = self.scale(number)
        if kind is DataType.INT:
            return round(value) if isinstance(value, float) else int(value)
        return float(value)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str
    protocol: DeviceProtocol
    host: str
    port: int
    tags: tuple[TagConfig, ...]
    unit_id: int = 1
    rack: int = 0
    slot: int = 1
    security_policy: str = "None"
    security_mode: str = "None"
    username: str = ""
    password: str = field(default="", repr=False)
    certificate: str = ""
    private_key: str = field(default="", repr=False)
    polling_interval_ms: int = 1000
    # OPC UA: the SHA-256 of the server certificate this device must present (hf_core.certs); "" pins none
    server_certificate_sha256: str = ""
    # OPC UA: the endpoint URL's path after host and port ("/probe/" in opc.tcp://host:4840/probe/); "" none
    endpoint_path: str = ""

    @property
    def label(self) -> str:
        """How messages name the device: ``press1-plc at 10.0.0.5:502``."""
        return f"{self.name} at {self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SiteConfig:
    edge: str
    version: int
    hash: str
    devices: tuple[DeviceConfig, ...]
    errors: tuple[str, ...] = ()  # devices left out, each with the reason


@dataclass(frozen=True, slots=True)
class TagSample:
    """One reading: the value after scaling, its source time and its quality."""

    tag: TagConfig
    value: float | int | bool | str | None
    timestamp_ms: int
    quality: Quality = Quality.GOOD


class Driver(Protocol):
    """What every protocol driver is: an async context manager that yields batches of samples.

    ``samples()`` reconnects by itself (capped exponential backoff) and, while the device is away,
    yields one batch of BAD-quality samples so the gap is visible; it never raises for a device
    that stops answering.
    """

    device: DeviceConfig

    async def __aenter__(self) -> Driver: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def samples(self) -> AsyncIterator[list[TagSample]]: ...


# --- parsing and validation ------------------------------------------------------------------


def _address(protocol: DeviceProtocol, raw: Mapping[str, Any], where: str) -> Address:
    try:
        if protocol is DeviceProtocol.OPCUA:
            node_id = str(raw["node_id"]).strip()
            if not node_id:
                raise ValueError("empty node_id")
            return OpcUaAddress(node_id)
        if protocol is DeviceProtocol.MODBUS:
            address = ModbusAddress(
                table=str(raw["table"]),
                address=int(raw["address"]),
                type=str(raw["type"]),
                unit_id=int(raw.get("unit_id", 1)),
                byte_order=str(raw.get("byte_order") or "big"),
                word_order=str(raw.get("word_order") or "big"),
                length=int(raw.get("length") or 0),
            )
            if address.table not in MODBUS_TABLES or address.type not in MODBUS_TYPES:
                raise ValueError(f"table must be one of {MODBUS_TABLES}, type one of {sorted(MODBUS_TYPES)}")
            if (address.table in ("coil", "discrete")) != (address.type == "bool"):
                raise ValueError("coils and discrete inputs hold bool, registers hold numbers and strings")
            if not 0 <= address.address <= 65535 or address.address + address.register_count > 65536:
                raise ValueError("address outside 0..65535")
            if address.type == "string" and not 1 <= address.length <= 125:
                raise ValueError("a string needs a length of 1..125 registers")
            if address.byte_order not in ("big", "little") or address.word_order not in ("big", "little"):
                raise ValueError("byte_order and word_order are big or little")
            return address
        s7 = S7Address(
            area=str(raw["area"]),
            type=str(raw["type"]),
            db_number=int(raw.get("db_number") or 0),
            offset=int(raw.get("offset") or 0),
            bit=int(raw.get("bit") or 0),
            length=int(raw.get("length") or 0),
        )
        if s7.area not in S7_AREAS or s7.type not in S7_TYPES:
            raise ValueError(f"area must be one of {S7_AREAS}, type one of {sorted(S7_TYPES)}")
        if s7.area == "DB" and s7.db_number < 1:
            raise ValueError("a DB address needs db_number >= 1")
        if s7.offset < 0 or not 0 <= s7.bit <= 7:
            raise ValueError("offset must be >= 0 and bit 0..7")
        if s7.type == "STRING" and not 1 <= s7.length <= 254:
            raise ValueError("a STRING needs a length of 1..254")
        return s7
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ConfigError(f"{where}: bad {protocol.value} address ({detail}).") from exc


def _heartbeat_s(raw: object, where: str) -> float:
    try:
        value = float(str(raw))  # whatever the document holds: a number, or text that reads as one
    except ValueError:
        raise ConfigError(f"{where}: heartbeat_s {raw!r} is not a number of seconds.") from None
    if not value >= MIN_HEARTBEAT_S:  # NaN too
        raise ConfigError(f"{where}: heartbeat_s must be at least {MIN_HEARTBEAT_S:g} s (it is {raw!r}).")
    return value


def _parse_tag(
    protocol: DeviceProtocol,
    name: str,
    tag_raw: Mapping[str, Any],
    seen: set[str],
    heartbeat_s: float = DEFAULT_HEARTBEAT_S,
) -> TagConfig:
    tag_name = str(tag_raw.get("name") or "")
    where = f"Device {name}, tag {tag_name or '?'}"
    topic = str(tag_raw.get("topic") or "")
    try:
        parsed = UnsTopic.parse(topic)
    except TopicError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if not parsed.tag_name:
        raise ConfigError(f"{where}: topic {topic!r} names no tag.")
    if topic in seen:
        raise ConfigError(f"{where}: duplicate tag (topic {topic} appears twice).")
    seen.add(topic)
    try:
        data_type = DataType(tag_raw.get("data_type") or "float")
    except ValueError:
        raise ConfigError(f"{where}: unknown data_type {tag_raw.get('data_type')!r}.") from None
    interval = int(tag_raw.get("sampling_interval_ms") or 1000)
    if interval < 10:
        raise ConfigError(f"{where}: sampling_interval_ms must be at least 10.")
    if tag_raw.get("heartbeat_s") not in (None, ""):  # the tag's own, else the edge's
        heartbeat_s = _heartbeat_s(tag_raw["heartbeat_s"], where)
    return TagConfig(
        name=tag_name,
        topic=topic,
        address=_address(protocol, tag_raw.get("address") or {}, where),
        data_type=data_type,
        tag_group=str(tag_raw.get("tag_group") or ""),
        sampling_interval_ms=interval,
        deadband=float(tag_raw.get("deadband") or 0.0),
        scale_gain=float(tag_raw.get("scale_gain", 1.0)),
        scale_offset=float(tag_raw.get("scale_offset") or 0.0),
        heartbeat_s=heartbeat_s,
    )


def parse_device(raw: Mapping[str, Any], heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> tuple[DeviceConfig, list[str]]:
    """One device of the document and the reasons its bad tags were left out; ``heartbeat_s`` is the edge's,
    for the tags that give none.

    :class:`ConfigError` (naming the device) when the device itself cannot work."""
    name = str(raw.get("name") or "").strip()
    if not name:
        raise ConfigError("A device has no name.")
    try:
        protocol = DeviceProtocol(raw.get("protocol") or "")
    except ValueError:
        raise ConfigError(
            f"Device {name}: unknown protocol {raw.get('protocol')!r} (use opcua, modbus or s7)."
        ) from None
    tags: list[TagConfig] = []
    tag_errors: list[str] = []
    seen: set[str] = set()
    for tag_raw in raw.get("tags") or []:
        try:
            tags.append(_parse_tag(protocol, name, tag_raw, seen, heartbeat_s))
        except ConfigError as exc:
            tag_errors.append(str(exc))
    port = int(raw.get("port") or DEFAULT_PORTS[protocol])
    if not 0 < port < 65536:
        raise ConfigError(f"Device {name}: port {port} is not between 1 and 65535.")
    host = str(raw.get("host") or "").strip()
    if not host:
        raise ConfigError(f"Device {name}: no host.")
    device = DeviceConfig(
        name=name,
        protocol=protocol,
        host=host,
        port=port,
        tags=tuple(tags),
        unit_id=int(raw.get("unit_id", 1)),
        rack=int(raw.get("rack", 0)),
        slot=int(raw.get("slot", 1)),
        security_policy=str(raw.get("security_policy") or "None"),
        security_mode=str(raw.get("security_mode") or "None"),
        username=str(raw.get("username") or ""),
        password=str(raw.get("password") or ""),
        certificate=str(raw.get("certificate") or ""),
        private_key=str(raw.get("private_key") or ""),
        polling_interval_ms=int(raw.get("polling_interval_ms") or 1000),
        server_certificate_sha256=normalize_fingerprint(str(raw.get("server_certificate_sha256") or "")),
        endpoint_path=_endpoint_path(raw.get("endpoint_path"), name),
    )
    return device, tag_errors


def _endpoint_path(raw: object, device: str) -> str:
    """An OPC UA endpoint path as Odoo checks it: empty, or ``/`` and URL-safe characters (no query, no space)."""
    path = str(raw or "").strip()
    if path and (not path.startswith("/") or any(c in path for c in " ?#")):
        raise ConfigError(
            f"Device {device}: endpoint path {path!r} must start with '/' and hold no spaces, '?' or "
            "'#' (e.g. /probe/)."
        )
    return path


def parse_site(document: Mapping[str, Any]) -> SiteConfig:
    """The whole document. A device or tag that does not validate is left out with its reason (in
    ``errors``) so everything else keeps running; two devices with one name are an error. A bad edge-wide
    ``heartbeat_s`` is reported and the default used."""
    devices: list[DeviceConfig] = []
    errors: list[str] = []
    names: set[str] = set()
    heartbeat_s = DEFAULT_HEARTBEAT_S
    if document.get("heartbeat_s") not in (None, ""):
        try:
            heartbeat_s = _heartbeat_s(document["heartbeat_s"], f"Edge {document.get('edge') or 'local'}")
        except ConfigError as exc:
            errors.append(f"{exc} Using {DEFAULT_HEARTBEAT_S:g} s.")
    for raw in document.get("devices") or []:
        try:
            device, tag_errors = parse_device(raw, heartbeat_s)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        errors.extend(tag_errors)
        if device.name in names:
            errors.append(f"Device {device.name}: duplicate device name.")
            continue
        names.add(device.name)
        devices.append(device)
    return SiteConfig(
        edge=str(document.get("edge") or "local"),
        version=int(document.get("version") or 0),
        hash=str(document.get("hash") or ""),
        devices=tuple(devices),
        errors=tuple(errors),
    )
