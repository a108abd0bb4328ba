import json
from datetime import UTC, datetime, timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from hf_core.analytics import event_key
from hf_historian.ingest.analytics import COUNTERS_CRON, EVENTS_CRON, AnalyticsRow, CronWaker, write_events
from hf_historian.ingest.decoder import decode_message
from hf_historian.ingest.resolver import TagResolver
from hf_historian.writer import HistorianWriter

from .common import HfUnsCommon


@tagged("post_install", "-at_install")
class TestAnalyticsEvent(HfUnsCommon):
    """The contract between the ingest, the publisher and hf_mrp: hf.uns.analytics.event."""

    def enqueue(self, event_type="work-order/start", **payload):
        payload = payload or {"external_work_order_id": "WO-1", "start_time_unix_ms": 1_764_600_000_000}
        return self.env["hf.uns.analytics.event"]._enqueue_outbound(self.workcenter, event_type, payload)

    def test_outbound_event_is_queued_on_the_workcells_topic_once(self):
        event = self.enqueue()
        self.assertEqual(event.topic, "umh/v1/acme/berlin/press/line1/press1/_analytics/work-order/start")
        self.assertEqual(event.payload, '{"external_work_order_id":"WO-1","start_time_unix_ms":1764600000000}')
        self.assertEqual(
            event.event_key,
            event_key(event.topic, event.payload.encode()),
            "the key the ingest computes for the message when the broker hands it back",
        )
        self.assertEqual((event.direction, event.state, event.company_id), ("out", "pending", self.company))
        self.assertEqual(self.enqueue(), event, "the same event twice is queued once")
        other = self.enqueue(external_work_order_id="WO-2", start_time_unix_ms=1_764_600_000_000)
        self.assertNotEqual(other, event)

    def test_an_outbound_event_outside_umhs_schema_is_kept_failed_not_sent(self):
        event = self.enqueue("work-order/stop", external_work_order_id="WO-1")  # no end_time_unix_ms
        self.assertEqual(event.state, "failed")
        self.assertIn("end_time_unix_ms is required", event.error)
        event.action_retry()
        self.assertEqual(event.state, "failed", "Retry does not send what UMH's schema refuses")

    def test_inbound_events_stay_pending_without_a_consumer(self):
        if self.env["ir.module.module"]._get("hf_mrp").state == "installed":
            self.skipTest("hf_mrp consumes the events here (its own tests cover that)")
        topic = "umh/v1/acme/berlin/press/line1/press1/_analytics/state/add"
        body = json.dumps({"start_time_unix_ms": 1_764_600_000_000, "state": 10000})
        event = self.env["hf.uns.analytics.event"].create(
            {
                "event_key": event_key(topic, body.encode()),
                "direction": "in",
                "topic": topic,
                "workcenter_id": self.workcenter.id,
                "event_type": "state/add",
                "payload": body,
            }
        )
        self.assertEqual(self.env["hf.uns.analytics.event"]._cron_process_pending(), 0)
        self.assertEqual(event.state, "pending", "hf_uns alone consumes nothing: the event waits for hf_mrp")
        cron = self.env.ref("hf_uns.ir_cron_process_analytics_events")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "minutes"))

    def test_the_ingests_insert_fits_this_table_and_wakes_this_cron(self):
        """What hf-ingest writes (hf_historian.ingest.analytics) against Odoo's own tables."""
        topic = "umh/v1/acme/berlin/press/line1/press1/_analytics/state/add"
        body = '{"start_time_unix_ms": 1764600000000, "state": 20000}'
        row = AnalyticsRow(
            event_key(topic, body.encode()), topic, self.workcenter.id, self.company.id, "state/add", body
        )
        self.assertEqual(write_events(self.env.cr, [row, row], lambda _exc: False), (1, []))
        self.assertEqual(write_events(self.env.cr, [row], lambda _exc: False), (0, []), "a redelivery: nothing")
        event = self.env["hf.uns.analytics.event"].search([("event_key", "=", row.event_key)])
        self.assertEqual(
            (event.direction, event.state, event.workcenter_id, event.company_id, event.payload),
            ("in", "pending", self.workcenter, self.company, body),
        )
        waker = CronWaker("")
        waker.want(EVENTS_CRON)
        waker.want(COUNTERS_CRON)
        self.assertTrue(waker.flush(self.env.cr))
        cron = self.env.ref("hf_uns.ir_cron_process_analytics_events")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        counters = self.env.ref("hf_mrp.ir_cron_counters_to_workorders", raise_if_not_found=False)
        self.assertEqual(
            waker.cron_id(self.env.cr, COUNTERS_CRON),
            counters.id if counters else None,
            "hf_mrp's job is woken when it is installed, skipped quietly otherwise",
        )
        self.assertFalse(waker.pending)

    def test_retry_puts_a_failed_event_back_in_the_queue(self):
        event = self.enqueue()
        event.write({"state": "failed", "error": "no such work order"})
        event.action_retry()
        self.assertEqual((event.state, event.error), ("pending", False))

    def test_operators_read_only_and_by_company(self):
        event = self.enqueue()
        operator = self.create_user("hf_operator_events", "hf_uns.group_hf_operator")
        self.assertEqual(event.with_user(operator).read(["event_type"])[0]["event_type"], "work-order/start")
        with self.assertRaises(AccessError):
            event.with_user(operator).write({"state": "done"})
        other_company = self.env["res.company"].create({"name": "Other plant"})
        stranger = self.create_user("hf_admin_other", "hf_uns.group_hf_admin", company=other_company)
        self.assertFalse(self.env["hf.uns.analytics.event"].with_user(stranger).search([("id", "=", event.id)]))

    def test_data_contract_names_are_underscore_segments(self):
        engineer = self.create_user("hf_engineer_contracts", "hf_uns.group_hf_engineer")
        operator = self.create_user("hf_operator_contracts", "hf_uns.group_hf_operator")
        contracts = self.env["hf.uns.data.contract"].with_user(engineer)
        contract = contracts.create({"name": "_pump_v1"})
        with self.assertRaises(AccessError):
            self.env["hf.uns.data.contract"].with_user(operator).create({"name": "_valve_v1"})
        self.assertEqual((contract.payload_shape, contract.company_id), ("timeseries", self.company))
        for bad in ("pump_v1", "_pump v1", "_pump/v1", "_historian", "_local"):
            with self.subTest(name=bad), self.assertRaises(ValidationError):
                contracts.create({"name": bad})


@tagged("post_install", "-at_install")
class TestUmhCoreTimeSeries(HfUnsCommon):
    """A UMH Core publisher's values, decoded and stored by the ingest's own code on this database."""

    def test_raw_value_is_stored_under_its_contract_and_read_through_read_history(self):
        now = datetime.now(UTC).replace(microsecond=0)
        topic = "umh/v1/acme/berlin/press/line1/press1/_raw/pump/pressure"
        samples, dead = [], []
        resolver = TagResolver(self.env.cr)
        for seconds, value in ((0, 2.5), (1, 2.75)):
            payload = json.dumps(
                {"timestamp_ms": int((now + timedelta(seconds=seconds)).timestamp() * 1000), "value": value}
            ).encode()
            decode_message(topic, payload, resolver, samples, dead)
        self.assertEqual(dead, [])
        HistorianWriter(self.env.cr).write(samples)
        self.env.invalidate_all()
        tag = self.env["hf.uns.tag"].search([("topic", "=", topic)])
        self.assertEqual(
            (tag.name, tag.tag_group, tag.data_contract, tag.discovered), ("pressure", "pump", "_raw", True)
        )
        history = self.env["hf.uns.tag"].read_history(
            topic, (now - timedelta(minutes=1)).isoformat(), (now + timedelta(minutes=1)).isoformat(), 100
        )
        self.assertEqual([point["last"] for point in history["points"]], [2.5, 2.75])
        tag.name = "pressure_in"
        self.assertEqual(
            tag.topic,
            "umh/v1/acme/berlin/press/line1/press1/_raw/pump/pressure_in",
            "the tag stays under its UMH Core contract when Odoo recomputes its topic",
        )
        for bad in ("raw", "_raw v2", "_local", "_analytics"):
            with self.subTest(contract=bad), self.assertRaises(ValidationError):
                tag.data_contract = bad
