import json
from datetime import UTC, datetime, timedelta

from odoo.addons.hf_screens.tests.common import HfScreensCommon

from hf_core.analytics import encode_event, event_key, event_topic

T0 = datetime(2026, 11, 24, 8, 0, 0)  # naive UTC


def ms(moment):
    return round(moment.replace(tzinfo=UTC).timestamp() * 1000)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


class HfMrpCommon(HfScreensCommon):
    """hf_screens' press (state and counter tags), and an assembly cell that has no tags: its orders, states
    and quantities come from the line's _analytics events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cell = cls.create_workcenter("Assembly 1", "assembly1")
        cls.company.hf_mrp_create_unknown_products = False
        cls.product = cls.env["product.product"].create(
            {
                "name": "Bracket",
                "default_code": "BRK-1",
                "is_storable": True,
            }
        )
        cls.Event = cls.env["hf.uns.analytics.event"]
        cls._sequence = 0

    @classmethod
    def event(cls, event_type, payload, workcenter=None):
        """An inbound event as the ingest stores it (direction in, pending); a payload given twice gets a key
        of its own here (the ingest would store it once: this is a publisher that re-sends it)."""
        workcenter = workcenter or cls.cell
        topic = event_topic(workcenter.hf_uns_path.split("/"), event_type)
        body = encode_event(payload)
        cls._sequence += 1
        return cls.Event.create(
            {
                "event_key": event_key(topic, body + b" " * cls._sequence),
                "direction": "in",
                "topic": topic,
                "workcenter_id": workcenter.id,
                "event_type": event_type,
                "payload": body.decode(),
                "state": "pending",
            }
        )

    def process(self):
        self.env.flush_all()  # the ingest writes with SQL and commits; the cron reads with SQL
        self.Event._cron_process_pending()
        self.env.invalidate_all()

    def outbound(self, event_type=None, workcenter=None):
        domain = [("direction", "=", "out"), ("workcenter_id", "=", (workcenter or self.cell).id)]
        if event_type:
            domain.append(("event_type", "=", event_type))
        return self.Event.search(domain, order="id")

    @staticmethod
    def body(event):
        return json.loads(event.payload)
