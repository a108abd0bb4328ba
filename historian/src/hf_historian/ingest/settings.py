"""The ingest's settings (``hf-ingest``'s options) and the limits that bound its memory and its retries."""

from __future__ import annotations

from dataclasses import dataclass

from hf_core.errors import ConfigError
from hf_historian.ingest.mqtt_session import BrokerAddress
from hf_historian.ingest.resolver import (
    DEFAULT_MAX_NEW_TAGS_PER_MESSAGE,
    DEFAULT_MAX_NEW_TAGS_PER_MINUTE,
    DEFAULT_MAX_TAGS_PER_WORKCELL,
)

# In flight (unacknowledged) at most: the inbox, the batch being decoded, the one being written.
# Bounds the ingest's memory as much as the batch size does.
RECEIVE_MAXIMUM = 40_000
SESSION_EXPIRY_S = 7 * 24 * 3600
# Messages waiting to be decoded beyond which the ingest stops reading the socket. QoS 1 is already bounded
# by RECEIVE_MAXIMUM; this bounds a QoS 0 flood too (the broker then queues or drops it by its policy).
INBOX_HIGH_WATER = 60_000
# The same in payload bytes: 40,000 messages in flight of up to 1 MB each would be 40 GB (a flood of large
# messages, each within the limits, must not take the ingest's memory with it).
INBOX_HIGH_WATER_BYTES = 64 * 1024 * 1024
# A batch stops at this many payload bytes too (two batches are held at once: one decoded, one written).
BATCH_MAX_BYTES = 16 * 1024 * 1024
# Tags edited in Odoo (data type, historian off, retention class) are seen within this delay.
TAG_RELOAD_S = 60.0
# How often parked samples (over a tenant's samples-per-day quota) are retried while any wait
REPLAY_EVERY_S = 2.0
# A batch failing this many times as if the database were away, while it answers again, holds a message
# that makes it fail: it is then stored message by message, and such a message dead-lettered.
POISON_REPLAYS = 3


@dataclass(frozen=True, slots=True)
class IngestSettings:
    mqtt_url: str
    dsn: str
    topic: str = "umh/v1/#"
    client_id: str = "hf-ingest"
    batch_max_messages: int = 10_000
    discover: bool = True
    stats_interval_s: float = 10.0
    start_attempts: int = 5
    # publish Odoo's outbound analytics events (one publisher per database holds an advisory lock)
    publish: bool = True
    # discovery's bounds: tags per workcell (discovered or not), new tags one message may create, new tags
    # per minute
    max_tags_per_workcell: int = DEFAULT_MAX_TAGS_PER_WORKCELL
    max_new_tags_per_message: int = DEFAULT_MAX_NEW_TAGS_PER_MESSAGE
    max_new_tags_per_minute: int = DEFAULT_MAX_NEW_TAGS_PER_MINUTE

    def __post_init__(self) -> None:
        try:
            BrokerAddress.parse(self.mqtt_url)
        except ConfigError:
            raise ConfigError(
                f"--mqtt-url {self.mqtt_url!r} must look like mqtt://host:1883 or mqtts://host:8883."
            ) from None
        if min(self.max_tags_per_workcell, self.max_new_tags_per_message, self.max_new_tags_per_minute) < 0:
            raise ConfigError(
                "--max-tags-per-workcell, --max-new-tags-per-message and --max-new-tags-per-minute may not be negative."
            )

    @property
    def broker(self) -> BrokerAddress:
        """The broker of ``mqtt_url``."""
        return BrokerAddress.parse(self.mqtt_url)
